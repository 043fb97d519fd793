// The sketch's full-size composition as a band kernel, in a module of its own that imports only
// `@atelier/core/kernels`: the engine's helper threads load it without the SDK.
import { BilinearUpsampler, ThinLines, bandKernel, bilinearColumns } from '@atelier/core/kernels';
import { PlaneRows } from './plane-rows.ts';
import type { ThinLinesGate, ThinRows } from '@atelier/core/kernels';

/** Where a row's low-resolution rows come from (see BilinearUpsampler.select, upper and lower). */
type LowRows = Pick<BilinearUpsampler, 'select' | 'upper' | 'lower'>;

/** Per darkness level (0..255), what {@link shadeBand} draws. Plain arrays: small, copied to each thread. */
export interface ShadingTables {
  /** Stroke strength per darkness level (0..255). */
  readonly stroke: Float32Array;
  /** Cross-hatching strength per darkness level. */
  readonly cross: Float32Array;
  /** Even graphite smudge per darkness level. */
  readonly smudge: Float32Array;
  /**
   * Per darkness level, how a thin light line is drawn: 1 lifted out with the eraser (the paper
   * around it is hatched dark enough for white to show), 0 drawn as a graphite line (the paper
   * around it is light).
   */
  readonly erase: Float32Array;
}

/**
 * What {@link shadeBand} gets: the output, the work-size line field and surround, the stroke
 * layer, the full-size luma for thin lines, and the tables. Plain data: helper threads get it by
 * structured clone (the large arrays are shared).
 */
export interface ShadeArgs {
  readonly out: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** Work size of `field` and `far`. */
  readonly ww: number;
  readonly wh: number;
  /** Line strength (see pencilLines) and surround brightness (0..255), at work size. */
  readonly field: Float32Array;
  readonly far: Float32Array;
  /** The hatching layer, `sw * sh` bytes: at full size, or smaller and enlarged bilinearly. */
  readonly strokes: Uint8Array;
  readonly sw: number;
  readonly sh: number;
  /** Full-size luma for the thin lines; undefined when none are drawn (small previews). */
  readonly luma: Uint8Array | undefined;
  /** How much of the thin lines to keep, by their density (ThinLines.densityGate). */
  readonly gate: ThinLinesGate | undefined;
  /** The thin lines' first rows, found while the run's thread waited for libvips (ThinRowsAhead). */
  readonly ahead: ThinRows | undefined;
  /** Surround brightness (0..256) to darkness on paper. */
  readonly toneLut: Uint8Array;
  readonly tables: ShadingTables;
  /** Line strength to ink transmission (see inkTable). */
  readonly ink: Float32Array;
  readonly inkMax: number;
}

/**
 * Full-size rows `y0` to `y1 - 1` of the sketch: the shading, then the few pixels on a thin line
 * again, with it. Each row depends only on the work-size planes, the stroke layer and the luma
 * rows within 3 of it, so bands run on any thread in any order with the same result.
 */
export const shadeBand = bandKernel(
  import.meta.url,
  'shadeBand',
  (a: ShadeArgs, y0: number, y1: number, abort): void => {
    const { out, width, height, ww, wh, strokes, sw, sh, toneLut, tables, ink, inkMax } = a;
    const up: LowRows =
      ww === width && wh === height
        ? new PlaneRows([a.field, a.far], width)
        : new BilinearUpsampler([a.field, a.far], ww, wh, width, height, width / ww, height / wh);
    const strokeRows =
      sw !== width || sh !== height ? new StrokeRows(strokes, sw, sh, width, height) : undefined;
    const thin = a.luma
      ? new ThinLines({ luma: a.luma, width, height, gate: a.gate, ahead: a.ahead })
      : undefined;
    const thinDark = new Float32Array(width);
    const thinLight = new Float32Array(width);
    for (let y = y0; y < y1; y++) {
      const t = up.select(y);
      // The hatching layer's row, and read backwards the cross-hatching layer's (its mirror).
      const hatch = strokeRows ? strokeRows.row(y) : strokes;
      const offset = strokeRows ? 0 : y * width;
      // upper/lower(k): plane k's two low rows around row y, already widened; t blends them.
      const px = new Uint8ClampedArray(out.buffer, out.byteOffset + y * width, width);
      shadeRow(
        px,
        width,
        t,
        up.upper(0),
        up.lower(0),
        up.upper(1),
        up.lower(1),
        hatch,
        offset,
        toneLut,
        tables,
        ink,
      );
      const hits = thin ? thin.row(y, thinDark, thinLight) : 0;
      if (thin && hits > 0) {
        const rows = [up.upper(0), up.lower(0), up.upper(1), up.lower(1)] as const;
        thinLineRow(
          px,
          thin.hits,
          hits,
          t,
          rows,
          hatch,
          offset,
          width,
          toneLut,
          tables,
          ink,
          thinDark,
          thinLight,
          inkMax,
        );
      }
      if ((y & 127) === 0) abort.throwIfAborted();
    }
  },
);

