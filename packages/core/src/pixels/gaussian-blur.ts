import { bandKernel, bandThreads, isShared, runBands, sharedArray } from '../parallel/bands.ts';
import { boxFilter } from './box-filter.ts';
import { blurPassSimd } from './simd.ts';

/** Above this sigma the blur switches from an exact kernel to three box passes. */
const BOX_SIGMA = 3;

/**
 * Gaussian blur of a single-channel float plane. At the borders the exact kernel repeats the edge
 * pixel and the box passes average the pixels inside the image.
 *
 * Small sigmas (below 3) use an exact separable kernel (at most 19 taps); larger ones use three
 * box passes whose widths are chosen to match the variance (Wells 1986, Kovesi 2010), which costs
 * the same at any sigma and is within a few percent of a true Gaussian.
 *
 * @param sigma - standard deviation in pixels; 0 or less copies the plane.
 * @param out - result plane (may be `src`); allocated when omitted.
 * @param scratch - a separate `width * height` plane; allocated when omitted.
 * @returns `out`.
 *
 * @example
 * const soft = gaussianBlur(luma, width, height, 1.5);
 */
export function gaussianBlur(
  src: Float32Array,
  width: number,
  height: number,
  sigma: number,
  out: Float32Array = new Float32Array(width * height),
  scratch: Float32Array = new Float32Array(width * height),
): Float32Array {
  if (src.length < width * height || out.length < width * height || scratch.length < width * height) {
    throw new Error('gaussianBlur: planes must hold width * height samples');
  }
  if (scratch === src || scratch === out) throw new Error('gaussianBlur: scratch must be a separate plane');
  if (!(sigma > 0)) {
    if (out !== src) out.set(src.subarray(0, width * height));
    return out;
  }
  if (sigma < BOX_SIGMA) {
    const kernel = gaussianKernel(sigma);
    convolveRows(src, scratch, width, height, kernel);
    convolveColumns(scratch, out, width, height, kernel);
    return out;
  }
  const radii = boxRadiiForGaussian(sigma);
  boxFilter(src, width, height, radii[0]!, out, scratch);
  boxFilter(out, width, height, radii[1]!, out, scratch);
  boxFilter(out, width, height, radii[2]!, out, scratch);
  return out;
}

/**
 * Radii of three successive box filters whose combined variance is closest to `sigma²`.
 *
 * @example
 * boxRadiiForGaussian(5); // [4, 4, 5]
 */
export function boxRadiiForGaussian(sigma: number): [number, number, number] {
  const n = 3;
  const ideal = Math.sqrt((12 * sigma * sigma) / n + 1);
  let wl = Math.floor(ideal);
  if (wl % 2 === 0) wl--;
  const wu = wl + 2;
  const m = Math.round((12 * sigma * sigma - n * wl * wl - 4 * n * wl - 3 * n) / (-4 * wl - 4));
  const radii: [number, number, number] = [0, 0, 0];
  for (let i = 0; i < n; i++) radii[i] = ((i < m ? wl : wu) - 1) / 2;
  return radii;
}

/** A normalised Gaussian kernel of odd length `2 * ceil(3 * sigma) + 1`. */
function gaussianKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp((-i * i) / (2 * sigma * sigma));
    k[i + r] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i]! /= sum;
  return k;
}

/** Rows with a symmetric kernel: `k[r]` is the centre tap, folded so each pair costs one multiply. */
function convolveRows(src: Float32Array, dst: Float32Array, w: number, h: number, k: Float32Array): void {
  const r = (k.length - 1) >> 1;
  // One padded row so the inner loop needs no bounds checks.
  const pad = new Float32Array(w + 2 * r);
  const half = k.slice(r);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    pad.fill(src[row]!, 0, r);
    pad.fill(src[row + w - 1]!, w + r, w + 2 * r);
    pad.set(src.subarray(row, row + w), r);
    foldRow(pad, dst, row, w, r, half);
  }
}

function foldRow(
  pad: Float32Array,
  dst: Float32Array,
  row: number,
  w: number,
  r: number,
  half: Float32Array,
): void {
  if (r === 3) foldRow3(pad, dst, row, w, half);
  else if (r === 4) foldRow4(pad, dst, row, w, half);
  else if (r === 5) foldRow5(pad, dst, row, w, half);
  else foldRowAny(pad, dst, row, w, r, half);
}

// Unrolled kernels for the common small radii (sigma 0.7 to 1.7): the general loop's inner loop
// over taps costs about twice as much.

