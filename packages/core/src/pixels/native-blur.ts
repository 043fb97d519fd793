import type { SharpFactory } from '../plugin.ts';

/**
 * Gaussian blur of an 8-bit grey plane by libvips (through the step's `ctx.sharp`), computed
 * and returned in float precision, on the 0..255 scale. Unlike an 8-bit blur, differences of
 * blurs (DoG, unsharp masks) keep their small values instead of rounding to whole levels. Native
 * code, faster than a JavaScript convolution at the same size.
 *
 * @param sharp - the plugin's `ctx.sharp`.
 * @param plane - `width * height` bytes.
 * @param sigma - standard deviation in pixels (at least 0.3).
 * @returns a new `width * height` Float32Array, values 0..255.
 *
 * @example
 * const soft = await blurGrey(ctx.sharp, grey, width, height, 2);
 */
export async function blurGrey(
  sharp: SharpFactory,
  plane: Uint8Array,
  width: number,
  height: number,
  sigma: number,
): Promise<Float32Array> {
  if (plane.length < width * height) throw new Error('blurGrey: plane too small');
  const buffer = await sharp({ data: plane, width, height, channels: 1 })
    // libvips truncates the kernel where it falls below minAmplitude (sharp's default 0.2 cuts
    // it at 1.8 sigma); 0.01 keeps it to 3 sigma, a true Gaussian.
    .blur({ sigma: Math.max(0.3, sigma), precision: 'float', minAmplitude: 0.01 })
    .toColourspace('b-w')
    .raw({ depth: 'float' })
    .toBuffer();
  if (buffer.length !== width * height * 4) throw new Error('blurGrey: unexpected output size');
  // Large buffers own their memory at offset 0; copy only when the view would be misaligned.
  if (buffer.byteOffset % 4 === 0) return new Float32Array(buffer.buffer, buffer.byteOffset, width * height);
  return new Float32Array(new Uint8Array(buffer).buffer, 0, width * height);
}

/**
 * Quantises a float plane in 0..1 to 8-bit grey (rounded, clamped), e.g. to hand it to
 * {@link blurGrey} or a sharp pipeline.
 *
 * @returns `out`.
 */
export function floatToGrey(plane: Float32Array, out: Uint8Array = new Uint8Array(plane.length)): Uint8Array {
  const px = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  const n = Math.min(plane.length, out.length);
  for (let i = 0; i < n; i++) px[i] = plane[i]! * 255;
  return out;
}
