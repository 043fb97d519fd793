import { describe, expect, it } from 'vitest';
import { paperTexture } from './paper-texture.ts';

function stats(p: Float32Array): { mean: number; sd: number } {
  let s = 0;
  let q = 0;
  for (const v of p) {
    s += v;
    q += v * v;
  }
  const mean = s / p.length;
  return { mean, sd: Math.sqrt(q / p.length - mean * mean) };
}

/** Mean |difference| across the tile's wrap, relative to the mean |difference| of neighbours inside. */
function seamRatio(t: Float32Array, size: number): number {
  let inside = 0;
  let seam = 0;
  for (let i = 0; i < size; i++) {
    inside += Math.abs(t[i * size + 1]! - t[i * size]!) + Math.abs(t[size + i]! - t[i]!);
    seam += Math.abs(t[i * size]! - t[i * size + size - 1]!) + Math.abs(t[i]! - t[(size - 1) * size + i]!);
  }
  return seam / inside;
}

describe('paperTexture', () => {
  it('is a normalised, seamless, seeded tile', () => {
    const a = paperTexture({ size: 128, grain: 2.5, seed: 1 });
    const b = paperTexture({ size: 128, grain: 2.5, seed: 1 });
    const c = paperTexture({ size: 128, grain: 2.5, seed: 2 });
    expect(a.length).toBe(128 * 128);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
    const { mean, sd } = stats(a);
    expect(mean).toBeCloseTo(0, 4);
    expect(sd).toBeCloseTo(1, 3);
    expect(seamRatio(a, 128)).toBeLessThan(1.5);
  });
});
