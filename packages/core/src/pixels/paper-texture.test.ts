import { describe, expect, it } from 'vitest';
import { paperTexture } from './paper-texture.ts';
import { seamRatio, stats } from './test-support.ts';

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
