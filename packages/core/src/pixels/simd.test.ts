import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { assembleSimd, simdModuleSource } from '../../../../scripts/build-wasm.ts';
import { setBandRunner } from '../parallel/bands.ts';
import { backwardsRunner } from '../parallel/test-support.ts';
import type { RawImage } from '../plugin.ts';
import { gaussianBlurU16 } from './gaussian-blur.ts';
import { bilinearColumns, downsampleArea } from './resample.ts';
import { hash32 } from './rng.ts';
import {
  blurPassSimd,
  histogramU16,
  inkRowsSimd,
  barLinesSimd,
  paintLevels,
  setSimdEnabled,
  simdAvailable,
} from './simd.ts';
import { ThinLines, thinLines } from './thin-lines.ts';
import { lumaPlane } from './color.ts';
import { lineRows } from './pencil-lines.ts';
import { InkRows } from './ink-rows.ts';
import { kuwaharaFilter } from './kuwahara.ts';

/** `n` seeded bytes. */
function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = hash32(seed ^ hash32(i)) & 255;
  return out;
}

/** `n` seeded values below `below`. */
function values(n: number, below: number, seed: number): Uint16Array {
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = hash32(seed ^ hash32(i)) % below;
  return out;
}

/** `f` with the SIMD kernels on and then off: both results. */
function bothWays<T>(f: () => T): { simd: T; js: T } {
  setSimdEnabled(true);
  const simd = f();
  setSimdEnabled(false);
  const js = f();
  setSimdEnabled(true);
  return { simd, js };
}

afterEach(() => setSimdEnabled(true));

