/** Decoded 8-bit sRGB pixels, 3 channels interleaved (RGBRGB...), row by row. */
export interface RgbPixels {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** Checks that `pixels.data` holds exactly width × height × 3 bytes (a programmer's mistake otherwise). */
export function checkPixels(pixels: RgbPixels): void {
  if (
    !Number.isInteger(pixels.width) ||
    !Number.isInteger(pixels.height) ||
    pixels.width < 1 ||
    pixels.height < 1 ||
    pixels.data.length !== pixels.width * pixels.height * 3
  )
    throw new Error(
      `expected ${pixels.width}x${pixels.height}x3 = ${pixels.width * pixels.height * 3} bytes, got ${pixels.data.length}`,
    );
}

/**
 * Luma Y' (BT.709 weights on the gamma-encoded values) of every pixel, 0..1: what pHash, dHash and
 * the mean brightness are computed on.
 */
export function lumaOf(pixels: RgbPixels): Float32Array {
  checkPixels(pixels);
  const { data } = pixels;
  const out = new Float32Array(pixels.width * pixels.height);
  for (let i = 0, p = 0; i < out.length; i++, p += 3)
    out[i] = (0.2126 * data[p]! + 0.7152 * data[p + 1]! + 0.0722 * data[p + 2]!) / 255;
  return out;
}

/**
 * Resamples one plane to `dw` × `dh` by area averaging: each output cell is the mean of the input
 * area it covers, fractional edges weighted (enlarging, it repeats pixels). Shrinking, a box
 * filter is the low-pass the hashes want.
 */
export function resampleArea(
  plane: Float32Array,
  width: number,
  height: number,
  dw: number,
  dh: number,
): Float32Array {
  if (plane.length !== width * height)
    throw new Error(`expected ${width * height} values, got ${plane.length}`);
  const out = new Float32Array(dw * dh);
  const sx = width / dw;
  const sy = height / dh;
  for (let oy = 0; oy < dh; oy++) {
    const y0 = oy * sy;
    const y1 = y0 + sy;
    for (let ox = 0; ox < dw; ox++) {
      const x0 = ox * sx;
      const x1 = x0 + sx;
      let sum = 0;
      for (let y = Math.floor(y0); y < Math.ceil(y1); y++) {
        const wy = Math.min(y + 1, y1) - Math.max(y, y0);
        const row = y * width;
        for (let x = Math.floor(x0); x < Math.ceil(x1); x++) {
          const wx = Math.min(x + 1, x1) - Math.max(x, x0);
          sum += plane[row + x]! * wx * wy;
        }
      }
      out[oy * dw + ox] = sum / (sx * sy);
    }
  }
  return out;
}

/** Mean luma, 0 (black) to 1 (white). */
export function brightnessOf(pixels: RgbPixels): number {
  const luma = lumaOf(pixels);
  let sum = 0;
  for (const v of luma) sum += v;
  return sum / luma.length;
}

/** The image resampled to `dw` × `dh` by area averaging, channel by channel (see {@link resampleArea}). */
export function resizeRgb(pixels: RgbPixels, dw: number, dh: number): RgbPixels {
  checkPixels(pixels);
  const { data, width, height } = pixels;
  const out = new Uint8Array(dw * dh * 3);
  const plane = new Float32Array(width * height);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane.length; i++) plane[i] = data[i * 3 + c]!;
    const small = resampleArea(plane, width, height, dw, dh);
    for (let i = 0; i < small.length; i++) out[i * 3 + c] = Math.round(small[i]!);
  }
  return { data: out, width: dw, height: dh };
}