/** What {@link toUnitBand} and {@link toGreyBand} get: the work-size grey bytes and float plane (0..1). */
export interface GreyArgs {
  readonly grey: Uint8Array;
  readonly plane: Float32Array;
  readonly width: number;
}

/** Work-size rows `y0` to `y1 - 1`: the grey bytes to 0..1 (as core's downsampleBox by 1, to 1/255). */
export const toUnitBand = bandKernel(import.meta.url, 'toUnitBand', (a: GreyArgs, y0: number, y1: number) => {
  // A row per call (see colour pencil's pigmentBand): compiled whole early, no boxed floats.
  for (let y = y0; y < y1; y++) toUnitRow(a.grey, a.plane, y * a.width, (y + 1) * a.width);
});

function toUnitRow(grey: Uint8Array, plane: Float32Array, i: number, end: number): void {
  for (; i < end; i++) plane[i] = grey[i]! * (1 / 255);
}

/** Work-size rows `y0` to `y1 - 1`: the plane back to grey bytes, rounded and clamped (as core's floatToGrey). */
export const toGreyBand = bandKernel(import.meta.url, 'toGreyBand', (a: GreyArgs, y0: number, y1: number) => {
  const px = new Uint8ClampedArray(a.grey.buffer, a.grey.byteOffset, a.grey.length);
  for (let y = y0; y < y1; y++) toGreyRow(a.plane, px, y * a.width, (y + 1) * a.width);
});

function toGreyRow(plane: Float32Array, px: Uint8ClampedArray, i: number, end: number): void {
  for (; i < end; i++) px[i] = plane[i]! * 255;
}

/**
 * Enlarged stroke rows for photos above the stroke size: the layer's bytes upsampled bilinearly,
 * as core's BilinearUpsampler does a float plane of them (the same arithmetic, to the bit), and
 * truncated back to bytes. Reading the bytes saves a float copy of the layer.
 */
class StrokeRows {
  readonly #strokes: Uint8Array;
  readonly #sw: number;
  readonly #sh: number;
  readonly #factorY: number;
  readonly #x0: Int32Array;
  readonly #x1: Int32Array;
  readonly #fx: Float32Array;
  #upper: Float32Array;
  #lower: Float32Array;
  #upperRow = -1;
  #lowerRow = -1;
  readonly #row: Float32Array;
  readonly #bytes: Uint8Array;

