// The cartoon's passes at work size (800 px on the long side at most): colour planes, cel
// shading, the outline DoG and its texture suppression. Every hot loop is a small function called
// once per row: V8 optimises such a function right away, whereas a loop over a whole plane runs
// mostly in on-stack-replaced code that is thrown away again at its end, run after run.
// The passes that run after the smoothing are band kernels (this module imports only
// `@atelier/core/kernels`, so the engine's helper threads load it without the SDK).
import { BilinearUpsampler, bandKernel, boxFilter, runBands, sharedArray } from '@atelier/core/kernels';
import type { BandAbort, BandKernel, RunBandsOptions } from '@atelier/core/kernels';
import { KeptPlanes } from './kept-planes.ts';
import type { PlaneSetKey } from './kept-planes.ts';

/**
 * The planes one render needs at work size, kept between renders (see {@link takeWorkPlanes}).
 * Every pass overwrites what it reads later, so a reused set needs no clearing.
 */
export interface WorkPlanes extends PlaneSetKey {
  /** Colour, 0..1, then cel-shaded to 0..255. */
  readonly r: Float32Array;
  readonly g: Float32Array;
  readonly b: Float32Array;
  /** Luma (0..1), then the outline DoG. */
  readonly dog: Float32Array;
  /** Luma as 8-bit grey, for the blur. */
  readonly grey: Uint8Array;
  /** The grey at half size, its blur and the blur's horizontal pass (`ceil(w / 2) * ceil(h / 2)`). */
  readonly half: Uint8Array;
  readonly halfBlur: Float32Array;
  readonly halfPass: Float32Array;
  /** Sums, then means, of the DoG's magnitude over 4 × 4 blocks (`ceil(w / 4) * ceil(h / 4)`). */
  readonly activity: Float32Array;
}

/**
 * One Float32 slot: a value stored here and read back is rounded to Float32 as `Math.fround`
 * rounds it. In a band kernel that V8 compiles on stack replacement (each runs once per render)
 * its Maglev tier calls `Math.fround` as a built-in, boxing the argument and the result: two heap
 * numbers per pixel, 12 MB of garbage per 1920 px cartoon.
 */
const F32 = new Float32Array(1);

/**
 * Work-size planes kept from earlier renders (see KeptPlanes): a render at 800 px uses about 8 MB
 * of them, whose page faults took as long as its arithmetic (20 ms per 7 MB) and made the timings
 * erratic.
 */
const kept = new KeptPlanes<WorkPlanes>();

/** A set of work-size planes: a kept one of this size when there is one, else a new one. */
export function takeWorkPlanes(width: number, height: number, shared: boolean): WorkPlanes {
  return kept.take({ width, height, shared }, () => {
    const n = width * height;
    const halfN = Math.ceil(width / 2) * Math.ceil(height / 2);
    // Planes that band kernels read from other threads are shared when the step has helpers.
    const plane = shared ? (k: number) => sharedArray(Float32Array, k) : (k: number) => new Float32Array(k);
    const bytes = shared ? (k: number) => sharedArray(Uint8Array, k) : (k: number) => new Uint8Array(k);
    const k = TEXTURE_BLOCK;
    return {
      width,
      height,
      shared,
      r: plane(n),
      g: plane(n),
      b: plane(n),
      dog: plane(n),
      grey: bytes(n),
      half: bytes(halfN),
      halfBlur: plane(halfN),
      halfPass: plane(halfN),
      activity: plane(Math.ceil(width / k) * Math.ceil(height / k)),
    };
  });
}

/** Gives a set back for later renders (the most recent ones are kept). */
export function releaseWorkPlanes(planes: WorkPlanes): void {
  kept.give(planes);
}

/** Interleaved RGB bytes into three planes, times `1 / 255`. */
export function splitRgb(
  src: Uint8Array,
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  width: number,
  height: number,
): void {
  const scale = 1 / 255;
  for (let y = 0; y < height; y++) splitRow(src, r, g, b, y * width, width, scale);
}

