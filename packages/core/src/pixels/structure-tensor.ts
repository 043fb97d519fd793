import { bandKernel, bandThreads, runBands, sharedArray, toShared } from '../parallel/bands.ts';
import type { BandAbort, BandKernel } from '../parallel/bands.ts';
import { downsampledSize } from './resample.ts';

/** Local stroke direction of an image, on a grid of `factor × factor`-pixel cells. */
export interface FlowField {
  /** Grid size in cells: `ceil(imageWidth / factor)` by `ceil(imageHeight / factor)`. */
  readonly width: number;
  readonly height: number;
  /** Pixels per cell side; the cell of pixel (x, y) is `(floor(x / factor), floor(y / factor))`. */
  readonly factor: number;
  /** Unit tangent (along edges, across the gradient), x and y components. */
  readonly tx: Float32Array;
  readonly ty: Float32Array;
  /** Tangent angle in radians, in [0, π) (y pointing down). */
  readonly angle: Float32Array;
  /** Anisotropy `(λ1 - λ2) / (λ1 + λ2)`: 0 where there is no preferred direction, 1 along a clean edge. */
  readonly coherence: Float32Array;
}

/** Steps per turn of the sine table used for fallback directions (a power of two). */
const TRIG_STEPS = 4096;
const SIN = Float64Array.from({ length: TRIG_STEPS }, (_, k) => Math.sin((2 * Math.PI * k) / TRIG_STEPS));

/** Luma (0..1) of each `factor × factor` cell of interleaved RGB, averaged (cells cut by the edges average what they have). */
function cellLuma(
  data: Uint8Array,
  width: number,
  height: number,
  factor: number,
  gw: number,
  gh: number,
): Float32Array {
  // Large images in bands of cell rows on the run's threads (each cell row reads its own rows).
  const parallel = bandThreads() > 1 && width * height >= 1 << 20;
  const out = parallel ? sharedArray(Float32Array, gw * gh) : new Float32Array(gw * gh);
  const args = { data: parallel ? toShared(data) : data, width, height, factor, out };
  if (parallel) runBands(cellLumaBand, args, gh, { minBand: Math.ceil(65536 / (width * factor)) });
  else cellLumaBand.run(args, 0, gh, { throwIfAborted() {} });
  return out;
}

/** Cell rows `cy0` to `cy1 - 1` of {@link cellLuma}. */
export const cellLumaBand = bandKernel(
  import.meta.url,
  'cellLumaBand',
  (
    a: { data: Uint8Array; width: number; height: number; factor: number; out: Float32Array },
    cy0: number,
    cy1: number,
  ): void => {
    const { data, width, height, factor, out } = a;
    const gw = Math.ceil(width / factor);
    cellLumaRows(data, width, height, factor, gw, out, cy0, cy1);
  },
);

function cellLumaRows(
  data: Uint8Array,
  width: number,
  height: number,
  factor: number,
  gw: number,
  out: Float32Array,
  cy0: number,
  cy1: number,
): void {
  // Integer sums of R, G and B per cell, each row's run of `factor` pixels summed in registers.
  const sr = new Int32Array(gw);
  const sg = new Int32Array(gw);
  const sb = new Int32Array(gw);
  for (let cy = cy0; cy < cy1; cy++) {
    sr.fill(0);
    sg.fill(0);
    sb.fill(0);
    const y0 = cy * factor;
    const y1 = Math.min(height, y0 + factor);
    for (let y = y0; y < y1; y++) {
      const row = y * width * 3;
      for (let c = 0; c < gw; c++) {
        const x1 = Math.min(width, (c + 1) * factor);
        let r = 0;
        let g = 0;
        let b = 0;
        for (let i = row + c * factor * 3, end = row + x1 * 3; i < end; i += 3) {
          r += data[i]!;
          g += data[i + 1]!;
          b += data[i + 2]!;
        }
        sr[c]! += r;
        sg[c]! += g;
        sb[c]! += b;
      }
    }
    const rows = y1 - y0;
    for (let c = 0; c < gw; c++) {
      const n = rows * (Math.min(width, (c + 1) * factor) - c * factor);
      out[cy * gw + c] = (0.299 * sr[c]! + 0.587 * sg[c]! + 0.114 * sb[c]!) / (255 * n);
    }
  }
}

/**
 * `atan2(y, x)` for y >= 0, to within 2e-6 radians: a minimax polynomial of the arctangent on
 * [0, 1] and the octant's symmetry, several times faster than Math.atan2 (a flow direction needs
 * no more, and there is one per cell).
 */
