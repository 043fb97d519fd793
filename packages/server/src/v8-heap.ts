// V8's heap setting for the processes that render (docs/operations.md "V8 heap").
//
// A run's temporary JavaScript objects (plans, messages, the kernels' small arrays and the objects
// of its large typed arrays) outlive a few young-generation collections and end in the old
// generation. Left to its defaults, V8 keeps the old generation's limit just above what is live
// (about 15 MB in an engine thread), so it marks and compacts the whole heap every few runs: a
// full collection per 3-4 previews, one or two per full-size run, each costing the rendering
// thread 5-20 ms and a background thread 50-80 ms of marking that competes with the band helper
// for the other core. Starting the old generation at 64 MB lets that garbage go with the
// collections that large buffers (external memory) trigger anyway.
//
// V8 reads it when each thread's heap is made, from the process's command line (Node refuses it in
// NODE_OPTIONS): `pnpm start`, `pnpm atelier`, the benchmarks, or the operator's unit or container.

/** The Node.js options Atelier's rendering processes are started with. */
export const HEAP_FLAGS: readonly string[] = ['--initial-old-space-size=64'];

/**
 * What to tell the operator about the heap setting at start-up: undefined when the process was
 * started with it (any value), else a sentence naming the option.
 */
export function heapAdvice(execArgv: readonly string[] = process.execArgv): string | undefined {
  if (execArgv.some((arg) => /^--initial[-_]old[-_]space[-_]size(=|$)/.test(arg))) return undefined;
  return (
    'Node.js was started without --initial-old-space-size: renders spend more time in garbage ' +
    `collection; start it as \`node ${HEAP_FLAGS.join(' ')} packages/server/src/cli.ts ...\` (docs/operations.md "V8 heap")`
  );
}
