import { describe, expect, it } from 'vitest';
import { SeededRandom, fillNoise, hash32 } from './rng.ts';

describe('hash32', () => {
  it('is a fixed function of its input', () => {
    expect(hash32(0)).toBe(hash32(0));
    expect(hash32(1)).not.toBe(hash32(2));
    expect(hash32(123456789)).toBeGreaterThanOrEqual(0);
    expect(hash32(-1)).toBeLessThan(2 ** 32);
  });

  it('spreads consecutive inputs evenly over 16 buckets', () => {
    const buckets = new Array<number>(16).fill(0);
    for (let i = 0; i < 16000; i++) buckets[hash32(i) >>> 28]!++;
    for (const b of buckets) expect(Math.abs(b - 1000)).toBeLessThan(150);
  });
});

describe('SeededRandom', () => {
  it('repeats its sequence for the same seed and differs for another', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const sa = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(sa);
    for (const v of sa) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(1);
    }
  });
});

describe('fillNoise', () => {
  it('is deterministic, seed dependent and roughly uniform', () => {
    const a = fillNoise(new Uint8Array(10001), 7);
    const b = fillNoise(new Uint8Array(10001), 7);
    const c = fillNoise(new Uint8Array(10001), 8);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    expect(Math.abs(mean - 127.5)).toBeLessThan(4);
  });
});