function splitRow(
  src: Uint8Array,
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  row: number,
  width: number,
  scale: number,
): void {
  for (let x = 0, i = row * 3; x < width; x++, i += 3) {
    r[row + x] = src[i]! * scale;
    g[row + x] = src[i + 1]! * scale;
    b[row + x] = src[i + 2]! * scale;
  }
}

/** Options of {@link shadeAndOutline}. */
export interface ShadeOptions {
  /** Luma (0..1 in 1024 steps) to softly quantised luma, from {@link quantiseTable}. */
  readonly quant: Float32Array;
  /** Saturation: 1 keeps the colour's own difference to the luma. */
  readonly saturation: number;
  /** Outline blur in work pixels; 0 draws no outlines (`dog` then holds the luma). */
  readonly sigma: number;
  readonly signal?: AbortSignal;
  /** Runs the band kernels; `runBands` by default (tests split the bands their own way). */
  readonly run?: RunBands;
}

/** How {@link shadeAndOutline} runs its band kernels. */
export type RunBands = <A>(kernel: BandKernel<A>, args: A, size: number, options: RunBandsOptions) => void;

/**
 * After the smoothing, in bands of rows on the run's threads: the colour planes become cel-shaded
 * colour in 0..255 (softly quantised luma plus the colour's own difference to it, times the
 * saturation), and `dog` the outline signal ({@link outlines}) when `sigma` > 0.
 */
export function shadeAndOutline(planes: WorkPlanes, o: ShadeOptions): void {
  const { width: w, height: h } = planes;
  const run = o.run ?? runBands;
  const signal = o.signal ? { signal: o.signal } : {};
  // The half-size blur's mask (default outlines); thin ones blur at work size, none without outlines.
  const mask =
    o.sigma > 0 && !thinOutlines(o.sigma, w, h)
      ? gaussianMask(Math.max(0.3, halfSigma(o.sigma)), 0.01)
      : undefined;
  const args: ShadeArgs = {
    r: planes.r,
    g: planes.g,
    b: planes.b,
    luma: planes.dog,
    grey: planes.grey,
    quant: o.quant,
    k: 255 * o.saturation,
    width: w,
    height: h,
    half: planes.half,
    pass: planes.halfPass,
    mask,
  };
  // Units of two rows: a band also halves its rows and blurs them along the rows.
  run(shadeBand, args, Math.ceil(h / 2), signal);
  if (o.sigma > 0) outlines(planes, o.sigma, mask, run, signal);
}

interface ShadeArgs {
  readonly r: Float32Array;
  readonly g: Float32Array;
  readonly b: Float32Array;
  readonly luma: Float32Array;
  readonly grey: Uint8Array;
  readonly quant: Float32Array;
  readonly k: number;
  readonly width: number;
  readonly height: number;
  readonly half: Uint8Array;
  readonly pass: Float32Array;
  /** The half-size blur's mask; without it the rows are only shaded. */
  readonly mask: Float64Array | undefined;
}

/**
 * Rows `2 * y0` to `2 * y1 - 1` shaded (the luma to `luma` and `grey`); with a mask, also half
 * rows `y0` to `y1 - 1` of the grey's 2 × 2 average and of its blur's horizontal pass.
 */
export const shadeBand = bandKernel(
  import.meta.url,
  'shadeBand',
  (a: ShadeArgs, y0: number, y1: number): void => {
    const { r, g, b, luma, quant, k, width: w, height: h, mask } = a;
    const px = new Uint8ClampedArray(a.grey.buffer, a.grey.byteOffset, a.grey.length);
    const end = Math.min(h, 2 * y1);
    for (let y = 2 * y0; y < end; y++) shadeRow(r, g, b, luma, px, quant, k, y * w, w);
    if (!mask) return;
    const hw = Math.ceil(w / 2);
    const half = new Uint8ClampedArray(a.half.buffer, a.half.byteOffset, a.half.length);
    halveGrey(a.grey, w, h, half, y0, y1);
    blurRows(a.half, hw, mask, a.pass, y0, y1);
  },
);

