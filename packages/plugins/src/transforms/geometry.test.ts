import { AtelierError, runStep } from '@atelier/core';
import type { AnyPlugin, RawImage } from '@atelier/core';
import { describe, expect, it } from 'vitest';
import { photo } from '../test-support.ts';
import { crop } from './crop.plugin.ts';
import { flip } from './flip.plugin.ts';
import { resize } from './resize.plugin.ts';
import { rotate } from './rotate.plugin.ts';

/** A small image whose every pixel is distinct: R = 10x, G = 10y, B = 7, A = 200 + x. */
function pattern(width: number, height: number, channels: 3 | 4 = 3): RawImage {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * channels;
      data.set(channels === 4 ? [10 * x, 10 * y, 7, 200 + x] : [10 * x, 10 * y, 7], o);
    }
  }
  return { data, width, height, channels };
}

const px = (img: RawImage, x: number, y: number): number[] => [
  ...img.data.subarray((y * img.width + x) * img.channels, (y * img.width + x + 1) * img.channels),
];

async function rejection(promise: Promise<unknown>): Promise<AtelierError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AtelierError);
  return error as AtelierError;
}

describe('resize', () => {
  it('scales a photo to a width, keeping the aspect ratio', async () => {
    const out = await runStep(resize, await photo('coffee.png'), { width: 300 });
    expect([out.width, out.height, out.channels]).toEqual([300, 200, 3]);
  });

  it('covers, contains and fills a box', async () => {
    const image = await photo('coffee.png');
    const cover = await runStep(resize, image, { width: 200, height: 200 });
    expect([cover.width, cover.height]).toEqual([200, 200]);
    const fill = await runStep(resize, image, { width: 100, height: 300, fit: 'fill' });
    expect([fill.width, fill.height]).toEqual([100, 300]);
    const contain = await runStep(resize, image, {
      width: 300,
      height: 300,
      fit: 'contain',
      background: '#ff000000',
    });
    expect([contain.width, contain.height, contain.channels]).toEqual([300, 300, 4]);
    expect(px(contain, 150, 0)[3]).toBe(0); // letterbox is transparent
    expect(px(contain, 150, 150)[3]).toBe(255);
    const inside = await runStep(resize, image, { width: 300, height: 300, fit: 'inside' });
    expect([inside.width, inside.height]).toEqual([300, 200]);
  });

  it('keeps alpha and keeps grey images grey', async () => {
    const rgba = await runStep(resize, await photo('coffee.png', { channels: 4, alpha: 0.5 }), {
      width: 150,
    });
    expect(rgba.channels).toBe(4);
    expect(px(rgba, 10, 10)[3]).toBeCloseTo(128, -1);
    const grey = await runStep(resize, await photo('coffee.png', { channels: 1 }), { height: 100 });
    expect([grey.width, grey.height, grey.channels]).toEqual([150, 100, 1]);
  });

  it('does not enlarge with withoutEnlargement, and passes the image through with no size', async () => {
    const image = await photo('coffee.png');
    const same = await runStep(resize, image, { width: 1200, withoutEnlargement: true });
    expect([same.width, same.height]).toEqual([600, 400]);
    expect(await runStep(resize, image, {})).toBe(image);
  });

  it('rejects bad combinations before any pixel work', async () => {
    const image = pattern(4, 4);
    for (const params of [
      { width: 10, fit: 'fill' },
      { width: 10, fit: 'contain', position: 'entropy' },
      { width: 10, withoutEnlargement: true, withoutReduction: true },
      { width: 16384 },
      { width: 0 },
      { kernel: 'bicubic' },
    ]) {
      const error = await rejection(runStep(resize, image, params));
      expect(error.code).toBe('PARAMS_INVALID');
    }
    const error = await rejection(runStep(resize, image, { width: 10, fit: 'fill' }));
    expect(error.message).toContain('fit "fill" needs both width and height');
  });

  it('is deterministic', async () => {
    const image = await photo('coffee.png');
    const a = await runStep(resize, image, { width: 333, kernel: 'mitchell' });
    const b = await runStep(resize, image, { width: 333, kernel: 'mitchell' });
    expect(Buffer.compare(a.data, b.data)).toBe(0);
  });
});

describe('crop', () => {
  it('keeps exactly the requested rectangle', async () => {
    const out = await runStep(crop, pattern(8, 6), { left: 2, top: 1, width: 3, height: 4 });
    expect([out.width, out.height, out.channels]).toEqual([3, 4, 3]);
    expect(px(out, 0, 0)).toEqual([20, 10, 7]);
    expect(px(out, 2, 3)).toEqual([40, 40, 7]);
  });

  it('runs to the edges when width and height are null, and keeps alpha', async () => {
    const out = await runStep(crop, pattern(8, 6, 4), { left: 5, top: 4 });
    expect([out.width, out.height, out.channels]).toEqual([3, 2, 4]);
    expect(px(out, 2, 1)).toEqual([70, 50, 7, 207]);
  });

  it('crops a photo', async () => {
    const out = await runStep(crop, await photo('rocket.jpg'), {
      left: 100,
      top: 50,
      width: 320,
      height: 200,
    });
    expect([out.width, out.height]).toEqual([320, 200]);
  });

  it('gives PARAMS_INVALID with the overflowing edge when the rectangle leaves the image', async () => {
    const image = pattern(8, 6);
    let error = await rejection(runStep(crop, image, { left: 6, width: 3 }));
    expect(error.code).toBe('PARAMS_INVALID');
    expect(error.message).toContain('left 6 + width 3 = 9 exceeds the image width 8');
    error = await rejection(runStep(crop, image, { top: 6 }));
    expect(error.code).toBe('PARAMS_INVALID');
    expect(error.message).toContain('top 6 is outside the image');
    error = await rejection(runStep(crop, image, { top: 2, height: 5 }));
    expect(error.message).toContain('exceeds the image height 6');
    error = await rejection(runStep(crop, image, { left: -1 }));
    expect(error.code).toBe('PARAMS_INVALID');
  });
});

