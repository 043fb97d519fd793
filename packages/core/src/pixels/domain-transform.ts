import type { BandAbort, BandKernel } from '../parallel/bands.ts';
import { bandKernel, bandThreads, runBands, sharedArray, toShared } from '../parallel/bands.ts';

/** Colour differences are quantised to this many steps per unit for the weight tables. */
const STEPS = 1024;

/** Arguments of {@link domainTransformFilter}. */
export interface DomainTransformArgs {
  /** Planes to smooth in place, each `width * height` samples in 0..1 (e.g. R, G, B). */
  readonly planes: readonly Float32Array[];
  readonly width: number;
  readonly height: number;
  /** Spatial extent of the smoothing, in pixels (OpenCV's `sigma_s`). */
  readonly sigmaSpatial: number;
  /**
   * Edge threshold in plane units (OpenCV's `sigma_r`): colour steps well above it stop the
   * smoothing, steps well below are smoothed over. Typical 0.05 (keeps detail) to 0.5 (flattens).
   */
  readonly sigmaRange: number;
  /**
   * Planes whose edges stop the smoothing, summed over channels; by default `planes` as they are
   * before filtering.
   */
  readonly guide?: readonly Float32Array[];
  /**
   * Alternating horizontal and vertical passes; 3 removes the streaks a single pass leaves.
   * @default 3
   */
  readonly iterations?: number;
  /** Checked between passes and every 64 rows, so a cancelled run stops within milliseconds. */
  readonly signal?: AbortSignal;
}

/**
 * Edge-preserving smoothing by the domain transform with recursive filtering (Gastal and Oliveira,
 * "Domain Transform for Edge-Aware Image and Video Processing", SIGGRAPH 2011), the filter
 * behind OpenCV's `edgePreservingFilter`, `stylization` and `pencilSketch`. Each pass is a
 * first-order recursive filter along rows, then columns, whose feedback falls with the colour
 * difference between neighbours: O(1) per pixel whatever `sigmaSpatial`, a few multiply-adds per
 * sample, and all channels share one weight per pixel, so colours stay aligned at edges.
 *
 * Memory: two `Uint16` planes of edge strengths, kept for the next call of the same size when
 * they are small (at most 2^20 samples).
 *
 * @returns `planes`, smoothed in place.
 *
 * @example
 * const [r, g, b] = downsampleBox(image.data, image.width, image.height, 3, 2, 1 / 255);
 * domainTransformFilter({ planes: [r, g, b], width, height, sigmaSpatial: 30, sigmaRange: 0.3 });
 */