function shadeRow(
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  luma: Float32Array,
  px: Uint8ClampedArray,
  quant: Float32Array,
  k: number,
  row: number,
  width: number,
): void {
  const end = row + width;
  for (let i = row; i < end; i++) {
    const rv = r[i]!;
    const gv = g[i]!;
    const bv = b[i]!;
    const y = 0.299 * rv + 0.587 * gv + 0.114 * bv;
    luma[i] = y;
    px[i] = y * 255;
    // The shading reads the luma as stored (Float32), as the outlines do.
    const yl = luma[i]!;
    const yq = quant[Math.min(1023, Math.max(0, yl * 1023 + 0.5)) | 0]!;
    r[i] = yq + (rv - yl) * k;
    g[i] = yq + (gv - yl) * k;
    b[i] = yq + (bv - yl) * k;
  }
}

/** Luma (0..1 in 1024 steps) to softly quantised luma (0..255). */
export function quantiseTable(levels: number): Float32Array {
  const t = new Float32Array(1024);
  const step = 1 / (levels - 1);
  const phi = 3 / step;
  for (let i = 0; i < 1024; i++) {
    const v = i / 1023;
    const q = Math.round(v / step) * step;
    t[i] = 255 * (q + (step / 2) * Math.tanh(phi * (v - q)));
  }
  return t;
}

/** Outlines this thin are blurred at work size (not the default). */
function thinOutlines(sigma: number, w: number, h: number): boolean {
  return sigma * sigma < 1.2 || w < 4 || h < 4;
}

/** The blur's sigma at half size: the 2 × 2 average and the enlargement add about 0.92 px². */
function halfSigma(sigma: number): number {
  return Math.sqrt(sigma * sigma - 0.92) / 2;
}

/**
 * In place: `planes.dog` holds the luma (0..1) and becomes the outline signal: the luma minus its
 * Gaussian blur of `sigma` work pixels (a DoG whose narrow Gaussian is the identity: the smoothing
 * already removed the noise it would), faded where outlines crowd ({@link suppressTexture}). The
 * blur is smooth, so above a small sigma it is taken at half size: the 2 × 2 average and the
 * bilinear enlargement contribute about 0.92 px² of the variance, the blur the rest; its
 * horizontal pass was made by {@link shadeBand} with `mask` (undefined: thin outlines, blurred at
 * work size here).
 */
function outlines(
  planes: WorkPlanes,
  sigma: number,
  mask: Float64Array | undefined,
  run: RunBands,
  options: RunBandsOptions,
): void {
  const { width: w, height: h, dog, grey, activity } = planes;
  // The DoG's magnitude is summed into 4 × 4 blocks row by row, while the row is at hand.
  const k = TEXTURE_BLOCK;
  const lw = Math.ceil(w / k);
  const lh = Math.ceil(h / k);
  if (!mask) {
    // Thin outlines (not the default) blur at work size, in planes of their own.
    const blurred = blurGreySync(grey, w, h, sigma, new Float32Array(w * h), new Float32Array(w * h));
    activity.fill(0, 0, lw * lh);
    for (let y = 0; y < h; y++) {
      subtractRow(dog, blurred, y * w, y * w, w);
      accumulateAbs(dog, activity, y * w, ((y / k) | 0) * lw, w, k);
    }
  } else {
    const hw = Math.ceil(w / 2);
    const hh = Math.ceil(h / 2);
    run(
      blurColumnsBand,
      { pass: planes.halfPass, out: planes.halfBlur, width: hw, height: hh, mask },
      hh,
      options,
    );
    const args: DogArgs = { dog, blur: planes.halfBlur, activity, width: w, height: h };
    run(dogBand, args, lh, { ...options, minBand: 2 });
  }
  suppressTexture(w, h, activity, Math.max(2, Math.round(3 * sigma)));
  run(fadeBand, { dog, activity, width: w, height: h }, h, options);
}

