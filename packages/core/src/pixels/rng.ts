/**
 * A stateless 32-bit integer hash (the "lowbias32" mixer by Chris Wellons): every output bit
 * depends on every input bit. Hashing `(seed, index)` gives noise that does not depend on the
 * order pixels are visited in, so results stay identical when work is split into bands.
 *
 * @returns an unsigned 32-bit integer.
 *
 * @example
 * const u = hash32(seed ^ hash32(y * width + x)) / 2 ** 32; // uniform in [0, 1)
 */
export function hash32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/**
 * A small, fast, seeded pseudo-random generator (SplitMix32-style: a Weyl sequence through
 * {@link hash32}). Same seed, same sequence, on every platform.
 *
 * @example
 * const rng = new SeededRandom(ctx.seed);
 * const jitter = rng.next() - 0.5;
 */
export class SeededRandom {
  #state: number;

  constructor(seed: number) {
    this.#state = hash32(seed ^ 0x9e3779b9);
  }

  /** The next unsigned 32-bit integer. */
  nextUint32(): number {
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    return hash32(this.#state);
  }

  /** The next number, uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }
}

/**
 * Fills `out` with white noise bytes (uniform 0..255) derived from `seed` and each byte's index,
 * four bytes per hash.
 *
 * @returns `out`.
 */
export function fillNoise(out: Uint8Array, seed: number): Uint8Array {
  const s = hash32(seed ^ 0x5bd1e995);
  const n = out.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const h = hash32((i >>> 2) ^ s) ^ s;
    const v = hash32(h);
    out[i] = v & 255;
    out[i + 1] = (v >>> 8) & 255;
    out[i + 2] = (v >>> 16) & 255;
    out[i + 3] = v >>> 24;
  }
  if (i < n) {
    const v = hash32(hash32((i >>> 2) ^ s) ^ s);
    for (let k = 0; i < n; i++, k++) out[i] = (v >>> (8 * k)) & 255;
  }
  return out;
}