export function domainTransformFilter(args: DomainTransformArgs): readonly Float32Array[] {
  const { planes, width: w, height: h } = args;
  const n = w * h;
  const guide = args.guide ?? planes;
  if (planes.length === 0 || guide.length === 0) throw new Error('domainTransformFilter: no planes');
  for (const p of [...planes, ...guide]) {
    if (p.length < n) throw new Error('domainTransformFilter: plane too small');
  }
  const iterations = Math.max(1, Math.floor(args.iterations ?? 3));
  const sigmaS = Math.max(1e-3, args.sigmaSpatial);
  const sigmaR = Math.max(1e-4, args.sigmaRange);

  // Large planes are filtered in bands on the run's threads: rows for the differences and the
  // passes along rows, columns for the passes along columns; every sample is computed exactly as
  // in one pass, so the result does not depend on the bands.
  const parallel = bandThreads() > 1 && n >= PARALLEL_SAMPLES;
  const work = parallel ? planes.map((p) => toShared(p.subarray(0, n))) : planes;
  const guides = parallel
    ? guide.map((g) => (args.guide ? toShared(g.subarray(0, n)) : work[planes.indexOf(g)]!))
    : guide;
  const run = <A>(kernel: BandKernel<A>, a: A, size: number): void => {
    if (parallel) runBands(kernel, a, size, { minBand: 8, ...(args.signal ? { signal: args.signal } : {}) });
    else kernel.run(a, 0, size, args.signal ?? NO_ABORT);
  };

  // Quantised sum over channels of |difference| to the left / upper neighbour.
  const { dx, dy } = scratchPlanes(n, parallel);
  const maxQ = guide.length * STEPS;
  run(dtDifferences, { guide: guides, dx, dy, width: w, maxQ }, h);

  const ratio = sigmaS / sigmaR;
  const lut = new Float32Array(maxQ + 1);
  for (let k = 0; k < iterations; k++) {
    args.signal?.throwIfAborted();
    // Variance of the whole cascade equals sigmaS² (Gastal and Oliveira, eq. 14).
    const sigmaK = (sigmaS * Math.sqrt(3) * 2 ** (iterations - k - 1)) / Math.sqrt(4 ** iterations - 1);
    const logA = -Math.SQRT2 / sigmaK;
    for (let q = 0; q <= maxQ; q++) lut[q] = Math.exp(logA * (1 + (ratio * q) / STEPS));
    // Along rows: left to right, then right to left.
    run(dtRows, { planes: work, dx, lut, width: w }, h);
    args.signal?.throwIfAborted();
    // Along columns: each row blends with the row above, then (bottom-up) with the row below.
    // The weights of a row pair serve both passes: the way down looks them up and keeps them
    // for the way back.
    run(dtColumns, { planes: work, dy, lut, width: w, height: h }, w);
  }
  if (work !== planes) for (const [c, p] of planes.entries()) p.set(work[c]!);
  return planes;
}

/** Planes of at least this many samples are worth handing to other threads. */
const PARALLEL_SAMPLES = 1 << 17;

/** Scratch planes of at most this many samples are kept for the next call (4 bytes each). */
const KEEP_SAMPLES = 1 << 20;

interface Scratch {
  readonly n: number;
  readonly shared: boolean;
  readonly dx: Uint16Array;
  readonly dy: Uint16Array;
}

let kept: Scratch | undefined;

/**
 * The edge planes of a call: the last call's when it had the same size (every sample
 * is written before it is read, so they need no clearing). Fresh memory costs a page fault per
 * 4 KB on first touch, which on a virtual machine can cost more than the filter itself at the
 * work sizes styles use; planes larger than {@link KEEP_SAMPLES} are not kept.
 */
function scratchPlanes(n: number, shared: boolean): Scratch {
  if (kept && kept.n === n && kept.shared === shared) return kept;
  const planes: Scratch = shared
    ? { n, shared, dx: sharedArray(Uint16Array, n), dy: sharedArray(Uint16Array, n) }
    : { n, shared, dx: new Uint16Array(n), dy: new Uint16Array(n) };
  if (n <= KEEP_SAMPLES) kept = planes;
  return planes;
}

const NO_ABORT: BandAbort = { throwIfAborted(): void {} };

/** Rows `y0` to `y1 - 1` of the quantised differences to the left (`dx`) and upper (`dy`) neighbours. */
export const dtDifferences = bandKernel(
  import.meta.url,
  'dtDifferences',
  (
    a: { guide: readonly Float32Array[]; dx: Uint16Array; dy: Uint16Array; width: number; maxQ: number },
    y0: number,
    y1: number,
  ): void => {
    const { guide, dx, dy, width: w, maxQ } = a;
    // Hot loops live in small per-row functions: V8 optimises a function called once per row
    // right away, while a long nested loop is entered on-stack and deoptimised at each row's end.
    if (guide.length === 3) {
      const [g0, g1, g2] = guide as [Float32Array, Float32Array, Float32Array];
      for (let y = y0; y < y1; y++) {
        // The first row has no upper neighbour; the others get both differences in one pass.
        if (y === 0) differenceRow3(g0, g1, g2, dx, 1, w - 1, 1, maxQ);
        else differencesRow3(g0, g1, g2, dx, dy, y * w, w, maxQ);
      }
    } else {
      // Summed over the planes: the band's rows start from zero (the planes may be a previous
      // call's).
      dx.fill(0, y0 * w, y1 * w);
      dy.fill(0, y0 * w, y1 * w);
      const from = Math.max(1, y0);
      for (const g of guide) {
        for (let y = y0; y < y1; y++) differenceRow(g, dx, y * w, 1, w - 1);
        for (let y = from; y < y1; y++) differenceRow(g, dy, y * w, w, w);
      }
    }
  },
);

