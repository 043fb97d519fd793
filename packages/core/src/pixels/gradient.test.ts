import { describe, expect, it } from 'vitest';
import { gradientMagnitude } from './gradient.ts';

describe('gradientMagnitude', () => {
  it('gives the slope of a ramp in any direction', () => {
    const w = 20;
    const h = 12;
    const ramp = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) ramp[y * w + x] = 0.3 * x + 0.4 * y;
    const g = gradientMagnitude(ramp, w, h);
    for (let y = 1; y < h - 1; y++) for (let x = 1; x < w - 1; x++) expect(g[y * w + x]).toBeCloseTo(0.5, 5);
  });

  it('is zero on a flat plane and peaks on a step, on both sides', () => {
    const w = 16;
    const h = 8;
    const step = new Float32Array(w * h);
    for (let i = 0; i < w * h; i++) step[i] = i % w < 8 ? 0 : 1;
    const g = gradientMagnitude(step, w, h);
    expect(g[3 * w + 2]).toBe(0);
    expect(g[3 * w + 7]).toBeCloseTo(0.5);
    expect(g[3 * w + 8]).toBeCloseTo(0.5);
  });
});