function foldRow3(pad: Float32Array, dst: Float32Array, row: number, w: number, half: Float32Array): void {
  const k0 = half[0]!;
  const k1 = half[1]!;
  const k2 = half[2]!;
  const k3 = half[3]!;
  for (let x = 0, c = 3; x < w; x++, c++) {
    dst[row + x] =
      k0 * pad[c]! +
      k1 * (pad[c - 1]! + pad[c + 1]!) +
      k2 * (pad[c - 2]! + pad[c + 2]!) +
      k3 * (pad[c - 3]! + pad[c + 3]!);
  }
}

function foldRow4(pad: Float32Array, dst: Float32Array, row: number, w: number, half: Float32Array): void {
  const k0 = half[0]!;
  const k1 = half[1]!;
  const k2 = half[2]!;
  const k3 = half[3]!;
  const k4 = half[4]!;
  for (let x = 0, c = 4; x < w; x++, c++) {
    dst[row + x] =
      k0 * pad[c]! +
      k1 * (pad[c - 1]! + pad[c + 1]!) +
      k2 * (pad[c - 2]! + pad[c + 2]!) +
      k3 * (pad[c - 3]! + pad[c + 3]!) +
      k4 * (pad[c - 4]! + pad[c + 4]!);
  }
}

function foldRow5(pad: Float32Array, dst: Float32Array, row: number, w: number, half: Float32Array): void {
  const k0 = half[0]!;
  const k1 = half[1]!;
  const k2 = half[2]!;
  const k3 = half[3]!;
  const k4 = half[4]!;
  const k5 = half[5]!;
  for (let x = 0, c = 5; x < w; x++, c++) {
    dst[row + x] =
      k0 * pad[c]! +
      k1 * (pad[c - 1]! + pad[c + 1]!) +
      k2 * (pad[c - 2]! + pad[c + 2]!) +
      k3 * (pad[c - 3]! + pad[c + 3]!) +
      k4 * (pad[c - 4]! + pad[c + 4]!) +
      k5 * (pad[c - 5]! + pad[c + 5]!);
  }
}

function foldRowAny(
  pad: Float32Array,
  dst: Float32Array,
  row: number,
  w: number,
  r: number,
  half: Float32Array,
): void {
  const k0 = half[0]!;
  for (let x = 0, c = r; x < w; x++, c++) {
    let acc = k0 * pad[c]!;
    for (let i = 1; i <= r; i++) acc += half[i]! * (pad[c - i]! + pad[c + i]!);
    dst[row + x] = acc;
  }
}

/** Columns, one output row at a time: the centre row, then pairs of rows at equal distance. */
function convolveColumns(src: Float32Array, dst: Float32Array, w: number, h: number, k: Float32Array): void {
  const r = (k.length - 1) >> 1;
  const last = h - 1;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    scaleInto(src, dst, row, w, k[r]!);
    for (let i = 1; i <= r; i++) {
      const up = (y - i < 0 ? 0 : y - i) * w;
      const down = (y + i > last ? last : y + i) * w;
      addPair(src, dst, row, up, down, w, k[r + i]!);
    }
  }
}

function scaleInto(src: Float32Array, dst: Float32Array, row: number, w: number, kv: number): void {
  for (let x = 0; x < w; x++) dst[row + x] = src[row + x]! * kv;
}

function addPair(
  src: Float32Array,
  dst: Float32Array,
  row: number,
  up: number,
  down: number,
  w: number,
  kv: number,
): void {
  for (let x = 0; x < w; x++) dst[row + x] = dst[row + x]! + (src[up + x]! + src[down + x]!) * kv;
}

/**
 * Gaussian-like blur of a 16-bit plane of `width` x `height` samples in rows of `stride`, in
 * place, all in integers: for sigma² up to 3.5, one to three passes of the binomial
 * [1 4 6 4 1] / 16 (variance 1 each, so sigma 1, 1.41 or 1.73), carrying two samples per 32-bit
 * word; above, two box passes whose variance matches, which cost the same at any sigma. Edges
 * repeat the border sample. Results are rounded to integers at every pass.
 *
 * Made for the fixed-point planes of {@link downsampleArea} (values 0–1020, even stride); any
 * plane works whose values are at most 4095. The binomial passes (sigma below 1.87) work on
 * whole rows of `stride` samples, two at a time, so they need an even stride and a 4-byte
 * aligned buffer (spare samples past `width` are filtered with the row); the box passes touch
 * only the first `width` samples of each row. sigma is rounded to the nearest whole variance:
 * below 0.71 the plane is left as it is. With helper threads, planes of a million samples or more
 * are filtered in bands of rows (see {@link boxBand}), with the same result.
 *
 * @example
 * const small = downsampleArea(image, { width: 640, height: 400 });
 * gaussianBlurU16(small.luma, small.width, small.height, 1.2, small.stride);
 */