/**
 * The recursive filter along rows `y0` to `y1 - 1`, left to right then right to left. Rows go in
 * pairs: each step of the filter waits for the one before it, so two rows side by side keep the
 * processor busy with twice as many independent chains.
 */
export const dtRows = bandKernel(
  import.meta.url,
  'dtRows',
  (
    a: { planes: readonly Float32Array[]; dx: Uint16Array; lut: Float32Array; width: number },
    y0: number,
    y1: number,
    abort: BandAbort,
  ): void => {
    const { planes, dx, lut, width: w } = a;
    const weights = new Float32Array(Math.max(w, 1));
    const three = planes.length === 3;
    const [p0, p1, p2] = planes as [Float32Array, Float32Array, Float32Array];
    if (three) {
      const others = new Float32Array(Math.max(w, 1));
      for (let y = y0; y < y1; y += 2) {
        if ((y & 62) === 0) abort.throwIfAborted();
        const row = y * w;
        if (y + 1 < y1) {
          forwardRows3(p0, p1, p2, dx, lut, weights, others, row, row + w, w);
          backwardRows3(p0, p1, p2, weights, others, row, row + w, w);
        } else {
          weightRow(dx, lut, weights, row, w);
          forwardRow3(p0, p1, p2, weights, row, w);
          backwardRow3(p0, p1, p2, weights, row, w);
        }
      }
      return;
    }
    for (let y = y0; y < y1; y++) {
      if ((y & 63) === 0) abort.throwIfAborted();
      const row = y * w;
      weightRow(dx, lut, weights, row, w);
      for (let c = 0; c < planes.length; c++) {
        forwardRow(planes[c]!, weights, row, w);
        backwardRow(planes[c]!, weights, row, w);
      }
    }
  },
);

/**
 * The recursive filter along columns `x0` to `x1 - 1`, top to bottom then bottom to top. The
 * weight linking a row to the one above is looked up on both ways, from the row's differences.
 */
export const dtColumns = bandKernel(
  import.meta.url,
  'dtColumns',
  (
    a: { planes: readonly Float32Array[]; dy: Uint16Array; lut: Float32Array; width: number; height: number },
    x0: number,
    x1: number,
  ): void => {
    const { planes, dy, lut, width: w, height: h } = a;
    const three = planes.length === 3;
    const [p0, p1, p2] = planes as [Float32Array, Float32Array, Float32Array];
    const span = x1 - x0;
    for (let y = 1; y < h; y++) {
      const row = y * w + x0;
      if (three) blendRow3(p0, p1, p2, dy, lut, row, row, row - w, span);
      else for (let c = 0; c < planes.length; c++) blendRow(planes[c]!, dy, lut, row, row, row - w, span);
    }
    for (let y = h - 2; y >= 0; y--) {
      const row = y * w + x0;
      if (three) blendRow3(p0, p1, p2, dy, lut, row + w, row, row + w, span);
      else for (let c = 0; c < planes.length; c++) blendRow(planes[c]!, dy, lut, row + w, row, row + w, span);
    }
  },
);

/** d[row + x] = quantised |g[i] - g[i - offset]| summed over three planes, for x in [x0, x0 + count). */
function differenceRow3(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  d: Uint16Array,
  start: number,
  count: number,
  offset: number,
  max: number,
): void {
  const end = start + count;
  for (let i = start; i < end; i++) {
    const j = i - offset;
    // Math.abs and Math.min compile to branch-free instructions; on noisy images a
    // data-dependent branch here would mispredict half the time.
    d[i] =
      Math.min(
        max,
        (Math.abs(a[i]! - a[j]!) + Math.abs(b[i]! - b[j]!) + Math.abs(c[i]! - c[j]!)) * STEPS + 0.5,
      ) | 0;
  }
}

