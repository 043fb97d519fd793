import { runBands, runStep } from '@atelier/core';
import type { RawImage } from '@atelier/core';
import { describe, expect, it } from 'vitest';
import { expectDescribedParams, expectSeeded, lumaAt, photo } from '../test-support.ts';
import { CANDIDATES, STRIDE, paintBand, slopeSizes } from './watercolor.bands.ts';
import type { PaintArgs } from './watercolor.bands.ts';
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

  it('paints far from every boundary without the slopes, to the same bytes as with them', () => {
    // A working-size field of smooth colours with steep and gentle slopes, painted once with the
    // slopes' sizes (the fast path where they prove no boundary near) and once with sizes of
    // Infinity (never proven: the slopes everywhere). At working size and upsampled twice.
    let state = 12345;
    const random = (): number => ((state = Math.imul(state, 1103515245) + 12345) >>> 8) / 2 ** 24;
    const palette = Float32Array.from({ length: 8 * 3 }, random);
    for (const factor of [1, 2]) {
      const lw = 96;
      const lh = 64;
      const colour = (x: number, y: number, c: number): number =>
        0.5 + 0.45 * Math.sin(x / (7 + 5 * c) + Math.cos(y / (9 - 2 * c)) * (1 + c) + (x > 50 ? 1.5 : 0));
      const field = new Float32Array(lw * lh * STRIDE);
      for (let y = 0; y < lh; y++) {
        for (let x = 0; x < lw; x++) {
          const o = (y * lw + x) * STRIDE;
          for (let c = 0; c < 3; c++) {
            field[o + c] = colour(x, y, c);
            field[o + 3 + c] = (colour(x + 1, y, c) - colour(x - 1, y, c)) / 2;
            field[o + 6 + c] = (colour(x, y + 1, c) - colour(x, y - 1, c)) / 2;
          }
          field[o + 11] = random() - 0.5;
          field[o + 12] = random();
          // The palette colours nearest to this one, as offsets.
          const nearest = [...Array(8).keys()]
            .map((q) => [
              q * 3,
              [0, 1, 2].reduce((d, c) => d + (field[o + c]! - palette[q * 3 + c]!) ** 2, 0),
            ])
            .sort((a, b) => a[1]! - b[1]!);
          for (let k = 0; k < CANDIDATES; k++) field[o + 13 + k] = nearest[k]![0]!;
        }
      }
      const width = lw * factor;
      const height = lh * factor;
      const tile = (size: number): Float32Array =>
        Float32Array.from({ length: size * size }, () => random() - 0.5);
      const args = (out: Uint8Array): PaintArgs => ({
        out,
        width,
        height,
        lw,
        lh,
        factor,
        field,
        palette,
        washes: palette.map((v) => 0.2 + 0.8 * v),
        whiteOf: palette.map((_, i) => (i === 3 ? 1 : 0)),
        paper,
        paperSize: 32,
        hollow: paper.map(Math.abs),
        previewScale: 1,
        relief: paper,
        grain,
        grainSize: 16,
        wobbleX: wobble,
        wobbleY: wobble.map((v) => -v),
        wobble: 1.4 * factor,
        px: factor,
        hardWidth: 0.6 + 0.25 * factor,
        wetWidth: 4.5 * factor,
        rimWidth: 0.9 * factor + 0.6,
        wetBias: 0.25,
        kEdge: 1,
        kGran: 0.2,
        kRelief: 0.04,
        kPaper: 0.03,
      });
      const paper = tile(32);
      const grain = tile(16);
      const wobble = Float32Array.from({ length: lw * lh }, () => random() - 0.5);
      slopeSizes(field, 0, lw * lh);
      const fast = new Uint8Array(width * height * 3);
      runBands(paintBand, args(fast), height);
      for (let o = 9; o < field.length; o += STRIDE) field[o] = Infinity;
      const exact = new Uint8Array(width * height * 3);
      runBands(paintBand, args(exact), height);
      expect(Buffer.from(fast).equals(Buffer.from(exact))).toBe(true);
      // Boundaries matter here: taking every pixel as far from them (sizes of 0) paints otherwise.
      for (let o = 9; o < field.length; o += STRIDE) field[o] = 0;
      const blind = new Uint8Array(width * height * 3);
      runBands(paintBand, args(blind), height);
      expect(Buffer.from(blind).equals(Buffer.from(exact))).toBe(false);
    }
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
