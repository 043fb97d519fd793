import { readdir, readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { AtelierError, isAtelierError } from './errors.ts';
import type { AnyPlugin } from './plugin.ts';
import type { PluginLoadFailure, PluginRegistry } from './registry.ts';

/** How the loaders register plugins. */
export interface PluginLoadOptions {
  /** The plugins are Atelier's own. @default false */
  readonly builtin?: boolean;
  /**
   * What a bad plugin does: `'throw'` its coded error (`PLUGIN_INVALID`, `PLUGIN_ENGINE_MISMATCH`,
   * `PLUGIN_LOAD_FAILED`, `PLUGIN_DUPLICATE`), or `'skip'` it: the error is recorded on the
   * registry ({@link PluginRegistry.failures}) and the other plugins still load.
   * @default 'throw'
   */
  readonly onFailure?: 'throw' | 'skip';
  /**
   * Loads the modules afresh: `?rev=<revision>` is added to each `file:` URL, so this process (which
   * keeps every module it imported) evaluates the entry module again, and worker threads import it
   * under the new URL. Only the entry is new; modules it imports are the ones imported before.
   * @default none (the plain URL)
   */
  readonly revision?: number;
}

/** `url` with `?rev=<revision>` when a revision is given and it is a `file:` URL. */
function withRevision(url: string, revision: number | undefined): string {
  if (revision === undefined || !url.startsWith('file:')) return url;
  const parsed = new URL(url);
  parsed.searchParams.set('rev', String(revision));
  return parsed.href;
}

/**
 * Runs `load`; in `'skip'` mode an `AtelierError` is recorded on the registry instead of thrown
 * (and `fallback` returned). Other errors are bugs and always throw.
 */
async function guarded<T>(
  registry: PluginRegistry,
  options: PluginLoadOptions,
  at: Omit<PluginLoadFailure, 'code' | 'message'>,
  fallback: T,
  load: () => T | Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (options.onFailure !== 'skip' || !isAtelierError(error)) throw error;
    registry.recordFailure({ ...at, code: error.code, message: error.message });
    return fallback;
  }
}

/** The id of something that looks like a plugin, for a failure report. */
const idOf = (plugin: AnyPlugin): { plugin?: string } =>
  typeof (plugin as { id?: unknown }).id === 'string' ? { plugin: plugin.id } : {};

const isFile = (file: string): Promise<boolean> =>
  stat(file).then(
    (s) => s.isFile(),
    () => false,
  );

function looksLikePlugin(value: unknown): value is AnyPlugin {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { id?: unknown }).id === 'string' &&
    typeof (value as { apply?: unknown }).apply === 'function'
  );
}

/**
 * The plugins a module exports: every export that is a plugin, or an array of plugins, counted
 * once each (a module may export `cartoon` and also `builtinPlugins = [cartoon, ...]`).
 */
function collectPlugins(namespace: Record<string, unknown>): AnyPlugin[] {
  const found = new Set<AnyPlugin>();
  const keys = Object.keys(namespace).sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : 0));
  for (const key of keys) {
    const value = namespace[key];
    if (looksLikePlugin(value)) found.add(value);
    else if (Array.isArray(value)) for (const item of value) if (looksLikePlugin(item)) found.add(item);
  }
  return [...found];
}

/** Imports a plugin module; failures become `PLUGIN_LOAD_FAILED` naming the module. */
export async function importPluginModule(moduleUrl: string): Promise<AnyPlugin[]> {
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(moduleUrl)) as Record<string, unknown>;
  } catch (error) {
    throw new AtelierError(
      'PLUGIN_LOAD_FAILED',
      `Could not import plugin module ${moduleUrl}: ${(error as Error).message}`,
      { cause: error, details: { module: moduleUrl } },
    );
  }
  return collectPlugins(namespace);
}

/**
 * Imports a module and registers every plugin it exports. Returns the ids registered. With
 * `onFailure: 'skip'`, a module that fails to import or exports no plugin, and each plugin that
 * fails to register, is recorded on the registry and skipped.
 *
 * @example
 * await loadPluginModule(registry, import.meta.resolve('@atelier/plugins'), { builtin: true });
 */
