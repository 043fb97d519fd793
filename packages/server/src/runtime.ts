// The plugins and the engine, wired from configuration, and the root of the commands that need
// nothing else (`atelier styles`, `apply`, `bench`). Nothing below this file reads the environment
// or knows how plugins were found. It loads no database, queue or storage library, so those
// commands stay light; the other roots are in container.ts.
import {
  AtelierError,
  Engine,
  PluginRegistry,
  isAtelierError,
  loadPluginDirectory,
  loadPluginModule,
  resolvePluginPackage,
} from '@atelier/core';
import { silentLogger } from '@atelier/core';
import type { Logger } from '@atelier/core';
import { closeHostSandbox, loadSandboxedModule } from '@atelier/sandbox';
import type { AtelierConfig } from './config.ts';
import { pluginPackagesIn } from './plugins-folder.ts';
import { TOKENS, globalContainer } from './tokens.ts';
import type { DependencyContainer } from './tokens.ts';

/** Options of {@link createRegistry}. */
export interface CreateRegistryOptions {
  readonly logger?: Logger;
  /**
   * Import third-party modules afresh, under `?rev=<revision>` (a reload after their code changed;
   * see `PluginLoadOptions.revision`). @default none: the modules as first imported
   */
  readonly revision?: number;
  /** Skip bad third-party plugins even when `config.strictPlugins` (a reload keeps serving). @default false */
  readonly neverThrow?: boolean;
}

/**
 * Registers the built-in plugins, then the packages of `ATELIER_PLUGINS`, then those of the plugins
 * folder (`config.pluginsFolder`), then the local plugin directory. A bad third-party plugin is
 * skipped, logged (warn, with its code) and kept in `registry.failures()`; with
 * `config.strictPlugins` its coded error is thrown instead. A bad built-in always throws.
 *
 * @example
 * const registry = await createRegistry(readConfig(), { logger });
 */
export async function createRegistry(
  config: AtelierConfig,
  options: CreateRegistryOptions = {},
): Promise<PluginRegistry> {
  const registry = new PluginRegistry();
  // Built-ins run in the engine's threads unless the admin sandboxes them too; every third-party
  // module is loaded in the sandbox only, never imported in this process (docs/security.md).
  const builtins = config.sandboxBuiltins ? loadSandboxedModule : loadPluginModule;
  await builtins(registry, import.meta.resolve('@atelier/plugins'), { builtin: true });
  const onFailure = config.strictPlugins && !options.neverThrow ? 'throw' : 'skip';
  const load = {
    onFailure,
    ...(options.revision === undefined ? {} : { revision: options.revision }),
  } as const;
  const packages = async (
    names: readonly string[],
    from: string,
    /** What to do when a listed package is not installed, for the error's message. */
    install?: string,
  ): Promise<void> => {
    for (const name of names) {
      let moduleUrl: string;
      try {
        moduleUrl = await resolvePluginPackage(name, from);
      } catch (error) {
        if (!isAtelierError(error)) throw error;
        const coded = install
          ? new AtelierError(error.code, `Plugin package "${name}" is not installed; ${install}.`, {
              cause: error,
              details: { package: name },
            })
          : error;
        if (onFailure === 'throw') throw coded;
        registry.recordFailure({ source: name, code: coded.code, message: coded.message });
        continue;
      }
      await loadSandboxedModule(registry, moduleUrl, load);
    }
  };
  await packages(config.pluginPackages, config.root);
  let folderPackages: string[] = [];
  try {
    folderPackages = await pluginPackagesIn(config.pluginsFolder);
  } catch (error) {
    if (onFailure === 'throw' || !isAtelierError(error)) throw error;
    registry.recordFailure({ source: config.pluginsFolder, code: error.code, message: error.message });
  }
  await packages(
    folderPackages,
    config.pluginsFolder,
    `the plugins folder lists it: run \`pnpm install --frozen-lockfile\` in ${config.pluginsFolder}`,
  );
  await loadPluginDirectory(registry, config.pluginDir, { ...load, load: loadSandboxedModule });
  const logger = options.logger ?? silentLogger;
  for (const failure of registry.failures()) {
    logger.warn(`plugin not loaded: ${failure.code}: ${failure.message}`, {
      code: failure.code,
      source: failure.source,
      ...(failure.plugin === undefined ? {} : { plugin: failure.plugin }),
    });
  }
  return registry;
}

/** A registry and an engine, wired from configuration. Close the engine when done. */
export async function createRuntime(
  config: AtelierConfig,
  options: {
    logger?: Logger;
    threads?: number;
    sharpConcurrency?: number;
    bandThreads?: number;
    revision?: number;
  } = {},
): Promise<{ registry: PluginRegistry; engine: Engine }> {
  const registry = await createRegistry(config, {
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.revision === undefined ? {} : { revision: options.revision }),
  });
  const threads = options.threads ?? config.threads;
  const bandThreads = options.bandThreads ?? config.bandThreads;
  const engine = new Engine({
    registry,
    limits: config.limits,
    ...(threads === undefined ? {} : { threads }),
    ...(bandThreads === undefined ? {} : { bandThreads }),
    ...(options.sharpConcurrency === undefined ? {} : { sharpConcurrency: options.sharpConcurrency }),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return { registry, engine };
}

/**
 * The root of a command that runs plugins without the database (`atelier styles`, `apply`,
 * `bench`): the plugin registry and, with `engine`, an engine (closed by `close`).
 */
export async function openRuntimeRoot(
  config: AtelierConfig,
  options: {
    readonly engine?: boolean;
    readonly threads?: number;
    /** libvips threads per engine thread. @default 1 */
    readonly sharpConcurrency?: number;
    /** Helper threads that split one image's steps. @default config.bandThreads */
    readonly bandThreads?: number;
    readonly logger?: Logger;
    /** Import third-party plugin modules afresh (`apply --dev` re-runs). See {@link CreateRegistryOptions}. */
    readonly revision?: number;
  } = {},
): Promise<{ readonly container: DependencyContainer; close(): Promise<void> }> {
  const logger = options.logger ?? silentLogger;
  const container = globalContainer.createChildContainer();
  container.register(TOKENS.Config, { useValue: config });
  container.register(TOKENS.Logger, { useValue: logger });
  if (!options.engine) {
    container.register(TOKENS.PluginRegistry, {
      useValue: await createRegistry(config, {
        logger,
        ...(options.revision === undefined ? {} : { revision: options.revision }),
      }),
    });
    return { container, close: () => closeHostSandbox() };
  }
  const { registry, engine } = await createRuntime(config, {
    logger,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.sharpConcurrency === undefined ? {} : { sharpConcurrency: options.sharpConcurrency }),
    ...(options.bandThreads === undefined ? {} : { bandThreads: options.bandThreads }),
    ...(options.revision === undefined ? {} : { revision: options.revision }),
  });
  container.register(TOKENS.PluginRegistry, { useValue: registry });
  container.register(TOKENS.Engine, { useValue: engine });
  return {
    container,
    close: async () => {
      await engine.close();
      await closeHostSandbox();
    },
  };
}
