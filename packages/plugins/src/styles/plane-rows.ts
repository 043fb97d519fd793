// Shared by the band kernels of sketch and colour pencil; imports nothing, so helper threads load it
// as they load those kernels' modules.

/**
 * Rows of planes at the output's own size (a preview, or a photo no larger than the work size):
 * the same interface as BilinearUpsampler, whose rows would be copies of the planes' rows with
 * a weight of 0, so the result is the same to the bit without the copies.
 */
export class PlaneRows {
  readonly #planes: readonly Float32Array[];
  readonly #width: number;
  #rows: Float32Array[] = [];

  constructor(planes: readonly Float32Array[], width: number) {
    this.#planes = planes;
    this.#width = width;
  }

  select(y: number): number {
    const w = this.#width;
    this.#rows = this.#planes.map((p) => p.subarray(y * w, (y + 1) * w));
    return 0;
  }

  upper(plane = 0): Float32Array {
    return this.#rows[plane]!;
  }

  lower(plane = 0): Float32Array {
    return this.#rows[plane]!;
  }
}