/** Rows `y0` to `y1 - 1` of the blur's vertical pass over its horizontal pass `pass`. */
export const blurColumnsBand = bandKernel(
  import.meta.url,
  'blurColumnsBand',
  (
    a: { pass: Float32Array; out: Float32Array; width: number; height: number; mask: Float64Array },
    y0: number,
    y1: number,
  ): void => {
    blurColumns(a.pass, a.width, a.height, a.mask, a.out, y0, y1);
  },
);

interface DogArgs {
  readonly dog: Float32Array;
  /** The luma's blur at half size (0..255). */
  readonly blur: Float32Array;
  readonly activity: Float32Array;
  readonly width: number;
  readonly height: number;
}

/**
 * Block rows `j0` to `j1 - 1` ({@link TEXTURE_BLOCK} rows each): the DoG (the luma minus the
 * half-size blur enlarged bilinearly) and its magnitude summed into the blocks.
 */
export const dogBand = bandKernel(import.meta.url, 'dogBand', (a: DogArgs, j0: number, j1: number): void => {
  const { dog, activity, width: w, height: h } = a;
  const k = TEXTURE_BLOCK;
  const lw = Math.ceil(w / k);
  activity.fill(0, j0 * lw, j1 * lw);
  const up = new BilinearUpsampler(a.blur, Math.ceil(w / 2), Math.ceil(h / 2), w, h, 2);
  const end = Math.min(h, j1 * k);
  for (let y = j0 * k; y < end; y++) {
    const t = up.select(y);
    subtractLerpRow(dog, up.upper(), up.lower(), t, y * w, w);
    accumulateAbs(dog, activity, y * w, ((y / k) | 0) * lw, w, k);
  }
});

/** dog[row + x] -= blurred[from + x] / 255 for one row. */
function subtractRow(dog: Float32Array, blurred: Float32Array, from: number, row: number, w: number): void {
  for (let x = 0; x < w; x++) dog[row + x] = dog[row + x]! - blurred[from + x]! / 255;
}

/**
 * {@link subtractRow} of the blur row blended between two widened rows, rounded to Float32 as
 * `BilinearUpsampler.row` stores it.
 */
function subtractLerpRow(
  dog: Float32Array,
  a: Float32Array,
  b: Float32Array,
  t: number,
  row: number,
  w: number,
): void {
  for (let x = 0; x < w; x++) {
    const p = a[x]!;
    F32[0] = p + (b[x]! - p) * t;
    dog[row + x] = dog[row + x]! - F32[0]! / 255;
  }
}

/**
 * The 2 × 2 average of 8-bit grey (blocks cut by an odd edge average what they have), rounded
 * to 8 bits, with the arithmetic of `downsampleBox(grey, w, h, 1, 2, 1 / 255)` followed by
 * `floatToGrey`, so that the outlines stay what they were: output rows `y0` to `y1 - 1`.
 */
function halveGrey(
  grey: Uint8Array,
  w: number,
  h: number,
  px: Uint8ClampedArray,
  y0: number,
  y1: number,
): void {
  const hw = Math.ceil(w / 2);
  for (let oy = y0; oy < y1; oy++) {
    const row = 2 * oy * w;
    // A last row of an odd height averages its one row.
    if (2 * oy + 1 < h) halveRows(grey, px, row, row + w, oy * hw, w, 1 / 255 / 2);
    else halveRows(grey, px, row, -1, oy * hw, w, 1 / 255);
  }
}

/** One output row from rows `a` and `b` (`b` < 0: `a` alone), `s` being 1 / 255 / rows. */
function halveRows(
  grey: Uint8Array,
  px: Uint8ClampedArray,
  a: number,
  b: number,
  o: number,
  w: number,
  s: number,
): void {
  const full = w >> 1;
  const s2 = s / 2;
  for (let ox = 0, x = 0; ox < full; ox++, x += 2) {
    let sum = grey[a + x]! + grey[a + x + 1]!;
    if (b >= 0) sum += grey[b + x]! + grey[b + x + 1]!;
    F32[0] = sum * s2;
    px[o + ox] = F32[0]! * 255;
  }
  if (full < (w + 1) >> 1) {
    let sum = grey[a + w - 1]!;
    if (b >= 0) sum += grey[b + w - 1]!;
    F32[0] = sum * s;
    px[o + full] = F32[0]! * 255;
  }
}

