// `--dev` on `apply` and `bench`: run, then wait for plugin code (or the plugins folder) to change
// and run again with the code loaded afresh, until the process is stopped (Ctrl-C).
import { isAtelierError } from '@atelier/core';
import type { PluginRegistry } from '@atelier/core';
import type { AtelierConfig } from './config.ts';
import { nextPluginChange } from './plugin-watcher.ts';
import { createRegistry } from './runtime.ts';

/**
 * Runs `iteration` once; in development mode (`config.dev`) runs it again after each settled change
 * of plugin code, with `revision` counting up so third-party modules are imported afresh (and, as
 * `iteration` opens a new engine each time, worker threads are new). In development mode a failed
 * run is reported (`atelier: CODE: message`, exit code 1 at the end) and the loop goes on; without
 * it the error is thrown. `iteration` returns the registry it ran with: its plugins' code is watched.
 *
 * @example
 * await runAgainOnPluginChange(config, process.stderr, async (revision) => {
 *   const root = await openRuntimeRoot(config, { engine: true, ...(revision ? { revision } : {}) });
 *   ... run, print, close ...
 *   return registry;
 * });
 */
export async function runAgainOnPluginChange(
  config: AtelierConfig,
  stderr: NodeJS.WritableStream,
  iteration: (revision: number | undefined) => Promise<PluginRegistry>,
): Promise<void> {
  for (let revision = 0; ; revision++) {
    const rev = revision === 0 ? undefined : revision;
    let registry: PluginRegistry | undefined;
    // An edit while this run loads or runs is a change to run again for.
    const since = Date.now();
    try {
      registry = await iteration(rev);
    } catch (error) {
      if (!config.dev || !isAtelierError(error)) throw error;
      stderr.write(`atelier: ${error.code}: ${error.message}\n`);
      process.exitCode = 1;
    }
    if (!config.dev) return;
    registry ??= await createRegistry(config, {
      neverThrow: true,
      ...(rev === undefined ? {} : { revision: rev }),
    });
    stderr.write('atelier: dev mode: watching plugin code and the plugins folder; Ctrl-C to stop\n');
    const reason = await nextPluginChange(config, registry, { since });
    stderr.write(`atelier: ${reason} changed: running again\n`);
  }
}
