import { runStep } from '@atelier/core';
import type { RawImage } from '@atelier/core';
import { describe, expect, it } from 'vitest';
import { expectDescribedParams, expectSeeded, lumaAt, photo } from '../test-support.ts';
import { watercolor } from './watercolor.plugin.ts';

/** A `w × h` image of `background` with a rectangle of `fill` from (x0, y0) to (x1, y1). */
function block(
  w: number,
  h: number,
  background: readonly number[],
  fill: readonly number[],
  [x0, y0, x1, y1]: readonly number[],
): RawImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const inside = x >= x0! && x < x1! && y >= y0! && y < y1!;
      data.set(inside ? fill : background, (y * w + x) * 3);
    }
  }
  return { data, width: w, height: h, channels: 3 };
}

/** Mean luma of row `y` from `x0` to `x1` (exclusive). */
function rowMean(img: RawImage, x0: number, x1: number, y: number): number {
  let s = 0;
  for (let x = x0; x < x1; x++) s += lumaAt(img, x, y);
  return s / (x1 - x0);
}

const flat = { paper: 0, granulation: 0, wetness: 0 };

describe('watercolor', () => {
  it('declares bounded, described, defaulted parameters and rejects bad ones', () => {
    expect(watercolor.id).toBe('watercolor');
    expect(watercolor.kind).toBe('style');
    expectDescribedParams(watercolor, { bounded: true });
    expect(() => watercolor.params.parse({ paper: -0.1 })).toThrow();
    expect(() => watercolor.params.parse({ wetness: 1.5 })).toThrow();
    expect(() => watercolor.params.parse({ edgeDarkening: 'lots' })).toThrow();
    expect(watercolor.params.parse({})).toEqual({
      abstraction: 0.5,
      wetness: 0.5,
      edgeDarkening: 0.6,
      granulation: 0.5,
      paper: 0.5,
      whites: 0.5,
    });
  });

  it('keeps the size, gives the same bytes for the same input and seed, and other bytes for another seed', async () => {
    const image = await photo('rocket.jpg', { width: 320 });
    const a = await expectSeeded(watercolor, image, 5);
    expect([a.width, a.height, a.channels]).toEqual([image.width, image.height, 3]);
  });

  it('gives the same bytes whether its paper texture was kept from the last run or made afresh', async () => {
    const image = await photo('rocket.jpg', { width: 320 });
    const first = await runStep(watercolor, image, {}, { seed: 9 });
    // A long image has another texture scale: its paper replaces the kept one.
    const wide = await photo('rocket.jpg', { width: 2000 });
    await runStep(
      watercolor,
      { ...wide, height: 40, data: wide.data.subarray(0, 2000 * 40 * 3) },
      {},
      { seed: 9 },
    );
    const afresh = await runStep(watercolor, image, {}, { seed: 9 });
    expect(Buffer.from(afresh.data).equals(Buffer.from(first.data))).toBe(true);
  });

  it('pools pigment at the edges of a wash: its rim is darker than its middle, and more so with edgeDarkening', async () => {
    const image = block(240, 160, [250, 250, 250], [90, 140, 200], [60, 40, 180, 120]);
    const dark = await runStep(watercolor, image, { ...flat, edgeDarkening: 1 });
    const none = await runStep(watercolor, image, { ...flat, edgeDarkening: 0 });
    const rim = (img: RawImage): number => Math.min(rowMean(img, 60, 64, 80), rowMean(img, 176, 180, 80));
    const middle = (img: RawImage): number => rowMean(img, 110, 130, 80);
    expect(rim(dark)).toBeLessThan(middle(dark) - 10);
    expect(middle(dark) - rim(dark)).toBeGreaterThan(middle(none) - rim(none) + 8);
  });

  it('leaves the highlights as white paper unless whites is 0', async () => {
    const image = block(240, 160, [236, 230, 226], [70, 110, 60], [60, 40, 180, 120]);
    const white = await runStep(watercolor, image, flat);
    const painted = await runStep(watercolor, image, { ...flat, whites: 0 });
    for (const y of [10, 80, 150]) expect(rowMean(white, 5, 40, y)).toBeGreaterThan(252);
    expect(rowMean(painted, 5, 40, 80)).toBeLessThan(245);
    // The wash itself is painted, not paper.
    expect(rowMean(white, 100, 140, 80)).toBeLessThan(200);
  });

  it('flattens texture inside a wash', async () => {
    // Fine noise on a mid-tone: the washes lay it flat (before paper and turbulence).
    const w = 240;
    const h = 160;
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; i++) {
      const v = 120 + ((Math.imul(i, 2654435761) >>> 28) - 8) * 3;
      data.set([v, v - 20, v - 40], i * 3);
    }
    const out = await runStep(watercolor, { data, width: w, height: h, channels: 3 }, flat);
    const spread = (img: RawImage): number => {
      let s = 0;
      let s2 = 0;
      let count = 0;
      for (let y = 40; y < 120; y++) {
        for (let x = 60; x < 180; x++) {
          const v = lumaAt(img, x, y);
          s += v;
          s2 += v * v;
          count++;
        }
      }
      return Math.sqrt(s2 / count - (s / count) ** 2);
    };
    expect(spread(out)).toBeLessThan(spread({ data, width: w, height: h, channels: 3 }) / 3);
  });

  it('wobbles a straight edge, more when wet', async () => {
    const image = block(320, 240, [200, 60, 50], [40, 60, 140], [160, 0, 320, 240]);
    const edgeAt = (img: RawImage, y: number): number => {
      // The first column from the left whose blue exceeds its red.
      for (let x = 100; x < 220; x++) {
        const i = (y * img.width + x) * 3;
        if (img.data[i + 2]! > img.data[i]!) return x;
      }
      return -1;
    };
    const spread = (img: RawImage): number => {
      const xs = Array.from({ length: 200 }, (_, k) => edgeAt(img, 20 + k));
      return Math.max(...xs) - Math.min(...xs);
    };
    const wet = await runStep(watercolor, image, { ...flat, wetness: 1 }, { seed: 3 });
    const dry = await runStep(watercolor, image, { ...flat, wetness: 0 }, { seed: 3 });
    expect(spread(wet)).toBeGreaterThan(2);
    expect(spread(wet)).toBeGreaterThan(spread(dry));
  });

  it('handles tiny and grey images', async () => {
    const tiny = await runStep(
      watercolor,
      { data: new Uint8Array([10, 20, 30]), width: 1, height: 1, channels: 3 },
      {},
    );
    expect(tiny.data.length).toBe(3);
    const grey = await runStep(
      watercolor,
      { data: new Uint8Array(80 * 60).fill(100), width: 80, height: 60, channels: 1 },
      {},
    );
    for (let i = 0; i < grey.data.length; i += 3) {
      expect(Math.abs(grey.data[i]! - grey.data[i + 2]!)).toBeLessThanOrEqual(1);
    }
  });
});
