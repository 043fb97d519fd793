import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { setBandRunner } from '../parallel/bands.ts';
import { backwardsRunner } from '../parallel/test-support.ts';
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

  it('gives the bytes of scaling each sum: 16-bit layers, looked up in a table of bytes, as recorded before the table', () => {
    // SHA-256 (first 16 hex digits) of layers the code that scaled each sum drew.
    const recorded = {
      0: '0e1b4d8fd585713d',
      45: '9b5d26eab88a0ff5',
      90: 'cd23b45313a1d499',
      135: 'cd12f6f8122355ac',
    } as const;
    for (const angle of [0, 45, 90, 135] as const) {
      const args = { width: 640, height: 400, seed: 7, angle, length: 20, coverage: 0.6 } as const;
      const hash = (p: Uint8Array): string => createHash('sha256').update(p).digest('hex').slice(0, 16);
      expect(hash(pencilStrokes(args))).toBe(recorded[angle]);
      // In bands too: the rows that continue sums carried in from the band before.
      const previous = setBandRunner(backwardsRunner(2));
      try {
        expect(hash(pencilStrokes(args))).toBe(recorded[angle]);
      } finally {
        setBandRunner(previous);
      }
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

  describe('on several threads', () => {
    it.each([
      [0, 12, undefined],
      [45, 40, undefined],
      [90, 40, undefined],
      [135, 40, undefined],
      // Long tapers: 32-bit sums.
      [45, 120, 30],
      [135, 120, 30],
    ] as const)(
      'gives the same layer in bands as in one piece (%i°, length %i, taper %s)',
      (angle, length, taper) => {
        // Over a million cells, so the sums are split in bands.
        const args = {
          width: 1100,
          height: 900,
          seed: 9,
          angle,
          length,
          coverage: 0.6,
          ...(taper ? { taper } : {}),
        };
        const alone = pencilStrokes(args);
        for (const threads of [2, 3]) {
          const previous = setBandRunner(backwardsRunner(threads));
          try {
            const banded = pencilStrokes(args);
            expect(Buffer.from(banded).equals(Buffer.from(alone))).toBe(true);
          } finally {
            setBandRunner(previous);
          }
        }
        expect(alone.some((v) => v > 0)).toBe(true);
      },
    );
  });

  describe('drawnAt (previews)', () => {
    /** Pearson correlation of two planes. */
    function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
      let sa = 0;
      let sb = 0;
      for (let i = 0; i < a.length; i++) [sa, sb] = [sa + a[i]!, sb + b[i]!];
      const [ma, mb] = [sa / a.length, sb / b.length];
      let ab = 0;
      let aa = 0;
      let bb = 0;
      for (let i = 0; i < a.length; i++) {
        const [da, db] = [a[i]! - ma, b[i]! - mb];
        [ab, aa, bb] = [ab + da * db, aa + da * da, bb + db * db];
      }
      return ab / Math.sqrt(aa * bb);
    }

    /** Mean of each `f` x `f` block: the layer seen downscaled. */
    function shrink(p: Uint8Array, w: number, h: number, f: number): Float32Array {
      const out = new Float32Array((w / f) * (h / f));
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          out[Math.floor(y / f) * (w / f) + Math.floor(x / f)]! += p[y * w + x]! / (f * f);
      return out;
    }

    it('is the plain layer when drawnAt is its own size, and refuses a smaller one', () => {
      const plain = pencilStrokes({ ...base, angle: 45 });
      const same = pencilStrokes({ ...base, angle: 45, drawnAt: { width: 160, height: 120 } });
      expect(Array.from(same)).toEqual(Array.from(plain));
      expect(() => pencilStrokes({ ...base, angle: 45, drawnAt: { width: 80, height: 60 } })).toThrow(
        RangeError,
      );
    });

    it.each([0, 45, 90, 135] as const)(
      'draws the strokes of the larger layer, shrunk: close to it downscaled (%i°)',
      (angle) => {
        const [W, H, f] = [960, 640, 4];
        const args = { seed: 3, angle, length: 24, coverage: 0.5 } as const;
        const large = pencilStrokes({ ...args, width: W, height: H });
        const seen = shrink(large, W, H, f);
        const small = pencilStrokes({
          ...args,
          width: W / f,
          height: H / f,
          drawnAt: { width: W, height: H },
        });
        // Same strokes in the same places: strongly correlated, where the layer a preview would
        // draw at its own size (other random strokes) is not.
        expect(correlation(small, seen)).toBeGreaterThan(0.85);
        const own = pencilStrokes({ ...args, width: W / f, height: H / f, length: 24 / f });
        expect(correlation(own, seen)).toBeLessThan(0.3);
        // And as dark on average (overlaps clip alike), within 10 %.
        const mean = (p: ArrayLike<number>) => Array.from(p).reduce((a, b) => a + b, 0) / p.length;
        expect(Math.abs(mean(small) / mean(seen) - 1)).toBeLessThan(0.1);
      },
    );
  });
});
