import { boxFilter } from './box-filter.ts';

/** The linear model of a guided filter: output = `a * guide + b`, per pixel. */
export interface GuidedCoefficients {
  readonly a: Float32Array;
  readonly b: Float32Array;
}

/** Arguments of {@link guidedFilterCoefficients}. */
export interface GuidedFilterArgs {
  /** The plane whose edges are kept, `width * height` samples (any range; usually 0 to 1). */
  readonly guide: Float32Array;
  /** The plane to smooth; omit to smooth the guide itself (an edge-preserving smoother). */
  readonly input?: Float32Array;
  readonly width: number;
  readonly height: number;
  /** Window radius in pixels. */
  readonly radius: number;
  /**
   * Regularisation, in squared guide units: variations with a variance well below `eps` are
   * smoothed, well above it kept. For a guide in 0..1, `eps = 0.01` keeps edges of about 0.1.
   */
  readonly eps: number;
}

/**
 * The guided filter of He, Sun and Tang (2010/2013): an edge-preserving smoother in O(1) per
 * pixel whatever the radius, built from box filters, with none of the bilateral filter's gradient
 * reversal. This returns the averaged linear coefficients (`mean_a`, `mean_b`) instead of the
 * output, because they are smooth: computed on a downscaled image and upsampled bilinearly,
 * `a * guide + b` with the full-resolution guide gives the "fast guided filter" (He and Sun 2015),
 * sharp edges at a fraction of the cost. Use {@link applyGuidedCoefficients} at the same size.
 *
 * Memory: five `width * height` Float32 planes, two of which are returned.
 *
 * @example
 * const { a, b } = guidedFilterCoefficients({ guide: luma, width, height, radius: 4, eps: 0.01 });
 * const smooth = applyGuidedCoefficients(a, b, luma);
 */
export function guidedFilterCoefficients(args: GuidedFilterArgs): GuidedCoefficients {
  const { guide, width, height, eps } = args;
  const input = args.input ?? guide;
  const n = width * height;
  if (guide.length < n || input.length < n) throw new Error('guidedFilterCoefficients: plane too small');
  const r = Math.max(0, Math.floor(args.radius));
  const selfGuided = input === guide;

  const meanI = new Float32Array(n);
  const corr = new Float32Array(n);
  const scratch = new Float32Array(n);
  const a = new Float32Array(n);
  const b = new Float32Array(n);

  boxFilter(guide, width, height, r, meanI, scratch);
  // corr holds mean(I * I), or mean(I * p) with a separate input.
  for (let i = 0; i < n; i++) corr[i] = guide[i]! * input[i]!;
  boxFilter(corr, width, height, r, corr, scratch);

  if (selfGuided) {
    for (let i = 0; i < n; i++) {
      const m = meanI[i]!;
      let v = corr[i]! - m * m;
      if (v < 0) v = 0;
      const ai = v / (v + eps);
      a[i] = ai;
      b[i] = m - ai * m;
    }
  } else {
    // b temporarily holds mean(I * I); corr holds mean(I * p); a holds mean(p).
    for (let i = 0; i < n; i++) b[i] = guide[i]! * guide[i]!;
    boxFilter(b, width, height, r, b, scratch);
    boxFilter(input, width, height, r, a, scratch);
    for (let i = 0; i < n; i++) {
      const mI = meanI[i]!;
      const mp = a[i]!;
      let v = b[i]! - mI * mI;
      if (v < 0) v = 0;
      const ai = (corr[i]! - mI * mp) / (v + eps);
      a[i] = ai;
      b[i] = mp - ai * mI;
    }
  }
  boxFilter(a, width, height, r, a, scratch);
  boxFilter(b, width, height, r, b, scratch);
  return { a, b };
}

/**
 * `out[i] = a[i] * guide[i] + b[i]`: the guided filter's output from its coefficients.
 *
 * @param out - result plane (may alias `guide`); allocated when omitted.
 */
export function applyGuidedCoefficients(
  a: Float32Array,
  b: Float32Array,
  guide: Float32Array,
  out: Float32Array = new Float32Array(guide.length),
): Float32Array {
  const n = Math.min(a.length, b.length, guide.length, out.length);
  for (let i = 0; i < n; i++) out[i] = a[i]! * guide[i]! + b[i]!;
  return out;
}

/**
 * Edge-preserving smoothing of one plane by itself (the self-guided guided filter), repeated
 * `iterations` times. More iterations flatten texture further while edges stay put.
 *
 * @returns a new plane of smoothed values.
 *
 * @example
 * const flat = guidedSmooth(channel, width, height, 6, 0.02, 2);
 */
export function guidedSmooth(
  plane: Float32Array,
  width: number,
  height: number,
  radius: number,
  eps: number,
  iterations = 1,
): Float32Array {
  let current = plane;
  for (let k = 0; k < iterations; k++) {
    const { a, b } = guidedFilterCoefficients({ guide: current, width, height, radius, eps });
    current = applyGuidedCoefficients(a, b, current, a);
  }
  return current === plane ? plane.slice() : current;
}

/**
 * Composes two guided-filter passes into one linear model of the original guide: if
 * `q1 = a1 * I + b1` and `q2 = a2 * q1 + b2`, then `q2 = (a2 * a1) * I + (a2 * b1 + b2)`. Written
 * into `a1` and `b1`. This is how several smoothing passes computed at low resolution are applied
 * to the full-resolution image in one go.
 */
export function composeGuidedCoefficients(
  first: GuidedCoefficients,
  second: GuidedCoefficients,
): GuidedCoefficients {
  const { a: a1, b: b1 } = first;
  const { a: a2, b: b2 } = second;
  const n = Math.min(a1.length, a2.length);
  for (let i = 0; i < n; i++) {
    const s = a2[i]!;
    a1[i] = s * a1[i]!;
    b1[i] = s * b1[i]! + b2[i]!;
  }
  return first;
}
