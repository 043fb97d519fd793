// The pieces of the similarity search's exactness argument (docs/gallery.md "### Similar images"):
// band keys at each distance, and band radii whose pigeonhole bound covers a distance.
import { describe, expect, it } from 'vitest';
import { bandKeys, bandNeighbours, bandRadii, coveredDistance } from './gallery-search.ts';

const popcount = (x: number): number => {
  let n = 0;
  for (let v = x; v !== 0; v &= v - 1) n++;
  return n;
};
const binomial = (n: number, k: number): number => (k === 0 ? 1 : (binomial(n, k - 1) * (n - k + 1)) / k);

describe('band keys', () => {
  it('are every 16-bit value at each distance, once', () => {
    for (const value of [0, 0xffff, 0x1234, 0xa5a5])
      for (let d = 0; d <= 6; d++) {
        const ring = bandKeys(value, d, d);
        expect(ring).toHaveLength(binomial(16, d));
        expect(new Set(ring).size).toBe(ring.length);
        expect(ring.every((k) => k >= 0 && k <= 0xffff && popcount(k ^ value) === d)).toBe(true);
      }
  });

  it('within a radius are the rings up to it', () => {
    expect(bandNeighbours(0x0f0f, 3)).toHaveLength(1 + 16 + 120 + 560);
    expect(new Set(bandNeighbours(0x0f0f, 3))).toEqual(
      new Set([0, 1, 2, 3].flatMap((d) => bandKeys(0x0f0f, d, d))),
    );
    expect(bandKeys(7, 0, -1)).toEqual([]);
    expect(bandKeys(7, 3, 2)).toEqual([]);
  });
});

describe('band radii', () => {
  it('cover exactly the distance asked, spread evenly', () => {
    expect(bandRadii(0)).toEqual([0, -1, -1, -1]);
    expect(bandRadii(6)).toEqual([1, 1, 1, 0]);
    expect(bandRadii(12)).toEqual([3, 2, 2, 2]);
    expect(bandRadii(15)).toEqual([3, 3, 3, 3]);
    expect(bandRadii(22)).toEqual([5, 5, 5, 4]);
    for (let d = 0; d <= 64; d++) {
      const radii = bandRadii(d);
      expect(coveredDistance(radii)).toBe(d);
      expect(Math.max(...radii) - Math.min(...radii)).toBeLessThanOrEqual(1);
    }
  });

  it('find, by pigeonhole, every hash within the covered distance', () => {
    // Random 64-bit hashes near a query: one within the covered distance always has a band within
    // its radius (the claim the search's certainty rests on).
    let seed = 42;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 16;
    };
    for (let trial = 0; trial < 2000; trial++) {
      const distance = trial % 29;
      const radii = bandRadii(distance);
      // Flip `distance` distinct bits of a 64-bit hash, seen as four 16-bit bands.
      const flips = [0, 0, 0, 0];
      const bits = new Set<number>();
      while (bits.size < distance) bits.add(random() % 64);
      for (const bit of bits) flips[bit >> 4]! |= 1 << (bit & 15);
      expect(flips.some((f, band) => popcount(f) <= radii[band]!)).toBe(true);
    }
  });
});