  constructor(strokes: Uint8Array, sw: number, sh: number, width: number, height: number) {
    this.#strokes = strokes;
    this.#sw = sw;
    this.#sh = sh;
    this.#factorY = height / sh;
    ({ x0: this.#x0, x1: this.#x1, fx: this.#fx } = bilinearColumns(width, sw, width / sw));
    this.#upper = new Float32Array(width);
    this.#lower = new Float32Array(width);
    this.#row = new Float32Array(width);
    this.#bytes = new Uint8Array(width);
  }

  row(y: number): Uint8Array {
    let v = (y + 0.5) / this.#factorY - 0.5;
    if (v < 0) v = 0;
    if (v > this.#sh - 1) v = this.#sh - 1;
    const j0 = Math.floor(v);
    const j1 = Math.min(j0 + 1, this.#sh - 1);
    if (this.#upperRow !== j0) {
      if (this.#lowerRow === j0) [this.#upper, this.#lower] = [this.#lower, this.#upper];
      else widenRow(this.#strokes, j0 * this.#sw, this.#x0, this.#x1, this.#fx, this.#upper);
      this.#upperRow = j0;
    }
    if (this.#lowerRow !== j1) {
      widenRow(this.#strokes, j1 * this.#sw, this.#x0, this.#x1, this.#fx, this.#lower);
      this.#lowerRow = j1;
    }
    blendRow(this.#upper, this.#lower, v - j0, this.#row);
    // Truncated to bytes by the engine's own conversion, faster than a store per pixel.
    this.#bytes.set(this.#row);
    return this.#bytes;
  }
}

/** Row `base` of a byte plane widened: `p + (q - p) * fx` between the columns x0 and x1 around each. */
function widenRow(
  plane: Uint8Array,
  base: number,
  x0: Int32Array,
  x1: Int32Array,
  fx: Float32Array,
  out: Float32Array,
): void {
  for (let x = 0; x < out.length; x++) {
    const p = plane[base + x0[x]!]!;
    out[x] = p + (plane[base + x1[x]!]! - p) * fx[x]!;
  }
}

/** `a + (b - a) * t`. */
function blendRow(a: Float32Array, b: Float32Array, t: number, out: Float32Array): void {
  for (let x = 0; x < out.length; x++) {
    const p = a[x]!;
    out[x] = p + (b[x]! - p) * t;
  }
}

/**
 * One output row without its thin lines: in two passes, the tone and ink index of each pixel
 * from the widened work-size rows, then the pixel from them and the strokes. With fewer arrays
 * live in each loop V8 keeps them in registers: the shading of a 1920 x 1200 sketch took 29 ms
 * in one loop and 25 in two (2026-12-05), with the same arithmetic and bytes.
 */
function shadeRow(
  px: Uint8ClampedArray,
  width: number,
  t: number,
  l0: Float32Array,
  l1: Float32Array,
  f0: Float32Array,
  f1: Float32Array,
  strokes: Uint8Array,
  offset: number,
  toneLut: Uint8Array,
  tables: ShadingTables,
  ink: Float32Array,
): void {
  if (tones.length < width) {
    tones = new Uint8Array(width);
    inks = new Uint16Array(width);
  }
  toneRow(width, t, l0, l1, f0, f1, toneLut, tones, inks);
  paintRow(px, width, strokes, offset, tones, inks, tables.stroke, tables.cross, tables.smudge, ink);
}

/**
 * The row buffers of {@link shadeRow}, kept by the thread: a band kernel runs to its end before
 * the next starts.
 */
let tones = new Uint8Array(0);
let inks = new Uint16Array(0);

/** Per pixel: its darkness level (`toneLut` of the surround field) and the ink table's index of its line. */
function toneRow(
  width: number,
  t: number,
  l0: Float32Array,
  l1: Float32Array,
  f0: Float32Array,
  f1: Float32Array,
  toneLut: Uint8Array,
  tones: Uint8Array,
  inks: Uint16Array,
): void {
  for (let x = 0; x < width; x++) {
    tones[x] = toneLut[(f0[x]! + (f1[x]! - f0[x]!) * t) | 0]!;
    const line = (l0[x]! + (l1[x]! - l0[x]!) * t) * 2048;
    // Clamped with comparisons: Math.min and Math.max on floats cost several times more.
    inks[x] = line > 0 ? (line < 1023 ? line | 0 : 1023) : 0;
  }
}

/**
 * Per pixel: the smudge of its tone, the hatching and cross-hatching strokes, and its outline's
 * ink, which the paper's tooth (the stroke texture) lightens a little.
 */
function paintRow(
  px: Uint8ClampedArray,
  width: number,
  strokes: Uint8Array,
  offset: number,
  tones: Uint8Array,
  inks: Uint16Array,
  stroke: Float32Array,
  cross: Float32Array,
  smudge: Float32Array,
  ink: Float32Array,
): void {
  const mirror = offset + width - 1;
  for (let x = 0; x < width; x++) {
    const d = tones[x]!;
    const s2 = strokes[mirror - x]!;
    const a = 1 - stroke[d]! * strokes[offset + x]!;
    const c = 1 - cross[d]! * s2;
    const e = ink[inks[x]!]!;
    px[x] = smudge[d]! * a * c * (e + (1 - e) * (0.25 - s2 * 0.001));
  }
}

/** The pixels `hits[0 .. n)` of a row again, with their thin lines (see {@link thinLinePixel}). */
function thinLineRow(
  px: Uint8ClampedArray,
  hits: Int32Array,
  n: number,
  t: number,
  [l0, l1, f0, f1]: readonly [Float32Array, Float32Array, Float32Array, Float32Array],
  strokes: Uint8Array,
  offset: number,
  width: number,
  toneLut: Uint8Array,
  tables: ShadingTables,
  ink: Float32Array,
  dark: Float32Array,
  light: Float32Array,
  inkMax: number,
): void {
  for (let i = 0; i < n; i++) {
    const x = hits[i]!;
    const d = toneLut[(f0[x]! + (f1[x]! - f0[x]!) * t) | 0]!;
    const line = (l0[x]! + (l1[x]! - l0[x]!) * t) * 2048;
    const s2 = strokes[offset + width - 1 - x]!;
    const shade =
      tables.smudge[d]! * (1 - tables.stroke[d]! * strokes[offset + x]!) * (1 - tables.cross[d]! * s2);
    const e = ink[line > 0 ? (line < 1023 ? line | 0 : 1023) : 0]!;
    px[x] = thinLinePixel(shade, e, s2, dark[x]!, light[x]!, tables.erase[d]!, inkMax);
  }
}

/**
 * A pixel on a thin line: the shading `shade` (0..255), outline ink transmission `e`, cross-stroke
 * value `s2`, thin-line strengths (0..1), and whether light lines are erased here (`erase`, from
 * the tone). Same as {@link shadeRow}, with the thin line drawn in.
 */
function thinLinePixel(
  shade: number,
  e: number,
  s2: number,
  dark: number,
  light: number,
  erase: number,
  inkMax: number,
): number {
  // A light line is drawn at twice its strength, capped: whether in graphite or lifted out, a
  // half-drawn one is lost against the hatching and the lighter tone the work size keeps there.
  const lit = Math.min(1, 2 * light);
  const ink = Math.min(e, 1 - inkMax * Math.min(1, dark + lit * (1 - erase)));
  const v = shade * (ink + (1 - ink) * (0.25 - s2 * 0.001));
  // A light line on dark hatching: the eraser lifts the graphite back to paper.
  return v + (255 - v) * lit * erase;
}
