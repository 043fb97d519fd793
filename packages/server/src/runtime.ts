// The composition root: configuration in, a wired registry and engine out. Nothing below this
// file reads the environment or knows how plugins were found.
import {
  Engine,
  PluginRegistry,
  loadPluginDirectory,
  loadPluginModule,
  resolvePluginPackage,
} from '@atelier/core';
import type { Logger } from '@atelier/core';
import type { AtelierConfig } from './config.ts';

/** Registers the built-in plugins, then configured packages, then the local plugin directory. */
export async function createRegistry(config: AtelierConfig): Promise<PluginRegistry> {
  const registry = new PluginRegistry();
  await loadPluginModule(registry, import.meta.resolve('@atelier/plugins'), { builtin: true });
  for (const name of config.pluginPackages) {
    await loadPluginModule(registry, await resolvePluginPackage(name, config.root));
  }
  await loadPluginDirectory(registry, config.pluginDir);
  return registry;
}

/** A registry and an engine, wired from configuration. Close the engine when done. */
export async function createRuntime(
  config: AtelierConfig,
  options: { logger?: Logger; threads?: number } = {},
): Promise<{ registry: PluginRegistry; engine: Engine }> {
  const registry = await createRegistry(config);
  const threads = options.threads ?? config.threads;
  const engine = new Engine({
    registry,
    limits: config.limits,
    ...(threads === undefined ? {} : { threads }),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  return { registry, engine };
}
