import type { RawImage } from '../plugin.ts';
import { halveLumaSimd } from './simd.ts';
import { bandKernel, bandThreads, isShared, runBands, sharedArray, toShared } from '../parallel/bands.ts';
import { LUMA_B, LUMA_G, LUMA_R } from './color.ts';

/**
 * Size of a plane shrunk by an integer factor with {@link downsampleBox}: `ceil(size / factor)`.
 */
export function downsampledSize(
  width: number,
  height: number,
  factor: number,
): { width: number; height: number } {
  const f = Math.max(1, Math.floor(factor));
  return { width: Math.ceil(width / f), height: Math.ceil(height / f) };
}

/**
 * Shrinks an interleaved image (or a single plane) by an integer factor, averaging each
 * `factor × factor` block (blocks cut by the right and bottom edges average the pixels they
 * have), and splits the channels into Float32 planes multiplied by `scale`.
 *
 * Averaging is the right prefilter for the smooth maps computed at low resolution (guided filter
 * coefficients, blurred tones); it reads the source once.
 *
 * @param src - `width * height * channels` samples, interleaved.
 * @param factor - integer shrink factor, 1 or more (1 only converts and splits).
 * @param scale - multiplies every sample, e.g. `1 / 255` to get 0..1.
 * @param into - planes to write into instead of new ones (a caller that keeps them between runs
 *   saves fresh memory's page faults): one per channel, each of at least the result's samples, and
 *   shared ({@link sharedArray}) when the step has helper threads; a plane that is not is replaced
 *   by a new one in the result.
 * @returns one plane per channel, each `ceil(width / factor) * ceil(height / factor)` samples
 *   (the first samples of `into`'s planes when they were used).
 *
 * @example
 * const [r, g, b] = downsampleBox(image.data, image.width, image.height, 3, 4, 1 / 255);
 */
export function downsampleBox(
  src: Uint8Array | Float32Array,
  width: number,
  height: number,
  channels: number,
  factor: number,
  scale = 1,
  into?: readonly Float32Array[],
): Float32Array[] {
  if (src.length < width * height * channels) throw new Error('downsampleBox: source too small');
  const f = Math.max(1, Math.floor(factor));
  const { width: lw, height: lh } = downsampledSize(width, height, f);
  // Large sources are shrunk in bands of output rows on the run's threads (each output row reads
  // its own `factor` source rows: the result does not depend on the bands).
  const parallel = bandThreads() > 1 && width * height >= PARALLEL_PIXELS;
  const planes: Float32Array[] = [];
  for (let c = 0; c < channels; c++) {
    const kept = into?.[c];
    planes.push(
      kept && kept.length >= lw * lh && (!parallel || isShared(kept))
        ? kept.subarray(0, lw * lh)
        : parallel
          ? sharedArray(Float32Array, lw * lh)
          : new Float32Array(lw * lh),
    );
  }
  const args: ShrinkArgs = {
    src: parallel ? toShared(src) : src,
    width,
    height,
    channels,
    factor: f,
    scale,
    planes,
  };
  if (!parallel) shrinkBand.run(args, 0, lh, NO_ABORT);
  else runBands(shrinkBand, args, lh, { minBand: Math.ceil(PARALLEL_PIXELS / 4 / (width * f)) });
  return planes;
}

/** Sources of at least this many pixels are worth handing to other threads. */
const PARALLEL_PIXELS = 1 << 20;

const NO_ABORT = { throwIfAborted(): void {} };

/** What {@link shrinkBand} gets. */
interface ShrinkArgs {
  readonly src: Uint8Array | Float32Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly factor: number;
  readonly scale: number;
  readonly planes: readonly Float32Array[];
}

