// The whole analysis on real photos (test/fixtures/images) and on files made from them with sharp.
import { readFile } from 'node:fs/promises';
import { isBlurhashValid } from 'blurhash';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { isAtelierError } from '@atelier/core';
import { analyseImage } from './analyse.ts';
import { hammingDistance } from './perceptual-hash.ts';

const fixture = (name: string): Promise<Buffer> =>
  readFile(new URL(`../../../test/fixtures/images/${name}`, import.meta.url));

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (error: unknown) => (isAtelierError(error) ? error.code : `uncoded: ${String(error)}`),
  );

describe('analyseImage', () => {
  it('measures a real photo: size, aspect, brightness, hashes, BlurHash, palette', async () => {
    const found = await analyseImage(await fixture('rocket.jpg'));
    expect(found).toMatchObject({ version: 1, width: 640, height: 427 });
    expect(found.aspect).toBeCloseTo(640 / 427, 6);
    expect(found.brightness).toBeGreaterThan(0.05);
    expect(found.brightness).toBeLessThan(0.6);
    expect(isBlurhashValid(found.blurhash).result).toBe(true);
    expect(found.palette).toHaveLength(5);
    expect(found.palette.reduce((s, c) => s + c.weight, 0)).toBeCloseTo(1, 9);
    expect(found.phashBands.map((b) => BigInt(b))).toEqual(
      [48n, 32n, 16n, 0n].map((s) => (found.phash >> s) & 0xffffn),
    );
    expect(found.exif).toEqual({ takenAt: null, camera: null, orientation: 1, gps: null });
  });

  it('pHash stays close for a resized, recompressed copy and is far for other photos', async () => {
    const photos = ['rocket.jpg', 'chelsea.png', 'coffee.png', 'astronaut.png', 'evening-glow-2560x1600.jpg'];
    const hashes = new Map<string, bigint>();
    for (const name of photos) {
      const bytes = await fixture(name);
      const original = await analyseImage(bytes);
      const meta = await sharp(bytes).metadata();
      const variant = await sharp(bytes)
        .resize(Math.round(meta.width / 2))
        .jpeg({ quality: 40 })
        .toBuffer();
      const copy = await analyseImage(variant);
      expect(hammingDistance(original.phash, copy.phash), name).toBeLessThanOrEqual(6);
      expect(hammingDistance(original.dhash, copy.dhash), name).toBeLessThanOrEqual(10);
      hashes.set(name, original.phash);
    }
    for (const a of photos)
      for (const b of photos)
        if (a < b) expect(hammingDistance(hashes.get(a)!, hashes.get(b)!), `${a} ${b}`).toBeGreaterThan(16);
  });

  it('reads the EXIF summary, GPS included, and applies the orientation to the size', async () => {
    const tagged = await sharp(await fixture('rocket.jpg'))
      .withExif({
        IFD0: { Make: 'Canon', Model: 'Canon EOS 5D' },
        IFD2: { DateTimeOriginal: '2021:06:01 12:34:56', OffsetTimeOriginal: '+02:00' },
        IFD3: {
          GPSLatitudeRef: 'S',
          GPSLatitude: '33/1 51/1 3180/100',
          GPSLongitudeRef: 'E',
          GPSLongitude: '151/1 12/1 3600/100',
          GPSAltitudeRef: '0',
          GPSAltitude: '58/1',
        },
      })
      .withMetadata({ orientation: 6 })
      .jpeg()
      .toBuffer();
    const found = await analyseImage(tagged);
    expect(found.exif.camera).toBe('Canon EOS 5D');
    expect(found.exif.orientation).toBe(6);
    expect(found.exif.takenAt?.toISOString()).toBe('2021-06-01T10:34:56.000Z');
    expect(found.exif.gps!.lat).toBeCloseTo(-(33 + 51 / 60 + 31.8 / 3600), 6);
    expect(found.exif.gps!.lon).toBeCloseTo(151 + 12 / 60 + 36 / 3600, 6);
    expect(found.exif.gps!.alt).toBe(58);
    // Orientation 6 turns the 640x427 photo upright: 427 wide.
    expect([found.width, found.height]).toEqual([427, 640]);
  });

  it('refuses bad files with coded errors', async () => {
    const rocket = await fixture('rocket.jpg');
    expect(await codeOf(analyseImage(new Uint8Array()))).toBe('IMAGE_EMPTY');
    expect(await codeOf(analyseImage(new TextEncoder().encode('hello, not an image')))).toBe(
      'IMAGE_FORMAT_UNSUPPORTED',
    );
    // A header that reads, with the scan cut in half: fails only when decoded.
    expect(await codeOf(analyseImage(rocket.subarray(0, rocket.length / 2)))).toBe('IMAGE_CORRUPT');
    expect(await codeOf(analyseImage(await fixture('truncated.jpg')))).toBe('IMAGE_CORRUPT');
    expect(await codeOf(analyseImage(rocket, { limits: { maxInputPixels: 1000 } }))).toBe(
      'IMAGE_TOO_MANY_PIXELS',
    );
  });

  it('flattens transparency onto white and handles grey images', async () => {
    const clear = await sharp({
      create: { width: 40, height: 30, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } },
    })
      .png()
      .toBuffer();
    const found = await analyseImage(clear);
    expect(found.palette).toEqual([expect.objectContaining({ hex: '#ffffff', weight: 1 })]);
    expect(found.brightness).toBeCloseTo(1, 5);
    const grey = await sharp({ create: { width: 20, height: 20, channels: 3, background: '#808080' } })
      .toColourspace('b-w')
      .png()
      .toBuffer();
    expect((await analyseImage(grey)).palette[0]!.hex).toBe('#808080');
  });
});