/** {@link differenceRow3} to the left (into `dx`) and upper (into `dy`) neighbours of one row. */
function differencesRow3(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  dx: Uint16Array,
  dy: Uint16Array,
  row: number,
  w: number,
  max: number,
): void {
  const up = row - w;
  dy[row] =
    Math.min(
      max,
      (Math.abs(a[row]! - a[up]!) + Math.abs(b[row]! - b[up]!) + Math.abs(c[row]! - c[up]!)) * STEPS + 0.5,
    ) | 0;
  const end = row + w;
  for (let i = row + 1; i < end; i++) {
    const ai = a[i]!;
    const bi = b[i]!;
    const ci = c[i]!;
    const l = i - 1;
    const u = i - w;
    dx[i] =
      Math.min(max, (Math.abs(ai - a[l]!) + Math.abs(bi - b[l]!) + Math.abs(ci - c[l]!)) * STEPS + 0.5) | 0;
    dy[i] =
      Math.min(max, (Math.abs(ai - a[u]!) + Math.abs(bi - b[u]!) + Math.abs(ci - c[u]!)) * STEPS + 0.5) | 0;
  }
}

/** d[i] += quantised |g[i] - g[i - offset]| (at most one unit per plane). */
function differenceRow(g: Float32Array, d: Uint16Array, row: number, offset: number, count: number): void {
  const start = row + (offset === 1 ? 1 : 0);
  const end = start + count;
  for (let i = start; i < end; i++) {
    d[i] = d[i]! + ((Math.min(1, Math.abs(g[i]! - g[i - offset]!)) * STEPS + 0.5) | 0);
  }
}

/** weights[x] = lut[d[row + x]]. */
function weightRow(d: Uint16Array, lut: Float32Array, weights: Float32Array, row: number, w: number): void {
  for (let x = 0; x < w; x++) weights[x] = lut[d[row + x]!]!;
}

// Each row function holds exactly one loop: V8 optimises such a function as a whole after a
// few calls, whereas a function with a second loop that has not run yet is deoptimised when it
// gets there ("insufficient type feedback"), again and again.

/** Recursive filter along one row, left to right; weights[x] links pixel x to x - 1. */
function forwardRow(p: Float32Array, v: Float32Array, row: number, w: number): void {
  let prev = p[row]!;
  for (let x = 1; x < w; x++) {
    const cur = p[row + x]!;
    prev = cur + v[x]! * (prev - cur);
    p[row + x] = prev;
  }
}

/** Recursive filter along one row, right to left. */
function backwardRow(p: Float32Array, v: Float32Array, row: number, w: number): void {
  let next = p[row + w - 1]!;
  for (let x = w - 2; x >= 0; x--) {
    const cur = p[row + x]!;
    next = cur + v[x + 1]! * (next - cur);
    p[row + x] = next;
  }
}

/** {@link forwardRow} on three planes at once (three independent chains run in parallel). */
function forwardRow3(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  v: Float32Array,
  row: number,
  w: number,
): void {
  let pa = a[row]!;
  let pb = b[row]!;
  let pc = c[row]!;
  for (let x = 1; x < w; x++) {
    const i = row + x;
    const k = v[x]!;
    pa = a[i]! + k * (pa - a[i]!);
    pb = b[i]! + k * (pb - b[i]!);
    pc = c[i]! + k * (pc - c[i]!);
    a[i] = pa;
    b[i] = pb;
    c[i] = pc;
  }
}

