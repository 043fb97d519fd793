// Work-size planes kept between renders on one thread, for the styles that allocate a set of
// them per render (cartoon, colour pencil). Fresh memory costs a page fault per 4 KB on first
// touch, which on the bench's virtual machine took as long as a render's own arithmetic, and
// garbage collection decided when old planes went back to the allocator.

/** What a kept set is keyed by: its size, and whether it is over shared memory. */
export interface PlaneSetKey {
  readonly width: number;
  readonly height: number;
  /** Over `SharedArrayBuffer`s, for the run's band threads. */
  readonly shared: boolean;
}

/**
 * Sets of planes kept for later renders: `keep` at most (the full render's size and the
 * preview's), the most recently given back first. A set is taken while a render uses it, so
 * renders that overlap on one thread (each awaits sharp) never share one.
 */
export class KeptPlanes<T extends PlaneSetKey> {
  readonly #kept: T[] = [];
  readonly #keep: number;

  constructor(keep = 2) {
    this.#keep = keep;
  }

  /** A kept set of this key when there is one, else `make()`. */
  take(key: PlaneSetKey, make: () => T): T {
    const i = this.#kept.findIndex(
      (p) => p.width === key.width && p.height === key.height && p.shared === key.shared,
    );
    return i >= 0 ? this.#kept.splice(i, 1)[0]! : make();
  }

  /** Gives a set back for later renders. */
  give(set: T): void {
    this.#kept.unshift(set);
    if (this.#kept.length > this.#keep) this.#kept.length = this.#keep;
  }
}
