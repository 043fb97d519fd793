import { definePlugin, hexColor, runPipeline, sharpColor, z } from '@atelier/core';

/** The parameters of {@link rotate}. */
const rotateParams = z.object({
  angle: z
    .number()
    .min(-360)
    .max(360)
    .default(90)
    .describe('Clockwise angle in degrees; multiples of 90 are exact (no resampling, no background).'),
  background: hexColor('Colour of the corners uncovered by other angles; transparent adds alpha').default(
    '#000000',
  ),
});

/**
 * The `rotate` transform: clockwise rotation by libvips. Multiples of 90 degrees move pixels
 * without resampling; other angles enlarge the canvas to hold the whole image and fill the
 * corners with `background`.
 *
 * @example
 * await runStep(rotate, image, { angle: -15, background: '#ffffff00' });
 */
export const rotate = definePlugin({
  id: 'rotate',
  name: 'Rotate',
  description: 'Turns the image clockwise by an angle; right angles are exact.',
  version: '1.0.0',
  engine: '^1',
  kind: 'transform',
  alpha: 'process',
  tags: ['geometry'],
  params: rotateParams,
  outputSize({ width, height, params }) {
    const angle = params.angle;
    if (Number.isInteger(angle) && angle % 90 === 0)
      return (angle / 90) % 2 === 0 ? { width, height } : { width: height, height: width };
    // Other angles enlarge the canvas to the rotated image's bounding box.
    const rad = (angle * Math.PI) / 180;
    const cos = Math.abs(Math.cos(rad));
    const sin = Math.abs(Math.sin(rad));
    return { width: Math.ceil(width * cos + height * sin), height: Math.ceil(width * sin + height * cos) };
  },
  apply({ image, params, sharp }) {
    const angle = params.angle;
    if (angle % 360 === 0) return image;
    // sharp takes the exact path only for integers; -0 and 90.0 are integers too.
    const exact = Number.isInteger(angle) && angle % 90 === 0;
    return runPipeline(
      image,
      exact ? sharp().rotate(angle) : sharp().rotate(angle, { background: sharpColor(params.background) }),
    );
  },
});
