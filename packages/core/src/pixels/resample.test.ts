import { describe, expect, it } from 'vitest';
import { setBandRunner, toShared } from '../parallel/bands.ts';
import { backwardsRunner } from '../parallel/test-support.ts';
import type { RawImage } from '../plugin.ts';
import {
  BilinearUpsampler,
  FIXED_MAX,
  FIXED_SCALE,
  downsampleArea,
  downsampleBox,
  downsampledSize,
} from './resample.ts';
import { randomPlane } from './test-support.ts';

describe('downsampleBox', () => {
  it('averages each block and splits interleaved channels into planes', () => {
    // 4 x 2 RGB, factor 2: two blocks.
    const src = new Uint8Array([
      0, 10, 100, 2, 12, 102, 40, 0, 0, 60, 0, 0, 4, 14, 104, 6, 16, 106, 80, 0, 0, 100, 0, 0,
    ]);
    const [r, g, b] = downsampleBox(src, 4, 2, 3, 2) as [Float32Array, Float32Array, Float32Array];
    expect(Array.from(r)).toEqual([3, 70]);
    expect(Array.from(g)).toEqual([13, 0]);
    expect(Array.from(b)).toEqual([103, 0]);
  });

  it('averages the pixels it has in blocks cut by the edges', () => {
    const src = new Uint8Array(5 * 3).map((_, i) => i); // 5 x 3 grey, factor 2 -> 3 x 2
    const [plane] = downsampleBox(src, 5, 3, 1, 2) as [Float32Array];
    expect(downsampledSize(5, 3, 2)).toEqual({ width: 3, height: 2 });
    expect(plane[2]).toBeCloseTo((4 + 9) / 2); // right column: x = 4, rows 0-1
    expect(plane[3]).toBeCloseTo((10 + 11) / 2); // bottom row: y = 2, x = 0-1
    expect(plane[5]).toBeCloseTo(14); // the corner pixel alone
  });

  it('writes into the planes it is given (all of the result, whatever they held), and makes new ones for planes too small', () => {
    const src = new Uint8Array(5 * 3 * 3).map((_, i) => (i * 7) % 256); // 5 x 3 RGB, factor 2 -> 3 x 2
    const expected = downsampleBox(src, 5, 3, 3, 2);
    const kept = [new Float32Array(8).fill(99), new Float32Array(6).fill(-1), new Float32Array(2)];
    const planes = downsampleBox(src, 5, 3, 3, 2, 1, kept);
    expect(planes.map((p) => Array.from(p))).toEqual(expected.map((p) => Array.from(p)));
    // The first two are views of the given planes (the first's last two samples untouched); the
    // third was too small and is a new plane.
    expect(planes[0]!.buffer).toBe(kept[0]!.buffer);
    expect(planes[0]!.length).toBe(6);
    expect(Array.from(kept[0]!.subarray(6))).toEqual([99, 99]);
    expect(planes[1]!.buffer).toBe(kept[1]!.buffer);
    expect(planes[2]!.buffer).not.toBe(kept[2]!.buffer);
    // At factor 1 too (the split-only path).
    const again = downsampleBox(src, 5, 3, 3, 1, 1 / 255, [new Float32Array(15).fill(7)]);
    expect(Array.from(again[0]!)).toEqual(Array.from(downsampleBox(src, 5, 3, 3, 1, 1 / 255)[0]!));
  });

  it('only splits and scales at factor 1', () => {
    const src = new Uint8Array([10, 20, 30, 40, 50, 60]);
    const [r, g, b] = downsampleBox(src, 2, 1, 3, 1, 0.5) as [Float32Array, Float32Array, Float32Array];
    expect(Array.from(r)).toEqual([5, 20]);
    expect(Array.from(g)).toEqual([10, 25]);
    expect(Array.from(b)).toEqual([15, 30]);
  });

  it('scales values', () => {
    const [plane] = downsampleBox(new Uint8Array([255, 255, 255, 255]), 2, 2, 1, 2, 1 / 255) as [
      Float32Array,
    ];
    expect(plane[0]).toBeCloseTo(1);
  });
});

