import { definePlugin, runPipeline, z } from '@atelier/core';

/** The parameters of {@link blur}. */
const blurParams = z.object({
  sigma: z
    .number()
    .min(0.3)
    .max(1000)
    .default(2)
    .describe('Standard deviation of the Gaussian in pixels, 0.3–1000 (the bounds of libvips gaussblur).'),
});

/**
 * The `blur` transform: a Gaussian blur by libvips, with alpha premultiplied so transparent
 * pixels do not bleed their colour.
 *
 * @example
 * await runStep(blur, image, { sigma: 4 });
 */
export const blur = definePlugin({
  id: 'blur',
  name: 'Blur',
  description: 'Gaussian blur of a given radius (sigma, in pixels).',
  version: '1.0.0',
  engine: '^1',
  kind: 'transform',
  alpha: 'process',
  tags: ['filter'],
  params: blurParams,
  apply({ image, params, sharp }) {
    return runPipeline(image, sharp().blur(params.sigma));
  },
});
