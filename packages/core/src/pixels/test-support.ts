// Shared by the pixel kernels' tests: seeded test planes and the statistics the texture tests
// check. Not exported from the package.
import { hash32 } from './rng.ts';

/** `n` seeded uniform samples in [0, 1). */
export function randomPlane(n: number, seed: number): Float32Array {
  const p = new Float32Array(n);
  for (let i = 0; i < n; i++) p[i] = hash32(seed ^ hash32(i)) / 4294967296;
  return p;
}

/** Left half `low`, right half `high`, plus seeded noise of amplitude `noise`. */
export function noisyStep(
  width: number,
  height: number,
  noise: number,
  seed: number,
  low = 0.2,
  high = 0.8,
): Float32Array {
  const p = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const n = (hash32(seed ^ hash32(y * width + x)) / 4294967296 - 0.5) * 2 * noise;
      p[y * width + x] = (x < width / 2 ? low : high) + n;
    }
  }
  return p;
}

/** Mean and standard deviation of a plane. */
export function stats(p: Float32Array): { mean: number; sd: number } {
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
export function seamRatio(t: Float32Array, size: number): number {
  let inside = 0;
  let seam = 0;
  for (let i = 0; i < size; i++) {
    inside += Math.abs(t[i * size + 1]! - t[i * size]!) + Math.abs(t[size + i]! - t[i]!);
    seam += Math.abs(t[i * size]! - t[i * size + size - 1]!) + Math.abs(t[i]! - t[(size - 1) * size + i]!);
  }
  return seam / inside;
}

/** Correlation of a tile with itself shifted by (dx, dy), wrapping. */
export function correlation(t: Float32Array, size: number, dx: number, dy: number): number {
  let s = 0;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++)
      s += t[y * size + x]! * t[((y + dy + size) % size) * size + ((x + dx + size) % size)]!;
  }
  return s / (size * size);
}
