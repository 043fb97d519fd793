import { normalise } from './normalise.ts';
import { hash32 } from './rng.ts';

/** Size of the table of random bristle heights (a power of two). */
const GROOVE_TABLE = 4096;
const GROOVE_MASK = GROOVE_TABLE - 1;

/** Arguments of {@link strokeTextures}. */
export interface StrokeTexturesArgs {
  /** Tile side in pixels. */
  readonly size: number;
  /** Number of directions over half a turn; tile `k` has strokes along the angle `k * π / bins`. */
  readonly bins: number;
  /** Mean stroke length in pixels, end to end. */
  readonly length: number;
  /** Mean stroke width in pixels. */
  readonly width: number;
  /** Spacing of the bristle grooves inside a stroke, in pixels. @default 1.2 */
  readonly bristle?: number;
  /** Average number of strokes covering a pixel. @default 2.5 */
  readonly coverage?: number;
  /**
   * Also record which stroke lies on top at every pixel ({@link StrokeTextures.owner}), so that a
   * style can give each stroke one colour. The heights are the same with or without.
   * @default false
   */
  readonly owners?: boolean;
  readonly seed: number;
}

/** Which stroke covers each pixel of the tiles, and where every stroke is: see {@link StrokeTexturesArgs.owners}. */
export interface StrokeOwners {
  /**
   * `bins` tiles of `size * size` entries laid out like the heights: `1 + ` the index of the
   * stroke on top (painted at least half opaque) at that pixel, or 0 where no stroke is.
   */
  readonly owner: Uint16Array;
  /** Centre of each stroke in tile pixels (the same in every tile: strokes turn about it). */
  readonly x: Float32Array;
  readonly y: Float32Array;
  /** Two seeded values per stroke in [-1, 1), `(a, b)` of stroke i at `2i` and `2i + 1`: its own jitter. */
  readonly jitter: Float32Array;
}

/** Seamless tiles of brush-stroke relief, one per stroke direction. */
export interface StrokeTextures {
  readonly size: number;
  readonly bins: number;
  /**
   * `bins` tiles of `size * size` heights, one after the other; each has mean 0 and standard
   * deviation 1. Tile `k` starts at `k * size * size`.
   */
  readonly heights: Float32Array;
  /** With {@link StrokeTexturesArgs.owners}: which stroke is where. */
  readonly owners?: StrokeOwners;
}

/**
 * Impasto brush-stroke height fields: a seeded crowd of overlapping strokes (rounded dabs a few
 * times longer than wide, thicker where the brush landed, paint pushed up at the sides, fine
 * bristle grooves along the stroke), painted one over another, as `bins` seamless tiles whose
 * strokes point along directions evenly spread over half a turn.
 *
 * Every tile has the same strokes in the same places, each turned about its own centre, so two
 * neighbouring tiles differ only by a small rotation: blending the two tiles nearest the local
 * angle of a {@link flowField} makes strokes that turn smoothly with the image, at the cost of two
 * lookups per pixel (a line integral convolution would cost the stroke length per pixel).
 * Strokes that cross the tile's edge wrap around, so the tiles repeat without seams.
 *
 * Cost: about `coverage * size²` stroke samples per tile.
 *
 * With `owners`, the tiles also record the stroke on top at every pixel, its centre and a seeded
 * jitter per stroke: a style can paint each stroke in one colour (read at its centre) so that
 * strokes read as separate dabs. Owners are 16-bit: at most 65535 strokes per tile (a
 * RangeError otherwise; the count is `coverage * size² / (0.8 * length * width)`).
 *
 * @example
 * const strokes = strokeTextures({ size: 256, bins: 12, length: 20, width: 7, seed: 1 });
 * const h = strokes.heights[k * 256 * 256 + (y % 256) * 256 + (x % 256)];
 */
