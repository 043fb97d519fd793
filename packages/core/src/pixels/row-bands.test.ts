import { describe, expect, it } from 'vitest';
import { kuwaharaFilter } from './kuwahara.ts';
import { hash32 } from './rng.ts';
import { rowBands } from './row-bands.ts';

describe('rowBands', () => {
  it('is one band without margin when the image fits', () => {
    expect(rowBands({ width: 100, height: 50, halo: 10, maxPixels: 5000 })).toEqual([
      { y0: 0, y1: 50, top: 0, bottom: 50 },
    ]);
  });

  it('covers every row once, with aligned starts and margins cut to the image', () => {
    const bands = rowBands({ width: 10, height: 103, halo: 5, maxPixels: 400, align: 4 });
    expect(bands.length).toBeGreaterThan(1);
    let next = 0;
    for (const b of bands) {
      expect(b.y0).toBe(next);
      expect(b.y0 % 4).toBe(0);
      expect(b.top).toBe(Math.max(0, b.y0 - 8)); // halo rounded up to the alignment
      expect(b.bottom).toBe(Math.min(103, b.y1 + 8));
      expect((b.bottom - b.top) * 10).toBeLessThanOrEqual(400);
      next = b.y1;
    }
    expect(next).toBe(103);
  });

  it('gives the whole-image result for a local filter run band by band', () => {
    const w = 31;
    const h = 57;
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++) data[i] = hash32(i) & 255;
    const radius = 2;
    const whole = kuwaharaFilter({ data, width: w, height: h, radius });
    // The Kuwahara filter reads r√2 + r rows away.
    const out = new Uint8Array(w * h * 3);
    for (const b of rowBands({ width: w, height: h, halo: 6, maxPixels: w * 20 })) {
      const rows = b.bottom - b.top;
      const part = kuwaharaFilter({
        data: data.subarray(b.top * w * 3, b.bottom * w * 3),
        width: w,
        height: rows,
        radius,
      });
      out.set(part.subarray((b.y0 - b.top) * w * 3, (b.y1 - b.top) * w * 3), b.y0 * w * 3);
    }
    expect(Buffer.from(out).equals(Buffer.from(whole))).toBe(true);
  });
});
