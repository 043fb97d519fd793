import { describe, expect, it } from 'vitest';
import { planePercentiles } from './levels.ts';

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
});
