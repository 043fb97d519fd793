import { hash32 } from './rng.ts';

/** Arguments of {@link pencilStrokes}. */
export interface PencilStrokesArgs {
  readonly width: number;
  readonly height: number;
  /** Same seed, same strokes. */
  readonly seed: number;
  /**
   * Stroke direction in degrees, counter-clockwise from the x axis with y pointing down:
   * 0 horizontal, 45 rising to the right (the usual right-handed hatch), 90 vertical, 135 falling.
   */
  readonly angle: 0 | 45 | 90 | 135;
  /** Mean stroke length in pixels; each stroke is 0.5 to 1.5 times this. */
  readonly length: number;
  /** Fraction of the area strokes cover (before overlaps), 0 to 1. */
  readonly coverage: number;
  /**
   * Length in pixels over which each end fades in and out, like a pencil touching down and
   * lifting off.
   * @default length / 4
   */
  readonly taper?: number;
  /** Result plane (`width * height` bytes); allocated when omitted. */
  readonly out?: Uint8Array;
}

/**
 * A layer of straight, parallel pencil strokes: graphite darkness per pixel, 0 (paper) to 255,
 * for hatching. Strokes start at seeded random points with random length and pressure and fade
 * in and out at their ends; where they overlap their darkness adds up.
 *
 * O(1) per pixel whatever the stroke length: each stroke is written as a +pressure mark at its
 * start and a −pressure mark past its end (strokes are placed by index, not by testing pixels), one running sum along the stroke direction turns the
 * marks into segments, and a running box along the same direction tapers the ends. Strokes are
 * generated on a margin around the image, so coverage is even right up to the borders, and
 * every random number comes from {@link hash32} of the seed and the stroke's index.
 *
 * Memory: one Int32 plane the size of the image plus margins.
 *
 * @example
 * const hatch = pencilStrokes({ width, height, seed: ctx.seed, angle: 45, length: 40, coverage: 0.5 });
 */
export function pencilStrokes(args: PencilStrokesArgs): Uint8Array {
  const { width, height } = args;
  const out = args.out ?? new Uint8Array(width * height);
  if (out.length < width * height) throw new Error('pencilStrokes: out too small');
  const meanLength = Math.max(2, args.length);
  const maxLength = Math.ceil(meanLength * 1.5);
  const taper = Math.max(1, Math.round(args.taper ?? meanLength / 4));
  const pad = maxLength + taper + 1;
  const pw = width + 2 * pad;
  const ph = height + 2 * pad;
  const [dx, dy] = STEP[args.angle];
  // Index step along the stroke; with dy = 1 the previous pixel of a stroke is one row up.
  const along = dy * pw + dx;

  // Marks: +pressure at a stroke's first pixel, -pressure one past its last.
  const marks = new Int32Array(pw * ph);
  const coverage = Math.min(1, Math.max(0, args.coverage));
  const count = Math.round((coverage * pw * ph) / meanLength);
  const seed = hash32(args.seed ^ 0x632be5ab) ^ hash32(args.angle + 1);
  for (let k = 0; k < count; k++) {
    const h1 = hash32(seed ^ Math.imul(k, 0x9e3779b1));
    const h2 = hash32(h1 ^ 0x85ebca6b);
    const h3 = hash32(h2 ^ seed);
    const x = Math.floor((h1 / 4294967296) * pw);
    const y = Math.floor((h2 / 4294967296) * ph);
    const len = Math.round(meanLength * (0.5 + (h3 & 0xffff) / 65536));
    const pressure = 128 + (h3 >>> 25);
    const i = y * pw + x;
    marks[i]! += pressure;
    const ex = x + dx * len;
    const ey = y + dy * len;
    if (ex >= 0 && ex < pw && ey >= 0 && ey < ph) marks[i + along * len]! -= pressure;
  }

  // Running sum along the direction: marks become constant segments.
  prefixAlong(marks, pw, ph, dx, dy);
  // Running box of `taper` along the direction: soft ends; scale so a full stroke is ~pressure.
  boxAlong(marks, pw, ph, dx, dy, taper);

  const scale = 1 / taper;
  const px = new Uint8ClampedArray(out.buffer, out.byteOffset, width * height);
  for (let y = 0; y < height; y++) scaleRow(marks, px, (y + pad) * pw + pad, y * width, width, scale);
  return out;
}

