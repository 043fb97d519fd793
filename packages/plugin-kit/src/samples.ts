// The images the checks feed a plugin: a real photo shipped with the kit, at the sizes each check
// needs, and the odd inputs real uploads bring (1x1, alpha, grey, 16-bit, a 20:1 strip).
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { Sharp } from 'sharp';

/** The photo every check starts from (see assets/README.md for its source and licence). */
export const SAMPLE_PHOTO = new URL('../assets/sample.jpg', import.meta.url);

let photo: Promise<Buffer> | undefined;
const samplePhoto = (): Promise<Buffer> => (photo ??= readFile(SAMPLE_PHOTO));

/** The sample photo as a PNG whose longer side is `longSide` pixels (scaled up or down). */
export async function samplePng(longSide: number): Promise<Uint8Array> {
  const buffer = await sharp(await samplePhoto())
    .resize(longSide, longSide, { fit: 'inside' })
    .png({ compressionLevel: 1 })
    .toBuffer();
  return new Uint8Array(buffer);
}

/** An input the engine must survive, with what makes it odd. */
export interface OddInput {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** 1x1, RGBA with a gradient alpha, greyscale, 16 bits per sample, and a 20:1 strip. */
export async function oddInputs(): Promise<OddInput[]> {
  const source = await samplePhoto();
  const small = sharp(source).resize(64, 48, { fit: 'fill' });
  // RGBA whose alpha runs from fully transparent on the left to opaque on the right.
  const rgb = await small.clone().removeAlpha().raw().toBuffer();
  const rgba = Buffer.alloc(64 * 48 * 4);
  for (let i = 0; i < 64 * 48; i++) {
    rgba[i * 4] = rgb[i * 3]!;
    rgba[i * 4 + 1] = rgb[i * 3 + 1]!;
    rgba[i * 4 + 2] = rgb[i * 3 + 2]!;
    rgba[i * 4 + 3] = Math.round(((i % 64) / 63) * 255);
  }
  const make = async (name: string, pipeline: Sharp): Promise<OddInput> => {
    const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
    return { name, bytes: new Uint8Array(data), width: info.width, height: info.height };
  };
  return Promise.all([
    make('1x1', sharp(source).resize(1, 1, { fit: 'fill' }).png()),
    make('alpha', sharp(rgba, { raw: { width: 64, height: 48, channels: 4 } }).png()),
    make('grey', small.clone().toColourspace('b-w').png()),
    make('16-bit', small.clone().toColourspace('rgb16').png()),
    make('20:1', sharp(source).resize(400, 20, { fit: 'cover' }).png()),
  ]);
}
