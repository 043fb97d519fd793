/**
 * Percentiles of a plane's values, from a 256-bin histogram of `value * scale` (values are
 * clamped to 0..255 after scaling). Used to set black and white points from the photo itself, so
 * dark and bright photos land on the same tonal range.
 *
 * @param quantiles - fractions in 0..1, e.g. `[0.01, 0.99]`.
 * @param stride - look at every `stride`-th value only (percentiles of a photo barely change
 *   when a third of it is sampled).
 * @returns for each quantile, the bin (0..255) where the cumulative count first reaches it.
 *
 * @example
 * const [black, white] = planePercentiles(luma, 255, [0.01, 0.99]); // luma in 0..1
 */
export function planePercentiles(
  plane: Float32Array | Uint8Array,
  scale: number,
  quantiles: readonly number[],
  stride = 1,
): number[] {
  const hist = new Int32Array(256);
  const step = Math.max(1, Math.floor(stride));
  let n = 0;
  // In chunks: a small function called many times is optimised early, a long loop run once per
  // render only by on-stack replacement, late.
  for (let i = 0; i < plane.length; i += CHUNK * step) {
    const end = Math.min(plane.length, i + CHUNK * step);
    n +=
      plane instanceof Float32Array
        ? countFloat(plane, i, end, scale, step, hist)
        : countBytes(plane, i, end, scale, step, hist);
  }
  return quantiles.map((q) => {
    const target = q * n;
    let acc = 0;
    for (let v = 0; v < 256; v++) {
      acc += hist[v]!;
      if (acc >= target && acc > 0) return v;
    }
    return 255;
  });
}

const CHUNK = 8192;

// countFloat and countBytes are the same loop on purpose: one function fed both element kinds
// would make its loads polymorphic, and these run over every pixel.
function countFloat(
  plane: Float32Array,
  start: number,
  end: number,
  scale: number,
  step: number,
  hist: Int32Array,
): number {
  let n = 0;
  for (let i = start; i < end; i += step, n++) {
    const v = plane[i]! * scale;
    hist[v > 0 ? (v < 255 ? v | 0 : 255) : 0]!++;
  }
  return n;
}

function countBytes(
  plane: Uint8Array,
  start: number,
  end: number,
  scale: number,
  step: number,
  hist: Int32Array,
): number {
  let n = 0;
  for (let i = start; i < end; i += step, n++) {
    const v = plane[i]! * scale;
    hist[v > 0 ? (v < 255 ? v | 0 : 255) : 0]!++;
  }
  return n;
}

/**
 * A histogram smoothed by two box passes of radius `radius` bins (a triangle of half-width
 * `2 * radius`, close to a Gaussian of sigma `radius * 0.82`); bins outside the histogram count
 * as empty, so the mass near the ends spreads out of it rather than piling up. For finding the
 * peaks and valleys of a tone distribution without the noise of single bins.
 *
 * @example
 * const density = smoothHistogram(counts, 8);
 */
export function smoothHistogram(counts: ArrayLike<number>, radius: number): Float64Array {
  const r = Math.max(0, Math.floor(radius));
  let a = Float64Array.from(counts);
  for (let pass = 0; pass < 2; pass++) {
    const b = new Float64Array(a.length);
    let s = 0;
    for (let i = 0; i <= r && i < a.length; i++) s += a[i]!;
    for (let i = 0; i < a.length; i++) {
      b[i] = s / (2 * r + 1);
      if (i + r + 1 < a.length) s += a[i + r + 1]!;
      if (i - r >= 0) s -= a[i - r]!;
    }
    a = b;
  }
  return a;
}
