// Pixels for the package's tests, made in code (no files).
import type { RgbPixels } from './pixels.ts';

/** An image of `width` × `height` whose pixel at (x, y) is `colour(x, y)`. */
export function makePixels(
  width: number,
  height: number,
  colour: (x: number, y: number) => readonly [number, number, number],
): RgbPixels {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set(colour(x, y), (y * width + x) * 3);
  return { data, width, height };
}
