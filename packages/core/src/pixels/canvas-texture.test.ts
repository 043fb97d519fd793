import { describe, expect, it } from 'vitest';
import { canvasTexture } from './canvas-texture.ts';
import { correlation, seamRatio, stats } from './test-support.ts';

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
