import { describe, expect, it } from 'vitest';
import { domainTransformFilter } from './domain-transform.ts';
import { hash32 } from './rng.ts';
import { noisyStep as noisyStepOf } from './test-support.ts';

const W = 80;
const H = 40;

const noisyStep = (noise: number, seed: number, low?: number, high?: number): Float32Array =>
  noisyStepOf(W, H, noise, seed, low, high);

function spread(p: Float32Array, x0: number, x1: number): number {
  let min = Infinity;
  let max = -Infinity;
  for (let y = 0; y < H; y++) {
    for (let x = x0; x < x1; x++) {
      min = Math.min(min, p[y * W + x]!);
      max = Math.max(max, p[y * W + x]!);
    }
  }
  return max - min;
}

describe('domainTransformFilter', () => {
  it('flattens noise but keeps a strong step edge sharp', () => {
    const plane = noisyStep(0.04, 3);
    const before = spread(plane, 5, 30);
    domainTransformFilter({ planes: [plane], width: W, height: H, sigmaSpatial: 10, sigmaRange: 0.1 });
    expect(spread(plane, 5, 30)).toBeLessThan(before / 3);
    for (let y = 0; y < H; y++) {
      expect(plane[y * W + W / 2]! - plane[y * W + W / 2 - 1]!).toBeGreaterThan(0.5);
    }
  });

  it('smooths across a step far below sigmaRange', () => {
    const plane = noisyStep(0, 1, 0.5, 0.52);
    domainTransformFilter({ planes: [plane], width: W, height: H, sigmaSpatial: 20, sigmaRange: 1 });
    expect(plane[10 * W + W / 2]! - plane[10 * W + W / 2 - 1]!).toBeLessThan(0.002);
  });

  it('leaves a constant image unchanged', () => {
    const planes = [0.1, 0.5, 0.9].map((v) => new Float32Array(W * H).fill(v));
    domainTransformFilter({ planes, width: W, height: H, sigmaSpatial: 15, sigmaRange: 0.2 });
    planes.forEach((p, c) => {
      for (const v of p) expect(v).toBeCloseTo([0.1, 0.5, 0.9][c]!, 5);
    });
  });

  it('stops all three channels at an edge in any one of them', () => {
    // Only red has the edge; green and blue are noise around a constant.
    const r = noisyStep(0, 2);
    const g = noisyStep(0, 2, 0.5, 0.5);
    const b = noisyStep(0, 2, 0.5, 0.5);
    for (let i = 0; i < W * H; i++) g[i] = i % W === W / 2 ? 1 : 0.5; // a one-pixel green line at the edge
    domainTransformFilter({ planes: [r, g, b], width: W, height: H, sigmaSpatial: 10, sigmaRange: 0.1 });
    for (let y = 0; y < H; y++) expect(r[y * W + W / 2]! - r[y * W + W / 2 - 1]!).toBeGreaterThan(0.5);
  });

  it('takes edges from a separate guide when given one', () => {
    const guide = noisyStep(0, 1);
    const plane = new Float32Array(W * H);
    for (let i = 0; i < W * H; i++) plane[i] = hash32(i) / 4294967296;
    domainTransformFilter({
      planes: [plane],
      guide: [guide],
      width: W,
      height: H,
      sigmaSpatial: 30,
      sigmaRange: 0.05,
    });
    // Left and right halves are averaged separately: their means differ from each other by chance only,
    // but within each half the noise is gone.
    expect(spread(plane, 5, 30)).toBeLessThan(0.25);
    expect(spread(plane, 50, 75)).toBeLessThan(0.25);
  });

  it('is deterministic', () => {
    const a = noisyStep(0.1, 9);
    const b = noisyStep(0.1, 9);
    domainTransformFilter({ planes: [a], width: W, height: H, sigmaSpatial: 8, sigmaRange: 0.2 });
    domainTransformFilter({ planes: [b], width: W, height: H, sigmaSpatial: 8, sigmaRange: 0.2 });
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});

describe('domainTransformFilter with a signal', () => {
  it('stops with the signal’s reason once it is aborted', () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    expect(() =>
      domainTransformFilter({
        planes: [noisyStep(0.04, 3)],
        width: W,
        height: H,
        sigmaSpatial: 10,
        sigmaRange: 0.1,
        signal: controller.signal,
      }),
    ).toThrow('cancelled');
  });
});
