// The memory of steps' outputs (`outputArray`, which clears what it reuses), kept by each engine
// thread between runs. A style that renders a 1920x1200 photo returns a 7 MB image; in a fresh
// buffer each write to a new 4 KB page costs a page fault, which on a virtual machine took as long
// as pop art's whole step. The buffers of a run that succeeded come back here once its result is
// encoded; those of a run that failed do not (a helper thread may still be writing a band into
// them).
import type { OutputArrays } from './bands.ts';

/** How many buffers, and bytes, a pool keeps between runs at most: the most recent win. */
export interface OutputPoolLimits {
  readonly maxBuffers: number;
  readonly maxBytes: number;
}

/** What one run took from an {@link OutputPool}: the source of its `outputArray`s. */
export interface OutputLease extends OutputArrays {
  /** The run succeeded and its result is encoded: what it took is free for later runs. */
  reclaim(): void;
  /** The run failed: what it took may still be written to, and is left to the garbage collector. */
  forget(): void;
}

export class OutputPool {
  readonly #limits: OutputPoolLimits;
  /** Buffers free for later runs, the most recently returned last. */
  #idle: ArrayBufferLike[] = [];

  constructor(limits: OutputPoolLimits) {
    this.#limits = limits;
  }

  /** Bytes kept for later runs (part of the thread's external memory while no run uses them). */
  get idleBytes(): number {
    let bytes = 0;
    for (const buffer of this.#idle) bytes += buffer.byteLength;
    return bytes;
  }

  /** Buffers kept for later runs. */
  get idleBuffers(): number {
    return this.#idle.length;
  }

  /** A lease for one run. */
  lease(): OutputLease {
    let lent: ArrayBufferLike[] = [];
    return {
      take: (bytes, shared) => {
        const taken = this.#take(bytes, shared);
        lent.push(taken.buffer);
        return taken;
      },
      reclaim: () => {
        this.#return(lent);
        lent = [];
      },
      forget: () => {
        lent = [];
      },
    };
  }

  #take(bytes: number, shared: boolean): { buffer: ArrayBufferLike; reused: boolean } {
    for (let i = this.#idle.length - 1; i >= 0; i--) {
      const buffer = this.#idle[i]!;
      if (buffer.byteLength === bytes && buffer instanceof SharedArrayBuffer === shared) {
        this.#idle.splice(i, 1);
        return { buffer, reused: true };
      }
    }
    return { buffer: shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes), reused: false };
  }

  #return(buffers: readonly ArrayBufferLike[]): void {
    this.#idle.push(...buffers);
    let bytes = this.idleBytes;
    while (
      this.#idle.length > 0 &&
      (this.#idle.length > this.#limits.maxBuffers || bytes > this.#limits.maxBytes)
    )
      bytes -= this.#idle.shift()!.byteLength;
  }
}
