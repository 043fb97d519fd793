import { AtelierError, definePlugin, runPipeline, z } from '@atelier/core';

/** libvips' largest coordinate (VIPS_MAX_COORD). */
const MAX_COORD = 10_000_000;

/** The parameters of {@link crop}. */
const cropParams = z.object({
  left: z.int().min(0).max(MAX_COORD).default(0).describe('Left edge of the kept region, in pixels.'),
  top: z.int().min(0).max(MAX_COORD).default(0).describe('Top edge of the kept region, in pixels.'),
  width: z
    .int()
    .min(1)
    .max(MAX_COORD)
    .nullable()
    .default(null)
    .describe('Width of the kept region in pixels; null keeps everything right of `left`.'),
  height: z
    .int()
    .min(1)
    .max(MAX_COORD)
    .nullable()
    .default(null)
    .describe('Height of the kept region in pixels; null keeps everything below `top`.'),
});

function outOfBounds(message: string, details: Record<string, unknown>): AtelierError {
  return new AtelierError('PARAMS_INVALID', `Invalid parameters for "crop": ${message}.`, {
    details: { plugin: 'crop', ...details },
  });
}

/**
 * The `crop` transform: keeps a rectangle of the image, given in pixels. The rectangle must lie
 * inside the image; that can only be checked against the image itself, so the step fails with
 * `PARAMS_INVALID` naming the edge that overflows.
 *
 * @example
 * await runStep(crop, image, { left: 100, top: 50, width: 640, height: 480 });
 */
export const crop = definePlugin({
  id: 'crop',
  name: 'Crop',
  description: 'Keeps a rectangle of the image, given by its left and top edges and its size in pixels.',
  version: '1.0.0',
  engine: '^1',
  kind: 'transform',
  alpha: 'process',
  tags: ['geometry'],
  params: cropParams,
  // Never larger than the input; `apply` refuses a rectangle that overflows it.
  outputSize: ({ width: W, height: H, params }) => ({
    width: Math.max(1, Math.min(params.width ?? W - params.left, W)),
    height: Math.max(1, Math.min(params.height ?? H - params.top, H)),
  }),
  apply({ image, params, sharp }) {
    const { width: W, height: H } = image;
    const { left, top } = params;
    if (left >= W) {
      throw outOfBounds(`left ${left} is outside the image, which is ${W} pixels wide`, {
        left,
        imageWidth: W,
      });
    }
    if (top >= H) {
      throw outOfBounds(`top ${top} is outside the image, which is ${H} pixels high`, {
        top,
        imageHeight: H,
      });
    }
    const width = params.width ?? W - left;
    const height = params.height ?? H - top;
    if (left + width > W) {
      throw outOfBounds(
        `left ${left} + width ${width} = ${left + width} exceeds the image width ${W}; use a width of at most ${W - left}`,
        { left, width, imageWidth: W },
      );
    }
    if (top + height > H) {
      throw outOfBounds(
        `top ${top} + height ${height} = ${top + height} exceeds the image height ${H}; use a height of at most ${H - top}`,
        { top, height, imageHeight: H },
      );
    }
    if (left === 0 && top === 0 && width === W && height === H) return image;
    return runPipeline(image, sharp().extract({ left, top, width, height }));
  },
});