/** {@link backwardRow} on three planes at once. */
function backwardRow3(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  v: Float32Array,
  row: number,
  w: number,
): void {
  let pa = a[row + w - 1]!;
  let pb = b[row + w - 1]!;
  let pc = c[row + w - 1]!;
  for (let x = w - 2; x >= 0; x--) {
    const i = row + x;
    const k = v[x + 1]!;
    pa = a[i]! + k * (pa - a[i]!);
    pb = b[i]! + k * (pb - b[i]!);
    pc = c[i]! + k * (pc - c[i]!);
    a[i] = pa;
    b[i] = pb;
    c[i] = pc;
  }
}

/**
 * {@link forwardRow3} on rows `row` and `other` at once (six chains), looking the weights up from
 * `d` on the way and keeping them in `v` and `u` for {@link backwardRows3}.
 */
function forwardRows3(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  d: Uint16Array,
  lut: Float32Array,
  v: Float32Array,
  u: Float32Array,
  row: number,
  other: number,
  w: number,
): void {
  let pa = a[row]!;
  let pb = b[row]!;
  let pc = c[row]!;
  let qa = a[other]!;
  let qb = b[other]!;
  let qc = c[other]!;
  for (let x = 1; x < w; x++) {
    const i = row + x;
    const j = other + x;
    const k = lut[d[i]!]!;
    const l = lut[d[j]!]!;
    v[x] = k;
    u[x] = l;
    pa = a[i]! + k * (pa - a[i]!);
    pb = b[i]! + k * (pb - b[i]!);
    pc = c[i]! + k * (pc - c[i]!);
    qa = a[j]! + l * (qa - a[j]!);
    qb = b[j]! + l * (qb - b[j]!);
    qc = c[j]! + l * (qc - c[j]!);
    a[i] = pa;
    b[i] = pb;
    c[i] = pc;
    a[j] = qa;
    b[j] = qb;
    c[j] = qc;
  }
}

/** {@link backwardRow3} on rows `row` (weights `v`) and `other` (weights `u`) at once. */
function backwardRows3(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  v: Float32Array,
  u: Float32Array,
  row: number,
  other: number,
  w: number,
): void {
  let pa = a[row + w - 1]!;
  let pb = b[row + w - 1]!;
  let pc = c[row + w - 1]!;
  let qa = a[other + w - 1]!;
  let qb = b[other + w - 1]!;
  let qc = c[other + w - 1]!;
  for (let x = w - 2; x >= 0; x--) {
    const i = row + x;
    const j = other + x;
    const k = v[x + 1]!;
    const l = u[x + 1]!;
    pa = a[i]! + k * (pa - a[i]!);
    pb = b[i]! + k * (pb - b[i]!);
    pc = c[i]! + k * (pc - c[i]!);
    qa = a[j]! + l * (qa - a[j]!);
    qb = b[j]! + l * (qb - b[j]!);
    qc = c[j]! + l * (qc - c[j]!);
    a[i] = pa;
    b[i] = pb;
    c[i] = pc;
    a[j] = qa;
    b[j] = qb;
    c[j] = qc;
  }
}

/** p[row + x] += lut[d[vo + x]] * (p[other + x] - p[row + x]). */
function blendRow(
  p: Float32Array,
  d: Uint16Array,
  lut: Float32Array,
  vo: number,
  row: number,
  other: number,
  w: number,
): void {
  for (let x = 0; x < w; x++) {
    const cur = p[row + x]!;
    p[row + x] = cur + lut[d[vo + x]!]! * (p[other + x]! - cur);
  }
}

/** {@link blendRow} on three planes at once. */
function blendRow3(
  a: Float32Array,
  b: Float32Array,
  c: Float32Array,
  d: Uint16Array,
  lut: Float32Array,
  vo: number,
  row: number,
  other: number,
  w: number,
): void {
  for (let x = 0; x < w; x++) {
    const i = row + x;
    const j = other + x;
    const k = lut[d[vo + x]!]!;
    const ca = a[i]!;
    const cb = b[i]!;
    const cc = c[i]!;
    a[i] = ca + k * (a[j]! - ca);
    b[i] = cb + k * (b[j]! - cb);
    c[i] = cc + k * (c[j]! - cc);
  }
}
