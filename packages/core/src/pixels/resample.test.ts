import { describe, expect, it } from 'vitest';
import { BilinearUpsampler, downsampleBox, downsampledSize } from './resample.ts';

describe('downsampleBox', () => {
  it('averages each block and splits interleaved channels into planes', () => {
    // 4 x 2 RGB, factor 2: two blocks.
    const src = new Uint8Array([
      0, 10, 100, 2, 12, 102, 40, 0, 0, 60, 0, 0, 4, 14, 104, 6, 16, 106, 80, 0, 0, 100, 0, 0,
    ]);
    const [r, g, b] = downsampleBox(src, 4, 2, 3, 2) as [Float32Array, Float32Array, Float32Array];
    expect(Array.from(r)).toEqual([3, 70]);
    expect(Array.from(g)).toEqual([13, 0]);
    expect(Array.from(b)).toEqual([103, 0]);
  });

  it('averages the pixels it has in blocks cut by the edges', () => {
    const src = new Uint8Array(5 * 3).map((_, i) => i); // 5 x 3 grey, factor 2 -> 3 x 2
    const [plane] = downsampleBox(src, 5, 3, 1, 2) as [Float32Array];
    expect(downsampledSize(5, 3, 2)).toEqual({ width: 3, height: 2 });
    expect(plane[2]).toBeCloseTo((4 + 9) / 2); // right column: x = 4, rows 0-1
    expect(plane[3]).toBeCloseTo((10 + 11) / 2); // bottom row: y = 2, x = 0-1
    expect(plane[5]).toBeCloseTo(14); // the corner pixel alone
  });

  it('only splits and scales at factor 1', () => {
    const src = new Uint8Array([10, 20, 30, 40, 50, 60]);
    const [r, g, b] = downsampleBox(src, 2, 1, 3, 1, 0.5) as [Float32Array, Float32Array, Float32Array];
    expect(Array.from(r)).toEqual([5, 20]);
    expect(Array.from(g)).toEqual([10, 25]);
    expect(Array.from(b)).toEqual([15, 30]);
  });

  it('scales values', () => {
    const [plane] = downsampleBox(new Uint8Array([255, 255, 255, 255]), 2, 2, 1, 2, 1 / 255) as [
      Float32Array,
    ];
    expect(plane[0]).toBeCloseTo(1);
  });
});

describe('BilinearUpsampler', () => {
  it('keeps a constant plane constant', () => {
    const up = new BilinearUpsampler(new Float32Array(12).fill(3), 4, 3, 16, 12, 4);
    const row = new Float32Array(16);
    for (let y = 0; y < 12; y++) {
      up.row(y, row);
      for (const v of row) expect(v).toBeCloseTo(3);
    }
  });

  it('reproduces a linear ramp exactly away from the borders', () => {
    const lw = 8;
    const lh = 6;
    const f = 3;
    const low = new Float32Array(lw * lh);
    // value = 2 * (low x centre) + 5 * (low y centre), in output pixel coordinates.
    for (let j = 0; j < lh; j++) {
      for (let i = 0; i < lw; i++) low[j * lw + i] = 2 * ((i + 0.5) * f - 0.5) + 5 * ((j + 0.5) * f - 0.5);
    }
    const up = new BilinearUpsampler(low, lw, lh, lw * f, lh * f, f);
    const row = new Float32Array(lw * f);
    for (let y = f; y < (lh - 1) * f; y++) {
      up.row(y, row);
      for (let x = f; x < (lw - 1) * f; x++) expect(row[x]).toBeCloseTo(2 * x + 5 * y, 3);
    }
  });

  it('upsamples several planes together exactly as one at a time', () => {
    const a = new Float32Array(20).map((_, i) => (i * 7) % 11);
    const b = new Float32Array(20).map((_, i) => (i * 3) % 5);
    const both = new BilinearUpsampler([a, b], 5, 4, 12, 9, 12 / 5, 9 / 4);
    const onlyB = new BilinearUpsampler(b, 5, 4, 12, 9, 12 / 5, 9 / 4);
    const r1 = new Float32Array(12);
    const r2 = new Float32Array(12);
    for (let y = 0; y < 9; y++) {
      both.row(y, r1, 1);
      onlyB.row(y, r2);
      expect(Array.from(r1)).toEqual(Array.from(r2));
      const t = both.select(y);
      for (let x = 0; x < 12; x++)
        expect(both.upper(1)[x]! + (both.lower(1)[x]! - both.upper(1)[x]!) * t).toBeCloseTo(r2[x]!, 5);
    }
  });

  it('gives the same rows in any order', () => {
    const low = new Float32Array(30).map((_, i) => Math.sin(i));
    const a = new BilinearUpsampler(low, 6, 5, 18, 15, 3);
    const b = new BilinearUpsampler(low, 6, 5, 18, 15, 3);
    const r1 = new Float32Array(18);
    const r2 = new Float32Array(18);
    for (const y of [14, 0, 7, 3, 3, 12]) {
      a.row(y, r1);
      for (let yy = 0; yy <= y; yy++) b.row(yy, r2);
      expect(Array.from(r1)).toEqual(Array.from(r2));
    }
  });
});
