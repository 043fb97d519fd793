import { describe, expect, it } from 'vitest';
import { embossPlane } from './emboss.ts';

describe('embossPlane', () => {
  it('lights faces turned to the light and leaves flat ground at 0', () => {
    const w = 9;
    const h = 9;
    // A ramp that rises away from the top left (like the far side of a valley) is turned to a
    // light from the top left.
    const ramp = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) ramp[y * w + x] = x + y;
    const lit = embossPlane({ heights: ramp, width: w, height: h });
    expect(lit[4 * w + 4]!).toBeCloseTo(Math.SQRT2, 5);
    const shaded = embossPlane({ heights: ramp, width: w, height: h, azimuth: Math.PI / 4 });
    expect(shaded[4 * w + 4]!).toBeCloseTo(-Math.SQRT2, 5);
    const flat = embossPlane({ heights: new Float32Array(w * h).fill(3), width: w, height: h });
    expect(Math.max(...flat.map(Math.abs))).toBe(0);
  });

  it('wraps tiles around and repeats image edges', () => {
    const w = 4;
    const heights = Float32Array.from([0, 0, 0, 1]);
    const wrapped = embossPlane({ heights, width: w, height: 1, azimuth: Math.PI, wrap: true });
    // Light from the left: x = 0 sees the step down from x = 3 across the wrap.
    expect(wrapped[0]!).toBeCloseTo(-0.5, 6);
    const clamped = embossPlane({ heights, width: w, height: 1, azimuth: Math.PI });
    expect(clamped[0]!).toBeCloseTo(0, 9);
  });
});
