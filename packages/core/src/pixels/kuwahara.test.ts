import { describe, expect, it } from 'vitest';
import { kuwaharaFilter } from './kuwahara.ts';
import { hash32 } from './rng.ts';

function randomImage(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = hash32(seed ^ hash32(i)) & 255;
  return data;
}

/**
 * Straight from the definition: eight square sectors whose centres are turned to the tangent
 * (tx, ty) and rounded to pixels, sums over each clamped sector, no box-filter tricks.
 */
function naiveKuwahara(
  data: Uint8Array,
  w: number,
  h: number,
  r: number,
  q: number,
  tangent: readonly [number, number] = [1, 0],
  anisotropy = 0,
): Uint8Array {
  const out = new Uint8Array(w * h * 3);
  const [tx, ty] = tangent;
  // (along, across, preference)
  const layout = [
    [1, 0, 1 + anisotropy],
    [-1, 0, 1 + anisotropy],
    [0, 1, 1],
    [0, -1, 1],
    [1, 1, 1 + anisotropy / 4],
    [-1, -1, 1 + anisotropy / 4],
    [1, -1, 1 + anisotropy / 4],
    [-1, 1, 1 + anisotropy / 4],
  ] as const;
  const clamp = (v: number, hi: number): number => Math.min(hi, Math.max(0, v));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sw = 0;
      const acc = [0, 0, 0];
      for (const [u, v, pref] of layout) {
        const cx = clamp(x + Math.round(r * (u * tx - v * ty)), w - 1);
        const cy = clamp(y + Math.round(r * (u * ty + v * tx)), h - 1);
        const sum = [0, 0, 0];
        let sq = 0;
        for (let j = -r; j <= r; j++) {
          for (let i = -r; i <= r; i++) {
            const o = (clamp(cy + j, h - 1) * w + clamp(cx + i, w - 1)) * 3;
            for (let c = 0; c < 3; c++) {
              sum[c]! += data[o + c]!;
              sq += data[o + c]! ** 2;
            }
          }
        }
        const area = (2 * r + 1) ** 2;
        const mean = sum.map((s) => s / area);
        const variance = Math.max(0, sq / area - mean[0]! ** 2 - mean[1]! ** 2 - mean[2]! ** 2);
        const wt = pref * (variance + 1) ** -q;
        sw += wt;
        for (let c = 0; c < 3; c++) acc[c]! += wt * mean[c]!;
      }
      for (let c = 0; c < 3; c++) out[(y * w + x) * 3 + c] = Math.round(acc[c]! / sw);
    }
  }
  return out;
}

function maxDifference(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('kuwaharaFilter', () => {
  it.each([
    [1, 4],
    [2, 4],
    [3, 1],
    [4, 2],
  ])('equals the naive filter (radius %i, sharpness %i) on a random image', (radius, sharpness) => {
    const w = 23;
    const h = 17;
    const data = randomImage(w, h, radius * 31 + sharpness);
    const fast = kuwaharaFilter({ data, width: w, height: h, radius, sharpness });
    const slow = naiveKuwahara(data, w, h, radius, sharpness);
    // Float32 means against Float64 sums: at most one step of rounding apart.
    expect(maxDifference(fast, slow)).toBeLessThanOrEqual(1);
  });

  it('equals the naive filter with the sectors turned along a flow', () => {
    const w = 19;
    const h = 14;
    const data = randomImage(w, h, 7);
    const angle = 0.6;
    const tangent = [Math.cos(angle), Math.sin(angle)] as const;
    const flow = {
      tx: new Float32Array([tangent[0]]),
      ty: new Float32Array([tangent[1]]),
      width: 1,
      height: 1,
      factor: 64,
    };
    const fast = kuwaharaFilter({ data, width: w, height: h, radius: 3, flow, anisotropy: 6 });
    expect(maxDifference(fast, naiveKuwahara(data, w, h, 3, 4, tangent, 6))).toBeLessThanOrEqual(1);
    // And it is not the same as the axis-aligned filter.
    expect(maxDifference(fast, naiveKuwahara(data, w, h, 3, 4, [1, 0], 6))).toBeGreaterThan(1);
  });

  it('supports fractional sharpness between the integer ones', () => {
    const w = 16;
    const h = 12;
    const data = randomImage(w, h, 3);
    const lo = kuwaharaFilter({ data, width: w, height: h, radius: 2, sharpness: 2 });
    const mid = kuwaharaFilter({ data, width: w, height: h, radius: 2, sharpness: 2.5 });
    const hi = kuwaharaFilter({ data, width: w, height: h, radius: 2, sharpness: 3 });
    let between = 0;
    for (let i = 0; i < mid.length; i++) {
      if (mid[i]! >= Math.min(lo[i]!, hi[i]!) - 1 && mid[i]! <= Math.max(lo[i]!, hi[i]!) + 1) between++;
    }
    expect(between / mid.length).toBeGreaterThan(0.98);
  });

  it('keeps a flat image flat and a sharp edge sharp', () => {
    const w = 32;
    const h = 16;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) data.fill(x < 16 ? 40 : 200, (y * w + x) * 3, (y * w + x) * 3 + 3);
    }
    const out = kuwaharaFilter({ data, width: w, height: h, radius: 3 });
    expect(maxDifference(out, data)).toBe(0);
  });

  it('handles images smaller than the window', () => {
    const data = randomImage(2, 3, 1);
    const out = kuwaharaFilter({ data, width: 2, height: 3, radius: 5 });
    expect(maxDifference(out, naiveKuwahara(data, 2, 3, 5, 4))).toBeLessThanOrEqual(1);
  });

  it('rejects a buffer of the wrong size', () => {
    expect(() => kuwaharaFilter({ data: new Uint8Array(5), width: 2, height: 2, radius: 1 })).toThrow(
      /width \* height \* 3/,
    );
  });
});

describe('kuwaharaFilter with a signal', () => {
  it('stops with the signal’s reason once it is aborted', () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    const data = new Uint8Array(40 * 30 * 3).fill(100);
    expect(() =>
      kuwaharaFilter({ data, width: 40, height: 30, radius: 3, signal: controller.signal }),
    ).toThrow('cancelled');
  });
});
