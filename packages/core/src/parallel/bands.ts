// Bands: one step's row-independent work split across the run's threads. This module is pure
// JavaScript (no Node built-ins): the sandbox's SDK bundles it too, where every band runs in the
// calling thread. The engine installs a runner with helper threads for the duration of each run
// (see band-runner.ts); everywhere else (tests, tools, runStep on the main thread, the sandbox)
// `runBands` simply runs the whole range itself.

/**
 * What a band kernel gets besides its range: a cheap check that throws when the run was
 * cancelled or timed out, to call every few rows of a long band.
 */
export interface BandAbort {
  throwIfAborted(): void;
}

/**
 * Computes rows (or columns, or any unit) `start` to `end - 1` of its result from `args`: reading
 * whatever it needs (halo rows included) and writing only its own part of the output, so that
 * bands may run in any order, on any thread, and the result is the same byte for byte.
 */
export type BandFunction<A> = (args: A, start: number, end: number, abort: BandAbort) => void;

/**
 * A band kernel, by where other threads find it: the URL of the ES module that exports it
 * (`import.meta.url`) and the name of the export. Made by {@link bandKernel}.
 */
export interface BandKernel<A> {
  /** URL of the module that exports this kernel under {@link name}. */
  readonly module: string;
  /** Name of the export that holds this kernel in {@link module}. */
  readonly name: string;
  readonly run: BandFunction<A>;
}

/**
 * Declares a band kernel. Export the result under `name` from the module at `module`
 * (`import.meta.url`): helper threads import that module and look the export up. The arguments
 * passed to it go to other threads by structured clone, so they must be plain data: typed arrays
 * over `SharedArrayBuffer` ({@link sharedArray}, {@link toShared}) are shared, not copied, and
 * every array the kernel writes must be one; small read-only tables may be ordinary arrays (each
 * helper gets a copy); functions, class instances and AbortSignals do not cross.
 *
 * @example
 * import { bandKernel, runBands, sharedArray, toShared } from '@atelier/core';
 *
 * export const invertRows = bandKernel(import.meta.url, 'invertRows',
 *   (a: { src: Uint8Array; out: Uint8Array; rowBytes: number }, start, end) => {
 *     for (let i = start * a.rowBytes; i < end * a.rowBytes; i++) a.out[i] = 255 - a.src[i]!;
 *   });
 *
 * // inside apply()
 * const out = sharedArray(Uint8Array, image.data.length);
 * runBands(invertRows, { src: toShared(image.data), out, rowBytes: image.width * 3 }, image.height);
 */
export function bandKernel<A>(module: string, name: string, run: BandFunction<A>): BandKernel<A> {
  if (typeof name !== 'string' || typeof run !== 'function')
    throw new Error('bandKernel(module, name, run): module URL, export name and function');
  // Bundled code (the sandbox's SDK) has no module URL: such a kernel always runs in its caller.
  return Object.freeze({ module: typeof module === 'string' ? module : '', name, run });
}

/** Options of {@link runBands}. */
export interface RunBandsOptions {
  /**
   * Smallest band, in units of the range (rows): a kernel with halos pays its halo per band, so
   * it should ask for bands several times taller than the halo.
   * @default 16
   */
  readonly minBand?: number;
  /**
   * Bands per thread: more balance the work better when threads are interrupted, fewer waste
   * less on halos.
   * @default 6
   */
  readonly bandsPerThread?: number;
  /** The step's signal: checked between bands and by `abort.throwIfAborted()` in the calling thread. */
  readonly signal?: AbortSignal;
  /**
   * Called in the calling thread with the fraction of bands done, as they finish. With it, the
   * range is split in `bandsPerThread` bands even on one thread, so progress moves there too
   * (pass it only to kernels without halos, for which bands cost nothing).
   */
  readonly progress?: (fraction: number) => void;
}

/** What the engine installs in a run's thread: how to hand bands to helper threads. */
export interface BandRunner {
  /** Threads a step may use for bands: the calling one plus helpers. */
  readonly threads: number;
  /** Runs `count` bands of `0..size`, the calling thread included; returns when all are done. */
  run<A>(kernel: BandKernel<A>, args: A, size: number, count: number, options: RunBandsOptions): void;
}

let runner: BandRunner | undefined;

/**
 * Installs (or, with `undefined`, removes) the band runner of the current thread; returns the
 * previous one. The engine's threads call it around each run. Not for plugins.
 * @internal
 */
export function setBandRunner(next: BandRunner | undefined): BandRunner | undefined {
  const previous = runner;
  runner = next;
  return previous;
}

/**
 * Threads that {@link runBands} may use in the current step: 1 (the calling thread alone)
 * outside the engine, in the sandbox and when the engine has no band threads; otherwise the
 * calling thread plus the engine's `bandThreads`.
 */
export function bandThreads(): number {
  return runner?.threads ?? 1;
}

/**
 * The start of band `index` of `count` equal bands over `0..size` (band `index` ends where band
 * `index + 1` starts).
 */
export function bandStart(index: number, count: number, size: number): number {
  return Math.floor((index * size) / count);
}