function halfTurnAngle(x: number, y: number): number {
  const ax = Math.abs(x);
  const swap = y > ax;
  const z = swap ? ax / y : ax > 0 ? y / ax : 0;
  const z2 = z * z;
  let a =
    z *
    (0.99997726 +
      z2 * (-0.33262347 + z2 * (0.19354346 + z2 * (-0.11643287 + z2 * (0.05265332 + z2 * -0.0117212)))));
  if (swap) a = Math.PI / 2 - a;
  return x < 0 ? Math.PI - a : a;
}

/** Arguments of {@link flowField}. */
export interface FlowFieldArgs {
  /** Interleaved 8-bit RGB (luma is used), `width * height * 3` bytes. */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  /**
   * Integer cell size: the field is computed on the image shrunk by this factor (box average),
   * which costs a `factor²`-th and is plenty for a direction that is smoothed anyway.
   * @default 2
   */
  readonly factor?: number;
  /** Smoothing of the structure tensor, in full-resolution pixels: how far a direction spreads. */
  readonly sigma: number;
  /**
   * Direction used where the image has no structure (flat sky, blur): a tangent angle in radians,
   * either one for the whole image or one per cell. `strength` is in squared luma-gradient units
   * (luma 0..1 per pixel): gradients well below `sqrt(strength)` follow the fallback.
   */
  readonly fallback?: { readonly angle: number | Float32Array; readonly strength: number };
}

/**
 * The smoothed structure tensor of the image's luma and its eigenvectors: the direction along
 * edges at every cell (Brox et al. 2006; the flow field of Kyprianidis' anisotropic Kuwahara
 * filter). Gradients are 3×3 Sobel at cell resolution; the tensor is smoothed with two box
 * filters (a tent of the same variance as a Gaussian of `sigma`), so the cost is O(1) per cell at
 * any `sigma`. Borders repeat the edge.
 *
 * Results only depend on the rows within about `3 * sigma + 2 * factor` pixels, so a band of the
 * image processed with that much margin (starting at a multiple of `factor`) gives the same field.
 *
 * @example
 * const flow = flowField({ data: image.data, width: image.width, height: image.height, sigma: 6 });
 * const i = (y >> 1) * flow.width + (x >> 1);
 * const along = [flow.tx[i], flow.ty[i]];
 */
export function flowField(args: FlowFieldArgs): FlowField {
  const { data, width, height } = args;
  if (!(width > 0 && height > 0) || data.length < width * height * 3) {
    throw new Error('flowField: data must hold width * height * 3 bytes');
  }
  const factor = Math.max(1, Math.floor(args.factor ?? 2));
  const { width: gw, height: gh } = downsampledSize(width, height, factor);
  const n = gw * gh;
  const luma = cellLuma(data, width, height, factor, gw, gh);

  // Sobel / 8 is the derivative per cell; / factor makes it per pixel.
  // The planes become the result: shared when the run has helper threads, so that band kernels
  // (the Kuwahara filter, a plugin's own) read it without a copy. Every pass runs in bands (rows,
  // or columns for the vertical box passes, whose running sums go down whole columns), so each
  // cell gets the same arithmetic as in one pass.
  const shared = bandThreads() > 1 && width * height >= 1 << 20;
  const plane = (): Float32Array => (shared ? sharedArray(Float32Array, n) : new Float32Array(n));
  const e = plane();
  const f = plane();
  const g = plane();
  const se = plane();
  const sf = plane();
  const sg = plane();
  // Two box passes (a tent) of matching variance, 2r(r+1)/3 = sigma²: a direction needs no
  // better Gaussian, and this costs the same at any sigma.
  const sigma = Math.max(0, args.sigma) / factor;
  const r = Math.max(1, Math.round((Math.sqrt(1 + 6 * sigma * sigma) - 1) / 2));
  const fb = args.fallback;
  const fbPlane = fb && typeof fb.angle !== 'number' ? fb.angle : undefined;
  if (fbPlane && fbPlane.length < n) throw new Error('flowField: fallback angle plane too small');
  const fbConst = fb && typeof fb.angle === 'number' ? fb.angle : 0;
  const a: TensorArgs = {
    luma,
    gw,
    gh,
    norm: 1 / (8 * factor),
    r,
    planes: [e, f, g],
    scratch: [se, sf, sg],
    fbPlane: fbPlane ? (shared ? toShared(fbPlane) : fbPlane) : new Float32Array(1),
    fbOn: fbPlane !== undefined,
    fbStrength: fb ? Math.max(0, fb.strength) : 0,
    fbSin: Math.sin(fbConst),
    fbCos: Math.cos(fbConst),
    // The results overwrite the tensor planes (each cell reads its own tensor once, first).
    coherence: luma,
  };
  const pass = <A>(kernel: BandKernel<A>, args: A, size: number, minBand: number): void => {
    if (shared) runBands(kernel, args, size, { minBand });
    else kernel.run(args, 0, size, NEVER);
  };
  const rowBand = Math.ceil(16384 / gw);
  const colBand = 32;
  pass(tensorRowsBand, a, gh, rowBand);
  pass(tensorColumnsBand, { ...a, eigen: false }, gw, colBand);
  pass(tensorRowsBand, { ...a, luma: undefined }, gh, rowBand);
  pass(tensorColumnsBand, { ...a, eigen: true }, gw, colBand);
  const tx = e;
  const ty = f;
  const angle = g;
  const coherence = luma;
  return { width: gw, height: gh, factor, tx, ty, angle, coherence };
}