function scaleRow(
  src: Int32Array,
  dst: Uint8ClampedArray,
  from: number,
  to: number,
  n: number,
  scale: number,
): void {
  for (let x = 0; x < n; x++) dst[to + x] = src[from + x]! * scale;
}

const STEP: Record<0 | 45 | 90 | 135, readonly [number, number]> = {
  0: [1, 0],
  45: [1, -1],
  90: [0, 1],
  135: [1, 1],
};

// Each hot loop sits in a small single-loop function called once per row, which V8 optimises
// as a whole; a long nested loop would be entered on-stack and deoptimised at every row's end.

/** In-place prefix sum along (dx, dy); pixels whose predecessor is outside keep their value. */
function prefixAlong(m: Int32Array, w: number, h: number, dx: number, dy: number): void {
  if (dy === 0) {
    for (let y = 0; y < h; y++) addShifted(m, y * w + 1, y * w, w - 1);
  } else if (dy < 0) {
    // Walk rows bottom-up so the predecessor (one row down) is already summed.
    for (let y = h - 2; y >= 0; y--) {
      const row = y * w;
      const x0 = dx > 0 ? 1 : 0;
      addShifted(m, row + x0, row + w - dx + x0, w - x0);
    }
  } else {
    for (let y = 1; y < h; y++) {
      const row = y * w;
      const x0 = dx > 0 ? 1 : 0;
      const x1 = dx < 0 ? w - 1 : w;
      addShifted(m, row + x0, row - w - dx + x0, x1 - x0);
    }
  }
}

/** In-place sum over the last `n` pixels along (dx, dy), by difference of prefix sums. */
function boxAlong(m: Int32Array, w: number, h: number, dx: number, dy: number, n: number): void {
  // Prefix sum again, then subtract the value n steps back, walking against the direction so
  // that value is still the prefix sum. Int32 wrap-around cancels in the difference.
  prefixAlong(m, w, h, dx, dy);
  const back = n * (dy * w + dx);
  if (dy === 0) {
    for (let y = 0; y < h; y++) subtractShiftedBackwards(m, y * w + n, y * w, w - n);
  } else if (dy < 0) {
    for (let y = 0; y < h - n; y++) {
      const row = y * w;
      const x0 = n * dx;
      subtractShifted(m, row + x0, row + x0 - back, w - x0);
    }
  } else {
    for (let y = h - 1; y >= n; y--) {
      const row = y * w;
      const x0 = dx > 0 ? n * dx : 0;
      const x1 = dx < 0 ? w + n * dx : w;
      subtractShifted(m, row + x0, row + x0 - back, x1 - x0);
    }
  }
}

/** m[to + k] += m[from + k] for k in [0, count), ascending. */
function addShifted(m: Int32Array, to: number, from: number, count: number): void {
  for (let k = 0; k < count; k++) m[to + k] = (m[to + k]! + m[from + k]!) | 0;
}

/** m[to + k] -= m[from + k] for k in [0, count); source and target rows do not overlap. */
function subtractShifted(m: Int32Array, to: number, from: number, count: number): void {
  for (let k = 0; k < count; k++) m[to + k] = (m[to + k]! - m[from + k]!) | 0;
}

/** Like {@link subtractShifted} within one row, descending so sources are read before they change. */
function subtractShiftedBackwards(m: Int32Array, to: number, from: number, count: number): void {
  for (let k = count - 1; k >= 0; k--) m[to + k] = (m[to + k]! - m[from + k]!) | 0;
}
