import { definePlugin, GRAVITIES, hexColor, runPipeline, sharpColor, sharpPosition, z } from '@atelier/core';

/** libvips (and WebP) cap: the largest width or height a resize may ask for. */
const MAX_DIMENSION = 16383;

const dimension = (what: string): z.ZodDefault<z.ZodNullable<z.ZodInt>> =>
  z
    .int()
    .min(1)
    .max(MAX_DIMENSION)
    .nullable()
    .default(null)
    .describe(`Target ${what} in pixels, 1–${MAX_DIMENSION}; null derives it from the aspect ratio.`);

/** The parameters of {@link resize}. */
const resizeParams = z
  .object({
    width: dimension('width'),
    height: dimension('height'),
    fit: z
      .enum(['cover', 'contain', 'fill', 'inside', 'outside'])
      .default('cover')
      .describe(
        'How the image fits both dimensions: cover crops, contain letterboxes with `background`, ' +
          'fill stretches, inside / outside keep the aspect ratio within / around the box.',
      ),
    position: z
      .enum([...GRAVITIES, 'entropy', 'attention'])
      .default('center')
      .describe(
        'What cover keeps and where contain places the image; entropy and attention (cover only) ' +
          'keep the busiest or most salient region.',
      ),
    kernel: z
      .enum(['nearest', 'linear', 'cubic', 'mitchell', 'lanczos2', 'lanczos3', 'mks2013', 'mks2021'])
      .default('lanczos3')
      .describe('Interpolation kernel.'),
    withoutEnlargement: z.boolean().default(false).describe('Never make the image larger than it is.'),
    withoutReduction: z.boolean().default(false).describe('Never make the image smaller than it is.'),
    background: hexColor('Letterbox colour for fit contain').default('#000000'),
  })
  .superRefine((p, ctx) => {
    if (p.fit === 'fill' && (p.width === null || p.height === null)) {
      ctx.addIssue({ code: 'custom', path: ['fit'], message: 'fit "fill" needs both width and height' });
    }
    if ((p.position === 'entropy' || p.position === 'attention') && p.fit !== 'cover') {
      ctx.addIssue({
        code: 'custom',
        path: ['position'],
        message: `position "${p.position}" works only with fit "cover"`,
      });
    }
    if (p.withoutEnlargement && p.withoutReduction) {
      ctx.addIssue({
        code: 'custom',
        path: ['withoutReduction'],
        message: 'withoutEnlargement and withoutReduction together would forbid any resize; choose one',
      });
    }
  });

/**
 * The `resize` transform: libvips resize with sharp's fit modes. With neither width nor height
 * the image passes unchanged. Alpha is kept (and premultiplied while resampling).
 *
 * @example
 * await runStep(resize, image, { width: 800, height: 800, fit: 'contain', background: '#ffffff' });
 */
export const resize = definePlugin({
  id: 'resize',
  name: 'Resize',
  description: 'Scales the image to a width and/or height, cropping, letterboxing or stretching to fit.',
  version: '1.0.0',
  engine: '^1',
  kind: 'transform',
  alpha: 'process',
  tags: ['geometry'],
  params: resizeParams,
  outputSize({ width: W, height: H, params }) {
    const { width: w, height: h, fit } = params;
    if (w === null && h === null) return { width: W, height: H };
    let width: number;
    let height: number;
    if (w === null || h === null) {
      // One side given: the other follows the aspect ratio, whatever the fit.
      const scale = w === null ? h! / H : w / W;
      width = w ?? Math.max(1, Math.round(W * scale));
      height = h ?? Math.max(1, Math.round(H * scale));
    } else if (fit === 'inside' || fit === 'outside') {
      const scale = fit === 'inside' ? Math.min(w / W, h / H) : Math.max(w / W, h / H);
      width = Math.max(1, Math.round(W * scale));
      height = Math.max(1, Math.round(H * scale));
    } else {
      width = w;
      height = h;
    }
    // Bounds are enough here: libvips skips a resize that would enlarge (or reduce) a side.
    // Except for contain into a box: it pads to the box even when the resize itself is skipped.
    const box = fit === 'contain' && w !== null && h !== null;
    if (params.withoutEnlargement && !box && (width > W || height > H)) return { width: W, height: H };
    if (params.withoutReduction) return { width: Math.max(width, W), height: Math.max(height, H) };
    return { width, height };
  },
  apply({ image, params, sharp }) {
    if (params.width === null && params.height === null) return image;
    const position =
      params.position === 'entropy' || params.position === 'attention'
        ? params.position
        : sharpPosition(params.position);
    return runPipeline(
      image,
      sharp().resize({
        width: params.width ?? undefined,
        height: params.height ?? undefined,
        // With one side given the other follows the aspect ratio whatever the fit (see
        // outputSize); 'contain' would still pad to the missing side when withoutEnlargement
        // skips the resize, so it is not passed on then.
        fit: params.width === null || params.height === null ? 'inside' : params.fit,
        position,
        kernel: params.kernel,
        withoutEnlargement: params.withoutEnlargement,
        withoutReduction: params.withoutReduction,
        background: sharpColor(params.background),
      }),
    );
  },
});
