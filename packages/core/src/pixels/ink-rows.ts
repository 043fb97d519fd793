// Two rows of interleaved samples (r, g, b and a mask d, f32) blended into a row of RGB bytes,
// with the pixels whose d is low darkened through a table: the last step of a composition that
// upsamples planes a row at a time (the cartoon's outlines over its colours). With WebAssembly
// SIMD the rows live in the module's memory and the widening and the blend run there, four
// samples an instruction; the bytes are the same either way (single precision in both).
import type { BilinearColumns } from './resample.ts';
import { inkRowsSimd } from './simd.ts';
import type { InkRowsSimd } from './simd.ts';

/** Where each output pixel of a row lies in a low row `lowWidth` wide (see bilinearColumns). */
export interface InkColumns extends BilinearColumns {
  readonly lowWidth: number;
}

/**
 * A pair of rows (`upper`, `lower`: `width` pixels of r, g, b, d each), filled by
 * {@link InkRows.widen} (or by the caller), and {@link InkRows.row}, which blends them into RGB
 * bytes; swap them as the rows move down. Make the pair once per band: with SIMD the rows are
 * the kernel module's memory, valid until another kernel of it runs in the thread.
 *
 * @example
 * const columns = { ...bilinearColumns(width, lowWidth, width / lowWidth), lowWidth };
 * const rows = new InkRows(width, ink, 0.25, 4096, columns);
 * rows.widen([r, g, b, dog], j0 * lowWidth, rows.upper);
 * rows.widen([r, g, b, dog], j1 * lowWidth, rows.lower);
 * rows.row(rows.upper, rows.lower, out, y * width * 3, t, -0.02);
 */
export class InkRows {
  readonly upper: Float32Array;
  readonly lower: Float32Array;
  readonly #width: number;
  readonly #ink: Float32Array;
  readonly #offset: number;
  readonly #scale: number;
  readonly #simd: InkRowsSimd | undefined;
  readonly #columns: InkColumns | undefined;
  /** Without SIMD: the last output `row` wrote to, seen as clamped bytes (made once, not per row). */
  #clamped: { readonly out: Uint8Array; readonly px: Uint8ClampedArray } | undefined;

  /**
   * `ink`: transmission (0..1, f32) by index `(d + offset) * scale`, truncated and clamped to the
   * table; read only where d is below the threshold given to {@link InkRows.row}. `columns`:
   * for {@link InkRows.widen}.
   */
  constructor(width: number, ink: Float32Array, offset: number, scale: number, columns?: InkColumns) {
    if (!(Number.isInteger(width) && width > 0))
      throw new RangeError(`InkRows: width must be a positive integer, got ${width}`);
    if (ink.length === 0) throw new RangeError('InkRows: the ink table is empty');
    this.#width = width;
    this.#ink = ink;
    this.#offset = offset;
    this.#scale = scale;
    if (columns && (columns.x0.length < width || columns.x1.length < width || columns.fx.length < width))
      throw new RangeError('InkRows: columns shorter than the row');
    this.#columns = columns;
    this.#simd = inkRowsSimd(width, ink, offset, scale, columns);
    this.upper = this.#simd?.upper ?? new Float32Array(width * 4);
    this.lower = this.#simd?.lower ?? new Float32Array(width * 4);
  }

  /**
   * Low row `base` (an offset into each plane) of `planes` (r, g, b, d) interpolated across into
   * `target` (`upper` or `lower`) through the columns given to the constructor, in single
   * precision: pixel x is `low[x0] + (low[x1] - low[x0]) * fx`.
   */
  widen(planes: readonly Float32Array[], base: number, target: Float32Array): void {
    const columns = this.#columns;
    if (!columns) throw new Error('InkRows.widen: the rows were made without columns');
    if (this.#simd) this.#simd.widen(planes, base, target);
    else {
      if (planes.length !== 4 || (target !== this.upper && target !== this.lower))
        throw new RangeError('InkRows.widen: four planes, into upper or lower');
      const [r, g, b, d] = planes as [Float32Array, Float32Array, Float32Array, Float32Array];
      widenRow(r, g, b, d, base, columns, target, this.#width);
    }
  }

  /**
   * The row `a + (b - a) t` (`a` and `b`: this pair's `upper` and `lower`, either way round;
   * single precision, `t` too) as RGB bytes into `out` from byte `o`, each pixel whose d is below
   * `threshold` multiplied by its ink entry; stored as a Uint8ClampedArray stores a number
   * (clamped, ties to even).
   */
  row(a: Float32Array, b: Float32Array, out: Uint8Array, o: number, t: number, threshold: number): void {
    if (this.#simd) this.#simd.row(a, b, out, o, t, threshold);
    else {
      if (o < 0 || o + this.#width * 3 > out.length) throw new RangeError('InkRows.row: output out of range');
      if (this.#clamped?.out !== out)
        this.#clamped = { out, px: new Uint8ClampedArray(out.buffer, out.byteOffset, out.length) };
      inkRow(this.#clamped.px, o, this.#width, t, a, b, this.#ink, threshold, this.#offset, this.#scale);
    }
  }
}

/** {@link InkRows.row} in JavaScript. */
function inkRow(
  px: Uint8ClampedArray,
  o: number,
  width: number,
  t: number,
  a: Float32Array,
  b: Float32Array,
  ink: Float32Array,
  threshold: number,
  offset: number,
  scale: number,
): void {
  const last = ink.length - 1;
  const n = width * 4;
  const ft = Math.fround(t);
  for (let i = 0; i < n; i += 4, o += 3) {
    // In single precision, as the SIMD kernel blends four samples an instruction.
    const dv = a[i + 3]!;
    const d = Math.fround(dv + Math.fround(Math.fround(b[i + 3]! - dv) * ft));
    const rv = a[i]!;
    const gv = a[i + 1]!;
    const bv = a[i + 2]!;
    let red = Math.fround(rv + Math.fround(Math.fround(b[i]! - rv) * ft));
    let green = Math.fround(gv + Math.fround(Math.fround(b[i + 1]! - gv) * ft));
    let blue = Math.fround(bv + Math.fround(Math.fround(b[i + 2]! - bv) * ft));
    // Most pixels carry no ink (d is above the threshold): skip the lookup there, a branch that
    // is taken in long runs and so predicts well.
    if (d < threshold) {
      const e = ink[Math.min(last, Math.max(0, (d + offset) * scale)) | 0]!;
      red = Math.fround(red * e);
      green = Math.fround(green * e);
      blue = Math.fround(blue * e);
    }
    px[o] = red;
    px[o + 1] = green;
    px[o + 2] = blue;
  }
}

/** {@link InkRows.widen} in JavaScript (each product and sum rounded to single precision). */
function widenRow(
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  d: Float32Array,
  base: number,
  columns: BilinearColumns,
  out: Float32Array,
  width: number,
): void {
  const { x0: left, x1: right, fx: weight } = columns;
  for (let x = 0, o = 0; x < width; x++, o += 4) {
    const i = base + left[x]!;
    const j = base + right[x]!;
    const f = weight[x]!;
    const r0 = r[i]!;
    const g0 = g[i]!;
    const b0 = b[i]!;
    const d0 = d[i]!;
    // The stores round the sums.
    out[o] = r0 + Math.fround(Math.fround(r[j]! - r0) * f);
    out[o + 1] = g0 + Math.fround(Math.fround(g[j]! - g0) * f);
    out[o + 2] = b0 + Math.fround(Math.fround(b[j]! - b0) * f);
    out[o + 3] = d0 + Math.fround(Math.fround(d[j]! - d0) * f);
  }
}