const NEVER_ABORTED: BandAbort = { throwIfAborted() {} };

/**
 * Runs `kernel` over the range `0..size` (rows, usually) split in bands, on the calling thread
 * and the run's helper threads (see {@link bandThreads}), and returns when every band is done.
 * Bands are claimed from a shared counter: whichever thread is free takes the next one, and the
 * calling thread takes bands too, so a helper that is busy elsewhere (or absent) only means the
 * caller runs more of them. With one thread the kernel runs once over the whole range, so the
 * result is the same as with any number of threads exactly when the kernel's band results do not
 * depend on where bands start.
 *
 * A kernel that throws in a helper thread fails the call in the calling thread with the error's
 * code (`PLUGIN_FAILED` for a plain Error) and says which kernel; a cancelled run throws
 * `ABORTED` between bands.
 *
 * @example
 * runBands(invertRows, { src, out, rowBytes: width * 3 }, height, { signal: ctx.signal });
 */
export function runBands<A>(
  kernel: BandKernel<A>,
  args: A,
  size: number,
  options: RunBandsOptions = {},
): void {
  if (!(size > 0)) return;
  const threads = runner?.threads ?? 1;
  const minBand = Math.max(1, Math.floor(options.minBand ?? 16));
  const perThread = Math.max(1, Math.floor(options.bandsPerThread ?? 6));
  const count =
    threads <= 1 && !options.progress ? 1 : Math.min(Math.ceil(size / minBand), threads * perThread);
  if (count <= 1 || !runner || threads <= 1 || kernel.module === '') {
    const abort = options.signal ?? NEVER_ABORTED;
    for (let band = 0; band < count; band++) {
      abort.throwIfAborted();
      kernel.run(args, bandStart(band, count, size), bandStart(band + 1, count, size), abort);
      options.progress?.((band + 1) / count);
    }
    return;
  }
  runner.run(kernel, args, size, count, options);
}

/** A typed array constructor that {@link sharedArray} can allocate with. */
export type SharedArrayConstructor<T> = new (
  buffer: ArrayBufferLike,
  byteOffset?: number,
  length?: number,
) => T;

interface TypedArrayLike {
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
  readonly length: number;
  readonly BYTES_PER_ELEMENT: number;
  set(array: ArrayLike<number>): void;
}

const hasShared = typeof SharedArrayBuffer === 'function';

/**
 * A zero-filled typed array for band kernels to write into: over a `SharedArrayBuffer` when the
 * step has helper threads ({@link bandThreads} > 1), so that kernels in other threads write into
 * it without copies; an ordinary one otherwise (one thread, the sandbox, outside the engine).
 *
 * @example
 * const out = sharedArray(Float32Array, width * height);
 */
export function sharedArray<T extends TypedArrayLike>(
  ctor: SharedArrayConstructor<T> & { readonly BYTES_PER_ELEMENT: number },
  length: number,
): T {
  const bytes = length * ctor.BYTES_PER_ELEMENT;
  const shared = hasShared && bandThreads() > 1;
  return new ctor(shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes), 0, length);
}

/**
 * Where {@link outputArray} takes its memory from: the engine installs one in each of its threads
 * for the duration of a run, and takes back what it handed out when the run has succeeded.
 * @internal
 */
export interface OutputArrays {
  /**
   * A buffer of `bytes` bytes (shared or not): a new one (zero-filled), or one an earlier run
   * used (`reused`: the caller clears it).
   */
  take(bytes: number, shared: boolean): { readonly buffer: ArrayBufferLike; readonly reused: boolean };
}

let outputs: OutputArrays | undefined;

/**
 * Installs (or, with `undefined`, removes) the current thread's source of output arrays; returns
 * the previous one. The engine's threads call it around each run. Not for plugins.
 * @internal
 */
export function setOutputArrays(next: OutputArrays | undefined): OutputArrays | undefined {
  const previous = outputs;
  outputs = next;
  return previous;
}

let runInput: object | undefined;

/**
 * Names (or, with `undefined`, forgets) the pixels the current run decoded: {@link toShared}
 * copies them into memory from the installed {@link OutputArrays}, reused by later runs, instead of
 * new memory on every run (which the helper threads, collecting their garbage rarely, would keep
 * alive run after run). The engine's threads call it around each run. Not for plugins.
 * @internal
 */
export function setRunInput(input: object | undefined): void {
  runInput = input;
}

/**
 * A zero-filled typed array for a step's **output** (the `data` of the image it returns), shared
 * like {@link sharedArray} when the step has helper threads. In the engine its memory is reused by
 * later runs in the same thread once this run has finished: a fresh image-sized buffer costs a
 * page fault per 4 KB on first write, about as long as a fast style's own work. So return it as
 * your image's data (or drop it), and keep no reference to it after `apply` returns: no cache, no
 * module variable. Everywhere else (tests, `runStep`, the sandbox) it is a new array.
 *
 * @example
 * const out = outputArray(Uint8Array, width * height * 3);
 * runBands(paintRows, { out, ... }, height, { signal });
 * return { data: out, width, height, channels: 3 };
 */
