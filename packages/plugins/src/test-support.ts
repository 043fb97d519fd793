// Shared by the plugins' tests: real fixture photos as raw pixels, small synthetic images, and the
// checks every built-in plugin must pass. Not exported from the package.
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { loadImage, paramsJsonSchema, runStep } from '@atelier/core';
import type { AnyPlugin, RawImage } from '@atelier/core';

/** The path of a committed photo in test/fixtures/images. */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../../../test/fixtures/images/${name}`, import.meta.url));
}

/**
 * A committed photo from test/fixtures/images as raw pixels: RGB, or with `channels` 1 grey and
 * 4 RGBA (alpha `alpha`, 0 to 1, opaque by default); resized to `width` when given.
 */
export async function photo(
  name: string,
  options: { width?: number; channels?: 1 | 4; alpha?: number } = {},
): Promise<RawImage> {
  const image = await loadImage(fixturePath(name), {
    channels: options.channels ?? 3,
    ...(options.width === undefined ? {} : { width: options.width }),
  });
  if (image.channels === 4 && options.alpha !== undefined) {
    const a = Math.floor(options.alpha * 255); // as sharp.ensureAlpha rounds
    for (let i = 3; i < image.data.length; i += 4) image.data[i] = a;
  }
  return image;
}

/** A light grey (235) RGB image with a square of `grey` over its middle half. */
export function greySquare(w: number, h: number, grey: number): RawImage {
  const data = new Uint8Array(w * h * 3).fill(235);
  for (let y = h / 4; y < (3 * h) / 4; y++) data.fill(grey, (y * w + w / 4) * 3, (y * w + (3 * w) / 4) * 3);
  return { data, width: w, height: h, channels: 3 };
}

/** A flat grey RGB image of `level` with seeded sensor-like noise, uniform in ±`spread`. */
export function noisyGrey(w: number, h: number, level: number, spread: number, seed: number): RawImage {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    data.fill(level + ((seed >>> 16) % (2 * spread + 1)) - spread, i * 3, i * 3 + 3);
  }
  return { data, width: w, height: h, channels: 3 };
}

/** Rec. 601 luma of the pixel at (x, y) of an RGB(A) image. */
export function lumaAt(img: RawImage, x: number, y: number): number {
  const o = (y * img.width + x) * img.channels;
  return 0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]!;
}

/** Every parameter has a description and a default; with `bounded`, numbers also have both bounds. */
export function expectDescribedParams(plugin: AnyPlugin, options: { bounded?: boolean } = {}): void {
  const schema = paramsJsonSchema(plugin) as {
    properties: Record<
      string,
      { description?: string; default?: unknown; minimum?: number; maximum?: number }
    >;
  };
  for (const field of Object.values(schema.properties)) {
    expect(field.description).toBeTruthy();
    expect(field.default).toBeDefined();
    if (options.bounded) {
      expect(field.minimum).toBeDefined();
      expect(field.maximum).toBeDefined();
    }
  }
}

/**
 * Runs `plugin` with default parameters twice with `seed` and once with `seed + 1`, and expects
 * the same bytes from the same seed and other bytes from the other. Returns the first output.
 */
export async function expectSeeded(plugin: AnyPlugin, image: RawImage, seed: number): Promise<RawImage> {
  const a = await runStep(plugin, image, {}, { seed });
  const b = await runStep(plugin, image, {}, { seed });
  const c = await runStep(plugin, image, {}, { seed: seed + 1 });
  expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
  expect(Buffer.from(a.data).equals(Buffer.from(c.data))).toBe(false);
  return a;
}
