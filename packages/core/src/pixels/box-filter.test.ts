import { describe, expect, it } from 'vitest';
import { boxFilter } from './box-filter.ts';
import { randomPlane } from './test-support.ts';

/** Mean over the window cut to the image, straight from the definition. */
function naiveBox(src: Float32Array, w: number, h: number, r: number): Float32Array {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      let count = 0;
      for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) {
        for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) {
          sum += src[yy * w + xx]!;
          count++;
        }
      }
      out[y * w + x] = sum / count;
    }
  }
  return out;
}

describe('boxFilter', () => {
  it.each([
    [37, 23, 0],
    [37, 23, 1],
    [37, 23, 4],
    [37, 23, 30],
    [5, 61, 7],
    [1, 1, 3],
  ])('equals the naive window mean on random data (%i x %i, r = %i)', (w, h, r) => {
    const src = randomPlane(w * h, w * 131 + h + r);
    const out = boxFilter(src, w, h, r);
    const ref = naiveBox(src, w, h, r);
    for (let i = 0; i < w * h; i++) expect(out[i]).toBeCloseTo(ref[i]!, 5);
  });

  it('keeps a constant plane constant, borders included', () => {
    const src = new Float32Array(20 * 10).fill(0.75);
    const out = boxFilter(src, 20, 10, 6);
    for (const v of out) expect(v).toBeCloseTo(0.75, 6);
  });

  it('may filter in place', () => {
    const src = randomPlane(30 * 20, 9);
    const ref = boxFilter(src, 30, 20, 3);
    boxFilter(src, 30, 20, 3, src);
    expect(Array.from(src)).toEqual(Array.from(ref));
  });

  it('rejects a scratch plane that aliases the output', () => {
    const src = randomPlane(16, 1);
    expect(() => boxFilter(src, 4, 4, 1, src, src)).toThrow(/scratch/);
  });
});
