// The plugins and the engine, wired from configuration, and the root of the commands that need
// nothing else (`atelier styles`, `apply`, `bench`). Nothing below this file reads the environment
// or knows how plugins were found. It loads no database, queue or storage library, so those
// commands stay light; the other roots are in container.ts.
import {
  Engine,
  PluginRegistry,
  isAtelierError,
  loadPluginDirectory,
  loadPluginModule,
  resolvePluginPackage,
} from '@atelier/core';
import { silentLogger } from '@atelier/core';
import type { Logger } from '@atelier/core';
import type { AtelierConfig } from './config.ts';
import { TOKENS, globalContainer } from './tokens.ts';
import type { DependencyContainer } from './tokens.ts';

/**
 * Registers the built-in plugins, then configured packages, then the local plugin directory. A bad
 * third-party plugin is skipped, logged (warn, with its code) and kept in `registry.failures()`;
 * with `config.strictPlugins` its coded error is thrown instead. A bad built-in always throws.
 */
export async function createRegistry(
  config: AtelierConfig,
  options: { logger?: Logger } = {},
): Promise<PluginRegistry> {
  const registry = new PluginRegistry();
  await loadPluginModule(registry, import.meta.resolve('@atelier/plugins'), { builtin: true });
  const onFailure = config.strictPlugins ? 'throw' : 'skip';
  for (const name of config.pluginPackages) {
    let moduleUrl: string;
    try {
      moduleUrl = await resolvePluginPackage(name, config.root);
    } catch (error) {
      if (onFailure === 'throw' || !isAtelierError(error)) throw error;
      registry.recordFailure({ source: name, code: error.code, message: error.message });
      continue;
    }
    await loadPluginModule(registry, moduleUrl, { onFailure });
  }
  await loadPluginDirectory(registry, config.pluginDir, { onFailure });
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
  options: { logger?: Logger; threads?: number; sharpConcurrency?: number } = {},
): Promise<{ registry: PluginRegistry; engine: Engine }> {
  const registry = await createRegistry(config, options.logger ? { logger: options.logger } : {});
  const threads = options.threads ?? config.threads;
  const engine = new Engine({
    registry,
    limits: config.limits,
    ...(threads === undefined ? {} : { threads }),
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
    readonly logger?: Logger;
  } = {},
): Promise<{ readonly container: DependencyContainer; close(): Promise<void> }> {
  const logger = options.logger ?? silentLogger;
  const container = globalContainer.createChildContainer();
  container.register(TOKENS.Config, { useValue: config });
  container.register(TOKENS.Logger, { useValue: logger });
  if (!options.engine) {
    container.register(TOKENS.PluginRegistry, { useValue: await createRegistry(config, { logger }) });
    return { container, close: async () => {} };
  }
  const { registry, engine } = await createRuntime(config, {
    logger,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.sharpConcurrency === undefined ? {} : { sharpConcurrency: options.sharpConcurrency }),
  });
  container.register(TOKENS.PluginRegistry, { useValue: registry });
  container.register(TOKENS.Engine, { useValue: engine });
  return { container, close: () => engine.close() };
}
