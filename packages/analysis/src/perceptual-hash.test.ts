import { describe, expect, it } from 'vitest';
import {
  dhash,
  fromSigned64,
  hammingDistance,
  hashBands,
  lowFrequencyDct,
  phash,
  toSigned64,
} from './perceptual-hash.ts';
import { resampleArea } from './pixels.ts';
import { makePixels } from './test-images.ts';

const ramp = makePixels(64, 64, (x) => [x * 4, x * 4, x * 4]);

describe('hashes', () => {
  it('Hamming distance counts differing bits over all 64, signed or not', () => {
    expect(hammingDistance(0n, 0n)).toBe(0);
    expect(hammingDistance(0b1011n, 0b0001n)).toBe(2);
    expect(hammingDistance(0n, 0xffff_ffff_ffff_ffffn)).toBe(64);
    expect(hammingDistance(-1n, 0n)).toBe(64);
    expect(hammingDistance(1n << 63n, 0n)).toBe(1);
  });

  it('splits into four 16-bit bands and round-trips through a signed bigint', () => {
    const h = 0x1234_5678_9abc_def0n;
    expect(hashBands(h)).toEqual([0x1234, 0x5678, 0x9abc, 0xdef0]);
    expect(toSigned64(0xffff_ffff_ffff_ffffn)).toBe(-1n);
    expect(fromSigned64('-1')).toBe(0xffff_ffff_ffff_ffffn);
    expect(fromSigned64(toSigned64(h))).toBe(h);
  });

  it('the DCT of a flat plane has only a DC term', () => {
    const dct = lowFrequencyDct(new Float32Array(32 * 32).fill(0.5));
    expect(dct[0]).toBeCloseTo(0.5 * 32 * 32, 6);
    for (let i = 1; i < dct.length; i++) expect(Math.abs(dct[i]!)).toBeLessThan(1e-9);
  });

  it('area resampling keeps the mean and handles fractional cells', () => {
    const plane = Float32Array.from({ length: 64 * 64 }, (_, i) => (i % 64) / 63);
    const small = resampleArea(plane, 64, 64, 9, 8);
    const mean = (p: Float32Array): number => p.reduce((s, v) => s + v, 0) / p.length;
    expect(mean(small)).toBeCloseTo(mean(plane), 5);
    for (let x = 1; x < 9; x++) expect(small[x]!).toBeGreaterThan(small[x - 1]!);
  });

  it('dHash of a left-to-right ramp sets every bit; of its mirror, none', () => {
    expect(dhash(ramp)).toBe(0xffff_ffff_ffff_ffffn);
    const mirror = makePixels(64, 64, (x) => [252 - x * 4, 252 - x * 4, 252 - x * 4]);
    expect(dhash(mirror)).toBe(0n);
  });

  it('pHash sets half the bits (median threshold), ignores scale, and tells patterns apart', () => {
    const checker = (size: number, cell: number) =>
      makePixels(size, size, (x, y) =>
        (Math.floor(x / cell) + Math.floor(y / cell)) % 2 ? [230, 200, 40] : [20, 30, 90],
      );
    const h = phash(checker(64, 16));
    let ones = 0;
    for (let i = 0n; i < 64n; i++) ones += Number((h >> i) & 1n);
    expect(ones).toBeGreaterThanOrEqual(16);
    expect(ones).toBeLessThanOrEqual(32);
    expect(hammingDistance(h, phash(checker(128, 32)))).toBeLessThanOrEqual(2);
    const circle = makePixels(64, 64, (x, y) =>
      (x - 32) ** 2 + (y - 20) ** 2 < 300 ? [250, 250, 250] : [0, 0, 0],
    );
    expect(hammingDistance(h, phash(circle))).toBeGreaterThan(16);
  });
});
