import { AtelierError, runStep } from '@atelier/core';
import type { RawImage } from '@atelier/core';
import { describe, expect, it } from 'vitest';
import { expectDescribedParams, photo } from '../test-support.ts';
import { cartoon } from './cartoon.plugin.ts';

/** A white image with a dark grey square in the middle. */
function square(w: number, h: number): RawImage {
  const data = new Uint8Array(w * h * 3).fill(235);
  for (let y = h / 4; y < (3 * h) / 4; y++) data.fill(60, (y * w + w / 4) * 3, (y * w + (3 * w) / 4) * 3);
  return { data, width: w, height: h, channels: 3 };
}

const luma = (img: RawImage, x: number, y: number): number => {
  const o = (y * img.width + x) * img.channels;
  return 0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]!;
};

describe('cartoon', () => {
  it('declares bounded, described, defaulted parameters', () => {
    expect(cartoon.id).toBe('cartoon');
    expectDescribedParams(cartoon);
    expect(() => cartoon.params.parse({ levels: 1 })).toThrow();
    expect(() => cartoon.params.parse({ levels: 4.5 })).toThrow();
  });

  it('keeps the size, and the same input gives the same bytes', async () => {
    const image = await photo('chelsea.png', 451);
    const a = await runStep(cartoon, image, {});
    const b = await runStep(cartoon, image, {});
    expect([a.width, a.height, a.channels]).toEqual([451, 300, 3]);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
  });

  it('outlines a shape in dark ink and leaves flat areas flat', async () => {
    const image = square(240, 160);
    const out = await runStep(cartoon, image, {});
    // Just outside the square's left edge (dark side is inside) there is ink; somewhere along
    // the border a pixel is much darker than the square's own grey.
    let darkest = 255;
    for (let x = 55; x < 65; x++) darkest = Math.min(darkest, luma(out, x, 80));
    expect(darkest).toBeLessThan(40);
    // Far from the edges, both areas keep their tone.
    expect(Math.abs(luma(out, 20, 20) - 235)).toBeLessThan(20);
    expect(Math.abs(luma(out, 120, 80) - 60)).toBeLessThan(20);
  });

  it('draws no outlines when edgeStrength is 0', async () => {
    const out = await runStep(cartoon, square(240, 160), { edgeStrength: 0 });
    for (let x = 50; x < 70; x++) expect(luma(out, x, 80)).toBeGreaterThan(45);
  });

  it('does not turn sensor noise on a flat grey into speckles', async () => {
    const w = 300;
    const h = 200;
    const data = new Uint8Array(w * h * 3);
    let seed = 7;
    for (let i = 0; i < w * h; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      data.fill(120 + ((seed >>> 16) % 13) - 6, i * 3, i * 3 + 3);
    }
    const out = await runStep(cartoon, { data, width: w, height: h, channels: 3 }, {});
    let dark = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (luma(out, x, y) < 90) dark++;
    expect(dark / (w * h)).toBeLessThan(0.002);
  });

  it('keeps a dark photo readable: shadows are not crushed to black', async () => {
    const out = await runStep(cartoon, await photo('evening-glow-2560x1600.jpg', 480), {});
    let sum = 0;
    let black = 0;
    for (let y = 0; y < out.height; y++) {
      for (let x = 0; x < out.width; x++) {
        const v = luma(out, x, y);
        sum += v;
        if (v < 8) black++;
      }
    }
    expect(sum / (out.width * out.height)).toBeGreaterThan(50);
    expect(black / (out.width * out.height)).toBeLessThan(0.1);
  });

  it('works on tiny, grey and RGBA images', async () => {
    const tiny = await runStep(
      cartoon,
      { data: new Uint8Array(3 * 2 * 3).fill(90), width: 3, height: 2, channels: 3 },
      {},
    );
    expect([tiny.width, tiny.height]).toEqual([3, 2]);
    const grey = await runStep(
      cartoon,
      { data: new Uint8Array(64 * 48).fill(100), width: 64, height: 48, channels: 1 },
      {},
    );
    expect(grey.channels).toBe(3);
    const rgba = await runStep(
      cartoon,
      { data: new Uint8Array(64 * 48 * 4).fill(200), width: 64, height: 48, channels: 4 },
      {},
    );
    expect(rgba.channels).toBe(4);
  });

  it('stops when the run is cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(runStep(cartoon, square(64, 64), {}, { signal: controller.signal })).rejects.toBeInstanceOf(
      AtelierError,
    );
  });
});
