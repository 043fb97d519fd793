import { runStep } from '@atelier/core';
import { describe, expect, it } from 'vitest';
import { expectDescribedParams, expectSeeded, lumaAt, photo } from '../test-support.ts';
import { oilPainting } from './oil-painting.plugin.ts';

describe('oil-painting', () => {
  it('declares bounded, described, defaulted parameters', () => {
    expect(oilPainting.id).toBe('oil-painting');
    expect(oilPainting.kind).toBe('style');
    expectDescribedParams(oilPainting, { bounded: true });
    expect(() => oilPainting.params.parse({ brushSize: 0 })).toThrow();
    expect(() => oilPainting.params.parse({ impasto: 2 })).toThrow();
  });

  it('keeps the size, gives the same bytes for the same input and seed, and other bytes for another seed', async () => {
    const image = await photo('coffee.png', { width: 300 });
    const a = await expectSeeded(oilPainting, image, 11);
    expect([a.width, a.height, a.channels]).toEqual([image.width, image.height, 3]);
  });

  it('flattens texture into dabs but keeps a hard edge hard, without halos', async () => {
    const w = 200;
    const h = 120;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const noise = ((x * 7919 + y * 104729) % 23) - 11;
        data.fill((x < 100 ? 60 : 200) + noise, (y * w + x) * 3, (y * w + x) * 3 + 3);
      }
    }
    const flat = await runStep(
      oilPainting,
      { data, width: w, height: h, channels: 3 },
      { impasto: 0, canvas: 0, saturation: 1 },
    );
    // The edge stays within a couple of pixels...
    expect(lumaAt(flat, 96, 60)).toBeLessThan(80);
    expect(lumaAt(flat, 104, 60)).toBeGreaterThan(180);
    // ...with no overshoot either side, and the noise is mostly gone.
    let lo = 255;
    let hi = 0;
    let spread = 0;
    for (let x = 10; x < 90; x++) {
      const v = lumaAt(flat, x, 60);
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    for (let y = 10; y < 110; y++) spread = Math.max(spread, Math.abs(lumaAt(flat, 150, y) - 200));
    expect(lo).toBeGreaterThan(45);
    expect(hi).toBeLessThan(75);
    expect(spread).toBeLessThan(8);
  });

  it('handles tiny and grey images', async () => {
    const tiny = await runStep(
      oilPainting,
      { data: new Uint8Array([10, 20, 30, 200, 100, 50]), width: 2, height: 1, channels: 3 },
      {},
    );
    expect(tiny.data.length).toBe(6);
    const grey = await runStep(
      oilPainting,
      { data: new Uint8Array(64 * 48).fill(128), width: 64, height: 48, channels: 1 },
      {},
    );
    expect(grey.channels).toBe(3);
    // A flat grey stays grey (no colour cast) and on average at its level; brush marks and
    // canvas light it up and down a little.
    let sum = 0;
    for (let i = 0; i < grey.data.length; i += 3) {
      expect(Math.abs(grey.data[i]! - grey.data[i + 1]!)).toBeLessThanOrEqual(1);
      expect(Math.abs(grey.data[i]! - 128)).toBeLessThan(48);
      sum += grey.data[i]!;
    }
    expect(Math.abs(sum / (64 * 48) - 128)).toBeLessThan(6);
  });
});