export function strokeTextures(args: StrokeTexturesArgs): StrokeTextures {
  const size = Math.max(8, Math.round(args.size));
  const bins = Math.max(1, Math.round(args.bins));
  const n = size * size;
  const length = Math.min(size / 2, Math.max(2, args.length));
  const width = Math.min(length, Math.max(1, args.width));
  const spacing = Math.max(0.5, args.bristle ?? 1.2);
  const coverage = Math.max(0.5, args.coverage ?? 2.5);
  const count = Math.max(1, Math.round((coverage * n) / (0.8 * length * width)));
  if (args.owners && count > 0xffff)
    throw new RangeError(`strokeTextures: ${count} strokes, owners fit 65535`);

  // The strokes, shared by all tiles: centre, half sizes, direction jitter, paint load, bristles.
  const cx = new Float32Array(count);
  const cy = new Float32Array(count);
  const halfL = new Float32Array(count);
  const halfW = new Float32Array(count);
  const jitter = new Float32Array(count);
  const load = new Float32Array(count);
  const bristleSeed = new Uint32Array(count);
  let state = hash32(args.seed ^ 0x6a09e667);
  const next = (): number => {
    state = (state + 0x9e3779b9) >>> 0;
    return hash32(state) / 4294967296;
  };
  for (let i = 0; i < count; i++) {
    cx[i] = next() * size;
    cy[i] = next() * size;
    halfL[i] = 0.5 * length * (0.7 + 0.6 * next());
    halfW[i] = 0.5 * width * (0.75 + 0.5 * next());
    jitter[i] = (next() - 0.5) * 0.3;
    load[i] = 0.55 + 0.45 * next();
    bristleSeed[i] = hash32(state ^ 0x3c6ef372) & (GROOVE_TABLE - 1);
  }

  // Bristle profiles: random values read at `bristleSeed + groove index`.
  const grooves = new Float32Array(GROOVE_TABLE);
  for (let i = 0; i < GROOVE_TABLE; i++) grooves[i] = next();

  // Bare canvas between strokes sits at the average paint level, not in a pit.
  const heights = new Float32Array(bins * n).fill(0.55);
  const owner = args.owners ? new Uint16Array(bins * n) : undefined;
  const bristleScale = 1 / spacing;
  for (let k = 0; k < bins; k++) {
    const tile = heights.subarray(k * n, (k + 1) * n);
    const owned = owner?.subarray(k * n, (k + 1) * n);
    const base = (k * Math.PI) / bins;
    for (let i = 0; i < count; i++) {
      const a = base + jitter[i]!;
      const c = Math.cos(a);
      const s = Math.sin(a);
      const hl = halfL[i]!;
      const hw = halfW[i]!;
      const ex = Math.ceil(Math.abs(c) * hl + Math.abs(s) * hw);
      const ey = Math.ceil(Math.abs(s) * hl + Math.abs(c) * hw);
      const px = cx[i]!;
      const py = cy[i]!;
      const y0 = Math.floor(py);
      const invL = 1 / hl;
      const invW = 1 / hw;
      const paint = load[i]!;
      const bseed = bristleSeed[i]!;
      for (let y = y0 - ey; y <= y0 + ey; y++) {
        const dy = y + 0.5 - py;
        // The columns where the row crosses the stroke's rectangle |along| < 1, |across| < 1.
        let lo = -ex - 1;
        let hi = ex + 1;
        if (Math.abs(c) > 1e-6) {
          const p0 = (-hl - dy * s) / c;
          const p1 = (hl - dy * s) / c;
          lo = Math.max(lo, Math.min(p0, p1));
          hi = Math.min(hi, Math.max(p0, p1));
        }
        if (Math.abs(s) > 1e-6) {
          const q0 = (dy * c - hw) / s;
          const q1 = (dy * c + hw) / s;
          lo = Math.max(lo, Math.min(q0, q1));
          hi = Math.min(hi, Math.max(q0, q1));
        }
        const xa = Math.ceil(px - 0.5 + lo);
        const xb = Math.floor(px - 0.5 + hi);
        if (xb < xa) continue;
        const row = (((y % size) + size) % size) * size;
        let col = ((xa % size) + size) % size;
        for (let x = xa; x <= xb; x++, col = col + 1 === size ? 0 : col + 1) {
          const dx = x + 0.5 - px;
          const along = (dx * c + dy * s) * invL;
          const across = (dy * c - dx * s) * invW;
          const a2 = along * along;
          const e = a2 * a2 + across * across;
          if (e >= 1) continue;
          // Soft rim, more paint where the brush landed (along = -1) and at the sides.
          const alpha = e > 0.75 ? (1 - e) * 4 : 1;
          const u = (dy * c - dx * s) * bristleScale;
          const j = Math.floor(u);
          const f = u - j;
          const b0 = grooves[(bseed + j) & GROOVE_MASK]!;
          const b1 = grooves[(bseed + j + 1) & GROOVE_MASK]!;
          const groove = b0 + (b1 - b0) * f * f * (3 - 2 * f);
          const h = paint * (1 - 0.3 * along) * (0.75 + 0.35 * across * across) + 0.3 * groove;
          const idx = row + col;
          const old = tile[idx]!;
          tile[idx] = old + (h - old) * alpha;
          if (owned && alpha >= 0.5) owned[idx] = i + 1;
        }
      }
    }
    normalise(tile);
  }
  if (!owner) return { size, bins, heights };
  // The jitter comes from its own hash, so the strokes and heights are those drawn without owners.
  const own = new Float32Array(2 * count);
  const jseed = hash32(args.seed ^ 0x510e527f);
  for (let i = 0; i < 2 * count; i++) own[i] = hash32(jseed ^ Math.imul(i + 1, 0x9e3779b1)) / 2147483648 - 1;
  return { size, bins, heights, owners: { owner, x: cx, y: cy, jitter: own } };
}
