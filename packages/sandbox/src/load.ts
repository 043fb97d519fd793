// Registering sandboxed plugins on a host (an API process, the CLI): the module is loaded in a
// sandbox process, never imported here; the registry gets proxies built from its descriptions.
import { fileURLToPath } from 'node:url';
import { AtelierError, isAtelierError, z } from '@atelier/core';
import type { AnyPlugin, PluginLoadOptions, PluginRegistry } from '@atelier/core';
import type { PluginDescription } from './protocol.ts';
import { SandboxProcess } from './sandbox-process.ts';

/** The module the engine's threads import to run sandboxed steps (see runner.ts). */
export const SANDBOX_RUNNER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './runner.ts' : './runner.js',
  import.meta.url,
).href;

/** Memory of the isolate that describes a module and answers outputSize. */
const DESCRIBE_MEMORY_MB = 256;

let hostSandbox: SandboxProcess | undefined;

/** This process's sandbox for describing modules and answering `outputSize` (spawned on first use). */
export function hostSandboxProcess(): SandboxProcess {
  hostSandbox ??= new SandboxProcess();
  return hostSandbox;
}

/** Stops this process's describe/outputSize sandbox (started again on next use). */
export async function closeHostSandbox(): Promise<void> {
  const sandbox = hostSandbox;
  hostSandbox = undefined;
  await sandbox?.close();
}

/** `url` with `?rev=<revision>` when a revision is given and it is a `file:` URL (as core's loader does). */
function withRevision(url: string, revision: number | undefined): string {
  if (revision === undefined || !url.startsWith('file:')) return url;
  const parsed = new URL(url);
  parsed.searchParams.set('rev', String(revision));
  return parsed.href;
}

/**
 * The in-process stand-in of a sandboxed plugin: its metadata, a zod schema rebuilt from the JSON
 * Schema the real one made (`z.fromJSONSchema`; the real schema parses again in the isolate, so
 * refinements hold), `outputSize` asking the sandbox, and an `apply` that must never be called
 * here (the engine's threads run sandboxed steps through the runner).
 */
export function proxyPlugin(
  description: PluginDescription,
  outputSize?: (args: {
    width: number;
    height: number;
    params: unknown;
  }) => Promise<{ width: number; height: number }>,
): AnyPlugin {
  // No schema (the plugin's params are not a zod object): no params, so the registry refuses it.
  const params =
    description.schema === null
      ? undefined
      : (z.fromJSONSchema(description.schema as never) as z.ZodObject).strip();
  const plugin = {
    id: description.id,
    name: description.name,
    description: description.description,
    version: description.version,
    engine: description.engine,
    kind: description.kind,
    ...(description.alpha === undefined ? {} : { alpha: description.alpha }),
    ...(description.tags === undefined ? {} : { tags: description.tags }),
    ...(description.capabilities === undefined ? {} : { capabilities: description.capabilities }),
    params,
    apply: () => {
      throw new Error(
        `Plugin "${description.id}" runs in the sandbox; its apply() cannot be called in this process (run it through the Engine).`,
      );
    },
    ...(description.hasOutputSize && outputSize ? { outputSize } : {}),
  };
  return plugin as unknown as AnyPlugin;
}

/**
 * Loads a module in the sandbox and registers its plugins, marked sandboxed: the same options and
 * failure semantics as core's `loadPluginModule` (`PLUGIN_LOAD_FAILED`, `PLUGIN_INVALID`,
 * `PLUGIN_ENGINE_MISMATCH`, `PLUGIN_DUPLICATE`, and `SANDBOX_VIOLATION` for a module that imports a
 * Node built-in or a native addon; with `onFailure: 'skip'` they are recorded on the registry).
 * Its code is never imported in this process.
 *
 * @example
 * await loadSandboxedModule(registry, pathToFileURL('/srv/plugins/acme.js').href, { onFailure: 'skip' });
 */
export async function loadSandboxedModule(
  registry: PluginRegistry,
  moduleUrl: string,
  options: PluginLoadOptions = {},
): Promise<string[]> {
  const url = withRevision(moduleUrl, options.revision);
  const sandbox = hostSandboxProcess();
  const record = (error: unknown, plugin?: string): void => {
    if (options.onFailure !== 'skip' || !isAtelierError(error)) throw error;
    registry.recordFailure({
      source: moduleUrl,
      ...(plugin === undefined ? {} : { plugin }),
      code: error.code,
      message: error.message,
    });
  };
  let descriptions: PluginDescription[];
  try {
    if (!url.startsWith('file:')) {
      throw new AtelierError(
        'PLUGIN_LOAD_FAILED',
        `Sandboxed modules are files; ${url} is not a file: URL.`,
        {
          details: { module: url },
        },
      );
    }
    fileURLToPath(url);
    if (options.revision !== undefined) await sandbox.forget(url);
    descriptions = await sandbox.describe(url, DESCRIBE_MEMORY_MB);
    if (descriptions.length === 0) {
      throw new AtelierError('PLUGIN_INVALID', `Module ${url} exports no plugin (use definePlugin()).`, {
        details: { module: url },
      });
    }
  } catch (error) {
    record(error);
    return [];
  }
  const ids: string[] = [];
  for (const description of descriptions) {
    try {
      const plugin = proxyPlugin(description, (args) =>
        hostSandboxProcess().outputSize(url, DESCRIBE_MEMORY_MB, description.id, args),
      );
      registry.register(plugin, {
        module: url,
        builtin: options.builtin ?? false,
        sandboxed: true,
        runner: SANDBOX_RUNNER_URL,
      });
      ids.push(description.id);
    } catch (error) {
      record(error, description.id);
    }
  }
  return ids;
}