describe('the WebAssembly SIMD kernels', () => {
  it('are the module simd.wat assembles to, and run here', async () => {
    const source = simdModuleSource(await assembleSimd());
    expect(readFileSync(new URL('./simd-wasm.ts', import.meta.url), 'utf8')).toBe(source);
    expect(simdAvailable()).toBe(true);
    setSimdEnabled(false);
    expect(simdAvailable()).toBe(false);
  });

  it('halve RGB into luma as the JavaScript loops do, at any width, crop and band split', () => {
    // Widths around the 8-sample vector, rows longer than a chunk of the copy (5120 px), crops
    // that start at odd columns (the byte-by-byte JavaScript loop) and at multiples of 4.
    const cases = [
      { W: 2, H: 2, w: 1, h: 1 },
      { W: 34, H: 10, w: 17, h: 5 },
      { W: 32, H: 6, w: 16, h: 3 },
      { W: 38, H: 21, w: 17, h: 10 },
      { W: 1921, H: 130, w: 960, h: 65 },
      { W: 5120, H: 64, w: 2560, h: 32 },
      { W: 120, H: 80, w: 40, h: 40 },
    ];
    for (const [i, c] of cases.entries()) {
      const image: RawImage = { data: bytes(c.W * c.H * 3, i), width: c.W, height: c.H, channels: 3 };
      const { simd, js } = bothWays(() => downsampleArea(image, { width: c.w, height: c.h }));
      expect(simd.luma, `${c.W}x${c.H} to ${c.w}x${c.h}`).toEqual(js.luma);
    }
    // A large source in shared memory is halved in bands of output rows (here the last first).
    const W = 2200;
    const H = 1000;
    const data = new Uint8Array(new SharedArrayBuffer(W * H * 3));
    data.set(bytes(W * H * 3, 99));
    const image: RawImage = { data, width: W, height: H, channels: 3 };
    const whole = bothWays(() => downsampleArea(image, { width: W / 2, height: H / 2 }));
    const previous = setBandRunner(backwardsRunner(3));
    try {
      const banded = bothWays(() => downsampleArea(image, { width: W / 2, height: H / 2 }));
      expect(banded.simd.luma).toEqual(whole.js.luma);
      expect(banded.js.luma).toEqual(whole.js.luma);
    } finally {
      setBandRunner(previous);
    }
    expect(whole.simd.luma).toEqual(whole.js.luma);
  });

  it('give the binomial and box passes of gaussianBlurU16 sample for sample, in one piece and in bands', () => {
    for (const [w, h] of [
      [1, 1],
      [2, 7],
      [10, 3],
      [17, 9],
      [960, 300],
      [2561, 40],
      [1100, 1000],
      // Chunks of 17 rows, fewer than a box of sigma 20 reaches (24).
      [5001, 120],
    ] as const) {
      const stride = w + (w & 1);
      const plane = values(stride * h, 4096, w * 31 + h);
      for (const sigma of [1, 1.41, 1.73, 2.88, 6, 20]) {
        const { simd, js } = bothWays(() => {
          const p = plane.slice();
          gaussianBlurU16(p, w, h, sigma, stride);
          return p;
        });
        expect(simd, `${w}x${h} sigma ${sigma}`).toEqual(js);
        // Bands (a large plane), the last first.
        if (w * h >= 1 << 20) {
          const previous = setBandRunner(backwardsRunner(3));
          try {
            const banded = bothWays(() => {
              const p = plane.slice();
              gaussianBlurU16(p, w, h, sigma, stride);
              return p;
            });
            expect(banded.simd).toEqual(js);
            expect(banded.js).toEqual(js);
          } finally {
            setBandRunner(previous);
          }
        }
      }
    }
  });

  it('divide box sums exactly at the widest box they take, and on saturated planes', () => {
    // sigma 600: radius 734, windows of 1469 samples; then radius 1100, past the exact division's
    // range (JavaScript).
    for (const sigma of [600, 900]) {
      for (const fill of ['random', 'max'] as const) {
        const w = 1600;
        const h = 5;
        const plane = fill === 'max' ? new Uint16Array(w * h).fill(4095) : values(w * h, 4096, 5);
        const { simd, js } = bothWays(() => {
          const p = plane.slice();
          gaussianBlurU16(p, w, h, sigma, w);
          return p;
        });
        expect(simd, `sigma ${sigma}, ${fill}`).toEqual(js);
      }
    }
  });

  it('refuse an in-place pass that starts below the first row', () => {
    const plane = new Uint16Array(64);
    expect(() => blurPassSimd(plane, plane, 8, 8, 8, 2, 8, 2)).toThrow(/in place only from the first row/);
  });

  it('count a histogram as the JavaScript loop does, and reject a value past the bins untouched', () => {
    const stride = 970;
    const plane = values(stride * 700, 1021, 7);
    const { simd, js } = bothWays(() => {
      const counts = new Int32Array(1021).fill(5);
      histogramU16(plane, stride, 961, 3, 699, counts);
      return counts;
    });
    expect(simd).toEqual(js);
    const naive = new Int32Array(1021).fill(5);
    for (let y = 3; y < 699; y++) for (let x = 0; x < 961; x++) naive[plane[y * stride + x]!]!++;
    expect(simd).toEqual(naive);

    const bad = plane.slice();
    bad[600 * stride + 960] = 1021;
    for (const on of [true, false]) {
      setSimdEnabled(on);
      const counts = new Int32Array(1021).fill(5);
      expect(() => histogramU16(bad, stride, 961, 0, 700, counts)).toThrow(RangeError);
      expect(() => histogramU16(bad, stride, 961, 0, 700, counts)).toThrow(/value 1021 is not below 1021/);
      expect(counts.every((c) => c === 5)).toBe(true);
    }
  });

  it('paint levels as the JavaScript loop does, for 2 to 16 levels and several tiles', () => {
    for (const [w, levels, tiles] of [
      [1, 2, 1],
      [15, 4, 2],
      [16, 5, 2],
      [33, 6, 3],
      [960, 4, 2],
      [961, 10, 4],
      [500, 11, 1],
      [100, 16, 2],
    ] as const) {
      const h = 40;
      const stride = w + 3;
      const tones = values(stride * h, 4096, w + levels);
      const thresholds = Array.from({ length: levels - 1 }, (_, k) => Math.round(((k + 1) * 4096) / levels));
      const palettes = Array.from({ length: tiles }, (_, t) => bytes(3 * levels, 100 * t + levels));
      const outStride = tiles * w * 3 + 5;
      const { simd, js } = bothWays(() => {
        const out = new Uint8Array(7 + outStride * (h - 2)).fill(9);
        paintLevels({
          values: tones,
          stride,
          width: w,
          y0: 1,
          y1: h - 1,
          thresholds,
          palettes,
          out,
          offset: 7,
          outStride,
        });
        return out;
      });
      expect(simd, `${w} px, ${levels} levels, ${tiles} tiles`).toEqual(js);
      // The definition: pixel x of row y in tile t.
      const y = h - 2;
      const x = w - 1;
      const v = tones[y * stride + x]!;
      const k = thresholds.filter((t) => v >= t).length;
      const o = 7 + (y - 1) * outStride + (tiles - 1) * w * 3 + x * 3;
      expect([...simd.subarray(o, o + 3)]).toEqual([...palettes[tiles - 1]!.subarray(3 * k, 3 * k + 3)]);
      // The bytes between rows are not touched.
      expect(simd[7 + outStride - 1]).toBe(9);
    }
  });

  it('reject what paintLevels cannot paint', () => {
    const args = {
      values: new Uint16Array(16),
      stride: 4,
      width: 4,
      y0: 0,
      y1: 4,
      thresholds: [10],
      palettes: [new Uint8Array(6)],
      out: new Uint8Array(48),
      offset: 0,
      outStride: 12,
    };
    expect(() => paintLevels({ ...args, thresholds: Array.from({ length: 16 }, (_, i) => i) })).toThrow(
      /at most 16 levels/,
    );
    expect(() => paintLevels({ ...args, palettes: [new Uint8Array(5)] })).toThrow(/needs 2 colours/);
    for (const bad of [10.5, -1, 65536, Number.NaN])
      expect(() => paintLevels({ ...args, thresholds: [bad] })).toThrow(/a threshold must be a whole number/);
    expect(() => paintLevels({ ...args, out: new Uint8Array(47) })).toThrow(/out is too small/);
    expect(() => paintLevels({ ...args, outStride: 11 })).toThrow(/wider than outStride/);
  });

  it('find thin lines as barRow alone does: every row, threshold and gate, dense texture and flat areas', () => {
    // Noise of every amplitude over every level (the candidates' bounds change every 16 levels),
    // with 1 px lines across it; widths around the 32-column span the SIMD search starts at.
    const plane = (w: number, h: number, seed: number): Uint8Array => {
      const out = new Uint8Array(w * h);
      const noise = bytes(w * h, seed);
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const spread = ((y >> 2) % 9) * 8;
          const level = Math.round((255 * x) / Math.max(1, w - 1));
          const v = level + ((noise[y * w + x]! * spread) >> 8) - (spread >> 1);
          const line = x === (y >> 1) % w ? 90 : y % 23 === 11 ? -90 : 0;
          out[y * w + x] = Math.min(255, Math.max(0, v + line));
        }
      return out;
    };
    const tunings = [{}, { threshold: 0.05, sharpness: 12 }, { threshold: 0.3, sharpness: 4 }];
    let compared = 0;
    for (const [i, [w, h]] of [
      [37, 40],
      [38, 9],
      [70, 33],
      [1921, 48],
    ].entries()) {
      const luma = plane(w!, h!, i);
      for (const tuning of tunings) {
        const { simd, js } = bothWays(() => thinLines({ luma, width: w!, height: h!, ...tuning }));
        expect(simd.dark).toEqual(js.dark);
        expect(simd.light).toEqual(js.light);
        compared += simd.dark.reduce((n, v) => n + (v > 0 ? 1 : 0), 0);
        // Gated: the SIMD search runs on the spans of columns the gate keeps.
        const gate = new ThinLines({ luma, width: w!, height: h!, ...tuning }).densityGate({
          from: 0.02,
          to: 0.1,
        });
        const rows = bothWays(() => {
          const lines = new ThinLines({ luma, width: w!, height: h!, gate, ...tuning });
          const dark = new Float32Array(w!);
          const light = new Float32Array(w!);
          const all: number[] = [];
          for (let y = 0; y < h!; y++) {
            const n = lines.row(y, dark, light);
            all.push(n, ...lines.hits.subarray(0, n), ...dark, ...light);
          }
          return all;
        });
        expect(rows.simd).toEqual(rows.js);
      }
    }
    // The planes have lines enough for the comparison to mean something.
    expect(compared).toBeGreaterThan(1000);
  });

  it('report columns in the span or spans asked for only, ascending, and refuse rows or spans out of range', () => {
    const w = 100;
    const luma = bytes(w * 7, 9);
    const tables = {
      darkFrom: new Int16Array(256).fill(0),
      lightFrom: new Int16Array(256).fill(255),
      bounds: new Uint8Array(32),
    };
    const xs = new Int32Array(w);
    const contrasts = new Int32Array(w);
    const rows = [0, w, 3 * w, 5 * w, 6 * w] as const;
    // Every pixel passes a first test with these tables: each with a contrast is reported.
    const n = barLinesSimd(luma, rows, 3, 97, tables, xs, contrasts);
    expect(n).toBeGreaterThan(47);
    expect(n).toBeLessThanOrEqual(94);
    for (let k = 0; k < n; k++) {
      expect(xs[k]).toBeGreaterThanOrEqual(0);
      expect(xs[k]).toBeLessThan(94);
      if (k > 0) expect(xs[k]).toBeGreaterThan(xs[k - 1]!);
      expect(contrasts[k]).toBeGreaterThan(0);
      expect(contrasts[k]! >>> 16).toBeLessThan(256);
      expect(contrasts[k]! & 0xffff).toBeLessThan(256);
    }
    // Spans: the same columns and contrasts as the whole row has in them.
    const spans = new Int32Array([5, 20, 40, 41, 41, 41, 60, 97]);
    const inSpans = new Int32Array(w);
    const spanContrasts = new Int32Array(w);
    const m = barLinesSimd(luma, rows, 3, 97, tables, inSpans, spanContrasts, spans, 4);
    const expected = [...xs.subarray(0, n)].flatMap((x, k) =>
      (x + 3 >= 5 && x + 3 < 20) || x + 3 === 40 || x + 3 >= 60 ? [[x, contrasts[k]!]] : [],
    );
    expect([...inSpans.subarray(0, m)].map((x, k) => [x, spanContrasts[k]!])).toEqual(expected);
    expect(m).toBeGreaterThan(10);
    for (const bad of [
      [2, 20],
      [5, 98],
      [20, 5],
      [30, 40, 20, 25],
    ])
      expect(() =>
        barLinesSimd(luma, rows, 3, 97, tables, xs, contrasts, new Int32Array(bad), bad.length / 2),
      ).toThrow(/spans must be ascending/);
    expect(() => barLinesSimd(luma, rows, 2, 97, tables, xs, contrasts)).toThrow(RangeError);
    expect(() => barLinesSimd(luma, rows, 3, 98, tables, xs, contrasts)).toThrow(RangeError);
    expect(() => barLinesSimd(luma, rows, 3, 97, tables, new Int32Array(10), contrasts)).toThrow(RangeError);
    setSimdEnabled(false);
    expect(barLinesSimd(luma, rows, 3, 97, tables, xs, contrasts)).toBe(-1);
  });

  it('take the luma of RGB as the JavaScript loop does, at any length and offset', () => {
    // Lengths around the 16-pixel step and past a chunk of the copy; views at odd byte offsets.
    for (const [i, pixels] of [4096, 4097, 4111, 9000, 200_001].entries()) {
      const data = bytes(pixels * 3 + 7, i);
      for (const offset of [0, 1, 3]) {
        const rgb = data.subarray(offset, offset + pixels * 3);
        const { simd, js } = bothWays(() => lumaPlane(rgb, pixels));
        expect(simd).toEqual(js);
      }
    }
    // Every value of each channel, and white: the largest sum (65408) must not wrap.
    const ramp = new Uint8Array(3 * 4096);
    for (let p = 0; p < 4096; p++) ramp.set([p & 255, (p * 7) & 255, (p >> 4) & 255], 3 * p);
    for (const p of [17, 18, 4095]) ramp.set([255, 255, 255], 3 * p);
    const { simd, js } = bothWays(() => lumaPlane(ramp, 4096));
    expect(simd).toEqual(js);
    expect(js[17]).toBe(255);
  });

  it('compute the pencil line field as lineRows does in JavaScript, at odd and even widths, in bands', () => {
    // Blurred-looking planes (smooth ramps with noise) and raw noise; widths 1, 2 and odd ones.
    for (const [i, [w, h]] of [
      [1, 5],
      [2, 3],
      [7, 9],
      [64, 33],
      [301, 70],
    ].entries()) {
      const n = w! * h!;
      const noise = bytes(2 * n, i + 40);
      const near = new Float32Array(n);
      const far = new Float32Array(n);
      for (let k = 0; k < n; k++) {
        near[k] = ((k % w!) * 255) / Math.max(1, w! - 1) + noise[k]! / 7.3;
        far[k] = near[k]! * 0.9 + noise[n + k]! / 11.1;
      }
      for (const weight of [0.3, 1.7]) {
        const run = (split: number): Float32Array => {
          const lines = new Float32Array(n).fill(-1);
          const args = { near, far, lines, width: w!, height: h!, gradientWeight: weight };
          // Bands in any order: the last first.
          for (let b = split - 1; b >= 0; b--)
            lineRows.run(args, Math.floor((b * h!) / split), Math.floor(((b + 1) * h!) / split), {
              throwIfAborted: () => {},
            });
          return lines;
        };
        const { simd, js } = bothWays(() => [run(1), run(3)]);
        expect(simd[0]).toEqual(js[0]);
        expect(simd[1]).toEqual(js[0]);
        expect(js[0]!.every((v) => v !== -1)).toBe(true);
      }
    }
  });

  it('blend and ink two rows as InkRows does in JavaScript: ties, clamps, every part of the table', () => {
    // Samples from -40 to 300 (clamped either way), halves (ties to even), d on both sides of the
    // threshold and beyond both ends of the table; t at 0, 1 and between; widths 1 and odd ones.
    const ink = Float32Array.from({ length: 2048 }, (_, k) => 1 - k / 4096);
    const seeded = (n: number, seed: number): number[] =>
      Array.from(values(n, 1 << 16, seed), (v) =>
        v % 3 === 0 ? Math.round(v / 190) - 40 + 0.5 : v / 190 - 40,
      );
    for (const [i, width] of [1, 7, 64, 1921].entries()) {
      const fill = (rows: InkRows, k: number): void => {
        const a = seeded(width * 4, 2 * k + i);
        const b = seeded(width * 4, 2 * k + i + 100);
        for (let x = 0; x < width; x++) {
          // d: from -0.5 (past the table's start) to 0.6, threshold 0.
          a[x * 4 + 3] = ((x * 37 + k) % 110) / 100 - 0.5;
          b[x * 4 + 3] = ((x * 53 + k) % 110) / 100 - 0.5;
        }
        rows.upper.set(a);
        rows.lower.set(b);
      };
      for (const t of [0, 1, 0.3, 0.71]) {
        const { simd, js } = bothWays(() => {
          const rows = new InkRows(width, ink, 0.25, 4096);
          fill(rows, Math.round(t * 100));
          const out = new Uint8Array(width * 3 + 2).fill(7);
          rows.row(rows.upper, rows.lower, out, 1, t, 0);
          const back = new Uint8Array(width * 3);
          rows.row(rows.lower, rows.upper, back, 0, 1 - t, 0.3);
          return [out, back];
        });
        expect(simd).toEqual(js);
        expect([js[0]![0], js[0]![width * 3 + 1]]).toEqual([7, 7]); // nothing written outside the row
      }
    }
    // By hand: ties to even, clamps, and the ink where d is low (entry (d + 0.25) * 4096).
    for (const on of [true, false]) {
      setSimdEnabled(on);
      const rows = new InkRows(3, ink, 0.25, 4096);
      rows.upper.set([100.5, 101.5, -3, 1, 300, 254.5, 0.5, 1, 200, 100, 50, -0.125]);
      rows.lower.set(rows.upper);
      const out = new Uint8Array(9);
      rows.row(rows.upper, rows.lower, out, 0, 0.5, 0);
      expect([...out]).toEqual([100, 102, 0, 255, 254, 0, 175, 88, 44]);
      // In single precision: 100.5 + 2^-18 is a tie there (to 100.5, then to 100), 101 in doubles.
      rows.upper.set([100.5, 0, 0, 1]);
      rows.lower.set([100.5 + 2 ** -17, 0, 0, 1]);
      rows.row(rows.upper, rows.lower, out, 0, 0.5, 0);
      expect(out[0]).toBe(100);
    }
  });

  it('widen a low row of four planes as InkRows does in JavaScript, at any width and factor', () => {
    const ink = new Float32Array(2048).fill(0.5);
    const sizes: [number, number][] = [
      [1, 1],
      [1, 5],
      [3, 7],
      [960, 1920],
      [961, 1537],
      [517, 1920],
      [64, 64],
    ];
    for (const [i, [lowWidth, width]] of sizes.entries()) {
      const planes = [0, 1, 2, 3].map((c) =>
        Float32Array.from(values(lowWidth * 3, 1 << 16, 10 * i + c), (v) => v / 4099 - 3),
      );
      const columns = { ...bilinearColumns(width, lowWidth, width / lowWidth), lowWidth };
      const { simd, js } = bothWays(() => {
        const rows = new InkRows(width, ink, 0, 1, columns);
        rows.widen(planes, lowWidth, rows.upper); // the middle row of three
        rows.widen(planes, 2 * lowWidth, rows.lower);
        return [Float32Array.from(rows.upper), Float32Array.from(rows.lower)];
      });
      expect(simd).toEqual(js);
      // Pixel 0 is the low row's first pixel (r, g, b, d), the last its last.
      expect([...js[0]!.subarray(0, 4)]).toEqual([0, 1, 2, 3].map((c) => planes[c]![lowWidth]!));
      expect(js[1]![width * 4 - 1]).toBe(planes[3]![3 * lowWidth - 1]);
    }
  });

  it('keep InkRows rows only until another kernel runs, and refuse foreign rows or outputs', () => {
    const ink = new Float32Array(16).fill(0.5);
    const rows = inkRowsSimd(8, ink, 0, 1)!;
    const out = new Uint8Array(24);
    expect(() => rows.row(new Float32Array(32), rows.lower, out, 0, 0.5, 0)).toThrow(RangeError);
    expect(() => rows.row(rows.upper, rows.lower, out, 1, 0.5, 0)).toThrow(RangeError);
    rows.row(rows.upper, rows.lower, out, 0, 0.5, 0);
    lumaPlane(new Uint8Array(3 * 5000), 5000);
    expect(() => rows.row(rows.upper, rows.lower, out, 0, 0.5, 0)).toThrow(/another kernel/);
    expect(() => new InkRows(8, ink, 0, 1).widen([], 0, rows.upper)).toThrow(/without columns/);
    const columns = { ...bilinearColumns(8, 4, 2), lowWidth: 4 };
    const wide = new InkRows(8, ink, 0, 1, columns);
    const planes = [0, 1, 2, 3].map(() => new Float32Array(8));
    expect(() => wide.widen(planes.slice(0, 3), 0, wide.upper)).toThrow(RangeError);
    expect(() => wide.widen(planes, 5, wide.upper)).toThrow(RangeError);
    expect(() => wide.widen(planes, 0, new Float32Array(32))).toThrow(RangeError);
    wide.widen(planes, 4, wide.lower);
    expect(() => new InkRows(8, ink, 0, 1, { ...columns, lowWidth: 3 })).toThrow(/outside the low row/);
    expect(() => new InkRows(0, ink, 0, 1)).toThrow(RangeError);
    expect(() => new InkRows(4, new Float32Array(0), 0, 1)).toThrow(RangeError);
  });

  it('paint the Kuwahara filter as the JavaScript does: radii, sharpness, flows, narrow images, bands', () => {
    // Photo-like blocks with noise, narrow images (no pixel has all its sectors inside) and wide
    // ones; without a flow and with one turning across the image; in one piece and in bands.
    const sizes: [number, number][] = [
      [1, 1],
      [5, 9],
      [13, 40],
      [97, 61],
      [400, 130],
    ];
    for (const [i, [w, h]] of sizes.entries()) {
      const noise = bytes(w * h * 3, 50 + i);
      const data = noise.map((v, k) => ((Math.floor(k / 3) % w) * 7 > 300 ? 180 : 60) + (v >> 3));
      const fw = Math.ceil(w / 8);
      const fh = Math.ceil(h / 8);
      const angle = Float32Array.from({ length: fw * fh }, (_, c) => (c * 0.37) % Math.PI);
      const flow = { tx: angle.map(Math.cos), ty: angle.map(Math.sin), width: fw, height: fh, factor: 8 };
      for (const [radius, sharpness, anisotropy] of [
        [1, 4, 0],
        [3, 2.5, 1],
        [6, 8, 3],
      ] as const) {
        for (const withFlow of [false, true]) {
          const args = {
            data,
            width: w,
            height: h,
            radius,
            sharpness,
            anisotropy,
            ...(withFlow ? { flow } : {}),
          };
          const { simd, js } = bothWays(() => kuwaharaFilter(args).slice());
          expect(simd, `${w}x${h} r${radius}`).toEqual(js);
          if (w * h > 40_000) {
            const previous = setBandRunner(backwardsRunner(3));
            try {
              expect(bothWays(() => kuwaharaFilter(args).slice()).simd).toEqual(js);
            } finally {
              setBandRunner(previous);
            }
          }
        }
      }
    }
  });
});