/** Output rows `oy0` to `oy1 - 1` of {@link downsampleBox}. */
export const shrinkBand = bandKernel(
  import.meta.url,
  'shrinkBand',
  (a: ShrinkArgs, oy0: number, oy1: number): void => {
    const { src, width, height, channels, factor: f, scale, planes } = a;
    const lw = Math.ceil(width / f);
    if (f === 1 && channels === 3) {
      // Only split and scale: one pass, no accumulators.
      const [r, g, b] = planes as [Float32Array, Float32Array, Float32Array];
      for (let y = oy0; y < oy1; y++) splitRow3(src, r, g, b, y * width, width, scale);
      return;
    }
    const accs: Float32Array[] = [];
    for (let c = 0; c < channels; c++) accs.push(new Float32Array(width));
    for (let oy = oy0; oy < oy1; oy++) {
      const y0 = oy * f;
      const y1 = Math.min(height, y0 + f);
      if (channels === 3) sumRows3(src, accs[0]!, accs[1]!, accs[2]!, width, y0, y1);
      else for (let c = 0; c < channels; c++) sumRows(src, accs[c]!, width, channels, c, y0, y1);
      for (let c = 0; c < channels; c++)
        shrinkRow(accs[c]!, planes[c]!, oy * lw, width, lw, f, scale / (y1 - y0));
    }
  },
);

function splitRow3(
  src: Uint8Array | Float32Array,
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

/** Sums of `f` adjacent columns of `acc`, times `s / count`, into `plane` from `orow`. */
function shrinkRow(
  acc: Float32Array,
  plane: Float32Array,
  orow: number,
  width: number,
  lw: number,
  f: number,
  s: number,
): void {
  if (f === 1) {
    for (let x = 0; x < width; x++) plane[orow + x] = acc[x]! * s;
    return;
  }
  const full = Math.floor(width / f);
  if (f === 2) {
    const s2 = s / 2;
    for (let ox = 0, x = 0; ox < full; ox++, x += 2) plane[orow + ox] = (acc[x]! + acc[x + 1]!) * s2;
  } else {
    const sf = s / f;
    for (let ox = 0, x = 0; ox < full; ox++) {
      let sum = 0;
      for (let k = 0; k < f; k++, x++) sum += acc[x]!;
      plane[orow + ox] = sum * sf;
    }
  }
  if (full < lw) {
    let sum = 0;
    for (let x = full * f; x < width; x++) sum += acc[x]!;
    plane[orow + full] = (sum * s) / (width - full * f);
  }
}

/** Column sums over rows y0..y1-1 of interleaved RGB, one pass over the source. */
function sumRows3(
  src: Uint8Array | Float32Array,
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  width: number,
  y0: number,
  y1: number,
): void {
  let i = y0 * width * 3;
  for (let x = 0; x < width; x++, i += 3) {
    r[x] = src[i]!;
    g[x] = src[i + 1]!;
    b[x] = src[i + 2]!;
  }
  for (let y = y0 + 1; y < y1; y++) {
    i = y * width * 3;
    for (let x = 0; x < width; x++, i += 3) {
      r[x]! += src[i]!;
      g[x]! += src[i + 1]!;
      b[x]! += src[i + 2]!;
    }
  }
}

/** Column sums over rows y0..y1-1 of channel `c`. */
function sumRows(
  src: Uint8Array | Float32Array,
  acc: Float32Array,
  width: number,
  channels: number,
  c: number,
  y0: number,
  y1: number,
): void {
  let i = y0 * width * channels + c;
  for (let x = 0; x < width; x++, i += channels) acc[x] = src[i]!;
  for (let y = y0 + 1; y < y1; y++) {
    i = y * width * channels + c;
    for (let x = 0; x < width; x++, i += channels) acc[x]! += src[i]!;
  }
}

/** Where each output column falls between two low-resolution columns: see {@link bilinearColumns}. */
export interface BilinearColumns {
  /** The low column left of each output column. */
  readonly x0: Int32Array;
  /** The low column right of it (the same at the last column). */
  readonly x1: Int32Array;
  /** The weight of `x1`: an output column is `low[x0] + (low[x1] - low[x0]) * fx`. */
  readonly fx: Float32Array;
}

/**
 * The column placement {@link BilinearUpsampler} uses (pixel centres aligned, edges repeated), for
 * a kernel that widens rows of its own (bytes, interleaved planes) and must match it to the bit.
 *
 * @param factor - output pixels per low pixel horizontally (`width / lowWidth` for an exact size).
 * @example
 * const { x0, x1, fx } = bilinearColumns(out.width, low.width, out.width / low.width);
 * for (let x = 0; x < out.width; x++) row[x] = low[x0[x]] + (low[x1[x]] - low[x0[x]]) * fx[x];
 */
export function bilinearColumns(width: number, lowWidth: number, factor: number): BilinearColumns {
  const x0 = new Int32Array(width);
  const x1 = new Int32Array(width);
  const fx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    let u = (x + 0.5) / factor - 0.5;
    if (u < 0) u = 0;
    if (u > lowWidth - 1) u = lowWidth - 1;
    const i = Math.floor(u);
    x0[x] = i;
    x1[x] = Math.min(i + 1, lowWidth - 1);
    fx[x] = u - i;
  }
  return { x0, x1, fx };
}

