// The colour pencil's full-size composition as a band kernel, in a module of its own that
// imports only `@atelier/core/kernels`: the engine's helper threads load it without the SDK.
import { BilinearUpsampler, ThinLines, bandKernel } from '@atelier/core/kernels';
import { PlaneRows } from './plane-rows.ts';
import type { ThinLinesGate, ThinRows } from '@atelier/core/kernels';

/** Where a row's low-resolution rows come from (see BilinearUpsampler.select, upper and lower). */
type LowRows = Pick<BilinearUpsampler, 'select' | 'upper' | 'lower'>;

/**
 * What {@link colorBand} gets: the output, the work-size planes, the full-size luma for thin
 * lines, and the tables. Plain data: helper threads get it by structured clone (the large arrays
 * are shared).
 */
export interface ColorArgs {
  readonly out: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** Work size of the planes. */
  readonly ww: number;
  readonly wh: number;
  /** Pigment colour (r, g, b, 0..1), pigment amount (0..1), line strength, hatching layer (0..255), at work size. */
  readonly planes: readonly [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  /** Full-size luma for the thin lines; undefined when none are drawn (small previews). */
  readonly luma: Uint8Array | undefined;
  /** How much of the thin lines to keep, by their density (ThinLines.densityGate). */
  readonly gate: ThinLinesGate | undefined;
  /** The thin lines' first rows, found while the run's thread waited for libvips (ThinRowsAhead). */
  readonly ahead: ThinRows | undefined;
  readonly tables: CoverageTables;
  /** Line strength to ink transmission (see inkTable). */
  readonly ink: Float32Array;
  readonly inkMax: number;
}

/**
 * Full-size rows `y0` to `y1 - 1`: every plane upsampled together and blended row by row; then
 * the few pixels on a thin line again, with it. Each row depends only on the work-size planes
 * and the luma rows within 3 of it, so bands run on any thread in any order with the same result.
 */
export const colorBand = bandKernel(
  import.meta.url,
  'colorBand',
  (a: ColorArgs, y0: number, y1: number, abort): void => {
    const { out, width, height, ww, wh, tables, ink, inkMax } = a;
    const up: LowRows =
      ww === width && wh === height
        ? new PlaneRows(a.planes, width)
        : new BilinearUpsampler(a.planes, ww, wh, width, height, width / ww, height / wh);
    const thin = a.luma
      ? new ThinLines({ luma: a.luma, width, height, gate: a.gate, ahead: a.ahead })
      : undefined;
    const thinRows = [new Float32Array(width), new Float32Array(width)] as const;
    const rowScratch = [new Float64Array(width), new Float64Array(width)] as const;
    for (let y = y0; y < y1; y++) {
      const t = up.select(y);
      const px = new Uint8ClampedArray(out.buffer, out.byteOffset + y * width * 3, width * 3);
      colorRow(px, width, t, up, tables, ink, undefined, rowScratch);
      const hits = thin ? thin.row(y, thinRows[0], thinRows[1]) : 0;
      if (thin && hits > 0)
        colorRow(px, width, t, up, tables, ink, { hits: thin.hits, n: hits, thinRows, inkMax }, rowScratch);
      if ((y & 127) === 0) abort.throwIfAborted();
    }
  },
);

/** What {@link lumaBand} gets: the smoothed colour planes, and the luma as floats and as bytes. */
export interface LumaArgs {
  readonly r: Float32Array;
  readonly g: Float32Array;
  readonly b: Float32Array;
  readonly luma: Float32Array;
  readonly grey: Uint8Array;
  readonly width: number;
}

/** Work-size rows `y0` to `y1 - 1` of the luma (as core's lumaOfPlanes) and its 8-bit grey (as floatToGrey). */
export const lumaBand = bandKernel(
  import.meta.url,
  'lumaBand',
  (a: LumaArgs, y0: number, y1: number): void => {
    const { r, g, b, luma, width } = a;
    const grey = new Uint8ClampedArray(a.grey.buffer, a.grey.byteOffset, a.grey.length);
    // One call per row (see pigmentBand).
    for (let i = y0 * width, end = y1 * width; i < end; i += width)
      lumaRow(r, g, b, luma, grey, i, i + width);
  },
);

function lumaRow(
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  luma: Float32Array,
  grey: Uint8ClampedArray,
  i: number,
  end: number,
): void {
  for (; i < end; i++) {
    // The grey of the luma as stored (Float32). Read back rather than rounded with Math.fround,
    // which V8's Maglev tier calls as a built-in, boxing its argument and result.
    luma[i] = 0.299 * r[i]! + 0.587 * g[i]! + 0.114 * b[i]!;
    grey[i] = luma[i]! * 255;
  }
}

/**
 * What {@link pigmentBand} gets: the colour planes and the luma (made the pigment colour and
 * amount in place), and the tone tables and constants.
 */
export interface PigmentArgs {
  readonly r: Float32Array;
  readonly g: Float32Array;
  readonly b: Float32Array;
  readonly amount: Float32Array;
  readonly width: number;
  /** Stretched luma (0..255) to its keyed level (0..1). */
  readonly keyed: Float32Array;
  /** Keyed level (0..256) to darkness (0..1). */
  readonly darkness: Float32Array;
  readonly black: number;
  readonly scale: number;
  readonly sat: number;
  readonly strength: number;
}

/** Work-size rows `y0` to `y1 - 1` of the pigment: each pixel on its own. */
export const pigmentBand = bandKernel(
  import.meta.url,
  'pigmentBand',
  (a: PigmentArgs, y0: number, y1: number): void => {
    const { width } = a;
    // One call per row: each band kernel runs once per render, and V8 compiles a long loop in it
    // only on stack replacement, running much of it first in a tier that boxes every
    // intermediate float (megabytes of garbage a render); a small function called for each
    // row is compiled whole and early.
    for (let i = y0 * width, end = y1 * width; i < end; i += width) pigmentRow(a, i, i + width);
  },
);

function pigmentRow(a: PigmentArgs, i: number, end: number): void {
  const { r, g, b, amount, keyed, darkness, black, scale, sat, strength } = a;
  for (; i < end; i++) {
    const y = amount[i]!;
    // Clamped with comparisons: Math.min and Math.max on floats cost several times more.
    const v = (y - black) * scale * 255;
    const ys = keyed[v > 0 ? (v < 255 ? v | 0 : 255) : 0]!;
    // Saturate around the stretched luma.
    let cr = ys + (r[i]! - y) * sat;
    let cg = ys + (g[i]! - y) * sat;
    let cb = ys + (b[i]! - y) * sat;
    cr = cr > 0 ? (cr < 1 ? cr : 1) : 0;
    cg = cg > 0 ? (cg < 1 ? cg : 1) : 0;
    cb = cb > 0 ? (cb < 1 ? cb : 1) : 0;
    r[i] = cr;
    g[i] = cg;
    b[i] = cb;
    // Pigment amount: darker and more saturated colours need more of it.
    const hi = cr > cg ? (cr > cb ? cr : cb) : cg > cb ? cg : cb;
    const lo = cr < cg ? (cr < cb ? cr : cb) : cg < cb ? cg : cb;
    const chroma = hi - lo;
    const dark = darkness[(ys * 255 + 0.5) | 0]!;
    const want = strength * (0.35 + 0.9 * dark + 0.5 * chroma);
    amount[i] = want < 1 ? want : 1;
  }
}

export interface CoverageTables {
  /** Weight of the hatching strokes per pigment amount (0..255). */
  readonly stroke: Float32Array;
  /** Weight of the cross-hatching per pigment amount. */
  readonly cross: Float32Array;
  /** Even, blended coverage per pigment amount. */
  readonly base: Float32Array;
}

/** The thin lines of a row, for {@link colorRow}: columns `hits[0 .. n)`, strengths, darkest ink. */
interface ThinRow {
  readonly hits: Int32Array;
  readonly n: number;
  readonly thinRows: readonly [Float32Array, Float32Array];
  readonly inkMax: number;
}

/** One output row from the upsampler's two low rows around it; with `thin`, only its thin-line pixels. */
function colorRow(
  px: Uint8ClampedArray,
  width: number,
  t: number,
  up: LowRows,
  tables: CoverageTables,
  ink: Float32Array,
  thin: ThinRow | undefined,
  scratch: readonly [Float64Array, Float64Array],
): void {
  const r0 = up.upper(0);
  const r1 = up.lower(0);
  const g0 = up.upper(1);
  const g1 = up.lower(1);
  const b0 = up.upper(2);
  const b1 = up.lower(2);
  const a0 = up.upper(3);
  const a1 = up.lower(3);
  const l0 = up.upper(4);
  const l1 = up.lower(4);
  const h0 = up.upper(5);
  const h1 = up.lower(5);
  if (!thin) {
    colorPixels(
      px,
      width,
      t,
      r0,
      r1,
      g0,
      g1,
      b0,
      b1,
      a0,
      a1,
      l0,
      l1,
      h0,
      h1,
      tables.stroke,
      tables.cross,
      tables.base,
      ink,
      scratch[0],
      scratch[1],
    );
    return;
  }
  thinLinePixels(
    px,
    width,
    thin.hits,
    thin.n,
    t,
    r0,
    r1,
    g0,
    g1,
    b0,
    b1,
    a0,
    a1,
    l0,
    l1,
    h0,
    h1,
    tables.stroke,
    tables.cross,
    tables.base,
    ink,
    thin.thinRows[0],
    thin.thinRows[1],
    thin.inkMax,
  );
}

/**
 * One output row; `*0`/`*1` are the two low rows of each plane around it, `t` blends them. Two
 * passes over the row, through `cover` and `graphite` (`width` each): with fewer arrays live in
 * each loop, V8 keeps them in registers, and the pair runs faster than one loop doing both.
 */
function colorPixels(
  px: Uint8ClampedArray,
  width: number,
  t: number,
  r0: Float32Array,
  r1: Float32Array,
  g0: Float32Array,
  g1: Float32Array,
  b0: Float32Array,
  b1: Float32Array,
  a0: Float32Array,
  a1: Float32Array,
  l0: Float32Array,
  l1: Float32Array,
  h0: Float32Array,
  h1: Float32Array,
  stroke: Float32Array,
  cross: Float32Array,
  base: Float32Array,
  ink: Float32Array,
  cover: Float64Array,
  graphite: Float64Array,
): void {
  coverRow(width, t, a0, a1, l0, l1, h0, h1, stroke, cross, base, ink, cover, graphite);
  paintRow(px, width, t, r0, r1, g0, g1, b0, b1, cover, graphite);
}

/** Per pixel of a row: pigment coverage `m` (0..1) and outline weight `1 - e` (ink transmission `e`). */
function coverRow(
  width: number,
  t: number,
  a0: Float32Array,
  a1: Float32Array,
  l0: Float32Array,
  l1: Float32Array,
  h0: Float32Array,
  h1: Float32Array,
  stroke: Float32Array,
  cross: Float32Array,
  base: Float32Array,
  ink: Float32Array,
  cover: Float64Array,
  graphite: Float64Array,
): void {
  for (let x = 0; x < width; x++) {
    // Clamped with comparisons, not Math.min and Math.max: in this loop they cost more.
    const av = (a0[x]! + (a1[x]! - a0[x]!) * t) * 255;
    const a = av > 0 ? (av < 255 ? av | 0 : 255) : 0;
    const hv = h0[x]! + (h1[x]! - h0[x]!) * t;
    // The cross-hatching is the hatching mirrored left to right (upsampling commutes with it).
    const cv = h0[width - 1 - x]! + (h1[width - 1 - x]! - h0[width - 1 - x]!) * t;
    // Coverage of pigment over paper at this pixel, from the strokes.
    const m = base[a]! + stroke[a]! * hv + cross[a]! * cv;
    cover[x] = m < 1 ? m : 1;
    const lv = (l0[x]! + (l1[x]! - l0[x]!) * t) * 2048;
    graphite[x] = 1 - ink[lv > 0 ? (lv < 1023 ? lv | 0 : 1023) : 0]!;
  }
}

/** The colours of a row from its pigment coverage and outline weight ({@link coverRow}). */
function paintRow(
  px: Uint8ClampedArray,
  width: number,
  t: number,
  r0: Float32Array,
  r1: Float32Array,
  g0: Float32Array,
  g1: Float32Array,
  b0: Float32Array,
  b1: Float32Array,
  cover: Float64Array,
  graphite: Float64Array,
): void {
  for (let x = 0, k = 0; x < width; x++, k += 3) {
    const m = cover[x]!;
    const lw = graphite[x]!;
    const rv = r0[x]!;
    const gv = g0[x]!;
    const bv = b0[x]!;
    const cr = 1 - (1 - rv - (r1[x]! - rv) * t) * m;
    const cg = 1 - (1 - gv - (g1[x]! - gv) * t) * m;
    const cb = 1 - (1 - bv - (b1[x]! - bv) * t) * m;
    // Outlines: graphite, tinted by the pigment under it.
    px[k] = 255 * cr * (1 - lw * (1 - 0.3 * cr));
    px[k + 1] = 255 * cg * (1 - lw * (1 - 0.3 * cg));
    px[k + 2] = 255 * cb * (1 - lw * (1 - 0.3 * cb));
  }
}

/**
 * The pixels `hits[0 .. n)` of the current row again, on a thin line of strengths `dark[x]` and
 * `light[x]` (0..1): the same blend as {@link colorPixels}, with a dark line drawn in graphite and
 * a light one lifted out to paper.
 */
function thinLinePixels(
  px: Uint8ClampedArray,
  width: number,
  hits: Int32Array,
  n: number,
  t: number,
  r0: Float32Array,
  r1: Float32Array,
  g0: Float32Array,
  g1: Float32Array,
  b0: Float32Array,
  b1: Float32Array,
  a0: Float32Array,
  a1: Float32Array,
  l0: Float32Array,
  l1: Float32Array,
  h0: Float32Array,
  h1: Float32Array,
  stroke: Float32Array,
  cross: Float32Array,
  base: Float32Array,
  ink: Float32Array,
  dark: Float32Array,
  light: Float32Array,
  inkMax: number,
): void {
  for (let i = 0; i < n; i++) {
    const x = hits[i]!;
    const av = (a0[x]! + (a1[x]! - a0[x]!) * t) * 255;
    const a = av > 0 ? (av < 255 ? av | 0 : 255) : 0;
    const hv = h0[x]! + (h1[x]! - h0[x]!) * t;
    const w1 = width - 1 - x;
    const cv = h0[w1]! + (h1[w1]! - h0[w1]!) * t;
    const cover = base[a]! + stroke[a]! * hv + cross[a]! * cv;
    const m = cover < 1 ? cover : 1;
    const lv = (l0[x]! + (l1[x]! - l0[x]!) * t) * 2048;
    const e = Math.min(ink[lv > 0 ? (lv < 1023 ? lv | 0 : 1023) : 0]!, 1 - inkMax * dark[x]!);
    const lw = 1 - e;
    // A light line is lifted out to paper, as with an eraser: the work size already draws it a
    // little lighter, so white reinforces it where graphite would cancel it out. At twice its
    // strength, capped: a half-lifted line is lost in the hatching.
    const lift = Math.min(1, 2 * light[x]!);
    const k = x * 3;
    const cr = 1 - (1 - r0[x]! - (r1[x]! - r0[x]!) * t) * m;
    const cg = 1 - (1 - g0[x]! - (g1[x]! - g0[x]!) * t) * m;
    const cb = 1 - (1 - b0[x]! - (b1[x]! - b0[x]!) * t) * m;
    const or = 255 * cr * (1 - lw * (1 - 0.3 * cr));
    const og = 255 * cg * (1 - lw * (1 - 0.3 * cg));
    const ob = 255 * cb * (1 - lw * (1 - 0.3 * cb));
    px[k] = or + (255 - or) * lift;
    px[k + 1] = og + (255 - og) * lift;
    px[k + 2] = ob + (255 - ob) * lift;
  }
}
