import { describe, expect, it } from 'vitest';
import { pencilStrokes } from './pencil-strokes.ts';

const base = { width: 160, height: 120, seed: 1, length: 20, coverage: 0.5 } as const;

function mean(p: Uint8Array, x0: number, x1: number, y0: number, y1: number, w: number): number {
  let s = 0;
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) s += p[y * w + x]!;
  return s / ((x1 - x0) * (y1 - y0));
}

describe('pencilStrokes', () => {
  it('is deterministic and depends on the seed', () => {
    const a = pencilStrokes({ ...base, angle: 45 });
    const b = pencilStrokes({ ...base, angle: 45 });
    const c = pencilStrokes({ ...base, angle: 45, seed: 2 });
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it.each([0, 45, 90, 135] as const)('draws straight strokes along the angle (%i°)', (angle) => {
    const w = 40;
    const p = pencilStrokes({ width: w, height: 40, seed: 5, angle, length: 12, coverage: 0.02, taper: 1 });
    const [dx, dy] = { 0: [1, 0], 45: [1, -1], 90: [0, 1], 135: [1, 1] }[angle];
    // Marked pixels mostly continue along the direction.
    let marked = 0;
    let continued = 0;
    for (let y = 1; y < 39; y++) {
      for (let x = 1; x < 39; x++) {
        if (p[y * w + x] === 0) continue;
        marked++;
        if (p[(y + dy!) * w + x + dx!]! > 0 || p[(y - dy!) * w + x - dx!]! > 0) continued++;
      }
    }
    expect(marked).toBeGreaterThan(0);
    expect(continued / marked).toBeGreaterThan(0.9);
  });

  it('covers about the requested share, evenly up to the borders', () => {
    const w = 240;
    const h = 240;
    const p = pencilStrokes({ width: w, height: h, seed: 3, angle: 45, length: 30, coverage: 0.4 });
    let covered = 0;
    for (const v of p) if (v > 0) covered++;
    expect(covered / p.length).toBeGreaterThan(0.25);
    expect(covered / p.length).toBeLessThan(0.6);
    const centre = mean(p, 80, 160, 80, 160, w);
    for (const border of [
      mean(p, 0, 30, 0, h, w),
      mean(p, w - 30, w, 0, h, w),
      mean(p, 0, w, 0, 30, w),
      mean(p, 0, w, h - 30, h, w),
    ]) {
      expect(Math.abs(border - centre) / centre).toBeLessThan(0.25);
    }
  });

  it('draws nothing at coverage 0', () => {
    expect(pencilStrokes({ ...base, angle: 0, coverage: 0 }).every((v) => v === 0)).toBe(true);
  });

  it('keeps long tapers exact (wider sums) and fades each end', () => {
    const w = 200;
    const h = 40;
    const p = pencilStrokes({
      width: w,
      height: h,
      seed: 4,
      angle: 0,
      length: 120,
      coverage: 0.05,
      taper: 30,
    });
    // Along each row values rise and fall gradually: no jump larger than a few ramp steps.
    let maxJump = 0;
    for (let y = 0; y < h; y++) {
      for (let x = 1; x < w; x++) maxJump = Math.max(maxJump, Math.abs(p[y * w + x]! - p[y * w + x - 1]!));
    }
    expect(Math.max(...p)).toBeGreaterThan(50);
    expect(maxJump).toBeLessThanOrEqual(4 * Math.ceil(255 / 30));
  });
});