describe('rotate', () => {
  it('turns by right angles exactly', async () => {
    const image = pattern(4, 3);
    const cw = await runStep(rotate, image, { angle: 90 });
    expect([cw.width, cw.height]).toEqual([3, 4]);
    // Clockwise: the bottom-left pixel (0, 2) goes to the top-left.
    expect(px(cw, 0, 0)).toEqual(px(image, 0, 2));
    expect(px(cw, 2, 3)).toEqual(px(image, 3, 0));
    const half = await runStep(rotate, image, { angle: 180 });
    expect(px(half, 0, 0)).toEqual(px(image, 3, 2));
    const ccw = await runStep(rotate, image, { angle: -90 });
    const threeQuarters = await runStep(rotate, image, { angle: 270 });
    expect(Buffer.compare(ccw.data, threeQuarters.data)).toBe(0);
    expect(await runStep(rotate, image, { angle: 360 })).toBe(image);
  });

  it('enlarges the canvas for other angles and fills the corners with the background', async () => {
    const image = await photo('coffee.png');
    const out = await runStep(rotate, image, { angle: 30, background: '#00ff00' });
    expect(out.width).toBeGreaterThan(600);
    expect(out.height).toBeGreaterThan(400);
    expect(out.channels).toBe(3);
    expect(px(out, 0, 0)).toEqual([0, 255, 0]);
    const clear = await runStep(rotate, image, { angle: -10, background: '#00000000' });
    expect(clear.channels).toBe(4);
    expect(px(clear, 0, 0)[3]).toBe(0);
    expect(px(clear, clear.width >> 1, clear.height >> 1)[3]).toBe(255);
  });

  it('keeps grey images grey and alpha images alpha', async () => {
    expect((await runStep(rotate, await photo('rocket.jpg', { channels: 1 }), { angle: 90 })).channels).toBe(
      1,
    );
    const rgba = await runStep(rotate, pattern(4, 3, 4), { angle: 90 });
    expect(rgba.channels).toBe(4);
    expect(px(rgba, 0, 0)).toEqual([0, 20, 7, 200]);
  });
});

describe('flip', () => {
  it('mirrors left to right by default', async () => {
    const image = pattern(5, 2, 4);
    const out = await runStep(flip, image, {});
    expect(px(out, 0, 0)).toEqual(px(image, 4, 0));
    expect(px(out, 4, 1)).toEqual(px(image, 0, 1));
  });

  it('mirrors top to bottom, and both ways equals a half turn', async () => {
    const image = await photo('rocket.jpg');
    const v = await runStep(flip, image, { horizontal: false, vertical: true });
    expect(px(v, 10, 0)).toEqual(px(image, 10, image.height - 1));
    const both = await runStep(flip, image, { vertical: true });
    const half = await runStep(rotate, image, { angle: 180 });
    expect(Buffer.compare(both.data, half.data)).toBe(0);
  });

  it('refuses to do nothing', async () => {
    const error = await rejection(runStep(flip, pattern(2, 2), { horizontal: false }));
    expect(error.code).toBe('PARAMS_INVALID');
    expect(error.message).toContain('choose horizontal, vertical or both');
  });
});

describe('outputSize', () => {
  /** Runs the step and checks the real size against the declared one: equal, or within when `bound`. */
  async function declaredMatches(
    plugin: AnyPlugin,
    image: RawImage,
    params: Record<string, unknown>,
    bound = false,
  ): Promise<void> {
    const parsed = plugin.params.parse(params);
    const declared = plugin.outputSize!({
      width: image.width,
      height: image.height,
      params: parsed,
    });
    const out = await runStep(plugin, image, params);
    if (bound) expect(out.width * out.height).toBeLessThanOrEqual(declared.width * declared.height);
    else expect([out.width, out.height], JSON.stringify(params)).toEqual([declared.width, declared.height]);
  }

  it('declares the size resize makes, for every fit and for one side', async () => {
    const image = pattern(37, 23);
    for (const fit of ['cover', 'contain', 'fill', 'inside', 'outside'])
      await declaredMatches(resize, image, { width: 50, height: 17, fit });
    await declaredMatches(resize, image, { width: 91 });
    await declaredMatches(resize, image, { height: 5 });
    await declaredMatches(resize, image, {});
    await declaredMatches(resize, image, { width: 500, height: 500, withoutEnlargement: true }, true);
    await declaredMatches(resize, image, { width: 10, height: 10, withoutReduction: true }, true);
  });

  it('declares the size crop and rotate make', async () => {
    const image = pattern(37, 23);
    await declaredMatches(crop, image, { left: 3, top: 4, width: 10, height: 7 });
    await declaredMatches(crop, image, { left: 3, top: 4 });
    for (const angle of [0, 90, -90, 180, 270, 15, -33.5, 45])
      await declaredMatches(rotate, image, { angle }, !Number.isInteger(angle / 90));
  });
});
