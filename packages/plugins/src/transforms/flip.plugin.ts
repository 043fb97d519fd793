import { definePlugin, runPipeline, z } from '@atelier/core';

/** The parameters of {@link flip}. */
const flipParams = z
  .object({
    horizontal: z.boolean().default(true).describe('Mirror left to right.'),
    vertical: z.boolean().default(false).describe('Mirror top to bottom.'),
  })
  .refine((p) => p.horizontal || p.vertical, {
    message: 'choose horizontal, vertical or both; with neither the step would do nothing',
    path: ['horizontal'],
  });

/**
 * The `flip` transform: mirrors the image horizontally, vertically, or both (which equals a
 * 180-degree rotation).
 *
 * @example
 * await runStep(flip, image, { horizontal: false, vertical: true });
 */
export const flip = definePlugin({
  id: 'flip',
  name: 'Flip',
  description: 'Mirrors the image left to right and/or top to bottom.',
  version: '1.0.0',
  engine: '^1',
  kind: 'transform',
  alpha: 'process',
  tags: ['geometry'],
  params: flipParams,
  apply({ image, params, sharp }) {
    let pipeline = sharp();
    // sharp names a left-right mirror "flop" and a top-bottom mirror "flip".
    if (params.horizontal) pipeline = pipeline.flop();
    if (params.vertical) pipeline = pipeline.flip();
    return runPipeline(image, pipeline);
  },
});