export async function loadPluginModule(
  registry: PluginRegistry,
  moduleUrl: string,
  options: PluginLoadOptions = {},
): Promise<string[]> {
  const url = withRevision(moduleUrl, options.revision);
  // Failures name the module as it is on disk, without the revision.
  return guarded(registry, options, { source: moduleUrl }, [], async () => {
    const plugins = await importPluginModule(url);
    if (plugins.length === 0) {
      throw new AtelierError('PLUGIN_INVALID', `Module ${url} exports no plugin (use definePlugin()).`, {
        details: { module: url },
      });
    }
    const ids: string[] = [];
    for (const plugin of plugins) {
      await guarded(registry, options, { source: moduleUrl, ...idOf(plugin) }, undefined, () => {
        registry.register(plugin, { module: url, builtin: options.builtin ?? false });
        ids.push(plugin.id);
      });
    }
    return ids;
  });
}

interface PackageJson {
  exports?: unknown;
  module?: string;
  main?: string;
}

function exportTarget(exportsField: unknown): string | undefined {
  if (typeof exportsField === 'string') return exportsField;
  if (exportsField === null || typeof exportsField !== 'object') return undefined;
  const record = exportsField as Record<string, unknown>;
  if ('.' in record) return exportTarget(record['.']);
  for (const condition of ['import', 'node', 'default']) {
    const target = exportTarget(record[condition]);
    if (target) return target;
  }
  return undefined;
}

async function entryOfPackageDir(dir: string): Promise<string | undefined> {
  try {
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as PackageJson;
    const target = exportTarget(pkg.exports) ?? pkg.module ?? pkg.main ?? 'index.js';
    return path.resolve(dir, target);
  } catch {
    for (const name of ['index.ts', 'index.js', 'index.mjs']) {
      const file = path.join(dir, name);
      if (await isFile(file)) return file;
    }
    return undefined;
  }
}

/**
 * Resolves an npm package name, as installed beside `fromDir`, to the file URL of its entry.
 * Throws `PLUGIN_LOAD_FAILED` when the package is not installed.
 */
export async function resolvePluginPackage(name: string, fromDir: string): Promise<string> {
  const require = createRequire(path.join(path.resolve(fromDir), 'noop.js'));
  for (const candidate of require.resolve.paths(name) ?? []) {
    const entry = await entryOfPackageDir(path.join(candidate, name));
    if (entry && (await isFile(entry))) return pathToFileURL(entry).href;
  }
  throw new AtelierError(
    'PLUGIN_LOAD_FAILED',
    `Plugin package "${name}" is not installed (looked from ${fromDir}); install it with pnpm add ${name}.`,
    { details: { package: name } },
  );
}

const PLUGIN_FILE = /\.(?:m?js|ts)$/;
const NOT_PLUGIN_FILE = /\.(?:d|test|spec)\.(?:m?js|ts)$/;

/**
 * Registers the plugins of a local directory: each `*.ts`, `*.js` or `*.mjs` file directly in it,
 * and each sub-directory with a `package.json` or an `index` file. Files load in name order.
 * A missing directory registers nothing. `options.onFailure` as in {@link loadPluginModule}.
 */
export async function loadPluginDirectory(
  registry: PluginRegistry,
  dir: string,
  options: Pick<PluginLoadOptions, 'onFailure' | 'revision'> & {
    /**
     * Loads each entry found: `@atelier/sandbox`'s `loadSandboxedModule` to run the directory's
     * plugins in the sandbox. @default loadPluginModule (in-process)
     */
    readonly load?: (
      registry: PluginRegistry,
      moduleUrl: string,
      options: PluginLoadOptions,
    ) => Promise<string[]>;
  } = {},
): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    return guarded(registry, options, { source: pathToFileURL(dir).href }, [], () => {
      throw new AtelierError(
        'PLUGIN_LOAD_FAILED',
        `Cannot read plugin directory ${dir}: ${(error as Error).message}`,
      );
    });
  }
  const ids: string[] = [];
  for (const name of names) {
    if (name.startsWith('.') || name === 'node_modules') continue;
    const full = path.join(dir, name);
    const info = await stat(full);
    let entry: string | undefined;
    if (info.isFile() && PLUGIN_FILE.test(name) && !NOT_PLUGIN_FILE.test(name)) entry = full;
    else if (info.isDirectory()) entry = await entryOfPackageDir(full);
    if (entry) {
      const { load = loadPluginModule, ...loadOptions } = options;
      ids.push(...(await load(registry, pathToFileURL(entry).href, loadOptions)));
    }
  }
  return ids;
}
