import { describe, expect, it } from 'vitest';
import { setBandRunner } from '../parallel/bands.ts';
import { backwardsRunner } from '../parallel/test-support.ts';
import {
  binomialBand,
  boxBand,
  boxRadiiForGaussian,
  gaussianBlur,
  gaussianBlurU16,
} from './gaussian-blur.ts';
import { randomPlane } from './test-support.ts';

/** 2-D Gaussian with edge-extended borders, straight from the definition. */
function naiveGaussian(src: Float32Array, w: number, h: number, sigma: number): Float32Array {
  const r = Math.ceil(3 * sigma);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      let norm = 0;
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const k = Math.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
          const xx = Math.min(w - 1, Math.max(0, x + dx));
          const yy = Math.min(h - 1, Math.max(0, y + dy));
          sum += k * src[yy * w + xx]!;
          norm += k;
        }
      }
      out[y * w + x] = sum / norm;
    }
  }
  return out;
}

describe('gaussianBlur', () => {
  it.each([0.6, 1, 1.7, 2.9])('matches the 2-D definition with an exact kernel (sigma %f)', (sigma) => {
    const w = 29;
    const h = 17;
    const src = randomPlane(w * h, Math.round(sigma * 10));
    const out = gaussianBlur(src, w, h, sigma);
    const ref = naiveGaussian(src, w, h, sigma);
    for (let i = 0; i < w * h; i++) expect(out[i]).toBeCloseTo(ref[i]!, 5);
  });

  it('approximates a large Gaussian with three boxes (interior within 2% of the range)', () => {
    const w = 96;
    const h = 64;
    const src = randomPlane(w * h, 5);
    for (let i = 0; i < w * h; i++) src[i] = i % w < w / 2 ? 0 : 1; // a vertical step
    const out = gaussianBlur(src, w, h, 6);
    const ref = naiveGaussian(src, w, h, 6);
    for (let y = 20; y < h - 20; y++) {
      for (let x = 20; x < w - 20; x++)
        expect(Math.abs(out[y * w + x]! - ref[y * w + x]!)).toBeLessThan(0.02);
    }
  });

  it('keeps a constant plane constant', () => {
    for (const sigma of [0.8, 2, 7]) {
      const out = gaussianBlur(new Float32Array(40 * 30).fill(0.3), 40, 30, sigma);
      for (const v of out) expect(v).toBeCloseTo(0.3, 5);
    }
  });

  it('copies the plane for sigma 0', () => {
    const src = randomPlane(12, 3);
    expect(Array.from(gaussianBlur(src, 4, 3, 0))).toEqual(Array.from(src));
  });
});

describe('boxRadiiForGaussian', () => {
  it.each([3, 5, 8, 20])('gives three boxes whose variance is close to sigma² (sigma %i)', (sigma) => {
    const radii = boxRadiiForGaussian(sigma);
    // A box of width 2r + 1 has variance ((2r + 1)² - 1) / 12.
    const variance = radii.reduce((acc, r) => acc + ((2 * r + 1) ** 2 - 1) / 12, 0);
    expect(Math.abs(Math.sqrt(variance) - sigma) / sigma).toBeLessThan(0.08);
  });
});

