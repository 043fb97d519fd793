import { bandKernel, bandStart, bandThreads, isShared, runBands, sharedArray } from '../parallel/bands.ts';
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
  /**
   * For previews: the size of the layer whose strokes these are, at least `width` × `height`.
   * The strokes of a layer that size (same seed, same strokes; `length` and `taper` in its
   * pixels) are drawn shrunk to `width` × `height`, each as dark as its share of the pixels it
   * crosses, so the layer looks like that one downscaled. The last such layer is kept and copied
   * when asked for again (a slider dragged over previews of one photo). @default width × height
   */
  readonly drawnAt?: { readonly width: number; readonly height: number };
}

/**
 * A layer of straight, parallel pencil strokes: graphite darkness per pixel, 0 (paper) to 255,
 * for hatching. Strokes start at seeded random points with random length and pressure and fade
 * in and out at their ends; where they overlap their darkness adds up.
 *
 * O(1) per pixel whatever the stroke length: each stroke is written as four marks (strokes are
 * placed by index, not by testing pixels), and two running sums along the stroke direction turn
 * them into a tapered segment. Strokes are generated on a margin around the image, so coverage
 * is even right up to the borders, and every random number comes from {@link hash32} of the
 * seed and the stroke's index.
 *
 * Memory: one Int16 plane the size of the image plus margins (Int32 for very long tapers).
 *
 * Threads: a layer of half a million cells or more is summed in bands of rows on the step's threads
 * (see runBands), each band from zero, and the sums each band carries into the next are added
 * after; the sums wrap at the plane's width, so the layer is the same byte for byte on any number
 * of threads. The result is then shared memory (see sharedArray) unless `out` is given.
 *
 * @example
 * const hatch = pencilStrokes({ width, height, seed: ctx.seed, angle: 45, length: 40, coverage: 0.5 });
 */
export function pencilStrokes(args: PencilStrokesArgs): Uint8Array {
  const { width, height } = args;
  // Shared when the step has helper threads, which then write it (see sharedArray).
  const out = args.out ?? sharedArray(Uint8Array, width * height);
  if (out.length < width * height) throw new Error('pencilStrokes: out too small');
  const meanLength = Math.max(2, args.length);
  const maxLength = Math.ceil(meanLength * 1.5);
  const taper = Math.max(1, Math.round(args.taper ?? meanLength / 4));
  const pad = maxLength + taper + 1;
  const drawnAt = args.drawnAt;
  if (drawnAt && (drawnAt.width !== width || drawnAt.height !== height)) {
    if (drawnAt.width < width || drawnAt.height < height)
      throw new RangeError('pencilStrokes: drawnAt is smaller than the layer');
    // Previews of one photo (a slider dragged in the studio) ask for the same layer again and
    // again: the last one is kept (a preview's layer is a few hundred kB).
    const key = `${width}x${height}:${drawnAt.width}x${drawnAt.height}:${args.seed}:${args.angle}:${args.length}:${args.coverage}:${args.taper}`;
    if (shrunkCache?.key !== key) {
      shrunkCache = {
        key,
        layer: shrunkStrokes(args, drawnAt, meanLength, taper, pad, new Uint8Array(width * height)),
      };
    }
    out.set(shrunkCache.layer.subarray(0, width * height));
    return out;
  }
  const pw = width + 2 * pad;
  const ph = height + 2 * pad;
  const [dx, dy] = STEP[args.angle];

  // Second-difference marks: two prefix sums along the stroke turn +p, -p at the start and
  // start + taper, -p, +p at end - taper and end into a trapezoid of height p * taper: a ramp in,
  // a plateau, a ramp out. Pressure is 7 bits, so a trapezoid peaks at 127 * taper; 16-bit sums
  // hold 20 overlapping strokes at tapers up to 12 (any usual size), halving the memory the sums
  // stream through.
  const wide = 127 * taper * 20 >= 32768;
  const cells = pw * ph;
  const marks = wide ? sharedArray(Int32Array, cells) : sharedArray(Int16Array, cells);
  const coverage = Math.min(1, Math.max(0, args.coverage));
  // The sums run along the strokes, from row to row: on several threads, each band of rows sums
  // its own part from zero, and the sums carried in from the bands before it are added after
  // (see strokeCarries). Sums wrap at the marks' width, so the result is exact in any split.
  const bands = bandThreads() > 1 && cells >= PARALLEL_CELLS ? Math.min(ph, 4 * bandThreads()) : 1;
  const a: StrokeBandArgs = {
    marks,
    out: bands > 1 && !isShared(out) ? sharedArray(Uint8Array, width * height) : out,
    width,
    height,
    pw,
    ph,
    pad,
    dx,
    dy,
    bands,
    count: Math.round((coverage * pw * ph) / meanLength),
    seed: hash32(args.seed ^ 0x632be5ab) ^ hash32(args.angle + 1),
    meanLength,
    taper,
    shift: wide ? 0 : 16,
    exit1: sharedArray(Int32Array, bands * pw),
    exit2: sharedArray(Int32Array, bands * pw),
    carry1: sharedArray(Int32Array, bands * pw),
    carry2: sharedArray(Int32Array, bands * pw),
  };
  if (bands === 1) {
    strokeSums.run(a, 0, 1, NO_ABORT);
    strokeLayer.run(a, 0, 1, NO_ABORT);
  } else {
    runBands(strokeSums, a, bands, { minBand: 1, bandsPerThread: 4 });
    strokeCarries(a);
    runBands(strokeLayer, a, bands, { minBand: 1, bandsPerThread: 4 });
    if (a.out !== out) out.set(a.out.subarray(0, width * height));
  }
  return out;
}