export function gaussianBlurU16(
  plane: Uint16Array,
  width: number,
  height: number,
  sigma: number,
  stride = width,
): void {
  if (stride < width || plane.length < stride * height) {
    throw new Error('gaussianBlurU16: the plane must hold stride * height samples');
  }
  const passes = Math.round(sigma * sigma);
  if (!(passes > 0)) return;
  const binomial = passes <= 3;
  if (binomial && (stride % 2 !== 0 || plane.byteOffset % 4 !== 0)) {
    throw new Error('gaussianBlurU16: below sigma 1.87 the stride must be even and the plane 4-byte aligned');
  }
  // Two box passes of width 2r+1 have variance 2((2r+1)^2 - 1)/12.
  const rad = binomial ? 2 : Math.max(1, Math.round((Math.sqrt(6 * sigma * sigma + 1) - 1) / 2));
  if (bandThreads() > 1 && width * height >= PARALLEL_PIXELS) {
    blurInBands(plane, width, height, stride, binomial ? passes : 2, binomial ? -1 : rad);
  } else if (binomial) {
    for (let i = 0; i < passes; i++) binomialPass(plane, stride, height);
  } else {
    boxPassU16(plane, width, stride, height, rad);
    boxPassU16(plane, width, stride, height, rad);
  }
}

/** Planes of at least this many samples are blurred in bands of rows on the run's threads. */
const PARALLEL_PIXELS = 1 << 20;

/**
 * The passes of {@link gaussianBlurU16} in bands of rows, each pass from one shared plane into
 * another (`rad` -1: binomial passes; else box passes of radius `rad`). Each band filters the
 * rows it needs (its own and `rad` halo rows either side) along rows, then down its own rows'
 * columns: every sample is computed from the same integers as in one piece, so the result does
 * not depend on the bands.
 */
function blurInBands(
  plane: Uint16Array,
  width: number,
  height: number,
  stride: number,
  passes: number,
  rad: number,
): void {
  const n = stride * height;
  let src: Uint16Array = plane.subarray(0, n);
  if (!isShared(plane)) {
    src = sharedArray(Uint16Array, n);
    src.set(plane.subarray(0, n));
  }
  // The box passes touch only the first `width` samples of each row: their two passes end in
  // `src`, whose spare samples are the plane's.
  let dst: Uint16Array = sharedArray(Uint16Array, n);
  const kernel = rad < 0 ? binomialBand : boxBand;
  const minBand = Math.max(16, 8 * Math.max(2, rad));
  for (let i = 0; i < passes; i++) {
    runBands(kernel, { src, dst, width, stride, height, rad }, height, { minBand, bandsPerThread: 4 });
    [src, dst] = [dst, src];
  }
  if (src.buffer !== plane.buffer || src.byteOffset !== plane.byteOffset) plane.set(src);
}

/** What {@link boxBand} and {@link binomialBand} get: one pass from `src` into `dst`. */
interface BlurPassArgs {
  readonly src: Uint16Array;
  readonly dst: Uint16Array;
  readonly width: number;
  readonly stride: number;
  readonly height: number;
  /** Box radius (box passes only). */
  readonly rad: number;
}

/**
 * A buffer of at least `bytes` bytes for a band's rows, kept by the thread for its next bands:
 * a band kernel runs to its end before the next starts, and fresh buffers of this size make work
 * for the garbage collector at every band.
 */
function scratch(bytes: number): ArrayBuffer {
  if (bandRows.byteLength < bytes) bandRows = new ArrayBuffer(Math.ceil(bytes / 4) * 4);
  return bandRows;
}
let bandRows = new ArrayBuffer(0);

