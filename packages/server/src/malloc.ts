// glibc's malloc settings for the processes that render (docs/operations.md "Memory allocator").
//
// A style's planes and an image's buffers are tens of megabytes. By default glibc serves any
// block above its dynamic threshold (at most 32 MiB) with a fresh mmap and unmaps it on free, so
// every run of a large image pays for every page again: on the virtual machines measured, a first
// touch costs about 10 µs per 4 KiB page, 20-25 ms for one 7 MB buffer. Worker threads make it
// worse: each gets its own arena, whose heaps cannot hold such blocks, so they are mapped and
// unmapped every time, and the faults of two threads do not run in parallel.
//
// These settings keep blocks up to 256 MiB in the main heap, where a freed block is reused by the
// next run, and give back free memory at the top of the heap only beyond 512 MiB. glibc reads them
// when the process starts, from GLIBC_TUNABLES, so they are set by whoever starts the process:
// `pnpm start`, `pnpm atelier`, the benchmarks, or the operator's unit or container.

/** The value of GLIBC_TUNABLES that Atelier's rendering processes are started with. */
export const MALLOC_TUNABLES =
  'glibc.malloc.arena_max=1:glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=536870912';

/** The glibc version this process runs on, or undefined on another C library (musl, macOS). */
export function glibcVersion(): string | undefined {
  // Node documents the report's shape (header.glibcVersionRuntime) but types it as `object`.
  const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } };
  return report.header?.glibcVersionRuntime;
}

/**
 * What to tell the operator about the allocator settings at start-up: undefined when they apply
 * (or cannot: not glibc), else a sentence naming the variable to set.
 */
export function mallocAdvice(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (process.platform !== 'linux' || glibcVersion() === undefined) return undefined;
  if (env['GLIBC_TUNABLES']?.includes('glibc.malloc.')) return undefined;
  return (
    'GLIBC_TUNABLES is not set: large images render slower (fresh pages on every run); ' +
    `start the process with GLIBC_TUNABLES=${MALLOC_TUNABLES} (docs/operations.md "Memory allocator")`
  );
}