/** Padded layers of at least this many cells are worth splitting across threads. */
const PARALLEL_CELLS = 1 << 19;

const NO_ABORT = { throwIfAborted(): void {} };

/** What {@link strokeSums} and {@link strokeLayer} get; plain data for other threads. */
interface StrokeBandArgs {
  /** The padded frame's marks, `pw * ph`, summed in place. */
  readonly marks: Int16Array | Int32Array;
  readonly out: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly pw: number;
  readonly ph: number;
  readonly pad: number;
  readonly dx: number;
  readonly dy: number;
  /** Bands of rows the frame is split in (the units of the kernels' ranges). */
  readonly bands: number;
  readonly count: number;
  readonly seed: number;
  readonly meanLength: number;
  readonly taper: number;
  /** 16 to wrap sums to 16 bits as Int16 marks do, 0 for Int32 marks. */
  readonly shift: number;
  /**
   * Per band, `pw` sums each: the band's own first and second sums on its exit row (the row the
   * next band along the strokes continues from), then with everything before it added (carry).
   */
  readonly exit1: Int32Array;
  readonly exit2: Int32Array;
  readonly carry1: Int32Array;
  readonly carry2: Int32Array;
}

/**
 * Band `k` of {@link StrokeBandArgs.bands}: rows `a` to `b - 1` of the frame, and the rows it
 * continues from and hands on to. Sums run along (dx, dy): up the frame for dy < 0, down it for
 * dy > 0, within rows for dy = 0.
 */
function bandRows(args: StrokeBandArgs, k: number): { a: number; b: number; exit: number } {
  const a = bandStart(k, args.bands, args.ph);
  const b = bandStart(k + 1, args.bands, args.ph);
  return { a, b, exit: args.dy < 0 ? a : b - 1 };
}

/**
 * Bands `k0` to `k1 - 1`: the marks of every stroke that land in the band's rows (strokes are
 * placed by index, so each band finds its own), then both sums along the strokes within the
 * band, starting from zero; the exit row's sums are kept for {@link strokeCarries}.
 */
export const strokeSums = bandKernel(
  import.meta.url,
  'strokeSums',
  (s: StrokeBandArgs, k0: number, k1: number): void => {
    const { marks, pw, dx, dy } = s;
    for (let k = k0; k < k1; k++) {
      const { a, b, exit } = bandRows(s, k);
      placeMarks(s, a, b);
      prefixAlong(marks, pw, a, b, dx, dy);
      copyRow(marks, exit * pw, s.exit1, k * pw, pw);
      prefixAlong(marks, pw, a, b, dx, dy);
      copyRow(marks, exit * pw, s.exit2, k * pw, pw);
    }
  },
);

/**
 * The sums each band carries in, band after band along the strokes (serial, one row per band):
 * band k's exit row with the carries of the band before it added (as {@link carriedRow} adds them).
 */