/**
 * Bilinear upsampling of low-resolution planes, one output row at a time, so full-resolution
 * results can be built in a single streaming pass without full-size float planes.
 *
 * Each low plane is taken to be the full image shrunk by `factor` (pixel centres at
 * `(i + 0.5) * factor - 0.5`), as {@link downsampleBox} or an exact resize makes it. Rows are
 * cheapest asked for in increasing order: each low row is interpolated horizontally once and
 * cached, for all planes together.
 *
 * @example
 * const up = new BilinearUpsampler(lowPlane, lowWidth, lowHeight, width, height, 4);
 * const row = new Float32Array(width);
 * for (let y = 0; y < height; y++) {
 *   up.row(y, row);
 *   // ... use row[x]
 * }
 */
export class BilinearUpsampler {
  readonly #planes: readonly Float32Array[];
  readonly #lowWidth: number;
  readonly #lowHeight: number;
  readonly #width: number;
  readonly #height: number;
  readonly #factorY: number;
  readonly #x0: Int32Array;
  readonly #x1: Int32Array;
  readonly #fx: Float32Array;
  #rowsA: Float32Array[];
  #rowsB: Float32Array[];
  #indexA = -1;
  #indexB = -1;

  /**
   * @param planes - one low plane, or several of the same size upsampled together (cheaper than
   *   one upsampler each).
   * @param factor - how many output pixels one low pixel spans horizontally (`width / lowWidth`
   *   for a plane resized to an exact size, the shrink factor for {@link downsampleBox}).
   * @param factorY - the same vertically; defaults to `factor`.
   */
  constructor(
    planes: Float32Array | readonly Float32Array[],
    lowWidth: number,
    lowHeight: number,
    width: number,
    height: number,
    factor: number,
    factorY = factor,
  ) {
    const list = planes instanceof Float32Array ? [planes] : [...planes];
    if (list.length === 0) throw new Error('BilinearUpsampler: no planes');
    for (const p of list) {
      if (p.length < lowWidth * lowHeight) throw new Error('BilinearUpsampler: plane too small');
    }
    if (!(factor > 0) || !(factorY > 0)) throw new Error('BilinearUpsampler: factor must be positive');
    this.#planes = list;
    this.#lowWidth = lowWidth;
    this.#lowHeight = lowHeight;
    this.#width = width;
    this.#height = height;
    this.#factorY = factorY;
    ({ x0: this.#x0, x1: this.#x1, fx: this.#fx } = bilinearColumns(width, lowWidth, factor));
    this.#rowsA = list.map(() => new Float32Array(width));
    this.#rowsB = list.map(() => new Float32Array(width));
  }

  /** Output width and height. */
  get size(): { width: number; height: number } {
    return { width: this.#width, height: this.#height };
  }

  /** Writes row `y` (0 to height - 1) of plane `plane` (default the first) into `out` (`width` samples). */
  row(y: number, out: Float32Array, plane = 0): Float32Array {
    const fy = this.select(y);
    lerpRow(this.#rowsA[plane]!, this.#rowsB[plane]!, out, this.#width, fy);
    return out;
  }

  /**
   * Prepares row `y` without writing it: afterwards {@link upper} and {@link lower} hold the two
   * horizontally interpolated low rows around it, and the row is
   * `upper(k)[x] + (lower(k)[x] - upper(k)[x]) * weight` with the returned weight. Lets a hot
   * loop fuse the vertical interpolation with its own work instead of storing and reloading rows.
   */
  select(y: number): number {
    let v = (y + 0.5) / this.#factorY - 0.5;
    if (v < 0) v = 0;
    if (v > this.#lowHeight - 1) v = this.#lowHeight - 1;
    const j0 = Math.floor(v);
    const j1 = Math.min(j0 + 1, this.#lowHeight - 1);
    this.#ensure(j0, j1);
    return v - j0;
  }

  /** Plane `plane`'s upper low row of the last {@link select}, interpolated to the output width. */
  upper(plane = 0): Float32Array {
    return this.#rowsA[plane]!;
  }

  /** Plane `plane`'s lower low row of the last {@link select}, interpolated to the output width. */
  lower(plane = 0): Float32Array {
    return this.#rowsB[plane]!;
  }

  #ensure(j0: number, j1: number): void {
    if (this.#indexA === j0 && this.#indexB === j1) return;
    if (this.#indexB === j0) {
      const t = this.#rowsA;
      this.#rowsA = this.#rowsB;
      this.#rowsB = t;
    } else {
      this.#horizontal(j0, this.#rowsA);
    }
    this.#indexA = j0;
    if (j1 === j0) {
      for (let k = 0; k < this.#planes.length; k++) this.#rowsB[k]!.set(this.#rowsA[k]!);
    } else {
      this.#horizontal(j1, this.#rowsB);
    }
    this.#indexB = j1;
  }

  #horizontal(j: number, rows: Float32Array[]): void {
    const planes = this.#planes;
    const base = j * this.#lowWidth;
    let k = 0;
    // Planes in fours share the index and weight loads.
    for (; k + 4 <= planes.length; k += 4) {
      interpolateRow4(
        planes[k]!,
        planes[k + 1]!,
        planes[k + 2]!,
        planes[k + 3]!,
        base,
        this.#x0,
        this.#x1,
        this.#fx,
        rows[k]!,
        rows[k + 1]!,
        rows[k + 2]!,
        rows[k + 3]!,
        this.#width,
      );
    }
    // The rest in twos, then one: each plane alone loads the columns and weights again (two
    // planes alone took as long as four together in colour pencil's composition).
    for (; k + 2 <= planes.length; k += 2) {
      interpolateRow2(
        planes[k]!,
        planes[k + 1]!,
        base,
        this.#x0,
        this.#x1,
        this.#fx,
        rows[k]!,
        rows[k + 1]!,
        this.#width,
      );
    }
    for (; k < planes.length; k++) {
      interpolateRow(planes[k]!, base, this.#x0, this.#x1, this.#fx, rows[k]!, this.#width);
    }
  }
}

function lerpRow(a: Float32Array, b: Float32Array, out: Float32Array, w: number, t: number): void {
  for (let x = 0; x < w; x++) {
    const p = a[x]!;
    out[x] = p + (b[x]! - p) * t;
  }
}

function interpolateRow(
  plane: Float32Array,
  base: number,
  x0: Int32Array,
  x1: Int32Array,
  fx: Float32Array,
  out: Float32Array,
  w: number,
): void {
  for (let x = 0; x < w; x++) {
    const p = plane[base + x0[x]!]!;
    out[x] = p + (plane[base + x1[x]!]! - p) * fx[x]!;
  }
}

function interpolateRow2(
  p0: Float32Array,
  p1: Float32Array,
  base: number,
  x0: Int32Array,
  x1: Int32Array,
  fx: Float32Array,
  o0: Float32Array,
  o1: Float32Array,
  w: number,
): void {
  for (let x = 0; x < w; x++) {
    const i = base + x0[x]!;
    const j = base + x1[x]!;
    const f = fx[x]!;
    const a0 = p0[i]!;
    const a1 = p1[i]!;
    o0[x] = a0 + (p0[j]! - a0) * f;
    o1[x] = a1 + (p1[j]! - a1) * f;
  }
}

function interpolateRow4(
  p0: Float32Array,
  p1: Float32Array,
  p2: Float32Array,
  p3: Float32Array,
  base: number,
  x0: Int32Array,
  x1: Int32Array,
  fx: Float32Array,
  o0: Float32Array,
  o1: Float32Array,
  o2: Float32Array,
  o3: Float32Array,
  w: number,
): void {
  for (let x = 0; x < w; x++) {
    const i = base + x0[x]!;
    const j = base + x1[x]!;
    const f = fx[x]!;
    const a0 = p0[i]!;
    const a1 = p1[i]!;
    const a2 = p2[i]!;
    const a3 = p3[i]!;
    o0[x] = a0 + (p0[j]! - a0) * f;
    o1[x] = a1 + (p1[j]! - a1) * f;
    o2[x] = a2 + (p2[j]! - a2) * f;
    o3[x] = a3 + (p3[j]! - a3) * f;
  }
}

/** Fixed-point planes from {@link downsampleArea} hold this many times the 8-bit value. */
export const FIXED_SCALE = 4;
/** The largest sample of a fixed-point plane: 255 x {@link FIXED_SCALE}. */
export const FIXED_MAX = 255 * FIXED_SCALE;

/** 4 pixels x luma weights summing to 256, down to FIXED_SCALE x 0–255: shift by 8. */
const HALVE_SHIFT = 8;
const HALVE_ROUND = 1 << (HALVE_SHIFT - 1);

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

// The luma weights as this module's own constants: reading the imported bindings in the hot
// loops below made the halving measurably slower (about 4 %).
const WR = LUMA_R;
const WG = LUMA_G;
const WB = LUMA_B;

/**
 * An image at reduced size as 16-bit fixed-point planes: a quarter grey level of precision
 * (samples are {@link FIXED_SCALE} x 0–255, so 0–1020), cheap integer arithmetic, and room for
 * {@link gaussianBlurU16} to carry two samples in one 32-bit word.
 */
export interface FixedPlanes {
  readonly width: number;
  readonly height: number;
  /**
   * Samples per row of `luma` and `rgb`: `width` rounded up to even (word-aligned rows for
   * {@link gaussianBlurU16}); an odd width's spare sample repeats the row's last pixel.
   */
  readonly stride: number;
  /** Rec. 601 luma (weights 77, 150, 29 / 256, as {@link lumaPlane}), `stride * height` samples. */
  readonly luma: Uint16Array;
  /** Red, green and blue, like `luma`; only when asked for (`color`) and the image has colour. */
  readonly rgb: readonly [Uint16Array, Uint16Array, Uint16Array] | undefined;
  /** Alpha 0–255 (not scaled), `width * height` samples; only when the image has alpha. */
  readonly alpha: Uint8Array | undefined;
}

/** The arguments of {@link downsampleArea}. */
export interface DownsampleAreaArgs {
  /** Output width, 1 or more. */
  readonly width: number;
  /** Output height, 1 or more. */
  readonly height: number;
  /** Also average the colour channels into `rgb`. @default false */
  readonly color?: boolean;
}

/**
 * Shrinks an 8-bit image (1 to 4 channels) to `width` x `height` by area averaging, into
 * {@link FixedPlanes}. When the aspect ratios differ, the centred crop that has the output's
 * aspect is averaged (as sharp's `fit: 'cover'`). Each output pixel is the mean of the source
 * pixels its box covers (box edges rounded down to whole pixels), so any ratio works, also
 * fractional ones; use it to reduce, not to enlarge.
 *
 * One pass over the source. The common case of halving RGB luma reads the source four bytes at
 * a time; halving with colour has its own fused loop. With helper threads the planes are shared
 * arrays, and a source of a million pixels or more that is already shared is shrunk in bands of
 * output rows, with the same result.
 *
 * @example
 * const small = downsampleArea(image, { width: image.width >> 1, height: image.height >> 1 });
 * // small.luma[y * small.stride + x] / FIXED_SCALE is the grey level 0–255.
 */
export function downsampleArea(image: RawImage, args: DownsampleAreaArgs): FixedPlanes {
  const { width: W, height: H, channels: c, data } = image;
  const w = Math.floor(args.width);
  const h = Math.floor(args.height);
  if (!(w >= 1 && h >= 1)) throw new Error(`downsampleArea: bad output size ${args.width}x${args.height}`);
  if (data.length < W * H * c) throw new Error('downsampleArea: source too small');
  let cw = W;
  let ch = H;
  if (W * h > H * w) cw = Math.max(1, Math.min(W, (H * w) / h));
  else ch = Math.max(1, Math.min(H, (W * h) / w));
  const cx = (W - cw) / 2;
  const cy = (H - ch) / 2;
  const stride = w + (w & 1);
  const n = stride * h;
  const color = args.color === true && c >= 3;
  const hasAlpha = c === 2 || c === 4;
  // Shared planes when the step has several threads, so band kernels (gaussianBlurU16's
  // included) read them without a copy.
  const planes: FixedPlanes = {
    width: w,
    height: h,
    stride,
    luma: sharedArray(Uint16Array, n),
    rgb: color
      ? [sharedArray(Uint16Array, n), sharedArray(Uint16Array, n), sharedArray(Uint16Array, n)]
      : undefined,
    alpha: hasAlpha ? sharedArray(Uint8Array, w * h) : undefined,
  };
  const half = cw === 2 * w && ch === 2 * h && Number.isInteger(cx) && Number.isInteger(cy);
  let mode: AreaArgs['mode'] = 'area';
  if (half && c === 3 && !color) {
    const words = LITTLE_ENDIAN && data.byteOffset % 4 === 0 && W % 4 === 0 && cx % 4 === 0 && w % 2 === 0;
    mode = words ? 'luma-words' : 'luma';
  } else if (half && c === 3 && planes.rgb) {
    mode = 'color';
  }
  // Large sources already in shared memory are shrunk in bands of output rows on the run's
  // threads (each output row reads only its own source rows: the result does not depend on the
  // bands). Others are not: copying the source to shared memory costs about what it saves.
  const parallel = bandThreads() > 1 && W * H >= PARALLEL_PIXELS && isShared(data);
  const band: AreaArgs = { data, W, c, cx, cy, cw, ch, mode, planes };
  if (!parallel) areaBand.run(band, 0, h, NO_ABORT);
  else runBands(areaBand, band, h, { minBand: Math.ceil(PARALLEL_PIXELS / 4 / (W * Math.max(1, ch / h))) });
  return planes;
}

/** What {@link areaBand} gets: the source, the crop, which loop to use and the planes to fill. */
interface AreaArgs {
  readonly data: Uint8Array;
  readonly W: number;
  readonly c: number;
  readonly cx: number;
  readonly cy: number;
  readonly cw: number;
  readonly ch: number;
  /** Halving RGB to luma four bytes at a time or byte by byte, halving with colour, or any ratio. */
  readonly mode: 'luma-words' | 'luma' | 'color' | 'area';
  readonly planes: FixedPlanes;
}

/** Output rows `oy0` to `oy1 - 1` of {@link downsampleArea}. */
export const areaBand = bandKernel(
  import.meta.url,
  'areaBand',
  (a: AreaArgs, oy0: number, oy1: number): void => {
    const { data, W, cx, cy, mode, planes } = a;
    const { width: w, stride, luma: y, rgb } = planes;
    if (mode === 'luma-words' || mode === 'luma') {
      // The SIMD kernel where there is one (the same samples), else the JavaScript loops.
      if (!halveLumaSimd(data, W, cx, cy, w, oy0, oy1, y, stride)) {
        if (mode === 'luma-words') halveLumaWords(data, W, cx, cy, w, oy0, oy1, y);
        else halveLuma(data, W, cx, cy, w, oy0, oy1, y);
      }
    } else if (mode === 'color' && rgb) {
      const [r, g, b] = rgb;
      for (let oy = oy0; oy < oy1; oy++)
        halveColorRow(data, ((cy + 2 * oy) * W + cx) * 3, W * 3, y, r, g, b, oy * stride, w);
    } else areaAverage(a, oy0, oy1);
    // An odd width leaves a spare column in each row: repeat the last pixel into it.
    if (stride !== w) {
      for (const p of [y, ...(rgb ?? [])]) {
        for (let row = oy0 * stride; row < oy1 * stride; row += stride) p[row + w] = p[row + w - 1]!;
      }
    }
  },
);

/** Source pixel ranges [lo, hi) that average into each of `n` output pixels. */
function boxRanges(offset: number, length: number, n: number): { lo: Int32Array; hi: Int32Array } {
  const lo = new Int32Array(n);
  const hi = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = Math.floor(offset + (i * length) / n);
    lo[i] = a;
    hi[i] = Math.max(a + 1, Math.floor(offset + ((i + 1) * length) / n));
  }
  return { lo, hi };
}

/** 2x2 box average of RGB into luminance, reading four bytes at a time (little-endian). */
function halveLumaWords(
  data: Uint8Array,
  W: number,
  cx: number,
  cy: number,
  w: number,
  oy0: number,
  oy1: number,
  y: Uint16Array,
): void {
  const u = new Uint32Array(data.buffer, data.byteOffset, data.byteLength >> 2);
  const rowWords = (W * 3) >> 2;
  // One call per row: V8 optimises a small hot function better than a long nested loop.
  for (let oy = oy0; oy < oy1; oy++) {
    const i = (cy + 2 * oy) * rowWords + ((cx * 3) >> 2);
    halveLumaWordsRow(u, i, i + rowWords, y, oy * w, w);
  }
}

function halveLumaWordsRow(u: Uint32Array, i: number, j: number, y: Uint16Array, o: number, w: number): void {
  // Twelve bytes R0 G0 B0 R1 | G1 B1 R2 G2 | B2 R3 G3 B3 hold two output pixels per row; even
  // and odd bytes of the two rows are summed in 16-bit lanes, then picked apart.
  for (let ox = 0; ox < w; ox += 2, o += 2, i += 3, j += 3) {
    const a0 = u[i]!;
    const a1 = u[i + 1]!;
    const a2 = u[i + 2]!;
    const b0 = u[j]!;
    const b1 = u[j + 1]!;
    const b2 = u[j + 2]!;
    const e0 = (a0 & 0xff00ff) + (b0 & 0xff00ff);
    const o0 = ((a0 >>> 8) & 0xff00ff) + ((b0 >>> 8) & 0xff00ff);
    const e1 = (a1 & 0xff00ff) + (b1 & 0xff00ff);
    const o1 = ((a1 >>> 8) & 0xff00ff) + ((b1 >>> 8) & 0xff00ff);
    const e2 = (a2 & 0xff00ff) + (b2 & 0xff00ff);
    const o2 = ((a2 >>> 8) & 0xff00ff) + ((b2 >>> 8) & 0xff00ff);
    const r0 = (e0 & 0xffff) + (o0 >>> 16);
    const g0 = (o0 & 0xffff) + (e1 & 0xffff);
    const b0s = (e0 >>> 16) + (o1 & 0xffff);
    const r1 = (e1 >>> 16) + (o2 & 0xffff);
    const g1 = (o1 >>> 16) + (e2 >>> 16);
    const b1s = (e2 & 0xffff) + (o2 >>> 16);
    // Four pixels times weights summing to 256, to FIXED_SCALE x 0–255: divide by 1024 / FIXED_SCALE.
    y[o] = (WR * r0 + WG * g0 + WB * b0s + HALVE_ROUND) >> HALVE_SHIFT;
    y[o + 1] = (WR * r1 + WG * g1 + WB * b1s + HALVE_ROUND) >> HALVE_SHIFT;
  }
}

/** 2x2 box average of RGB into luminance, byte by byte. */
function halveLuma(
  data: Uint8Array,
  W: number,
  cx: number,
  cy: number,
  w: number,
  oy0: number,
  oy1: number,
  y: Uint16Array,
): void {
  const stride = w + (w & 1);
  for (let oy = oy0; oy < oy1; oy++)
    halveLumaRow(data, ((cy + 2 * oy) * W + cx) * 3, W * 3, y, oy * stride, w);
}

function halveLumaRow(
  data: Uint8Array,
  p: number,
  rowBytes: number,
  y: Uint16Array,
  o: number,
  w: number,
): void {
  for (let ox = 0; ox < w; ox++, o++, p += 6) {
    const q = p + rowBytes;
    const r = data[p]! + data[p + 3]! + data[q]! + data[q + 3]!;
    const g = data[p + 1]! + data[p + 4]! + data[q + 1]! + data[q + 4]!;
    const b = data[p + 2]! + data[p + 5]! + data[q + 2]! + data[q + 5]!;
    y[o] = (WR * r + WG * g + WB * b + HALVE_ROUND) >> HALVE_SHIFT;
  }
}

function halveColorRow(
  data: Uint8Array,
  p: number,
  rowBytes: number,
  y: Uint16Array,
  rp: Uint16Array,
  gp: Uint16Array,
  bp: Uint16Array,
  o: number,
  w: number,
): void {
  for (let ox = 0; ox < w; ox++, o++, p += 6) {
    const q = p + rowBytes;
    const r = data[p]! + data[p + 3]! + data[q]! + data[q + 3]!;
    const g = data[p + 1]! + data[p + 4]! + data[q + 1]! + data[q + 4]!;
    const b = data[p + 2]! + data[p + 5]! + data[q + 2]! + data[q + 5]!;
    y[o] = (WR * r + WG * g + WB * b + HALVE_ROUND) >> HALVE_SHIFT;
    // Four pixels sum to 4 x 0–255, which is FIXED_SCALE x 0–255.
    rp[o] = r;
    gp[o] = g;
    bp[o] = b;
  }
}

/** General area average (any size, any channel count) into `planes`. */
function areaAverage(args: AreaArgs, oy0: number, oy1: number): void {
  const { W, c, data, cx, cy, cw, ch, planes } = args;
  const { width: w, height: h, stride, luma: y, rgb, alpha: a } = planes;
  const xs = boxRanges(cx, cw, w);
  const ys = boxRanges(cy, ch, h);
  const x0 = xs.lo[0]!;
  const span = xs.hi[w - 1]! - x0;
  // Box edges relative to the crop's first column.
  for (let i = 0; i < w; i++) {
    xs.lo[i]! -= x0;
    xs.hi[i]! -= x0;
  }
  const accY = new Float64Array(span);
  const accC = rgb
    ? ([new Float64Array(span), new Float64Array(span), new Float64Array(span)] as const)
    : undefined;
  const accA = a ? new Float64Array(span) : undefined;
  for (let oy = oy0; oy < oy1; oy++) {
    const sy0 = ys.lo[oy]!;
    const sy1 = ys.hi[oy]!;
    accY.fill(0);
    accA?.fill(0);
    if (accC) for (const acc of accC) acc.fill(0);
    for (let sy = sy0; sy < sy1; sy++) {
      const p = (sy * W + x0) * c;
      if (c < 3) sumGrey(data, p, c, span, accY);
      else if (accC) sumColor(data, p, c, span, accY, accC[0], accC[1], accC[2]);
      else sumLuma(data, p, c, span, accY);
      if (accA) sumChannel(data, p + c - 1, c, span, accA);
    }
    const o = oy * stride;
    // accY holds luminance times 256; the planes hold SCALE times 0–255.
    const scale = FIXED_SCALE / (sy1 - sy0);
    boxesOut(accY, xs.lo, xs.hi, scale / 256, FIXED_MAX, y, o, w);
    if (accC && rgb)
      for (let k = 0; k < 3; k++) boxesOut(accC[k]!, xs.lo, xs.hi, scale, FIXED_MAX, rgb[k]!, o, w);
    if (accA && a) boxesOut(accA, xs.lo, xs.hi, 1 / (sy1 - sy0), 255, a, oy * w, w);
  }
}

function sumLuma(data: Uint8Array, p: number, c: number, span: number, acc: Float64Array): void {
  for (let x = 0; x < span; x++, p += c) acc[x]! += WR * data[p]! + WG * data[p + 1]! + WB * data[p + 2]!;
}

function sumGrey(data: Uint8Array, p: number, c: number, span: number, acc: Float64Array): void {
  for (let x = 0; x < span; x++, p += c) acc[x]! += 256 * data[p]!;
}

function sumChannel(data: Uint8Array, p: number, c: number, span: number, acc: Float64Array): void {
  for (let x = 0; x < span; x++, p += c) acc[x]! += data[p]!;
}

function sumColor(
  data: Uint8Array,
  p: number,
  c: number,
  span: number,
  accY: Float64Array,
  accR: Float64Array,
  accG: Float64Array,
  accB: Float64Array,
): void {
  for (let x = 0; x < span; x++, p += c) {
    const r = data[p]!;
    const g = data[p + 1]!;
    const b = data[p + 2]!;
    accY[x]! += WR * r + WG * g + WB * b;
    accR[x]! += r;
    accG[x]! += g;
    accB[x]! += b;
  }
}

/** Sums each box [lo, hi) of `acc`, averages it, and writes it times `scale` (rounded, capped at `max`). */
function boxesOut(
  acc: Float64Array,
  lo: Int32Array,
  hi: Int32Array,
  scale: number,
  max: number,
  out: Uint16Array | Uint8Array,
  o: number,
  w: number,
): void {
  for (let ox = 0; ox < w; ox++, o++) {
    const l = lo[ox]!;
    const r = hi[ox]!;
    let s = 0;
    for (let x = l; x < r; x++) s += acc[x]!;
    out[o] = Math.min(max, (s * scale) / (r - l) + 0.5);
  }
}
