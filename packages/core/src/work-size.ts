import { untilAborted } from './pipeline-signal.ts';
import type { PluginContext, RawImage } from './plugin.ts';

/**
 * The size of a `width`×`height` image scaled so that its long side is at most `longSide`
 * (never enlarged, never below one pixel): the resolution a style analyses the photo at.
 *
 * @example
 * fitLongSide(4000, 3000, 1200); // { width: 1200, height: 900 }
 */
export function fitLongSide(
  width: number,
  height: number,
  longSide: number,
): { width: number; height: number } {
  const scale = Math.min(1, longSide / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * The size of the image a step gets in the real render, from the size of its image in this run
 * and `ctx.previewScale`: the same size in a real render, larger in a preview. A style that sizes
 * its textures by the photo (strokes a thousandth of the long side, ...) sizes them by this, so
 * that a preview draws the real render's textures, shrunk.
 *
 * @example
 * previewFullSize({ width: 512, height: 320 }, 0.2); // { width: 2560, height: 1600 }
 */
export function previewFullSize(
  size: { readonly width: number; readonly height: number },
  previewScale: number,
): { width: number; height: number } {
  if (previewScale >= 1) return { width: size.width, height: size.height };
  return {
    width: Math.max(1, Math.round(size.width / previewScale)),
    height: Math.max(1, Math.round(size.height / previewScale)),
  };
}

/**
 * The step's image at `size`: its own pixels when the size is the same, else resized by the
 * context's sharp (linear kernel, the aspect not kept). Same channel count as `ctx.image`.
 *
 * @example
 * const size = fitLongSide(ctx.image.width, ctx.image.height, 1200);
 * const work = await pixelsAt(ctx, size); // interleaved bytes, size.width x size.height
 */
export async function pixelsAt(
  ctx: PluginContext<object>,
  size: { width: number; height: number },
): Promise<RawImage['data']> {
  const { image } = ctx;
  if (size.width === image.width && size.height === image.height) return image.data;
  const resized = ctx
    .sharp()
    .resize(size.width, size.height, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  // libvips cannot be interrupted; a cancelled step need not wait for it.
  return untilAborted(resized, ctx.signal);
}
