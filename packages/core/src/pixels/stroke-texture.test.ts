import { describe, expect, it } from 'vitest';
import { strokeTextures } from './stroke-texture.ts';
import { correlation, seamRatio, stats } from './test-support.ts';

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

  it('records the stroke on top of each pixel, near its centre, without changing the heights', () => {
    const o = strokeTextures({ size, bins, length: 20, width: 7, seed: 3, owners: true });
    expect(Buffer.from(o.heights.buffer).equals(Buffer.from(t.heights.buffer))).toBe(true);
    const { owner, x, y, jitter } = o.owners!;
    expect(owner.length).toBe(bins * size * size);
    expect(jitter.length).toBe(2 * x.length);
    let covered = 0;
    for (let k = 0; k < bins; k++) {
      for (let p = 0; p < size * size; p++) {
        const id = owner[k * size * size + p]!;
        if (id === 0) continue;
        covered++;
        // Within half a stroke length of the owner's centre, across the tile's wrap.
        let dx = Math.abs((p % size) + 0.5 - x[id - 1]!);
        let dy = Math.abs(Math.floor(p / size) + 0.5 - y[id - 1]!);
        dx = Math.min(dx, size - dx);
        dy = Math.min(dy, size - dy);
        expect(Math.hypot(dx, dy)).toBeLessThan(0.5 * 20 * 1.3 + 1);
      }
    }
    // Most of the canvas is under some stroke, and neighbouring pixels mostly share one.
    expect(covered / (bins * size * size)).toBeGreaterThan(0.7);
    let same = 0;
    for (let p = 0; p < size * size - 1; p++) if (owner[p] === owner[p + 1]) same++;
    expect(same / (size * size)).toBeGreaterThan(0.7);
    expect(() => strokeTextures({ size: 512, bins: 1, length: 2, width: 1, seed: 1, owners: true })).toThrow(
      RangeError,
    );
  });
});

function correlation2(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s / a.length;
}
