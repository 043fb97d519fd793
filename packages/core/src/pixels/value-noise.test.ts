import { describe, expect, it } from 'vitest';
import { tileableNoise, valueNoise } from './value-noise.ts';

describe('valueNoise', () => {
  it('is deterministic, depends on the seed, and stays within [-1, 1]', () => {
    const a = valueNoise({ width: 64, height: 40, cell: 8, seed: 7, octaves: 3 });
    const b = valueNoise({ width: 64, height: 40, cell: 8, seed: 7, octaves: 3 });
    const c = valueNoise({ width: 64, height: 40, cell: 8, seed: 8, octaves: 3 });
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
    let sum = 0;
    for (const v of a) {
      expect(Math.abs(v)).toBeLessThanOrEqual(1);
      sum += v;
    }
    expect(Math.abs(sum / a.length)).toBeLessThan(0.25);
  });

  it('is smooth at the scale of the cell', () => {
    const n = valueNoise({ width: 200, height: 1, cell: 20, seed: 1 });
    let maxStep = 0;
    for (let x = 1; x < 200; x++) maxStep = Math.max(maxStep, Math.abs(n[x]! - n[x - 1]!));
    // Blending two lattice values 20 px apart with a smoothstep: at most 1.5 * 2 / 20 per pixel.
    expect(maxStep).toBeLessThan(0.16);
  });

  it('depends only on absolute positions, so pieces of one plane join without seams', () => {
    const whole = valueNoise({ width: 48, height: 30, cell: 7, seed: 3, octaves: 2 });
    const piece = valueNoise({ width: 20, height: 10, cell: 7, seed: 3, octaves: 2, x0: 13, y0: 17 });
    for (let y = 0; y < 10; y++) {
      for (let x = 0; x < 20; x++) expect(piece[y * 20 + x]).toBeCloseTo(whole[(y + 17) * 48 + x + 13]!, 6);
    }
  });
});

describe('tileableNoise', () => {
  it('wraps around seamlessly', () => {
    const size = 64;
    const t = tileableNoise({ size, periods: [16, 5], amplitudes: [0.6, 0.4], seed: 9 });
    let inside = 0;
    let seamX = 0;
    let seamY = 0;
    for (let i = 0; i < size; i++) {
      inside += Math.abs(t[i * size + 1]! - t[i * size]!);
      seamX += Math.abs(t[i * size]! - t[i * size + size - 1]!);
      seamY += Math.abs(t[i]! - t[(size - 1) * size + i]!);
    }
    expect(seamX).toBeLessThan(inside * 1.6);
    expect(seamY).toBeLessThan(inside * 1.6);
  });
});