export function outputArray<T extends TypedArrayLike>(
  ctor: SharedArrayConstructor<T> & { readonly BYTES_PER_ELEMENT: number },
  length: number,
): T {
  if (!outputs) return sharedArray(ctor, length);
  const shared = hasShared && bandThreads() > 1;
  const bytes = length * ctor.BYTES_PER_ELEMENT;
  const { buffer, reused } = outputs.take(bytes, shared);
  // Zero-filled as a new one is: nothing of an earlier run's image can show through. Large
  // shared buffers are cleared on all of the run's threads.
  if (reused) {
    const view = new Uint8Array(buffer, 0, bytes);
    if (shared && bytes >= 2 * ZERO_CHUNK)
      runBands(zeroBand, { bytes: view }, Math.ceil(bytes / ZERO_CHUNK), { minBand: 1 });
    else clearBytes(view, 0, bytes);
  }
  return new ctor(buffer, 0, length);
}

/** Bytes per unit of {@link zeroBand}'s range. */
const ZERO_CHUNK = 1 << 20;

/**
 * Sets `bytes[from..to)` to 0. On a `SharedArrayBuffer`, V8's `fill` stores element by element,
 * so byte by byte through a `Uint8Array` (13 ms for 44 MB on the bench machine, against under 1
 * ms on ordinary memory); through a `Float64Array` view it stores eight bytes at a time (1.7-2.0
 * ms, against 4.0 ms for copying zeros in with `set`, the way used until 2026-12-06). The
 * unaligned ends, under eight bytes each, are cleared byte by byte.
 */
function clearBytes(bytes: Uint8Array, from: number, to: number): void {
  if (!isShared(bytes)) {
    bytes.fill(0, from, to);
    return;
  }
  const start = bytes.byteOffset + from;
  const end = bytes.byteOffset + to;
  const wordsFrom = Math.ceil(start / 8);
  const wordsTo = Math.floor(end / 8);
  if (wordsTo <= wordsFrom) {
    bytes.fill(0, from, to);
    return;
  }
  bytes.fill(0, from, wordsFrom * 8 - bytes.byteOffset);
  // +0.0 is eight zero bytes.
  new Float64Array(bytes.buffer, wordsFrom * 8, wordsTo - wordsFrom).fill(0);
  bytes.fill(0, wordsTo * 8 - bytes.byteOffset, to);
}

/**
 * Clears `bytes` from chunk `start` to chunk `end - 1` (of {@link ZERO_CHUNK} bytes): how
 * {@link outputArray} clears a reused shared buffer on the run's threads.
 * @internal
 */
export const zeroBand = bandKernel(
  import.meta.url,
  'zeroBand',
  (a: { bytes: Uint8Array }, start: number, end: number): void => {
    clearBytes(a.bytes, start * ZERO_CHUNK, Math.min(a.bytes.length, end * ZERO_CHUNK));
  },
);

/** True when `array` lives in a `SharedArrayBuffer`. */
export function isShared(array: { readonly buffer: ArrayBufferLike }): boolean {
  return hasShared && array.buffer instanceof SharedArrayBuffer;
}

/** Shared copies made by {@link toShared}, by source: a step's input is copied once, not per kernel. */
const copies = new WeakMap<object, object>();

/**
 * `array` itself when it is already shared or when the step has one thread (nothing to share
 * with), else a copy of it over a `SharedArrayBuffer`, for band kernels to read from other threads
 * without a copy each. The copy is made once per array (and kept as long as the array is): the
 * same input given to several kernels is shared once. Read-only use: the copy does not follow
 * later writes to `array`. The copy of the run's input image (`ctx.image.data` of its first step)
 * lives as long as the run: its memory serves later runs, so keep no reference to it after
 * `apply` returns. A Node.js `Buffer` is copied as a plain `Uint8Array`.
 */
export function toShared<T extends TypedArrayLike>(array: T): T {
  if (isShared(array) || bandThreads() <= 1) return array;
  const cached = copies.get(array) as T | undefined;
  if (cached) return cached;
  // A Node.js Buffer (what sharp returns) is copied as a plain Uint8Array: Buffer's own
  // constructor is deprecated (DEP0005, a warning on the first call).
  const own = typeof Buffer === 'function' && Buffer.isBuffer(array) ? Uint8Array : array.constructor;
  const ctor = own as SharedArrayConstructor<T> & { readonly BYTES_PER_ELEMENT: number };
  const bytes = array.length * ctor.BYTES_PER_ELEMENT;
  // Every byte is written below: memory an earlier run used needs no clearing.
  const buffer =
    outputs && array === runInput ? outputs.take(bytes, true).buffer : new SharedArrayBuffer(bytes);
  const copy = new ctor(buffer, 0, array.length);
  // Byte for byte: the same for every element type, without reading it as numbers.
  new Uint8Array(copy.buffer, copy.byteOffset, bytes).set(
    new Uint8Array(array.buffer, array.byteOffset, bytes),
  );
  copies.set(array, copy);
  return copy;
}
