import type { PluginContext, RawImage } from '@atelier/core';

/**
 * The size of a `width`×`height` image scaled so that its long side is at most `longSide`
 * (never enlarged, never below one pixel): the resolution a style analyses the photo at.
 */
export function fitLongSide(
  width: number,
  height: number,
  longSide: number,
): { width: number; height: number } {
  const scale = Math.min(1, longSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** The step's image at `size`: its own pixels when the size is the same, else resized by sharp (linear). */
export async function pixelsAt(
  ctx: PluginContext<object>,
  size: { width: number; height: number },
): Promise<RawImage['data']> {
  const { image } = ctx;
  if (size.width === image.width && size.height === image.height) return image.data;
  return ctx.sharp().resize(size.width, size.height, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
}
