import { describe, expect, it } from 'vitest';
import {
  applyGuidedCoefficients,
  composeGuidedCoefficients,
  guidedFilterCoefficients,
  guidedSmooth,
} from './guided-filter.ts';
import { noisyStep as noisyStepOf } from './test-support.ts';

const W = 64;
const H = 32;

/** Left half 0.2, right half 0.8, plus seeded noise of amplitude `noise`. */
const noisyStep = (noise: number, seed = 1): Float32Array => noisyStepOf(W, H, noise, seed);

function std(values: number[]): number {
  const m = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / values.length);
}

describe('guided filter', () => {
  it('preserves a step edge while it smooths the noise on either side', () => {
    const src = noisyStep(0.05);
    const out = guidedSmooth(src, W, H, 4, 0.01);
    for (let y = 4; y < H - 4; y++) {
      // The two pixels either side of the 0.6 step stay far apart (a 9 x 9 box blur would leave
      // about 0.07 between them)...
      expect(out[y * W + W / 2]! - out[y * W + W / 2 - 1]!).toBeGreaterThan(0.4);
      // ...and keep their side's level.
      expect(Math.abs(out[y * W + W / 2 - 1]! - 0.2)).toBeLessThan(0.1);
      expect(Math.abs(out[y * W + W / 2]! - 0.8)).toBeLessThan(0.1);
    }
    const flatIn: number[] = [];
    const flatOut: number[] = [];
    for (let y = 0; y < H; y++) {
      for (let x = 4; x < 20; x++) {
        flatIn.push(src[y * W + x]!);
        flatOut.push(out[y * W + x]!);
      }
    }
    expect(std(flatOut)).toBeLessThan(std(flatIn) / 3);
  });

  it('smooths a weak step (below eps) like a blur', () => {
    const src = new Float32Array(W * H);
    for (let i = 0; i < W * H; i++) src[i] = i % W < W / 2 ? 0.5 : 0.52;
    const out = guidedSmooth(src, W, H, 4, 0.01);
    expect(out[5 * W + W / 2]! - out[5 * W + W / 2 - 1]!).toBeLessThan(0.005);
  });

  it('leaves a constant plane unchanged', () => {
    const src = new Float32Array(W * H).fill(0.4);
    const out = guidedSmooth(src, W, H, 5, 0.02, 2);
    for (const v of out) expect(v).toBeCloseTo(0.4, 5);
  });

  it('with a separate input, transfers the guide edges (joint filtering)', () => {
    const guide = noisyStep(0);
    // The input is a blurred version of the step: the output should be sharp again.
    const input = new Float32Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) input[y * W + x] = 0.2 + 0.6 / (1 + Math.exp(-(x - W / 2 + 0.5) / 3));
    }
    const { a, b } = guidedFilterCoefficients({ guide, input, width: W, height: H, radius: 3, eps: 1e-4 });
    const out = applyGuidedCoefficients(a, b, guide);
    const y = H / 2;
    expect(out[y * W + W / 2]! - out[y * W + W / 2 - 1]!).toBeGreaterThan(
      2 * (input[y * W + W / 2]! - input[y * W + W / 2 - 1]!),
    );
  });

  it('composes two passes into one linear model of the original guide', () => {
    const src = noisyStep(0.05, 7);
    const first = guidedFilterCoefficients({ guide: src, width: W, height: H, radius: 3, eps: 0.01 });
    const q1 = applyGuidedCoefficients(first.a, first.b, src);
    const second = guidedFilterCoefficients({ guide: q1, width: W, height: H, radius: 3, eps: 0.01 });
    const q2 = applyGuidedCoefficients(second.a, second.b, q1);
    const both = composeGuidedCoefficients(first, second);
    const direct = applyGuidedCoefficients(both.a, both.b, src);
    for (let i = 0; i < W * H; i++) expect(direct[i]).toBeCloseTo(q2[i]!, 5);
  });
});