const NEVER: BandAbort = { throwIfAborted() {} };

/** What the passes of {@link flowField} share: the cell luma, the tensor planes and the fallback. */
interface TensorArgs {
  /** Cell luma; the first row pass takes the tensor from it (the second gets none: box rows only). */
  readonly luma?: Float32Array | undefined;
  readonly gw: number;
  readonly gh: number;
  readonly norm: number;
  /** Box radius in cells. */
  readonly r: number;
  /** E, F, G of the tensor: what a row pass reads (after the first) and a column pass writes. */
  readonly planes: readonly Float32Array[];
  /** What a row pass writes and a column pass reads. */
  readonly scratch: readonly Float32Array[];
  readonly fbPlane: Float32Array;
  readonly fbOn: boolean;
  readonly fbStrength: number;
  readonly fbSin: number;
  readonly fbCos: number;
  readonly coherence: Float32Array;
}

/**
 * Cell rows `y0` to `y1 - 1` of a horizontal box pass over the three tensor planes (into
 * `scratch`); with `luma`, the tensor of each row is first taken from the luma (Sobel, reading
 * the rows beside it) instead of read from `planes`.
 */
export const tensorRowsBand = bandKernel(
  import.meta.url,
  'tensorRowsBand',
  (a: TensorArgs, y0: number, y1: number, abort): void => {
    const { luma, gw, gh, norm, r, planes, scratch } = a;
    const re = new Float32Array(gw);
    const rf = new Float32Array(gw);
    const rg = new Float32Array(gw);
    for (let y = y0; y < y1; y++) {
      if ((y & 63) === 0) abort.throwIfAborted();
      const row = y * gw;
      if (luma) {
        const up = (y > 0 ? y - 1 : 0) * gw;
        const down = (y < gh - 1 ? y + 1 : y) * gw;
        for (let x = 0; x < gw; x++) {
          const l = x > 0 ? x - 1 : 0;
          const rr = x < gw - 1 ? x + 1 : x;
          const a0 = luma[up + l]!;
          const b = luma[up + x]!;
          const c = luma[up + rr]!;
          const d = luma[row + l]!;
          const fr = luma[row + rr]!;
          const gg = luma[down + l]!;
          const hh = luma[down + x]!;
          const ii = luma[down + rr]!;
          const gx = (c + 2 * fr + ii - a0 - 2 * d - gg) * norm;
          const gy = (gg + 2 * hh + ii - a0 - 2 * b - c) * norm;
          re[x] = gx * gx;
          rf[x] = gx * gy;
          rg[x] = gy * gy;
        }
        boxRow(re, 0, scratch[0]!, row, gw, r);
        boxRow(rf, 0, scratch[1]!, row, gw, r);
        boxRow(rg, 0, scratch[2]!, row, gw, r);
      } else {
        for (let k = 0; k < 3; k++) boxRow(planes[k]!, row, scratch[k]!, row, gw, r);
      }
    }
  },
);

/**
 * Cell columns `x0` to `x1 - 1` of a vertical box pass over the three tensor planes (from
 * `scratch` into `planes`), each column's running sum down the whole column; with `eigen`, each
 * row of the result is then turned into the tangent, angle and coherence in place.
 */