describe('BilinearUpsampler', () => {
  it('keeps a constant plane constant', () => {
    const up = new BilinearUpsampler(new Float32Array(12).fill(3), 4, 3, 16, 12, 4);
    const row = new Float32Array(16);
    for (let y = 0; y < 12; y++) {
      up.row(y, row);
      for (const v of row) expect(v).toBeCloseTo(3);
    }
  });

  it('reproduces a linear ramp exactly away from the borders', () => {
    const lw = 8;
    const lh = 6;
    const f = 3;
    const low = new Float32Array(lw * lh);
    // value = 2 * (low x centre) + 5 * (low y centre), in output pixel coordinates.
    for (let j = 0; j < lh; j++) {
      for (let i = 0; i < lw; i++) low[j * lw + i] = 2 * ((i + 0.5) * f - 0.5) + 5 * ((j + 0.5) * f - 0.5);
    }
    const up = new BilinearUpsampler(low, lw, lh, lw * f, lh * f, f);
    const row = new Float32Array(lw * f);
    for (let y = f; y < (lh - 1) * f; y++) {
      up.row(y, row);
      for (let x = f; x < (lw - 1) * f; x++) expect(row[x]).toBeCloseTo(2 * x + 5 * y, 3);
    }
  });

  it('upsamples several planes together exactly as one at a time', () => {
    const a = new Float32Array(20).map((_, i) => (i * 7) % 11);
    const b = new Float32Array(20).map((_, i) => (i * 3) % 5);
    const both = new BilinearUpsampler([a, b], 5, 4, 12, 9, 12 / 5, 9 / 4);
    const onlyB = new BilinearUpsampler(b, 5, 4, 12, 9, 12 / 5, 9 / 4);
    const r1 = new Float32Array(12);
    const r2 = new Float32Array(12);
    for (let y = 0; y < 9; y++) {
      both.row(y, r1, 1);
      onlyB.row(y, r2);
      expect(Array.from(r1)).toEqual(Array.from(r2));
      const t = both.select(y);
      for (let x = 0; x < 12; x++)
        expect(both.upper(1)[x]! + (both.lower(1)[x]! - both.upper(1)[x]!) * t).toBeCloseTo(r2[x]!, 5);
    }
  });

  it.each([1, 2, 3, 4, 5, 6, 7])(
    'gives each of %i planes, taken in fours, twos and ones, as it gives that plane alone',
    (count) => {
      // Planes that differ everywhere: a plane written into another's row would show.
      const planes = Array.from({ length: count }, (_, k) =>
        new Float32Array(7 * 5).map((_, i) => ((i * (3 + 2 * k)) % 13) + k / 7),
      );
      const together = new BilinearUpsampler(planes, 7, 5, 16, 11, 16 / 7, 11 / 5);
      const alone = planes.map((p) => new BilinearUpsampler(p, 7, 5, 16, 11, 16 / 7, 11 / 5));
      const r1 = new Float32Array(16);
      const r2 = new Float32Array(16);
      for (let y = 0; y < 11; y++)
        for (let k = 0; k < count; k++) {
          together.row(y, r1, k);
          alone[k]!.row(y, r2);
          expect(Array.from(r1)).toEqual(Array.from(r2));
        }
    },
  );

  it('gives the same rows in any order', () => {
    const low = new Float32Array(30).map((_, i) => Math.sin(i));
    const a = new BilinearUpsampler(low, 6, 5, 18, 15, 3);
    const b = new BilinearUpsampler(low, 6, 5, 18, 15, 3);
    const r1 = new Float32Array(18);
    const r2 = new Float32Array(18);
    for (const y of [14, 0, 7, 3, 3, 12]) {
      a.row(y, r1);
      for (let yy = 0; yy <= y; yy++) b.row(yy, r2);
      expect(Array.from(r1)).toEqual(Array.from(r2));
    }
  });
});

