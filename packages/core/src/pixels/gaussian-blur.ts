import { boxFilter } from './box-filter.ts';

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
