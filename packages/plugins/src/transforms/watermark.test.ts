import { AtelierError, runStep } from '@atelier/core';
import type { RawImage } from '@atelier/core';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { fixturePath, photo } from '../test-support.ts';
import { imageSize, watermark } from './watermark.plugin.ts';

const dataUrl = (type: string, bytes: Buffer): string =>
  `data:image/${type};base64,${bytes.toString('base64')}`;

/** Bounding box of the pixels that differ between two images of one size and layout. */
function changed(
  a: RawImage,
  b: RawImage,
): { count: number; x0: number; y0: number; x1: number; y1: number } {
  const box = { count: 0, x0: Infinity, y0: Infinity, x1: -1, y1: -1 };
  for (let y = 0; y < a.height; y++) {
    for (let x = 0; x < a.width; x++) {
      const o = (y * a.width + x) * a.channels;
      let same = true;
      for (let c = 0; c < a.channels; c++) same &&= a.data[o + c] === b.data[o + c];
      if (same) continue;
      box.count++;
      box.x0 = Math.min(box.x0, x);
      box.y0 = Math.min(box.y0, y);
      box.x1 = Math.max(box.x1, x);
      box.y1 = Math.max(box.y1, y);
    }
  }
  return box;
}

async function invalid(params: unknown, image?: RawImage): Promise<AtelierError> {
  const error = await runStep(watermark, image ?? (await photo('chelsea.png')), params).catch(
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AtelierError);
  expect((error as AtelierError).code).toBe('PARAMS_INVALID');
  return error as AtelierError;
}