/**
 * Gaussian blur of 8-bit grey into Float32 (0..255), the same arithmetic as libvips' float
 * `gaussblur` that `blurGrey` runs (mask cut where it falls below 0.01, normalised; rows then
 * columns, each pass summed in double and stored as float; edges repeated), so the result is the
 * same to the bit. Here the kernel has 3 to 13 taps on a plane of 0.1 to 0.4 megapixels: a
 * fraction of a millisecond, where the round trip through sharp took several.
 */
export function blurGreySync(
  src: Uint8Array,
  w: number,
  h: number,
  sigma: number,
  pass: Float32Array,
  out: Float32Array,
): Float32Array {
  const mask = gaussianMask(Math.max(0.3, sigma), 0.01);
  blurRows(src, w, mask, pass, 0, h);
  return blurColumns(pass, w, h, mask, out, 0, h);
}

/** Rows `y0` to `y1 - 1` of {@link blurGreySync}'s horizontal pass. */
function blurRows(
  src: Uint8Array,
  w: number,
  mask: Float64Array,
  pass: Float32Array,
  y0: number,
  y1: number,
): void {
  const r = mask.length >> 1;
  // Each sample's products are summed in the mask's order, tap by tap over a whole row of
  // double accumulators: the same sums as libvips' loop over taps per sample.
  const acc = new Float64Array(w);
  for (let y = y0; y < y1; y++) {
    const row = y * w;
    acc.fill(0);
    for (let i = 0; i < mask.length; i++) tapRowU8(src, acc, row, w, i - r, mask[i]!);
    storeRow(acc, pass, row, w);
  }
}

/** Rows `y0` to `y1 - 1` of {@link blurGreySync}'s vertical pass, from the whole horizontal pass. */
function blurColumns(
  pass: Float32Array,
  w: number,
  h: number,
  mask: Float64Array,
  out: Float32Array,
  y0: number,
  y1: number,
): Float32Array {
  const r = mask.length >> 1;
  const acc = new Float64Array(w);
  const offsets = new Int32Array(mask.length);
  for (let y = y0; y < y1; y++) {
    for (let i = 0; i < mask.length; i++) offsets[i] = Math.min(h - 1, Math.max(0, y + i - r)) * w;
    acc.fill(0);
    for (let i = 0; i < mask.length; i++) tapRow(pass, acc, offsets[i]!, w, mask[i]!);
    storeRow(acc, out, y * w, w);
  }
  return out;
}

/** libvips' `gaussmat` (float precision, separable), divided by its sum as `convf` does. */
export function gaussianMask(sigma: number, minAmplitude: number): Float64Array {
  const sig2 = 2 * sigma * sigma;
  const maxX = Math.trunc(Math.min(5000, Math.max(0, 8 * sigma)));
  let x = 0;
  while (x < maxX && Math.exp(-(x * x) / sig2) >= minAmplitude) x++;
  const width = 2 * Math.max(x - 1, 0) + 1;
  const mask = new Float64Array(width);
  let sum = 0;
  for (let i = 0; i < width; i++) {
    const xo = i - (width >> 1);
    mask[i] = Math.exp(-(xo * xo) / sig2);
    sum += mask[i]!;
  }
  for (let i = 0; i < width; i++) mask[i]! /= sum;
  return mask;
}