export const tensorColumnsBand = bandKernel(
  import.meta.url,
  'tensorColumnsBand',
  (a: TensorArgs & { readonly eigen: boolean }, x0: number, x1: number, abort): void => {
    const { gw, gh: h, r, planes, scratch } = a;
    const span = x1 - x0;
    const accs = [new Float64Array(span), new Float64Array(span), new Float64Array(span)];
    const first = r < h - 1 ? r : h - 1;
    for (let k = 0; k < 3; k++)
      for (let y = 0; y <= first; y++) addRow(accs[k]!, scratch[k]!, y * gw + x0, span);
    let count = first + 1;
    for (let y = 0; y < h; y++) {
      if ((y & 255) === 0) abort.throwIfAborted();
      const scale = 1 / count;
      const add = y + r + 1;
      const sub = y - r;
      for (let k = 0; k < 3; k++) {
        const acc = accs[k]!;
        const src = scratch[k]!;
        scaleRow(acc, planes[k]!, y * gw + x0, span, scale);
        if (add < h) addRow(acc, src, add * gw + x0, span);
        if (sub >= 0) subtractRow(acc, src, sub * gw + x0, span);
      }
      if (add < h) count++;
      if (sub >= 0) count--;
      if (a.eigen) eigenRow(a, y * gw + x0, y * gw + x1);
    }
  },
);

// Hot loops in small functions with a single loop each (as box-filter.ts), with its arithmetic.
function boxRow(src: Float32Array, from: number, dst: Float32Array, row: number, w: number, r: number): void {
  // The window for x = 0 is [0, r] cut to the row.
  const first = r < w - 1 ? r : w - 1;
  let acc = 0;
  for (let i = from; i < from + first + 1; i++) acc += src[i]!;
  let count = first + 1;
  for (let x = 0; x < w; x++) {
    dst[row + x] = acc / count;
    const add = x + r + 1;
    const sub = x - r;
    if (add < w) {
      acc += src[from + add]!;
      count++;
    }
    if (sub >= 0) {
      acc -= src[from + sub]!;
      count--;
    }
  }
}

function addRow(acc: Float64Array, src: Float32Array, at: number, n: number): void {
  for (let x = 0; x < n; x++) acc[x] = acc[x]! + src[at + x]!;
}

function subtractRow(acc: Float64Array, src: Float32Array, at: number, n: number): void {
  for (let x = 0; x < n; x++) acc[x] = acc[x]! - src[at + x]!;
}

function scaleRow(acc: Float64Array, dst: Float32Array, at: number, n: number, scale: number): void {
  for (let x = 0; x < n; x++) dst[at + x] = acc[x]! * scale;
}

/** Cells `i0` to `i1 - 1`: the smoothed tensor (with the fallback) turned into the field, in place. */
function eigenRow(a: TensorArgs, i0: number, i1: number): void {
  const [e, f, g] = a.planes as [Float32Array, Float32Array, Float32Array];
  const tx = e;
  const ty = f;
  const angle = g;
  const coherence = a.coherence;
  const fbStrength = a.fbStrength;
  const fbPlane = a.fbOn ? a.fbPlane : undefined;
  let fs = a.fbSin;
  let fc = a.fbCos;
  const toStep = TRIG_STEPS / (2 * Math.PI);
  for (let i = i0; i < i1; i++) {
    let ee = e[i]!;
    let ff = f[i]!;
    let gg = g[i]!;
    if (fbStrength > 0) {
      if (fbPlane) {
        // A table is plenty for a direction and 5x cheaper than Math.sin and Math.cos.
        const k = Math.round(fbPlane[i]! * toStep) & (TRIG_STEPS - 1);
        fs = SIN[k]!;
        fc = SIN[(k + TRIG_STEPS / 4) & (TRIG_STEPS - 1)]!;
      }
      // The tensor of a gradient across the fallback tangent (cos, sin): (-sin, cos).
      ee += fbStrength * fs * fs;
      ff -= fbStrength * fs * fc;
      gg += fbStrength * fc * fc;
    }
    const diff = ee - gg;
    const root = Math.sqrt(diff * diff + 4 * ff * ff);
    const l1 = 0.5 * (ee + gg + root);
    // Major eigenvector (the gradient direction); of the two formulas take the better conditioned.
    let gx: number;
    let gy: number;
    if (ee >= gg) {
      gx = l1 - gg;
      gy = ff;
    } else {
      gx = ff;
      gy = l1 - ee;
    }
    const len = Math.sqrt(gx * gx + gy * gy);
    let ux: number;
    let uy: number;
    if (len > 1e-20) {
      ux = -gy / len;
      uy = gx / len;
    } else {
      ux = 1;
      uy = 0;
    }
    // One orientation, two directions: keep the tangent in the half plane uy >= 0.
    if (uy < 0 || (uy === 0 && ux < 0)) {
      ux = -ux;
      uy = -uy;
    }
    tx[i] = ux;
    ty[i] = uy;
    let a = halfTurnAngle(ux, uy);
    if (a >= Math.PI) a -= Math.PI;
    angle[i] = a;
    const sum = ee + gg;
    coherence[i] = sum > 1e-20 ? root / sum : 0;
  }
}