function strokeCarries(s: StrokeBandArgs): void {
  const { bands, pw, dy } = s;
  if (dy === 0) return;
  // Along the strokes: bottom band first when they rise (dy < 0).
  const first = dy < 0 ? bands - 1 : 0;
  const step = dy < 0 ? -1 : 1;
  for (let i = 0, k = first; i < bands; i++, k += step) {
    const o = k * pw;
    const prev = i === 0 ? -1 : (k - step) * pw;
    const { a, b } = bandRows(s, k);
    // From the band's exit row to the row it continues from: its height.
    const d = b - a;
    for (let x = 0; x < pw; x++) {
      const j = x - d * s.dx;
      const c1 = prev < 0 || j < 0 ? 0 : s.carry1[prev + j]!;
      const c2 = prev < 0 || j < 0 ? 0 : s.carry2[prev + j]!;
      s.carry1[o + x] = (s.exit1[o + x]! + c1) | 0;
      s.carry2[o + x] = (s.exit2[o + x]! + Math.imul(d, c1) + c2) | 0;
    }
  }
}

/**
 * Bands `k0` to `k1 - 1`: the layer's rows within each band, its own sums plus those carried in
 * from the band before it along the strokes, scaled to bytes.
 */
export const strokeLayer = bandKernel(
  import.meta.url,
  'strokeLayer',
  (s: StrokeBandArgs, k0: number, k1: number): void => {
    const { marks, pw, pad, width, height, dx, dy, shift } = s;
    const scale = 2 / s.taper;
    const px = new Uint8ClampedArray(s.out.buffer, s.out.byteOffset, width * height);
    // 16-bit sums: a byte per sum value, looked up (the same bytes as scaling each sum).
    const table = marks instanceof Int16Array ? byteTable(scale) : undefined;
    for (let k = k0; k < k1; k++) {
      const { a, b } = bandRows(s, k);
      const y0 = Math.max(a, pad);
      const y1 = Math.min(b, pad + height);
      // The band before this one along the strokes, and its row next to this band.
      const prev = dy < 0 ? k + 1 : k - 1;
      const carried = dy !== 0 && prev >= 0 && prev < s.bands;
      for (let y = y0; y < y1; y++) {
        const from = y * pw + pad;
        const to = (y - pad) * width;
        if (!carried) {
          if (table) tableRow(marks as Int16Array, s.out, from, to, width, table);
          else scaleRow(marks, px, from, to, width, scale);
          continue;
        }
        // Rows from this one to the previous band's exit row, along the strokes.
        const d = dy < 0 ? b - y : y - a + 1;
        // Column x of the layer continues from column pad + x - d * dx of that row: from the
        // first x where that is 0 or more (strokes further left start in this band).
        const first = Math.min(width, Math.max(0, d * dx - pad));
        const at = prev * pw + pad - d * dx;
        if (table) {
          tableRow(marks as Int16Array, s.out, from, to, first, table);
          carriedTableRow(
            marks as Int16Array,
            s.out,
            from + first,
            to + first,
            width - first,
            table,
            s.carry1,
            s.carry2,
            at + first,
            d,
          );
          continue;
        }
        carriedRow(marks, px, from, to, width, scale, s.carry1, s.carry2, at, first, d, shift);
      }
    }
  },
);

/**
 * The marks of every stroke that land on rows a..b-1 of the frame, in runs of
 * {@link STROKES_PER_CALL} strokes: a loop that runs once per render loses its optimised code at
 * each full garbage collection (V8 holds code compiled for a running loop weakly) and starts again
 * interpreted.
 */
function placeMarks(s: StrokeBandArgs, a: number, b: number): void {
  for (let k = 0; k < s.count; k += STROKES_PER_CALL)
    placeStrokes(s, a, b, k, Math.min(s.count, k + STROKES_PER_CALL));
}

/** Strokes per call of {@link placeStrokes}. */
const STROKES_PER_CALL = 1024;

