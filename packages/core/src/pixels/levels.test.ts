import { describe, expect, it } from 'vitest';
import { planePercentiles, smoothHistogram } from './levels.ts';

describe('planePercentiles', () => {
  it('finds the bins where the cumulative share is reached', () => {
    const plane = new Float32Array(100).map((_, i) => i / 99); // 0..1 evenly
    const [p1, p50, p99] = planePercentiles(plane, 255, [0.01, 0.5, 0.99]) as [number, number, number];
    expect(p1).toBeLessThanOrEqual(3);
    expect(Math.abs(p50 - 127)).toBeLessThanOrEqual(3);
    expect(p99).toBeGreaterThanOrEqual(250);
  });

  it('clamps values outside 0..255 after scaling', () => {
    const [lo, hi] = planePercentiles(new Uint8Array([0, 255]), 2, [0, 1]) as [number, number];
    expect(lo).toBe(0);
    expect(hi).toBe(255);
  });

  it('samples every stride-th value', () => {
    // Even indices 0, odd indices 255: a stride of 2 sees only zeros.
    const plane = new Uint8Array(100).map((_, i) => (i % 2 === 0 ? 0 : 255));
    expect(planePercentiles(plane, 1, [0.99], 2)).toEqual([0]);
    expect(planePercentiles(plane, 1, [0.99], 1)).toEqual([255]);
  });

  it('counts planes longer than one chunk like a single pass', () => {
    const n = 50_001;
    const plane = new Float32Array(n).map((_, i) => ((i * 7919) % 1000) / 999);
    const quantiles = [0.01, 0.25, 0.5, 0.75, 0.99];
    for (const stride of [1, 3]) {
      const hist = new Array<number>(256).fill(0);
      let count = 0;
      for (let i = 0; i < n; i += stride, count++) hist[Math.min(255, Math.floor(plane[i]! * 255))]!++;
      const naive = quantiles.map((q) => {
        let acc = 0;
        return hist.findIndex((c) => (acc += c) >= q * count && acc > 0);
      });
      expect(planePercentiles(plane, 255, quantiles, stride)).toEqual(naive);
    }
  });
});

describe('smoothHistogram', () => {
  /** Two passes of a zero-padded box of radius r, straight from the definition. */
  function naive(counts: number[], r: number): number[] {
    let a = counts;
    for (let pass = 0; pass < 2; pass++) {
      a = a.map((_, i) => {
        let s = 0;
        for (let k = i - r; k <= i + r; k++) s += a[k] ?? 0;
        return s / (2 * r + 1);
      });
    }
    return a;
  }

  it('is two zero-padded box passes', () => {
    const counts = [0, 5, 9, 0, 0, 40, 3, 3, 3, 0, 1, 0, 0, 7];
    for (const r of [0, 1, 2, 3]) {
      const out = smoothHistogram(Int32Array.from(counts), r);
      naive(counts, r).forEach((v, i) => expect(out[i]).toBeCloseTo(v, 9));
    }
  });

  it('keeps a flat interior flat and spreads a peak into a triangle', () => {
    const flat = smoothHistogram(new Array<number>(50).fill(6), 4);
    for (let i = 8; i < 42; i++) expect(flat[i]).toBeCloseTo(6, 9);
    const spike = new Array<number>(21).fill(0);
    spike[10] = 81;
    const out = smoothHistogram(spike, 4);
    expect(out[10]).toBeCloseTo(9, 9);
    expect(out[6]).toBeCloseTo(5, 9);
    expect(out[1]).toBeCloseTo(0, 9);
    expect(out.reduce((a, b) => a + b, 0)).toBeCloseTo(81, 9);
  });
});
