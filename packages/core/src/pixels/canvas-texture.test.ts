import { describe, expect, it } from 'vitest';
import { canvasTexture } from './canvas-texture.ts';

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

describe('canvasTexture', () => {
  it('weaves threads of the given width into a seamless tile', () => {
    const { size, heights } = canvasTexture({ threadWidth: 4, threads: 32, seed: 5 });
    expect(size).toBe(128);
    expect(stats(heights).sd).toBeCloseTo(1, 3);
    expect(seamRatio(heights, size)).toBeLessThan(1.5);
    // The weave repeats every two threads (8 px) and is unlike itself half a thread away.
    expect(correlation(heights, size, 8, 0)).toBeGreaterThan(0.5);
    expect(correlation(heights, size, 8, 0)).toBeGreaterThan(correlation(heights, size, 2, 0) + 0.3);
  });
});
