import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { setBandRunner } from '../parallel/bands.ts';
import { backwardsRunner } from '../parallel/test-support.ts';
import type { RawImage } from '../plugin.ts';
import { gradientMagnitude } from './gradient.ts';
import { inkTable, paperLevels, pencilLines } from './pencil-lines.ts';

const factory = (image?: RawImage) =>
  sharp(image!.data, { raw: { width: image!.width, height: image!.height, channels: image!.channels } });

describe('pencilLines', () => {
  it('draws a dark line and a contour, and nothing on flat paper', async () => {
    const [w, h] = [64, 48];
    // Light grey, a dark vertical line at x = 16, and a step to mid grey from x = 40.
    const grey = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) grey[y * w + x] = x === 16 ? 40 : x >= 40 ? 120 : 220;
    }
    const { lines, surround } = await pencilLines({
      sharp: factory,
      grey,
      width: w,
      height: h,
      softness: 0.2,
      unit: 1,
      signal: new AbortController().signal,
    });
    const at = (x: number): number => lines[24 * w + x]!;
    expect(at(16)).toBeGreaterThan(0.2);
    expect(at(40)).toBeGreaterThan(0.05);
    expect(at(4)).toBeLessThanOrEqual(0.01);
    expect(at(28)).toBeLessThanOrEqual(0.01);
    expect(at(56)).toBeLessThanOrEqual(0.01);
    // The surround is the blurred luma, 0..255.
    expect(surround[24 * w + 4]).toBeCloseTo(220, 0);
  });

  it('gives the DoG-or-gradient field to the bit, in any split of bands', async () => {
    const [w, h] = [97, 61];
    // Texture, a disc and a few lines: every pixel has a gradient and a DoG of its own.
    const grey = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const disc = (x - 40) ** 2 + (y - 30) ** 2 < 300 ? 90 : 0;
        grey[y * w + x] = (((x * 37 + y * 91) ^ (x * y)) & 63) + 100 - disc + (x % 13 === 0 ? 60 : 0);
      }
    }
    const args = {
      sharp: factory,
      grey,
      width: w,
      height: h,
      softness: 0.4,
      unit: 1.3,
      signal: new AbortController().signal,
    };
    const alone = await pencilLines(args);
    // The field as gradientMagnitude and the DoG give it, whole planes at a time.
    const sigma = (0.5 + 1.2 * 0.4) * 1.3;
    const { surround: near } = await pencilLines({ ...args, unit: sigma / 2.5 / (0.5 + 1.2 * 0.4) });
    const gradient = gradientMagnitude(near, w, h);
    const expected = new Float32Array(w * h);
    for (let i = 0; i < w * h; i++) {
      const f = alone.surround[i]!;
      const dog = (f - near[i]!) / (f + 40);
      const edge = (0.3 * sigma * gradient[i]!) / (near[i]! + 40) - 0.04;
      expected[i] = Math.max(dog, edge);
    }
    expect(Buffer.from(alone.lines.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
    // Bands run last to first, on runners that claim 2, 3 and 7 threads (band counts vary).
    for (const threads of [2, 3, 7]) {
      const previous = setBandRunner(backwardsRunner(threads));
      try {
        const banded = await pencilLines(args);
        expect(Buffer.from(banded.lines.buffer).equals(Buffer.from(alone.lines.buffer))).toBe(true);
        expect(Buffer.from(banded.surround.buffer).equals(Buffer.from(alone.surround.buffer))).toBe(true);
      } finally {
        setBandRunner(previous);
      }
    }
  });

  it('stops when the signal is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const run = pencilLines({
      sharp: factory,
      grey: new Uint8Array(16 * 16).fill(128),
      width: 16,
      height: 16,
      softness: 0.5,
      unit: 1,
      signal: controller.signal,
    });
    await expect(run).rejects.toThrow();
  });
});

describe('inkTable', () => {
  it('leaves paper bare for faint lines and saturates at 1 - max', () => {
    const ink = inkTable(0.5, 0.8);
    expect(ink.length).toBe(1024);
    expect(ink[0]).toBe(1);
    expect(ink[1023]).toBeCloseTo(0.2, 2);
    for (let i = 1; i < 1024; i++) expect(ink[i]!).toBeLessThanOrEqual(ink[i - 1]!);
    // More darkness, darker at the same line strength.
    expect(inkTable(1, 0.8)[100]!).toBeLessThan(inkTable(0, 0.8)[100]!);
  });
});

describe('paperLevels', () => {
  it('stretches a dark photo partway and lifts its median toward a light grey', () => {
    const dark = new Float32Array(1000).map((_, i) => 0.05 + (0.3 * i) / 999);
    const { black, range, key } = paperLevels(dark, 255);
    expect(black).toBeCloseTo((0.6 * 13) / 255, 2);
    expect(black + range).toBeLessThan(1);
    expect(range).toBeGreaterThanOrEqual(0.05);
    // key < 1 brightens the mid tones.
    expect(key).toBeLessThan(1);
    const median = Math.min(1, Math.max(0, (0.2 - black) / range)) ** key;
    expect(median).toBeGreaterThan((0.2 - black) / range);
  });
});