/** {@link placeMarks} for strokes k0..k1-1. */
function placeStrokes(s: StrokeBandArgs, a: number, b: number, k0: number, k1: number): void {
  const { marks, pw, ph, dx, dy, seed, meanLength, taper } = s;
  for (let k = k0; k < k1; k++) {
    const h1 = hash32(seed ^ Math.imul(k, 0x9e3779b1));
    const h2 = hash32(h1 ^ 0x85ebca6b);
    const h3 = hash32(h2 ^ seed);
    const y = Math.floor((h2 / 4294967296) * ph);
    const len = Math.max(2, Math.round(meanLength * (0.5 + (h3 & 0xffff) / 65536)));
    // A stroke runs over rows y .. y + dy * len: skip those that miss the band.
    const lo = dy < 0 ? y - len : y;
    const hi = dy > 0 ? y + len : y;
    if (hi < a || lo >= b) continue;
    const x = Math.floor((h1 / 4294967296) * pw);
    const pressure = 64 + (h3 >>> 26);
    const ramp = Math.min(taper, len >> 1);
    mark(marks, pw, a, b, x, y, dx, dy, 0, pressure);
    mark(marks, pw, a, b, x, y, dx, dy, ramp, -pressure);
    mark(marks, pw, a, b, x, y, dx, dy, len - ramp, -pressure);
    mark(marks, pw, a, b, x, y, dx, dy, len, pressure);
  }
}

function copyRow(src: Int16Array | Int32Array, from: number, dst: Int32Array, to: number, n: number): void {
  for (let x = 0; x < n; x++) dst[to + x] = src[from + x]!;
}

/**
 * One row of the layer from its own sums and those carried in: from column `first` on, the
 * second sum gains the first carried sum once per row between (`d`) and the second carried sum,
 * both read `d` steps back along the strokes (at `at + x` in the carries); the columns before
 * `first` carry nothing in. Wrapped to the marks' width (`shift`) before scaling.
 */
function carriedRow(
  src: Int16Array | Int32Array,
  dst: Uint8ClampedArray,
  from: number,
  to: number,
  n: number,
  scale: number,
  carry1: Int32Array,
  carry2: Int32Array,
  at: number,
  first: number,
  d: number,
  shift: number,
): void {
  scaleRow(src, dst, from, to, first, scale);
  for (let x = first; x < n; x++) {
    const v = (src[from + x]! + Math.imul(d, carry1[at + x]!) + carry2[at + x]!) | 0;
    dst[to + x] = ((v << shift) >> shift) * scale;
  }
}

/** The table {@link byteTable} made last, and its scale. */
let lastTable: { readonly scale: number; readonly table: Uint8Array } | undefined;

/**
 * Per 16-bit sum (indexed by its low 16 bits), the layer's byte: the sum times `scale`, rounded and
 * clamped as a Uint8ClampedArray stores it. Looking a byte up costs less than converting a product:
 * on the bench machine a 2400 x 1350 layer took 31-34 ms with each sum scaled, 19-20 with the
 * table (1200 x 750: 11.6-12.6 and 7.0 ms).
 */
function byteTable(scale: number): Uint8Array {
  if (lastTable?.scale !== scale) {
    const table = new Uint8Array(65536);
    const clamped = new Uint8ClampedArray(table.buffer);
    for (let i = 0; i < 65536; i++) clamped[i] = ((i << 16) >> 16) * scale;
    lastTable = { scale, table };
  }
  return lastTable.table;
}

/** dst[to + x] = table[src[from + x]] for x in [0, n). */
function tableRow(
  src: Int16Array,
  dst: Uint8Array,
  from: number,
  to: number,
  n: number,
  table: Uint8Array,
): void {
  for (let x = 0; x < n; x++) dst[to + x] = table[src[from + x]! & 0xffff]!;
}

/** {@link carriedRow} for 16-bit sums, through {@link byteTable}, from its column `first` on (`from`, `to`, `at` there). */
function carriedTableRow(
  src: Int16Array,
  dst: Uint8Array,
  from: number,
  to: number,
  n: number,
  table: Uint8Array,
  carry1: Int32Array,
  carry2: Int32Array,
  at: number,
  d: number,
): void {
  for (let x = 0; x < n; x++)
    dst[to + x] = table[(src[from + x]! + Math.imul(d, carry1[at + x]!) + carry2[at + x]!) & 0xffff]!;
}

/** The last layer {@link shrunkStrokes} drew, by its arguments. */
let shrunkCache: { readonly key: string; readonly layer: Uint8Array } | undefined;

