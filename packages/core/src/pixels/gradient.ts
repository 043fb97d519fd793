/**
 * Gradient magnitude of a single-channel float plane by the Sobel operator (3 × 3), scaled to the
 * slope per pixel: a ramp rising by s per pixel gives s. Borders repeat the edge pixel.
 * Edge maps drawn from it sit centred on a step, whichever side is darker.
 *
 * @param out - result plane (must not alias `src`); allocated when omitted.
 * @returns `out`.
 *
 * @example
 * const edges = gradientMagnitude(luma, width, height);
 */
export function gradientMagnitude(
  src: Float32Array,
  width: number,
  height: number,
  out: Float32Array = new Float32Array(width * height),
): Float32Array {
  if (src.length < width * height || out.length < width * height) {
    throw new Error('gradientMagnitude: planes must hold width * height samples');
  }
  if (out === src) throw new Error('gradientMagnitude: out must not alias src');
  for (let y = 0; y < height; y++) {
    const up = (y > 0 ? y - 1 : 0) * width;
    const down = (y < height - 1 ? y + 1 : y) * width;
    sobelRow(src, out, y * width, up, y * width, down, width);
  }
  return out;
}

/**
 * One row of Sobel magnitudes, from the rows starting at `up`, `row` and `down` of `s` into `out`
 * from `o` on; the first and last pixels repeat their neighbour. Also pencilLines' (row by row
 * into a band's own buffer).
 */
export function sobelRow(
  s: Float32Array,
  out: Float32Array,
  o: number,
  up: number,
  row: number,
  down: number,
  w: number,
): void {
  for (let x = 0; x < w; x++) {
    const l = x > 0 ? x - 1 : 0;
    const r = x < w - 1 ? x + 1 : x;
    const gx = s[up + r]! + 2 * s[row + r]! + s[down + r]! - s[up + l]! - 2 * s[row + l]! - s[down + l]!;
    const gy = s[down + l]! + 2 * s[down + x]! + s[down + r]! - s[up + l]! - 2 * s[up + x]! - s[up + r]!;
    // Each Sobel sum spans two pixels and weighs 4: divide by 8 for the slope per pixel.
    out[o + x] = Math.sqrt(gx * gx + gy * gy) * 0.125;
  }
}
