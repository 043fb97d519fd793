import { describe, expect, it } from 'vitest';
import { boxRadiiForGaussian, gaussianBlur } from './gaussian-blur.ts';
import { randomPlane } from './test-support.ts';

/** 2-D Gaussian with edge-extended borders, straight from the definition. */
function naiveGaussian(src: Float32Array, w: number, h: number, sigma: number): Float32Array {
  const r = Math.ceil(3 * sigma);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      let norm = 0;
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const k = Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
          const xx = Math.min(w - 1, Math.max(0, x + dx));
          const yy = Math.min(h - 1, Math.max(0, y + dy));
          sum += k * src[yy * w + xx]!;
          norm += k;
        }
      }
      out[y * w + x] = sum / norm;
    }
  }
  return out;
}

describe('gaussianBlur', () => {
  it.each([0.6, 1, 1.7, 2.9])('matches the 2-D definition with an exact kernel (sigma %f)', (sigma) => {
    const w = 29;
    const h = 17;
    const src = randomPlane(w * h, Math.round(sigma * 10));
    const out = gaussianBlur(src, w, h, sigma);
    const ref = naiveGaussian(src, w, h, sigma);
    for (let i = 0; i < w * h; i++) expect(out[i]).toBeCloseTo(ref[i]!, 5);
  });

  it('approximates a large Gaussian with three boxes (interior within 2% of the range)', () => {
    const w = 96;
    const h = 64;
    const src = randomPlane(w * h, 5);
    for (let i = 0; i < w * h; i++) src[i] = i % w < w / 2 ? 0 : 1; // a vertical step
    const out = gaussianBlur(src, w, h, 6);
    const ref = naiveGaussian(src, w, h, 6);
    for (let y = 20; y < h - 20; y++) {
      for (let x = 20; x < w - 20; x++)
        expect(Math.abs(out[y * w + x]! - ref[y * w + x]!)).toBeLessThan(0.02);
    }
  });

  it('keeps a constant plane constant', () => {
    for (const sigma of [0.8, 2, 7]) {
      const out = gaussianBlur(new Float32Array(40 * 30).fill(0.3), 40, 30, sigma);
      for (const v of out) expect(v).toBeCloseTo(0.3, 5);
    }
  });

  it('copies the plane for sigma 0', () => {
    const src = randomPlane(12, 3);
    expect(Array.from(gaussianBlur(src, 4, 3, 0))).toEqual(Array.from(src));
  });
});

describe('boxRadiiForGaussian', () => {
  it.each([3, 5, 8, 20])('gives three boxes whose variance is close to sigma² (sigma %i)', (sigma) => {
    const radii = boxRadiiForGaussian(sigma);
    // A box of width 2r + 1 has variance ((2r + 1)² - 1) / 12.
    const variance = radii.reduce((acc, r) => acc + ((2 * r + 1) ** 2 - 1) / 12, 0);
    expect(Math.abs(Math.sqrt(variance) - sigma) / sigma).toBeLessThan(0.08);
  });
});