/**
 * {@link pencilStrokes} with `drawnAt`: the strokes of the `drawnAt` layer (its padded frame,
 * count and random numbers) drawn shrunk, as that layer looks downscaled. They are drawn at up
 * to 3 times the result's size (never larger than `drawnAt`): at their scaled positions, split
 * between the two pixel lines beside each, with scaled lengths and tapers and darkness (a stroke
 * a pixel wide shrunk by k covers k of each pixel it crosses), clipped where overlaps darken a
 * pixel of the `drawnAt` layer past 255; then reduced with a tent one result pixel in radius,
 * close to the main lobe of the Lanczos filter a downscale uses. 0.2 MP of result from a 3.6 MP
 * layer: an SSIM of about 0.93 against that layer downscaled, in 3-5 ms.
 */
function shrunkStrokes(
  args: PencilStrokesArgs,
  drawnAt: { readonly width: number; readonly height: number },
  meanLength: number,
  taper: number,
  pad: number,
  out: Uint8Array,
): Uint8Array {
  const ss = Math.max(1, Math.min(3, Math.floor(drawnAt.width / args.width)));
  const width = args.width * ss;
  const height = args.height * ss;
  const kx = width / drawnAt.width;
  const ky = height / drawnAt.height;
  const k = Math.max(kx, ky);
  const fw = drawnAt.width + 2 * pad;
  const fh = drawnAt.height + 2 * pad;
  const small = Math.max(1, Math.round(taper * k));
  const smallPad = Math.ceil(Math.ceil(meanLength * 1.5) * k) + small + 2 * ss + 2;
  const pw = width + 2 * smallPad;
  const ph = height + 2 * smallPad;
  const [dx, dy] = STEP[args.angle];
  // Pressure in 16ths for the split between two pixel lines: Int32 sums.
  const marks = new Int32Array(pw * ph);
  const coverage = Math.min(1, Math.max(0, args.coverage));
  const count = Math.round((coverage * fw * fh) / meanLength);
  const seed = hash32(args.seed ^ 0x632be5ab) ^ hash32(args.angle + 1);
  // The next pixel line across the strokes.
  const [nx, ny] = args.angle === 0 ? [0, 1] : [1, 0];
  for (let i = 0; i < count; i++) {
    const h1 = hash32(seed ^ Math.imul(i, 0x9e3779b1));
    const h2 = hash32(h1 ^ 0x85ebca6b);
    const h3 = hash32(h2 ^ seed);
    const xf = (Math.floor((h1 / 4294967296) * fw) - pad) * kx + smallPad;
    const yf = (Math.floor((h2 / 4294967296) * fh) - pad) * ky + smallPad;
    // u: the coordinate across the strokes (the same all along one); (x, y): on line floor(u).
    const u = args.angle === 45 ? xf + yf : args.angle === 135 ? xf - yf : args.angle === 90 ? xf : yf;
    const line = Math.floor(u);
    const next = Math.round((u - line) * 16);
    let x = Math.floor(xf);
    let y = Math.floor(yf);
    if (args.angle === 0) y = line;
    else if (args.angle === 90) x = line;
    else y = args.angle === 45 ? line - x : x - line;
    const len = Math.max(
      2,
      Math.round(Math.max(2, Math.round(meanLength * (0.5 + (h3 & 0xffff) / 65536))) * k),
    );
    const pressure = 64 + (h3 >>> 26);
    const ramp = Math.min(small, len >> 1);
    strokeMarks(marks, pw, ph, x, y, dx, dy, ramp, len, pressure * (16 - next));
    strokeMarks(marks, pw, ph, x + nx, y + ny, dx, dy, ramp, len, pressure * next);
  }
  prefixAlong(marks, pw, 0, ph, dx, dy);
  prefixAlong(marks, pw, 0, ph, dx, dy);

  // The reduction's taps: hi-res offsets from an output pixel's first, and their tent weights.
  const offsets: number[] = [];
  const weights: number[] = [];
  for (let j = -ss; j <= 2 * ss; j++) {
    const w = Math.max(0, 1 - Math.abs((j + 0.5) / ss - 0.5));
    if (w > 0) {
      offsets.push(j);
      weights.push(w);
    }
  }
  const total = weights.reduce((a, b) => a + b, 0);
  const tapOffsets = Int32Array.from(offsets);
  const tapWeights = Float32Array.from(weights, (w) => w / total);
  // A pixel of the drawnAt layer is at most 255: marks over `clip` would be darker than that.
  const clip = (255 * small * 16) / (2 * k);
  const scale = (2 * k) / (small * 16);
  const rows = new Float32Array(pw);
  const px = new Uint8ClampedArray(out.buffer, out.byteOffset, args.width * args.height);
  for (let y = 0; y < args.height; y++) {
    rows.fill(0);
    for (let t = 0; t < tapOffsets.length; t++)
      addClipped(marks, (y * ss + tapOffsets[t]! + smallPad) * pw, rows, pw, clip, tapWeights[t]!);
    reduceRow(rows, px, y * args.width, args.width, smallPad, ss, tapOffsets, tapWeights, scale);
  }
  return out;
}