/** Rows `y0` to `y1 - 1` of one box pass of {@link gaussianBlurU16} (as {@link boxPassU16}). */
export const boxBand = bandKernel(
  import.meta.url,
  'boxBand',
  (a: BlurPassArgs, y0: number, y1: number): void => {
    const { src, dst, width: w, stride, height: h, rad } = a;
    if (blurPassSimd(src, dst, stride, w, h, y0, y1, rad)) return;
    const norm = 1 / (2 * rad + 1);
    // The band's rows and its halo, filtered along rows: local rows lo to hi.
    const lo = Math.max(0, y0 - rad);
    const hi = Math.min(h - 1, y1 - 1 + rad);
    const rows = new Uint16Array(scratch((hi - lo + 1) * w * 2), 0, (hi - lo + 1) * w);
    const padded = new Uint16Array(w + 2 * rad + 1);
    for (let y = lo; y <= hi; y++) {
      rows.set(src.subarray(y * stride, y * stride + w), (y - lo) * w);
      boxRowU16(rows, (y - lo) * w, w, rad, norm, padded);
    }
    const at = (y: number): number => (Math.min(h - 1, Math.max(0, y)) - lo) * w;
    const acc = new Float64Array(w);
    for (let k = -rad; k <= rad; k++) addRowU16(acc, rows, at(y0 + k), w);
    for (let y = y0; y < y1; y++) {
      // Past the band's last row the window no longer matters: keep the indices inside `rows`.
      const add = y + 1 < y1 ? at(y + rad + 1) : 0;
      const sub = y + 1 < y1 ? at(y - rad) : 0;
      boxColumnsRow(dst, y * stride, acc, rows, add, rows, sub, w, norm);
    }
  },
);

/** Rows `y0` to `y1 - 1` of one binomial pass of {@link gaussianBlurU16} (as {@link binomialPass}). */
export const binomialBand = bandKernel(
  import.meta.url,
  'binomialBand',
  (a: BlurPassArgs, y0: number, y1: number): void => {
    const { src, dst, stride, height: h } = a;
    if (blurPassSimd(src, dst, stride, stride, h, y0, y1, -1)) return;
    const k = stride >> 1;
    const u = new Uint32Array(src.buffer, src.byteOffset, (stride * h) >> 1);
    const out = new Uint32Array(dst.buffer, dst.byteOffset, (stride * h) >> 1);
    const lo = Math.max(0, y0 - 2);
    const hi = Math.min(h - 1, y1 + 1);
    const rows = new Uint32Array(scratch((hi - lo + 1) * k * 4), 0, (hi - lo + 1) * k);
    for (let y = lo; y <= hi; y++) {
      rows.set(u.subarray(y * k, (y + 1) * k), (y - lo) * k);
      binomialRow(rows, (y - lo) * k, k);
    }
    const at = (y: number): number => (Math.min(h - 1, Math.max(0, y)) - lo) * k;
    for (let y = y0; y < y1; y++)
      binomialColumnsBand(out, y * k, rows, at(y - 2), at(y - 1), at(y), at(y + 1), at(y + 2), k);
  },
);

function binomialColumnsBand(
  out: Uint32Array,
  o: number,
  rows: Uint32Array,
  m2: number,
  m1: number,
  c: number,
  p1: number,
  p2: number,
  k: number,
): void {
  for (let i = 0; i < k; i++) {
    const sum = rows[m2 + i]! + 4 * (rows[m1 + i]! + rows[p1 + i]!) + 6 * rows[c + i]! + rows[p2 + i]!;
    out[o + i] = ((sum + LANE_ROUND) >>> 4) & LANE_MASK;
  }
}

/**
 * One pass of the 5-tap binomial [1 4 6 4 1]/16 (sigma 1 px) along rows then columns, edges
 * repeated, in place. Two pixels travel in each 32-bit word: values up to 4095 times 16 still fit
 * a 16-bit lane (and up to 1023 the word stays below 2^30, a small integer for V8), so the adds
 * need no unpacking.
 */
function binomialPass(plane: Uint16Array, stride: number, h: number): void {
  if (blurPassSimd(plane, plane, stride, stride, h, 0, h, -1)) return;
  const k = stride >> 1;
  const u = new Uint32Array(plane.buffer, plane.byteOffset, (stride * h) >> 1);
  for (let base = 0; base < u.length; base += k) binomialRow(u, base, k);
  // Columns: rows above the current one are kept unfiltered in a ring of three row copies.
  let above2 = new Uint32Array(k);
  let above1 = new Uint32Array(k);
  let current = new Uint32Array(k);
  above2.set(u.subarray(0, k));
  above1.set(u.subarray(0, k));
  for (let row = 0; row < h; row++) {
    const c = row * k;
    current.set(u.subarray(c, c + k));
    binomialColumns(
      u,
      c,
      above2,
      above1,
      current,
      Math.min(row + 1, h - 1) * k,
      Math.min(row + 2, h - 1) * k,
      k,
    );
    const spare = above2;
    above2 = above1;
    above1 = current;
    current = spare;
  }
}

