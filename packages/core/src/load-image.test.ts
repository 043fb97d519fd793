import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { isAtelierError } from './errors.ts';
import { loadImage, readImageSize, sniffImageFormat } from './image-io.ts';

const fixture = (name: string): URL => new URL(`../../../test/fixtures/images/${name}`, import.meta.url);

describe('loadImage', () => {
  it('decodes a file by path or URL, or bytes, to 8-bit RGB as the engine does', async () => {
    const byUrl = await loadImage(fixture('chelsea.png'));
    const byPath = await loadImage(fixture('chelsea.png').pathname);
    const byBytes = await loadImage(await readFile(fixture('chelsea.png')));
    expect([byUrl.width, byUrl.height, byUrl.channels]).toEqual([451, 300, 3]);
    expect(byUrl.data.length).toBe(451 * 300 * 3);
    expect(Buffer.compare(byUrl.data, byPath.data)).toBe(0);
    expect(Buffer.compare(byUrl.data, byBytes.data)).toBe(0);
  });

  it('applies EXIF orientation, so a test sees the photo upright', async () => {
    const rotated = await sharp(fixture('chelsea.png').pathname)
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    expect(readImageSize(rotated)).toEqual({ width: 451, height: 300 }); // as stored
    const image = await loadImage(rotated);
    expect([image.width, image.height]).toEqual([300, 451]);
  });

  it('resizes to a width and gives 1, 3 or 4 channels', async () => {
    const grey = await loadImage(fixture('chelsea.png'), { width: 100, channels: 1 });
    expect([grey.width, grey.height, grey.channels, grey.data.length]).toEqual([100, 67, 1, 100 * 67]);
    const rgba = await loadImage(fixture('chelsea.png'), { width: 100, channels: 4 });
    expect([rgba.channels, rgba.data[3], rgba.data[rgba.data.length - 1]]).toEqual([4, 255, 255]);
    const withAlpha = await sharp(fixture('chelsea.png').pathname).ensureAlpha(0.5).png().toBuffer();
    expect((await loadImage(withAlpha)).channels).toBe(4);
    expect((await loadImage(withAlpha, { channels: 3 })).channels).toBe(3);
  });

  it("fails with the engine's codes", async () => {
    const code = (p: Promise<unknown>): Promise<unknown> =>
      p.then(
        () => 'resolved',
        (e: unknown) => (isAtelierError(e) ? e.code : e),
      );
    expect(await code(loadImage('/nonexistent/photo.jpg'))).toBe('INPUT_NOT_FOUND');
    expect(await code(loadImage(new Uint8Array()))).toBe('IMAGE_EMPTY');
    expect(await code(loadImage(new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>')))).toBe(
      'IMAGE_FORMAT_UNSUPPORTED',
    );
    expect(await code(loadImage(fixture('truncated.jpg')))).toBe('IMAGE_CORRUPT');
  });
});

describe('image headers', () => {
  it('names formats by magic bytes and reads sizes without decoding', async () => {
    const png = await readFile(fixture('chelsea.png'));
    expect(sniffImageFormat(png)).toBe('png');
    expect(sniffImageFormat(await readFile(fixture('wood.webp')))).toBe('webp');
    expect(sniffImageFormat(new TextEncoder().encode('%PDF-1.7'))).toBe('pdf');
    expect(sniffImageFormat(new Uint8Array([1, 2, 3]))).toBeUndefined();
    expect(readImageSize(png)).toEqual({ width: 451, height: 300 });
    expect(readImageSize(png.subarray(0, 12))).toBeUndefined();
  });
});
