// Node's module compile cache for the processes that run Atelier's engine (docs/operations.md
// "Compile cache"). Atelier runs its TypeScript sources directly: every thread that imports them
// (the main thread, each engine thread, each band helper) strips their types first, which loads
// Node's TypeScript stripper, a WebAssembly module, into that thread. With the cache, a thread that
// finds the stripped code and V8's compiled code on disk needs neither.
import * as nodeModule from 'node:module';
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * Where the cache is kept unless `NODE_COMPILE_CACHE` says: the user's cache directory
 * (`$XDG_CACHE_HOME`, else `~/.cache`), not Node's default under the shared temporary directory,
 * where another local user could make the directory first and put code in it.
 */
function defaultCompileCacheDir(): string {
  const xdg = process.env['XDG_CACHE_HOME'];
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir(), '.cache');
  return path.join(base, 'atelier', 'node-compile-cache');
}

/**
 * Enables Node's module compile cache in this thread, in the directory `NODE_COMPILE_CACHE` names
 * (else {@link defaultCompileCacheDir}), and names that directory in `process.env` so that the
 * engine's worker threads and band helpers, which start with a copy of it, use the same cache.
 * Does nothing when `NODE_DISABLE_COMPILE_CACHE` is set. The cache is an optimisation: when it
 * cannot be enabled (Node before 22.1, an unwritable directory) nothing fails, and the returned
 * message says why. Call it before the engine is made, as `atelier` does at start-up.
 *
 * @example
 * shareCompileCache();
 * const engine = new Engine({ registry });
 */
export function shareCompileCache(): { readonly directory?: string; readonly message?: string } {
  // Node before 22.1 (the packed SDK runs on Node 20) has no compile cache.
  if (!('enableCompileCache' in nodeModule) || !('constants' in nodeModule))
    return { message: `Node.js ${process.version} has no module compile cache (it came in 22.1)` };
  // The directory is named explicitly, and absolute: what Node returns is its subdirectory for
  // this Node version, under which a thread given it would make another.
  const base = path.resolve(process.env['NODE_COMPILE_CACHE'] || defaultCompileCacheDir());
  const result = nodeModule.enableCompileCache(base);
  const { ENABLED, ALREADY_ENABLED } = nodeModule.constants.compileCacheStatus;
  if (result.directory && (result.status === ENABLED || result.status === ALREADY_ENABLED)) {
    process.env['NODE_COMPILE_CACHE'] = base;
    return { directory: result.directory };
  }
  return result.message ? { message: result.message } : {};
}
