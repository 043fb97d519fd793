import { definePlugin, z } from '@atelier/core';
import type { RawImage } from '@atelier/core';

/** The parameters of {@link grayscale}: none. */
const grayscaleParams = z.object({});

/**
 * The `grayscale` transform: libvips' conversion to one grey channel; alpha is carried over
 * (sharp's greyscale output drops it).
 *
 * @example
 * await runStep(grayscale, image, {});
 */
export const grayscale = definePlugin({
  id: 'grayscale',
  name: 'Grayscale',
  description: 'Converts the image to shades of grey, keeping transparency.',
  version: '1.0.0',
  engine: '^1',
  kind: 'transform',
  alpha: 'process',
  tags: ['colour'],
  params: grayscaleParams,
  async apply({ image, sharp }): Promise<RawImage> {
    if (image.channels <= 2) return image;
    const grey = await sharp().greyscale().raw({ depth: 'uchar' }).toBuffer();
    if (image.channels === 3) return { data: grey, width: image.width, height: image.height, channels: 1 };
    const n = image.width * image.height;
    const out = new Uint8Array(n * 2);
    for (let i = 0; i < n; i++) {
      out[2 * i] = grey[i]!;
      out[2 * i + 1] = image.data[4 * i + 3]!;
    }
    return { data: out, width: image.width, height: image.height, channels: 2 };
  },
});
