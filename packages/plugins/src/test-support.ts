// Shared by the plugins' tests: real fixture photos as raw pixels, and the schema checks every
// built-in plugin's parameters must pass. Not exported from the package.
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { expect } from 'vitest';
import { paramsJsonSchema } from '@atelier/core';
import type { AnyPlugin, RawImage } from '@atelier/core';

/** A committed photo from test/fixtures/images, resized to `width`, as RGB pixels. */
export async function photo(name: string, width: number): Promise<RawImage> {
  const file = fileURLToPath(new URL(`../../../test/fixtures/images/${name}`, import.meta.url));
  const { data, info } = await sharp(file)
    .resize({ width })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: 3 };
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
