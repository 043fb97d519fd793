import { describe, expect, it } from 'vitest';
import { strokeTextures } from './stroke-texture.ts';

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

/** Correlation of a tile with itself shifted by (dx, dy), wrapping. */
function correlation(t: Float32Array, size: number, dx: number, dy: number): number {
  let s = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++)
      s += t[y * size + x]! * t[((y + dy + size) % size) * size + ((x + dx + size) % size)]!;
  }
  return s / (size * size);
}

describe('strokeTextures', () => {
  const size = 96;
  const bins = 12;
  const t = strokeTextures({ size, bins, length: 20, width: 7, seed: 3 });
  const tile = (k: number): Float32Array => t.heights.subarray(k * size * size, (k + 1) * size * size);

  it('makes one normalised, seamless tile per direction', () => {
    expect(t.heights.length).toBe(bins * size * size);
    for (let k = 0; k < bins; k++) {
      const { mean, sd } = stats(tile(k));
      expect(mean).toBeCloseTo(0, 3);
      expect(sd).toBeCloseTo(1, 3);
      expect(seamRatio(tile(k), size)).toBeLessThan(1.6);
    }
  });

  it('streaks along the tile direction', () => {
    // Tile 0: horizontal strokes; tile bins/2: vertical ones.
    expect(correlation(tile(0), size, 4, 0)).toBeGreaterThan(correlation(tile(0), size, 0, 4) + 0.2);
    const v = tile(bins / 2);
    expect(correlation(v, size, 0, 4)).toBeGreaterThan(correlation(v, size, 4, 0) + 0.2);
  });

  it('has the same strokes in every tile, turned, so neighbouring directions blend smoothly', () => {
    const near = correlation2(tile(0), tile(1));
    const far = correlation2(tile(0), tile(bins / 2));
    expect(near).toBeGreaterThan(far + 0.1);
  });
});

function correlation2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s / a.length;
}
