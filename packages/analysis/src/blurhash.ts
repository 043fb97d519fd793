import { encode } from 'blurhash';
import { checkPixels } from './pixels.ts';
import type { RgbPixels } from './pixels.ts';

/** BlurHash components: 4 across, 3 down (a 20-28 character string). */
export const BLURHASH_COMPONENTS = { x: 4, y: 3 } as const;

/**
 * The BlurHash placeholder of an image (the `blurhash` package's encoder), from a small thumbnail:
 * the components are low frequencies, so 32 px a side gives the same string as the full image to
 * within rounding, at a thousandth of the cost. The thumbnail may be squashed to a square: the
 * basis functions are in relative coordinates, and the client decodes at the image's own aspect.
 */
export function blurhashOf(pixels: RgbPixels): string {
  checkPixels(pixels);
  const { width, height, data } = pixels;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, p = 0, q = 0; i < width * height; i++, p += 3, q += 4) {
    rgba[q] = data[p]!;
    rgba[q + 1] = data[p + 1]!;
    rgba[q + 2] = data[p + 2]!;
    rgba[q + 3] = 255;
  }
  return encode(rgba, width, height, BLURHASH_COMPONENTS.x, BLURHASH_COMPONENTS.y);
}
