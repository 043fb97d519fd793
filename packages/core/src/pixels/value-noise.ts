import { hash32 } from './rng.ts';

/** Arguments of {@link valueNoise}. */
export interface ValueNoiseArgs {
  readonly width: number;
  readonly height: number;
  /** Lattice spacing of the first octave in pixels: the size of the blobs. */
  readonly cell: number;
  readonly seed: number;
  /**
   * Where the plane sits in a larger image: pixel (x, y) of the result is noise at
   * `(x0 + x, y0 + y)`, so bands or tiles of one image join without seams.
   * @default 0
   */
  readonly x0?: number;
  /** @default 0 */
  readonly y0?: number;
  /**
   * Octaves of fractal noise: each next one has half the cell and `persistence` times the amplitude.
   * @default 1
   */
  readonly octaves?: number;
  /** @default 0.5 */
  readonly persistence?: number;
  /** Result plane, `width * height` samples; allocated when omitted. */
  readonly out?: Float32Array;
}

/**
 * Smooth seeded value noise (random values on a lattice, blended with a smoothstep), in about
 * [-1, 1]. Deterministic: the value at a pixel depends only on `seed`, `cell`, the octaves and
 * the pixel's absolute position. Lattice values are hashed once per lattice row, so a pixel
 * costs one bilinear blend per octave.
 *
 * @returns the noise plane (normalised so that the octaves' amplitudes sum to 1).
 *
 * @example
 * const blotches = valueNoise({ width, height, cell: 40, seed: ctx.seed, octaves: 3 });
 */
export function valueNoise(args: ValueNoiseArgs): Float32Array {
  const { width, height } = args;
  const out = args.out ?? new Float32Array(width * height);
  if (out.length < width * height) throw new Error('valueNoise: out too small');
  const octaves = Math.max(1, Math.floor(args.octaves ?? 1));
  const persistence = args.persistence ?? 0.5;
  const x0 = Math.floor(args.x0 ?? 0);
  const y0 = Math.floor(args.y0 ?? 0);
  let total = 0;
  let amp = 1;
  for (let o = 0; o < octaves; o++) {
    total += amp;
    amp *= persistence;
  }
  amp = 1 / total;
  let cell = Math.max(1e-3, args.cell);
  for (let o = 0; o < octaves; o++) {
    addOctave(out, width, height, x0, y0, cell, hash32(args.seed ^ hash32(o + 0x51ed27)), amp, o === 0, 0);
    amp *= persistence;
    cell /= 2;
  }
  return out;
}

/** Arguments of {@link tileableNoise}. */
export interface TileableNoiseArgs {
  /** Tile side in pixels. */
  readonly size: number;
  /**
   * Lattice cells across the tile for each octave (rounded to integers so the tile wraps);
   * e.g. `[64, 24, 8]` for fine grain over broader undulation.
   */
  readonly periods: readonly number[];
  /** Amplitude of each octave. */
  readonly amplitudes: readonly number[];
  readonly seed: number;
}

/**
 * Seamlessly tiling value noise: a `size × size` plane whose right edge continues into its left
 * and bottom into top, so it can texture any image by `tile[(y % size) * size + x % size]`.
 * Used for paper grain, canvas irregularity and brush-stroke fibres: a tile costs `size²` once,
 * the lookup one read per pixel.
 *
 * @example
 * const grain = tileableNoise({ size: 256, periods: [96, 32], amplitudes: [0.6, 0.4], seed });
 */
export function tileableNoise(args: TileableNoiseArgs): Float32Array {
  const size = Math.max(1, Math.floor(args.size));
  const out = new Float32Array(size * size);
  args.periods.forEach((p, o) => {
    const period = Math.max(1, Math.round(p));
    const seed = hash32(args.seed ^ hash32(o + 0x2c1b3c6d));
    addOctave(out, size, size, 0, 0, size / period, seed, args.amplitudes[o] ?? 0, o === 0, period);
  });
  return out;
}

/**
 * Adds (or writes, when `first`) one octave of value noise. With `period > 0` lattice indices
 * wrap modulo `period`.
 */
function addOctave(
  out: Float32Array,
  width: number,
  height: number,
  x0: number,
  y0: number,
  cell: number,
  seed: number,
  amp: number,
  first: boolean,
  period: number,
): void {
  const inv = 1 / cell;
  const gx0 = Math.floor(x0 * inv);
  const gx1 = Math.floor((x0 + width - 1) * inv) + 1;
  const count = gx1 - gx0 + 1;
  // Per column: lattice index (relative to gx0) and smoothstep weight.
  const col = new Int32Array(width);
  const wx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const u = (x0 + x) * inv;
    const i = Math.floor(u);
    const t = u - i;
    col[x] = i - gx0;
    wx[x] = t * t * (3 - 2 * t);
  }
  let rowA = new Float32Array(count);
  let rowB = new Float32Array(count);
  let latA = Number.NaN;
  const scale = 2 / 4294967296;
  const fill = (row: Float32Array, j: number): void => {
    const jj = period > 0 ? ((j % period) + period) % period : j;
    const hj = hash32(seed ^ Math.imul(jj, 0x27d4eb2d));
    for (let k = 0; k < count; k++) {
      let i = gx0 + k;
      if (period > 0) i = ((i % period) + period) % period;
      row[k] = hash32(hj ^ Math.imul(i, 0x165667b1)) * scale - 1;
    }
  };
  for (let y = 0; y < height; y++) {
    const v = (y0 + y) * inv;
    const j = Math.floor(v);
    const t = v - j;
    const wy = t * t * (3 - 2 * t);
    if (j !== latA) {
      if (j === latA + 1) {
        const tmp = rowA;
        rowA = rowB;
        rowB = tmp;
      } else {
        fill(rowA, j);
      }
      fill(rowB, j + 1);
      latA = j;
    }
    const o = y * width;
    for (let x = 0; x < width; x++) {
      const k = col[x]!;
      const a = rowA[k]!;
      const b = rowB[k]!;
      const top = a + (rowA[k + 1]! - a) * wx[x]!;
      const bottom = b + (rowB[k + 1]! - b) * wx[x]!;
      const value = amp * (top + (bottom - top) * wy);
      if (first) out[o + x] = value;
      else out[o + x]! += value;
    }
  }
}
