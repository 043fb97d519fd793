// The calling side of bands in the engine's threads: a job is announced to the helper threads
// (band-helper.ts) on a BroadcastChannel, then the caller and whichever helpers are free claim
// bands from a shared counter until none is left. Nothing here waits for a helper to start: a
// busy or missing helper only leaves more bands to the caller.
import { BroadcastChannel } from 'node:worker_threads';
import { AtelierError, ERROR_CODES } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';
import type { BandAbort, BandKernel, BandRunner, RunBandsOptions } from './bands.ts';
import { bandStart } from './bands.ts';

/** Slots of a job's control words (an Int32Array over a SharedArrayBuffer). */
export const NEXT = 0; // the next band to claim
export const DONE = 1; // bands finished
export const SEATS = 2; // helpers that joined
export const FAILED = 3; // 1 once a helper's band threw
export const ERROR_LENGTH = 4; // bytes of the JSON error in `error`
export const LEFT = 5; // helpers that joined and have left
export const CONTROL_SLOTS = 6;
/** How long a failed or cancelled call waits at most for helpers to leave the bands they hold. */
const SETTLE_MS = 2000;
/** NEXT is set to this to stop further claims (on failure or abort). */
export const STOP = 0x3fffffff;
export const ERROR_BYTES = 4096;

/** What a helper thread receives for one call of `runBands`. */
export interface BandJob {
  readonly t: 'bands';
  readonly module: string;
  readonly name: string;
  readonly args: unknown;
  readonly size: number;
  readonly count: number;
  /** Helpers that may join this job. */
  readonly helpers: number;
  readonly control: Int32Array;
  readonly error: Uint8Array;
  /** The run's abort flag: non-zero once it was cancelled or timed out. */
  readonly abortFlag: Int32Array;
}

/** A band kernel's error as a helper writes it to the job's `error` bytes. */
export interface BandFailure {
  readonly code?: string;
  readonly message: string;
  readonly band: number;
}

/** The band runner of one run in an engine thread. */
export class HelperBandRunner implements BandRunner {
  readonly threads: number;
  readonly #channel: string;
  readonly #abortFlag: Int32Array;
  readonly #helperExits: Int32Array;

  /**
   * @param channel - name of the BroadcastChannel the helpers listen on
   * @param helpers - helpers this run may use
   * @param abortFlag - the run's abort flag
   * @param helperExits - counts helper threads that stopped unexpectedly (a band they held is lost)
   */
  constructor(channel: string, helpers: number, abortFlag: Int32Array, helperExits: Int32Array) {
    this.#channel = channel;
    this.threads = 1 + Math.max(0, helpers);
    this.#abortFlag = abortFlag;
    this.#helperExits = helperExits;
  }

  run<A>(kernel: BandKernel<A>, args: A, size: number, count: number, options: RunBandsOptions): void {
    const { signal, progress } = options;
    const control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * 4));
    const error = new Uint8Array(new SharedArrayBuffer(ERROR_BYTES));
    const exits = Atomics.load(this.#helperExits, 0);
    const job: BandJob = {
      t: 'bands',
      module: kernel.module,
      name: kernel.name,
      args,
      size,
      count,
      helpers: this.threads - 1,
      control,
      error,
      abortFlag: this.#abortFlag,
    };
    // A channel per job, closed at once: an open one would also collect other threads' jobs.
    const channel = new BroadcastChannel(this.#channel);
    try {
      channel.postMessage(job);
    } catch (cause) {
      throw new Error(
        `runBands: the arguments of band kernel "${kernel.name}" cannot be sent to other threads (plain data and typed arrays only): ${(cause as Error).message}`,
        { cause },
      );
    } finally {
      channel.close();
    }
    const abort: BandAbort = signal ?? { throwIfAborted: () => this.#throwIfAborted() };
    try {
      for (;;) {
        const band = Atomics.add(control, NEXT, 1);
        if (band >= count) break;
        abort.throwIfAborted();
        this.#throwIfAborted();
        kernel.run(args, bandStart(band, count, size), bandStart(band + 1, count, size), abort);
        const done = Atomics.add(control, DONE, 1) + 1;
        progress?.(done / count);
      }
      // Wait for the bands that helpers hold.
      for (;;) {
        const done = Atomics.load(control, DONE);
        if (Atomics.load(control, FAILED) !== 0) throw helperError(kernel, control, error);
        if (done >= count) return;
        abort.throwIfAborted();
        this.#throwIfAborted();
        if (Atomics.load(this.#helperExits, 0) !== exits) {
          throw new AtelierError(
            'PLUGIN_FAILED',
            `A helper thread stopped while it ran band kernel "${kernel.name}".`,
            { details: { kernel: kernel.name, module: kernel.module } },
          );
        }
        Atomics.wait(control, DONE, done, 50);
        if (progress && Atomics.load(control, DONE) !== done) progress(Atomics.load(control, DONE) / count);
      }
    } catch (cause) {
      Atomics.store(control, NEXT, STOP);
      this.#settle(control, exits);
      throw cause;
    }
  }

  /**
   * After a failure or a cancellation: waits until every helper that joined has left its band
   * (they check the abort flag every few rows), so that none still writes into the step's arrays
   * when the call has thrown, kept ones included, which the next run may be using. Bounded, and
   * not for a helper thread that stopped (it will not leave).
   */
  #settle(control: Int32Array, exits: number): void {
    const deadline = performance.now() + SETTLE_MS;
    for (;;) {
      const left = Atomics.load(control, LEFT);
      if (left >= Atomics.load(control, SEATS)) return;
      if (Atomics.load(this.#helperExits, 0) !== exits) return;
      const rest = deadline - performance.now();
      if (rest <= 0) return;
      Atomics.wait(control, LEFT, left, Math.min(rest, 50));
    }
  }

  #throwIfAborted(): void {
    if (Atomics.load(this.#abortFlag, 0) !== 0) throw new AtelierError('ABORTED', 'The run was cancelled.');
  }
}

function helperError(
  kernel: { readonly name: string; readonly module: string },
  control: Int32Array,
  error: Uint8Array,
): AtelierError {
  const length = Math.min(ERROR_BYTES, Atomics.load(control, ERROR_LENGTH));
  let failure: BandFailure = { message: 'unknown error', band: -1 };
  try {
    failure = JSON.parse(new TextDecoder().decode(error.slice(0, length))) as BandFailure;
  } catch {
    // Keep the generic message.
  }
  const details = { kernel: kernel.name, module: kernel.module, band: failure.band, thread: 'helper' };
  if (failure.code !== undefined && failure.code !== 'PLUGIN_FAILED' && failure.code in ERROR_CODES)
    return new AtelierError(failure.code as ErrorCode, failure.message, { details });
  return new AtelierError(
    'PLUGIN_FAILED',
    `Band kernel "${kernel.name}" failed in a helper thread: ${failure.message}`,
    { details },
  );
}