/** The four marks of a stroke from (x, y), `len` steps long with `ramp`-step ends. */
function strokeMarks(
  marks: Int32Array,
  pw: number,
  ph: number,
  x: number,
  y: number,
  dx: number,
  dy: number,
  ramp: number,
  len: number,
  pressure: number,
): void {
  if (pressure === 0) return;
  mark(marks, pw, 0, ph, x, y, dx, dy, 0, pressure);
  mark(marks, pw, 0, ph, x, y, dx, dy, ramp, -pressure);
  mark(marks, pw, 0, ph, x, y, dx, dy, len - ramp, -pressure);
  mark(marks, pw, 0, ph, x, y, dx, dy, len, pressure);
}

/** rows[x] += min(clip, marks[from + x]) * weight. */
function addClipped(
  marks: Int32Array,
  from: number,
  rows: Float32Array,
  n: number,
  clip: number,
  weight: number,
): void {
  for (let x = 0; x < n; x++) rows[x] = rows[x]! + Math.min(clip, marks[from + x]!) * weight;
}

/** dst[to + x] = scale * sum over taps of rows[pad + x * ss + offset] * weight. */
function reduceRow(
  rows: Float32Array,
  dst: Uint8ClampedArray,
  to: number,
  n: number,
  pad: number,
  ss: number,
  offsets: Int32Array,
  weights: Float32Array,
  scale: number,
): void {
  for (let x = 0; x < n; x++) {
    let v = 0;
    const at = pad + x * ss;
    for (let t = 0; t < offsets.length; t++) v += rows[at + offsets[t]!]! * weights[t]!;
    dst[to + x] = v * scale;
  }
}

/** Adds `value` at `steps` pixels along (dx, dy) from (x, y), if that lands on rows a..b-1 of the canvas. */
function mark(
  marks: Int16Array | Int32Array,
  pw: number,
  a: number,
  b: number,
  x: number,
  y: number,
  dx: number,
  dy: number,
  steps: number,
  value: number,
): void {
  const mx = x + dx * steps;
  const my = y + dy * steps;
  if (mx >= 0 && mx < pw && my >= a && my < b) marks[my * pw + mx]! += value;
}

function scaleRow(
  src: Int16Array | Int32Array,
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

/**
 * In-place prefix sum along (dx, dy) over rows a..b-1; pixels whose predecessor is outside them
 * keep their value.
 */
function prefixAlong(
  m: Int16Array | Int32Array,
  w: number,
  a: number,
  b: number,
  dx: number,
  dy: number,
): void {
  if (dy === 0) {
    for (let y = a; y < b; y++) addShifted(m, y * w + 1, y * w, w - 1);
  } else if (dy < 0) {
    // Walk rows bottom-up so the predecessor (one row down) is already summed.
    for (let y = b - 2; y >= a; y--) {
      const row = y * w;
      const x0 = dx > 0 ? 1 : 0;
      addShifted(m, row + x0, row + w - dx + x0, w - x0);
    }
  } else {
    for (let y = a + 1; y < b; y++) {
      const row = y * w;
      const x0 = dx > 0 ? 1 : 0;
      const x1 = dx < 0 ? w - 1 : w;
      addShifted(m, row + x0, row - w - dx + x0, x1 - x0);
    }
  }
}

/** m[to + k] += m[from + k] for k in [0, count), ascending. */
function addShifted(m: Int16Array | Int32Array, to: number, from: number, count: number): void {
  for (let k = 0; k < count; k++) m[to + k] = (m[to + k]! + m[from + k]!) | 0;
}
