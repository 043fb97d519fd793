import { runStep } from '@atelier/core';
import { describe, expect, it } from 'vitest';
import { expectDescribedParams, expectSeeded, lumaAt, photo } from '../test-support.ts';
import { watercolor } from './watercolor.plugin.ts';

describe('watercolor', () => {
  it('declares bounded, described, defaulted parameters', () => {
    expect(watercolor.id).toBe('watercolor');
    expect(watercolor.kind).toBe('style');
    expectDescribedParams(watercolor, { bounded: true });
    expect(() => watercolor.params.parse({ paper: -0.1 })).toThrow();
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
    const kept = await runStep(watercolor, image, {}, { seed: 9 });
    expect(Buffer.from(afresh.data).equals(Buffer.from(first.data))).toBe(true);
    expect(Buffer.from(kept.data).equals(Buffer.from(first.data))).toBe(true);
  });

  it('darkens the rim of a wash where it meets the paper, and leaves white paper light', async () => {
    const w = 240;
    const h = 160;
    const data = new Uint8Array(w * h * 3).fill(250);
    for (let y = 40; y < 120; y++) {
      for (let x = 60; x < 180; x++) data.set([90, 140, 200], (y * w + x) * 3);
    }
    const out = await runStep(
      watercolor,
      { data, width: w, height: h, channels: 3 },
      { paper: 0, granulation: 0, bleeding: 0 },
    );
    const mean = (x0: number, x1: number, y: number): number => {
      let s = 0;
      for (let x = x0; x < x1; x++) s += lumaAt(out, x, y);
      return s / (x1 - x0);
    };
    const rim = Math.max(mean(60, 63, 80), mean(177, 180, 80));
    const middle = mean(110, 130, 80);
    expect(rim).toBeLessThan(middle - 4);
    expect(mean(5, 40, 80)).toBeGreaterThan(235);
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