const LANE_ROUND = 0x00080008;
const LANE_MASK = 0x0fff0fff;

function binomialRow(u: Uint32Array, base: number, k: number): void {
  // With W_i the word of pixels 2i, 2i+1 and S_i = (pixel 2i-1, pixel 2i), the filtered word is
  // W_i-1 + 4 S_i + 6 W_i + 4 S_i+1 + W_i+1, lane by lane.
  const first = u[base]! & 0xffff;
  const lastPx = u[base + k - 1]! >>> 16;
  const last = lastPx | (lastPx << 16);
  let wm = first | (first << 16);
  let w0 = u[base]!;
  let s0 = (wm >>> 16) | ((w0 & 0xffff) << 16);
  for (let i = 0; i < k; i++) {
    const w1 = i + 1 < k ? u[base + i + 1]! : last;
    const s1 = (w0 >>> 16) | ((w1 & 0xffff) << 16);
    u[base + i] = ((wm + 4 * s0 + 6 * w0 + 4 * s1 + w1 + LANE_ROUND) >>> 4) & LANE_MASK;
    wm = w0;
    w0 = w1;
    s0 = s1;
  }
}

function binomialColumns(
  u: Uint32Array,
  c: number,
  above2: Uint32Array,
  above1: Uint32Array,
  current: Uint32Array,
  d1: number,
  d2: number,
  k: number,
): void {
  for (let i = 0; i < k; i++) {
    const sum = above2[i]! + 4 * (above1[i]! + u[d1 + i]!) + 6 * current[i]! + u[d2 + i]!;
    u[c + i] = ((sum + LANE_ROUND) >>> 4) & LANE_MASK;
  }
}

/** One box pass of radius `rad` along rows then columns, edges repeated, in place. */
function boxPassU16(plane: Uint16Array, w: number, stride: number, h: number, rad: number): void {
  if (blurPassSimd(plane, plane, stride, w, h, 0, h, rad)) return;
  const norm = 1 / (2 * rad + 1);
  const padded = new Uint16Array(w + 2 * rad + 1);
  for (let row = 0; row < h; row++) boxRowU16(plane, row * stride, w, rad, norm, padded);
  const acc = new Float64Array(w);
  for (let k = -rad; k <= rad; k++) addRowU16(acc, plane, Math.min(h - 1, Math.max(0, k)) * stride, w);
  // Rows above the current one are already filtered: a ring of rad + 1 rows keeps their
  // unfiltered values, rather than a copy of the whole plane.
  const slots = rad + 1;
  const ring = new Uint16Array(slots * w);
  for (let row = 0; row < h; row++) {
    const base = row * stride;
    ring.set(plane.subarray(base, base + w), (row % slots) * w);
    const addRowIndex = Math.min(h - 1, row + rad + 1);
    const addSrc = addRowIndex > row ? plane : ring;
    const add = addRowIndex > row ? addRowIndex * stride : (row % slots) * w;
    const sub = (Math.max(0, row - rad) % slots) * w;
    boxColumnsRow(plane, base, acc, addSrc, add, ring, sub, w, norm);
  }
}

function boxRowU16(
  p: Uint16Array,
  base: number,
  w: number,
  rad: number,
  norm: number,
  padded: Uint16Array,
): void {
  const first = p[base]!;
  const last = p[base + w - 1]!;
  for (let i = 0; i < rad; i++) padded[i] = first;
  padded.set(p.subarray(base, base + w), rad);
  for (let i = rad + w; i < padded.length; i++) padded[i] = last;
  let s = 0;
  for (let i = 0; i <= 2 * rad; i++) s += padded[i]!;
  for (let x = 0, span = 2 * rad + 1; x < w; x++) {
    p[base + x] = s * norm + 0.5;
    s += padded[x + span]! - padded[x]!;
  }
}

function addRowU16(acc: Float64Array, src: Uint16Array, base: number, w: number): void {
  for (let x = 0; x < w; x++) acc[x]! += src[base + x]!;
}

function boxColumnsRow(
  p: Uint16Array,
  base: number,
  acc: Float64Array,
  addSrc: Uint16Array,
  add: number,
  subSrc: Uint16Array,
  sub: number,
  w: number,
  norm: number,
): void {
  for (let x = 0; x < w; x++) {
    p[base + x] = acc[x]! * norm + 0.5;
    acc[x]! += addSrc[add + x]! - subSrc[sub + x]!;
  }
}