/** acc[x] += m * src[row + x + shift], the column repeated beyond the row's ends. */
function tapRowU8(
  src: Uint8Array,
  acc: Float64Array,
  row: number,
  w: number,
  shift: number,
  m: number,
): void {
  const lo = Math.min(w, Math.max(0, -shift));
  const hi = Math.max(lo, Math.min(w, w - shift));
  for (let x = 0; x < lo; x++) acc[x]! += m * src[row]!;
  for (let x = lo; x < hi; x++) acc[x]! += m * src[row + x + shift]!;
  for (let x = hi; x < w; x++) acc[x]! += m * src[row + w - 1]!;
}

/** acc[x] += m * src[from + x]. */
function tapRow(src: Float32Array, acc: Float64Array, from: number, w: number, m: number): void {
  for (let x = 0; x < w; x++) acc[x]! += m * src[from + x]!;
}

function storeRow(acc: Float64Array, out: Float32Array, row: number, w: number): void {
  for (let x = 0; x < w; x++) out[row + x] = acc[x]!;
}

/** Side of the blocks whose DoG magnitude {@link suppressTexture} averages. */
const TEXTURE_BLOCK = 4;

/**
 * Fades outlines where they crowd: divides the DoG by its local mean magnitude, so isolated
 * contours keep their strength while dense texture (gravel, foliage, grain) stops breaking
 * into speckles. The mean is smooth, so it is computed a quarter the size (from `activity`, the
 * sums of |DoG| over 4 × 4 blocks) and upsampled: here `activity` becomes the factor per block,
 * which {@link fadeBand} enlarges and multiplies the DoG with.
 */
function suppressTexture(w: number, h: number, activity: Float32Array, radius: number): void {
  const k = TEXTURE_BLOCK;
  const lw = Math.ceil(w / k);
  const lh = Math.ceil(h / k);
  const low = activity.subarray(0, lw * lh);
  scalePlane(low, 1 / (k * k));
  boxFilter(low, lw, lh, Math.max(1, Math.round(radius / k)), low);
  // Store 1 / (1 + activity / knee) so the full-size pass multiplies.
  kneePlane(low, 0.025);
}

/** Rows `y0` to `y1 - 1` of the DoG times the block factors of `activity`, enlarged bilinearly. */
export const fadeBand = bandKernel(
  import.meta.url,
  'fadeBand',
  (
    a: { dog: Float32Array; activity: Float32Array; width: number; height: number },
    y0: number,
    y1: number,
    abort: BandAbort,
  ): void => {
    const { dog, width: w, height: h } = a;
    const k = TEXTURE_BLOCK;
    const up = new BilinearUpsampler(a.activity, Math.ceil(w / k), Math.ceil(h / k), w, h, k);
    abort.throwIfAborted();
    for (let y = y0; y < y1; y++) {
      const t = up.select(y);
      multiplyRow(dog, up.upper(), up.lower(), t, y * w, w);
    }
  },
);

// One loop per function: a function whose later loop has not run yet is deoptimised when it
// gets there, at every render, and its loops then run unoptimised (boxing every number).

function scalePlane(plane: Float32Array, factor: number): void {
  for (let i = 0; i < plane.length; i++) plane[i]! *= factor;
}

/** plane = knee / (knee + plane). */
function kneePlane(plane: Float32Array, knee: number): void {
  for (let i = 0; i < plane.length; i++) plane[i] = knee / (knee + plane[i]!);
}

/** Sums |src| over blocks of k pixels of one row into the low row. */
function accumulateAbs(
  src: Float32Array,
  low: Float32Array,
  row: number,
  lowRow: number,
  w: number,
  k: number,
): void {
  for (let x = 0, o = lowRow; x < w; o++) {
    const end = Math.min(w, x + k);
    let sum = 0;
    for (; x < end; x++) sum += Math.abs(src[row + x]!);
    low[o]! += sum;
  }
}

function multiplyRow(
  dog: Float32Array,
  a: Float32Array,
  b: Float32Array,
  t: number,
  row: number,
  w: number,
): void {
  for (let x = 0; x < w; x++) dog[row + x]! *= a[x]! + (b[x]! - a[x]!) * t;
}