describe('downsampleArea', () => {
  /** A seeded image of 8-bit samples. */
  function image(width: number, height: number, channels: RawImage['channels'], seed: number): RawImage {
    const data = Uint8Array.from(randomPlane(width * height * channels, seed), (v) => Math.floor(v * 256));
    return { data, width, height, channels };
  }

  /** Mean of channel `c` (or luma at 77/150/29 when `c` is -1) over a box, times FIXED_SCALE. */
  function boxMean(img: RawImage, x0: number, y0: number, x1: number, y1: number, c: number): number {
    let s = 0;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const o = (y * img.width + x) * img.channels;
        const d = img.data;
        s +=
          c >= 0
            ? d[o + c]!
            : img.channels < 3
              ? d[o]!
              : (77 * d[o]! + 150 * d[o + 1]! + 29 * d[o + 2]!) / 256;
      }
    }
    return (FIXED_SCALE * s) / ((x1 - x0) * (y1 - y0));
  }

  it('halves RGB luma the same way at any buffer alignment, within rounding of the exact mean', () => {
    const img = image(16, 6, 3, 1);
    const shifted = new Uint8Array(img.data.length + 1).subarray(1);
    shifted.set(img.data);
    const a = downsampleArea(img, { width: 8, height: 3 });
    const b = downsampleArea({ ...img, data: shifted }, { width: 8, height: 3 });
    expect([a.width, a.height, a.stride, a.rgb, a.alpha]).toEqual([8, 3, 8, undefined, undefined]);
    expect(a.luma).toEqual(b.luma);
    for (let y = 0; y < 3; y++) {
      for (let x = 0; x < 8; x++) {
        const exact = boxMean(img, 2 * x, 2 * y, 2 * x + 2, 2 * y + 2, -1);
        expect(Math.abs(a.luma[y * 8 + x]! - exact)).toBeLessThanOrEqual(0.5);
      }
    }
  });

  it('averages colour planes exactly when asked for colour', () => {
    const img = image(12, 4, 3, 2);
    const out = downsampleArea(img, { width: 6, height: 2, color: true });
    const [r, g, b] = out.rgb!;
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 6; x++) {
        const i = y * 6 + x;
        expect([r[i], g[i], b[i]]).toEqual(
          [0, 1, 2].map((c) => boxMean(img, 2 * x, 2 * y, 2 * x + 2, 2 * y + 2, c)),
        );
        expect(
          Math.abs(out.luma[i]! - boxMean(img, 2 * x, 2 * y, 2 * x + 2, 2 * y + 2, -1)),
        ).toBeLessThanOrEqual(0.5);
      }
    }
  });

  it('averages boxes of any ratio, grey and alpha included', () => {
    const img = image(10, 7, 2, 3);
    const out = downsampleArea(img, { width: 3, height: 2 });
    // 10 x 7 has a wider aspect than 3 x 2: the centred crop is 10.5 wide... so all 10 columns,
    // 6.67 rows from y = 0.17. Boxes: columns [0,3) [3,6) [6,10), rows [0,3) [3,6).
    expect([out.width, out.height, out.stride, out.rgb]).toEqual([3, 2, 4, undefined]);
    const cols = [0, 3, 6, 10];
    const rows = [0, 3, 6];
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < 3; x++) {
        const [x0, x1, y0, y1] = [cols[x]!, cols[x + 1]!, rows[y]!, rows[y + 1]!];
        expect(Math.abs(out.luma[y * 4 + x]! - boxMean(img, x0, y0, x1, y1, 0))).toBeLessThanOrEqual(0.5);
        expect(
          Math.abs(out.alpha![y * 3 + x]! - boxMean(img, x0, y0, x1, y1, 1) / FIXED_SCALE),
        ).toBeLessThanOrEqual(0.5);
      }
      // The spare sample of the odd width repeats the last pixel.
      expect(out.luma[y * 4 + 3]).toBe(out.luma[y * 4 + 2]);
    }
  });

  it('crops the centre to the output aspect', () => {
    // 6 x 2, left and right thirds white, middle black: a 1 x 1 output sees only the middle 2 x 2.
    const data = new Uint8Array(6 * 2 * 3).fill(255);
    for (const y of [0, 1]) data.fill(0, (y * 6 + 2) * 3, (y * 6 + 4) * 3);
    const out = downsampleArea(
      { data, width: 6, height: 2, channels: 3 },
      { width: 1, height: 1, color: true },
    );
    expect([out.luma[0], out.rgb![0][0]]).toEqual([0, 0]);
    const white = downsampleArea(
      { data: new Uint8Array(12).fill(255), width: 2, height: 2, channels: 3 },
      { width: 1, height: 1 },
    );
    expect(white.luma[0]).toBe(FIXED_MAX);
  });

  it('refuses an empty output or a short source', () => {
    expect(() => downsampleArea(image(4, 4, 3, 1), { width: 0, height: 2 })).toThrow(/output size/);
    expect(() =>
      downsampleArea({ data: new Uint8Array(5), width: 4, height: 4, channels: 3 }, { width: 2, height: 2 }),
    ).toThrow(/too small/);
  });
});

describe('downsampleArea in bands', () => {
  it.each([
    // Halving RGB to luma by words and by bytes (odd width), halving with colour, any ratio.
    [3, 1280, 820, 640, 410, false],
    [3, 1282, 820, 641, 410, false],
    [3, 1280, 820, 640, 410, true],
    [4, 1300, 900, 517, 301, true],
    [1, 1400, 800, 333, 250, false],
  ] as const)(
    'gives the same planes in bands as in one piece (%i channels, %i x %i to %i x %i, colour %s)',
    (channels, W, H, width, height, color) => {
      // Over a million source pixels, so the rows are shrunk in bands.
      const data = Uint8Array.from(randomPlane(W * H * channels, W + channels), (v) => Math.floor(v * 256));
      const image: RawImage = { data, width: W, height: H, channels };
      const alone = downsampleArea(image, { width, height, color });
      const planes = (p: typeof alone): Uint8Array[] =>
        [p.luma, ...(p.rgb ?? []), ...(p.alpha ? [p.alpha] : [])].map(
          (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
        );
      for (const threads of [2, 3, 7]) {
        const previous = setBandRunner(backwardsRunner(threads));
        try {
          // Sources in shared memory only: others are shrunk in one piece.
          const banded = downsampleArea({ ...image, data: toShared(data) }, { width, height, color });
          const same = planes(banded).map((a, i) => Buffer.from(a).equals(Buffer.from(planes(alone)[i]!)));
          expect(same).toEqual(planes(alone).map(() => true));
        } finally {
          setBandRunner(previous);
        }
      }
      expect(alone.luma.some((v) => v > 0)).toBe(true);
    },
  );
});