describe('gaussianBlurU16', () => {
  /** A seeded plane of `stride * h` samples in 0..max. */
  function u16Plane(stride: number, h: number, max: number, seed: number): Uint16Array {
    return Uint16Array.from(randomPlane(stride * h, seed), (v) => Math.floor(v * (max + 1)));
  }

  /** One separable pass of `taps` (normalised by `norm`) with edges repeated, rounded per direction. */
  function naivePass(
    p: Uint16Array,
    w: number,
    stride: number,
    h: number,
    taps: number[],
    norm: number,
  ): void {
    const r = (taps.length - 1) / 2;
    const tmp = Uint16Array.from(p);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        taps.forEach((t, i) => (s += t * tmp[y * stride + Math.min(w - 1, Math.max(0, x + i - r))]!));
        p[y * stride + x] = Math.floor(s * norm + 0.5);
      }
    }
    tmp.set(p);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        taps.forEach((t, i) => (s += t * tmp[Math.min(h - 1, Math.max(0, y + i - r)) * stride + x]!));
        p[y * stride + x] = Math.floor(s * norm + 0.5);
      }
    }
  }

  it.each([1, 1.3, 1.6])('is binomial [1 4 6 4 1] passes for small sigma (%f)', (sigma) => {
    const [w, h] = [24, 13];
    const plane = u16Plane(w, h, 1020, 5);
    const ref = Uint16Array.from(plane);
    for (let i = 0; i < Math.round(sigma * sigma); i++) naivePass(ref, w, w, h, [1, 4, 6, 4, 1], 1 / 16);
    gaussianBlurU16(plane, w, h, sigma);
    expect(Array.from(plane)).toEqual(Array.from(ref));
  });

  it('is two box passes of matching variance for larger sigma', () => {
    const [w, h] = [31, 17];
    const plane = u16Plane(w, h, 1020, 9);
    const ref = Uint16Array.from(plane);
    // sigma 3: variance 9 = 2((2r+1)^2 - 1)/12 at r = 3 (rounded).
    const box = new Array<number>(7).fill(1);
    naivePass(ref, w, w, h, box, 1 / 7);
    naivePass(ref, w, w, h, box, 1 / 7);
    gaussianBlurU16(plane, w, h, 3);
    expect(Array.from(plane)).toEqual(Array.from(ref));
  });

  it('approximates the float Gaussian', () => {
    const [w, h] = [40, 30];
    const plane = u16Plane(w, h, 1020, 3);
    const float = gaussianBlur(Float32Array.from(plane), w, h, 4);
    gaussianBlurU16(plane, w, h, 4);
    for (let y = 8; y < h - 8; y++) {
      for (let x = 8; x < w - 8; x++)
        expect(Math.abs(plane[y * w + x]! - float[y * w + x]!)).toBeLessThan(12);
    }
  });

  it('keeps values up to 4095 exact on a constant plane, leaves rows past the width alone, and skips tiny sigma', () => {
    for (const sigma of [1, 1.7, 2.5]) {
      const flat = new Uint16Array(10 * 6).fill(4095);
      gaussianBlurU16(flat, 10, 6, sigma);
      expect(flat.every((v) => v === 4095)).toBe(true);
    }
    // Rows of 8 holding 5 pixels: the box passes do not touch the 3 spare samples.
    const plane = u16Plane(8, 6, 1020, 1);
    const before = Uint16Array.from(plane);
    gaussianBlurU16(plane, 5, 6, 3, 8);
    for (let y = 0; y < 6; y++)
      expect(plane.subarray(y * 8 + 5, y * 8 + 8)).toEqual(before.subarray(y * 8 + 5, y * 8 + 8));
    const settled = Uint16Array.from(plane);
    gaussianBlurU16(plane, 5, 6, 0.5, 8);
    expect(plane).toEqual(settled);
  });

  it('refuses an odd stride or a short plane', () => {
    expect(() => gaussianBlurU16(new Uint16Array(15), 5, 3, 1)).toThrow(/even/);
    expect(() => gaussianBlurU16(new Uint16Array(15), 5, 3, 3)).not.toThrow();
    expect(() => gaussianBlurU16(new Uint16Array(10), 6, 3, 1)).toThrow(/stride \* height/);
  });
});

describe('gaussianBlurU16 in bands', () => {
  it.each([
    [1, 1100, 1000],
    [1.6, 1101, 999],
    [2.88, 1100, 1000],
    [6, 1101, 957],
  ])('gives the same plane in bands as in one piece (sigma %f, %i x %i)', (sigma, w, h) => {
    // Over a million samples, so the passes run in bands; odd widths have a spare sample a row.
    const stride = w + (w & 1);
    const source = Uint16Array.from(randomPlane(stride * h, w + h), (v) => Math.floor(v * 1021));
    const alone = Uint16Array.from(source);
    gaussianBlurU16(alone, w, h, sigma, stride);
    expect(alone).not.toEqual(source);
    for (const threads of [2, 3, 7]) {
      const previous = setBandRunner(backwardsRunner(threads));
      try {
        const banded = Uint16Array.from(source);
        gaussianBlurU16(banded, w, h, sigma, stride);
        expect(Buffer.from(banded.buffer).equals(Buffer.from(alone.buffer))).toBe(true);
      } finally {
        setBandRunner(previous);
      }
    }
  });

  it.each([
    [boxBand, 3],
    [boxBand, 7],
    [binomialBand, -1],
  ] as const)('computes exactly its own rows, whatever the split (%#)', (kernel, rad) => {
    const [w, h, stride] = [37, 41, 38];
    const src = Uint16Array.from(randomPlane(stride * h, 5), (v) => Math.floor(v * 1021));
    const whole = new Uint16Array(stride * h);
    kernel.run({ src, dst: whole, width: w, stride, height: h, rad }, 0, h, { throwIfAborted() {} });
    for (const cuts of [
      [0, 1, 2, 3, h],
      [0, 17, 18, 40, h],
      [0, 5, 9, 30, h],
    ]) {
      const dst = new Uint16Array(stride * h);
      for (let i = cuts.length - 2; i >= 0; i--)
        kernel.run({ src, dst, width: w, stride, height: h, rad }, cuts[i]!, cuts[i + 1]!, {
          throwIfAborted() {},
        });
      expect(dst).toEqual(whole);
    }
  });
});
