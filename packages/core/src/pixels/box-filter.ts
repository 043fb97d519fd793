/**
 * Mean of every `(2 * radius + 1)²` window of a single-channel float plane, in O(1) per pixel
 * whatever the radius (two running-sum passes). At the borders the window is cut to the pixels
 * inside the image and the mean is taken over those, so a constant plane stays constant and edges
 * do not darken.
 *
 * Why running sums and not a summed-area table: the table needs a full-size Float64 plane
 * (8 bytes per pixel) to stay exact on large images; two separable passes need one Float32 plane
 * and one row of Float64 accumulators.
 *
 * @param src - `width * height` samples, row-major.
 * @param radius - window radius in pixels; 0 copies the plane. Any size, also larger than the image.
 * @param out - where to write the result (may be `src` itself); allocated when omitted.
 * @param scratch - a `width * height` plane for the intermediate pass (must not be `src` or `out`);
 *   allocated when omitted. Pass one to avoid allocations in loops.
 * @returns `out`.
 *
 * @example
 * const mean = boxFilter(plane, width, height, 8);
 */
export function boxFilter(
  src: Float32Array,
  width: number,
  height: number,
  radius: number,
  out: Float32Array = new Float32Array(width * height),
  scratch: Float32Array = new Float32Array(width * height),
): Float32Array {
  checkPlane(src, width, height, 'src');
  checkPlane(out, width, height, 'out');
  checkPlane(scratch, width, height, 'scratch');
  if (scratch === src || scratch === out) throw new Error('boxFilter: scratch must be a separate plane');
  const r = Math.max(0, Math.floor(radius));
  if (r === 0) {
    if (out !== src) out.set(src.subarray(0, width * height));
    return out;
  }
  boxRows(src, scratch, width, height, r);
  boxColumns(scratch, out, width, height, r);
  return out;
}

function checkPlane(plane: Float32Array, width: number, height: number, name: string): void {
  if (plane.length < width * height) {
    throw new Error(`boxFilter: ${name} has ${plane.length} samples, needs ${width * height}`);
  }
}

// Hot loops sit in small functions with a single loop each, called once per row: V8 optimises
// those as a whole after a few calls instead of deoptimising a long nested loop at every row.

/** Horizontal running mean of each row. */
function boxRows(src: Float32Array, dst: Float32Array, w: number, h: number, r: number): void {
  for (let y = 0; y < h; y++) boxRow(src, dst, y * w, w, r);
}

function boxRow(src: Float32Array, dst: Float32Array, row: number, w: number, r: number): void {
  // The window for x = 0 is [0, r] cut to the row.
  const first = r < w - 1 ? r : w - 1;
  let acc = sumRange(src, row, row + first + 1);
  let count = first + 1;
  const end = row + w;
  for (let x = 0; x < w; x++) {
    dst[row + x] = acc / count;
    const add = row + x + r + 1;
    const sub = row + x - r;
    if (add < end) {
      acc += src[add]!;
      count++;
    }
    if (sub >= row) {
      acc -= src[sub]!;
      count--;
    }
  }
}

function sumRange(src: Float32Array, start: number, end: number): number {
  let acc = 0;
  for (let i = start; i < end; i++) acc += src[i]!;
  return acc;
}

/** Vertical running mean, row by row with one accumulator per column (cache friendly). */
function boxColumns(src: Float32Array, dst: Float32Array, w: number, h: number, r: number): void {
  const acc = new Float64Array(w);
  const first = r < h - 1 ? r : h - 1;
  for (let y = 0; y <= first; y++) addRow(acc, src, y * w, w);
  let count = first + 1;
  for (let y = 0; y < h; y++) {
    scaleRow(acc, dst, y * w, w, 1 / count);
    const add = y + r + 1;
    const sub = y - r;
    if (add < h) {
      addRow(acc, src, add * w, w);
      count++;
    }
    if (sub >= 0) {
      subtractRow(acc, src, sub * w, w);
      count--;
    }
  }
}

function addRow(acc: Float64Array, src: Float32Array, row: number, w: number): void {
  for (let x = 0; x < w; x++) acc[x] = acc[x]! + src[row + x]!;
}

function subtractRow(acc: Float64Array, src: Float32Array, row: number, w: number): void {
  for (let x = 0; x < w; x++) acc[x] = acc[x]! - src[row + x]!;
}

function scaleRow(acc: Float64Array, dst: Float32Array, row: number, w: number, scale: number): void {
  for (let x = 0; x < w; x++) dst[row + x] = acc[x]! * scale;
}
