import { definePlugin, runPipeline, z } from '@atelier/core';

/** The parameters of {@link sharpen}; bounds are those of libvips sharpen. */
const sharpenParams = z.object({
  sigma: z
    .number()
    .min(0.000001)
    .max(10)
    .default(1)
    .describe('Radius of the unsharp mask (Gaussian sigma) in pixels, 0.000001–10.'),
  flat: z
    .number()
    .min(0)
    .max(1000000)
    .default(1)
    .describe('Sharpening of flat areas (libvips m1), 0–1000000.'),
  jagged: z
    .number()
    .min(0)
    .max(1000000)
    .default(2)
    .describe('Sharpening of jagged areas such as edges (libvips m2), 0–1000000.'),
  threshold: z
    .number()
    .min(0)
    .max(1000000)
    .default(2)
    .describe('Where flat ends and jagged begins (libvips x1), 0–1000000.'),
});

/**
 * The `sharpen` transform: libvips' unsharp mask on the lightness channel, with separate
 * strengths for flat and jagged areas.
 *
 * @example
 * await runStep(sharpen, image, { sigma: 1.5, flat: 0.5, jagged: 3 });
 */
export const sharpen = definePlugin({
  id: 'sharpen',
  name: 'Sharpen',
  description: 'Unsharp mask with separate strengths for flat and jagged areas.',
  version: '1.0.0',
  engine: '^1',
  kind: 'transform',
  alpha: 'process',
  tags: ['filter'],
  params: sharpenParams,
  apply({ image, params, sharp }) {
    return runPipeline(
      image,
      sharp().sharpen({ sigma: params.sigma, m1: params.flat, m2: params.jagged, x1: params.threshold }),
    );
  },
});