describe('watermark', () => {
  it('draws text only in its corner, inside the margin', async () => {
    const image = await photo('coffee.png');
    const out = await runStep(watermark, image, { text: '© Atelier', gravity: 'bottom-right', margin: 2 });
    expect([out.width, out.height, out.channels]).toEqual([600, 400, 3]);
    const box = changed(image, out);
    expect(box.count).toBeGreaterThan(100);
    // margin 2 % of 600 = 12 px; the text is 4 % of 600 = 24 px high.
    expect(box.x1).toBeLessThan(600 - 12);
    expect(box.y1).toBeLessThan(400 - 12);
    expect(box.x0).toBeGreaterThan(300);
    expect(box.y0).toBeGreaterThan(400 - 12 - 40);
  });

  it('places text at each gravity', async () => {
    const image = await photo('chelsea.png');
    const topLeft = changed(image, await runStep(watermark, image, { text: 'A', gravity: 'top-left' }));
    expect(topLeft.x0).toBeGreaterThanOrEqual(9);
    expect(topLeft.x1).toBeLessThan(image.width / 2);
    expect(topLeft.y1).toBeLessThan(image.height / 2);
    const centre = changed(image, await runStep(watermark, image, { text: 'A', gravity: 'center' }));
    expect(Math.abs((centre.x0 + centre.x1) / 2 - image.width / 2)).toBeLessThan(4);
  });

  it('tiles the mark over the whole image', async () => {
    const image = await photo('coffee.png');
    const out = await runStep(watermark, image, { text: 'PROOF', tiled: true, angle: -30, color: '#ff0000' });
    const quadrants = [
      [0, 0],
      [300, 0],
      [0, 200],
      [300, 200],
    ].map(([x, y]) => {
      const crop = (img: RawImage): RawImage => {
        const data = new Uint8Array(300 * 200 * 3);
        for (let r = 0; r < 200; r++)
          data.set(img.data.subarray(((y! + r) * 600 + x!) * 3, ((y! + r) * 600 + x! + 300) * 3), r * 900);
        return { data, width: 300, height: 200, channels: 3 };
      };
      return changed(crop(image), crop(out)).count;
    });
    for (const count of quadrants) expect(count).toBeGreaterThan(200);
  });

  it('keeps alpha, keeps grey text on grey images grey, and makes coloured marks RGB', async () => {
    const rgba = await photo('chelsea.png', { channels: 4 });
    const out = await runStep(watermark, rgba, { text: 'x' });
    expect(out.channels).toBe(4);
    for (let i = 3; i < out.data.length; i += 4 * 101) expect(out.data[i]).toBe(255);
    const grey = await photo('chelsea.png', { channels: 1 });
    expect((await runStep(watermark, grey, { text: 'x', color: '#808080' })).channels).toBe(1);
    expect((await runStep(watermark, grey, { text: 'x', color: '#ff0000' })).channels).toBe(3);
  });

  it('composites an image mark from a data URL, scaled to a share of the width', async () => {
    const image = await photo('coffee.png');
    const logo = await sharp({ create: { width: 40, height: 20, channels: 4, background: '#ff0000' } })
      .png()
      .toBuffer();
    const out = await runStep(watermark, image, {
      image: dataUrl('png', logo),
      width: 10,
      opacity: 1,
      gravity: 'top-left',
      margin: 0,
    });
    const box = changed(image, out);
    // 10 % of 600 = 60 x 30 pixels at the top-left corner.
    expect([box.x0, box.y0, box.x1, box.y1]).toEqual([0, 0, 59, 29]);
    expect([...out.data.subarray((10 * 600 + 10) * 3, (10 * 600 + 10) * 3 + 3)]).toEqual([255, 0, 0]);
    const jpeg = await sharp(fixturePath('rocket.jpg')).resize(64).jpeg().toBuffer();
    const webp = await sharp(fixturePath('chelsea.png')).resize(64).webp().toBuffer();
    for (const url of [dataUrl('jpeg', jpeg), dataUrl('webp', webp)]) {
      expect(changed(image, await runStep(watermark, image, { image: url })).count).toBeGreaterThan(100);
    }
  });

  it('applies opacity', async () => {
    const image: RawImage = { data: new Uint8Array(100 * 100 * 3), width: 100, height: 100, channels: 3 };
    const white = await sharp({ create: { width: 10, height: 10, channels: 3, background: '#ffffff' } })
      .png()
      .toBuffer();
    const out = await runStep(watermark, image, {
      image: dataUrl('png', white),
      opacity: 0.5,
      width: 50,
      gravity: 'center',
    });
    expect(out.data[(50 * 100 + 50) * 3]).toBeGreaterThan(120);
    expect(out.data[(50 * 100 + 50) * 3]).toBeLessThan(135);
  });

  it('rejects bad data URLs at plan time with PARAMS_INVALID', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    expect((await invalid({ image: 'https://example.com/logo.png' })).message).toContain(
      'must be a data URL',
    );
    expect((await invalid({ image: 'data:image/gif;base64,R0lGODlhAQABAAAAACw=' })).message).toContain(
      'must be a data URL',
    );
    expect((await invalid({ image: 'data:image/png;base64,abc' })).message).toContain('truncated');
    expect((await invalid({ image: 'data:image/png;base64,not base64!' })).message).toContain(
      'must be a data URL',
    );
    expect((await invalid({ image: dataUrl('jpeg', png) })).message).toContain('not a JPEG file');
    expect((await invalid({ image: dataUrl('png', Buffer.alloc(1024 * 1024 + 8)) })).message).toContain(
      '1 MiB',
    );
    expect((await invalid({ image: dataUrl('png', png), text: 'both' })).message).toContain(
      'either text or image',
    );
  });

  it('rejects a damaged image body with PARAMS_INVALID when it is decoded', async () => {
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#123456' } })
      .png()
      .toBuffer();
    const damaged = Buffer.concat([png.subarray(0, 40), Buffer.alloc(60, 0x55)]);
    const error = await invalid({ image: dataUrl('png', damaged) });
    expect(error.message).toContain('could not be decoded');
  });

  it('refuses images whose header promises too many pixels', async () => {
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    const huge = Buffer.from(png);
    huge.writeUInt32BE(20000, 16);
    huge.writeUInt32BE(20000, 20);
    expect((await invalid({ image: dataUrl('png', huge) })).message).toContain('20000x20000');
  });

  it('reads sizes from PNG, JPEG and WebP headers', async () => {
    const base = sharp({ create: { width: 37, height: 23, channels: 3, background: '#369' } });
    expect(imageSize(await base.clone().png().toBuffer(), 'png')).toEqual({ width: 37, height: 23 });
    expect(imageSize(await base.clone().jpeg().toBuffer(), 'jpeg')).toEqual({ width: 37, height: 23 });
    expect(imageSize(await base.clone().webp().toBuffer(), 'webp')).toEqual({ width: 37, height: 23 });
    expect(imageSize(await base.clone().webp({ lossless: true }).toBuffer(), 'webp')).toEqual({
      width: 37,
      height: 23,
    });
  });

  it('is deterministic and leaves the image alone without a mark', async () => {
    const image = await photo('chelsea.png');
    const a = await runStep(watermark, image, { text: 'Same', angle: 12, tiled: true });
    const b = await runStep(watermark, image, { text: 'Same', angle: 12, tiled: true });
    expect(Buffer.compare(a.data, b.data)).toBe(0);
    expect(await runStep(watermark, image, {})).toBe(image);
  });
});
