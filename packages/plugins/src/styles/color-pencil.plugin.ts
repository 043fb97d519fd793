import {
  BilinearUpsampler,
  definePlugin,
  domainTransformFilter,
  downsampleBox,
  fitLongSide,
  floatToGrey,
  inkTable,
  lumaOfPlanes,
  paperLevels,
  pencilLines,
  pencilStrokes,
  previewFullSize,
  pixelsAt,
  ThinLines,
  z,
} from '@atelier/core';
import type { PaperLevels, PluginContext, RawImage } from '@atelier/core';

const params = z.object({
  darkness: z
    .number()
    .min(0)
    .max(1)
    .default(0.6)
    .describe('How dark the outlines are; 0 leaves only coloured shading.'),
  lineSoftness: z
    .number()
    .min(0)
    .max(1)
    .default(0.3)
    .describe('0 draws thin crisp outlines, 1 broad soft ones.'),
  hatching: z
    .number()
    .min(0)
    .max(1)
    .default(0.6)
    .describe('How visible the individual pencil strokes are; 0 gives smooth, blended colour.'),
  contrast: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('Tonal contrast: low keeps the drawing light and airy, high gives deep shadows.'),
  saturation: z
    .number()
    .min(0)
    .max(2)
    .default(1.3)
    .describe("Colour saturation: 0 is graphite grey, 1 the photo's own, above 1 more vivid."),
  colorStrength: z
    .number()
    .min(0)
    .max(1)
    .default(0.7)
    .describe('How much pigment is laid down: low lets the white paper show through, high fills areas.'),
});

type ColorPencilParams = z.output<typeof params>;

/** Long side, in pixels, at which the photo is analysed (smoothing, lines, colour, tone). */
const WORK_SIZE = 1200;
/** Previews at this scale or below draw no thin lines (see ctx.previewScale). */
const PREVIEW_THIN_SCALE = 0.5;

/**
 * Colour pencil: coloured hatching on white paper with soft graphite outlines.
 *
 * How: the photo is analysed at 1200 px on its long side. The domain transform flattens its
 * colours into areas of pigment; lines come from the smoothed luma as in the sketch style (DoG
 * and gradient, relative to local brightness). Each pixel's pigment is the saturated colour, and
 * how much of it covers the paper grows with darkness and chroma; seeded 45° strokes (crossed by
 * their mirror image in the darks), drawn at work size and enlarged, give the soft, waxy edge of
 * a colour pencil. Thin lines (1-2 px, darker or lighter than both sides) are found at full size
 * ({@link ThinLines}) and drawn over the strokes: dark ones in graphite, light ones lifted out to
 * paper. Same seed, same strokes.
 *
 * @example
 * const out = await runStep(colorPencil, image, { saturation: 1.6, colorStrength: 0.5 });
 */
export const colorPencil = definePlugin({
  id: 'color-pencil',
  name: 'Colour pencil',
  description: 'Coloured pencil hatching on white paper with soft graphite outlines.',
  version: '1.0.0',
  engine: '^1',
  kind: 'style',
  tags: ['drawing'],
  params,
  async apply(ctx) {
    return renderColorPencil(ctx);
  },
});

async function renderColorPencil(ctx: PluginContext<ColorPencilParams>): Promise<RawImage> {
  const { image, params: p, signal } = ctx;
  const { width, height } = image;
  const { width: ww, height: wh } = fitLongSide(width, height, WORK_SIZE);
  const work = await pixelsAt(ctx, { width: ww, height: wh });
  signal.throwIfAborted();

  // 1. Edge-preserving smoothing of the colours: flat areas of pigment, sharp borders.
  const unit = Math.max(ww, wh) / 1000;
  const planes = downsampleBox(work, ww, wh, 3, 1, 1 / 255);
  const [r, g, b] = planes as [Float32Array, Float32Array, Float32Array];
  domainTransformFilter({
    planes,
    width: ww,
    height: wh,
    sigmaSpatial: 6 * unit,
    sigmaRange: 0.2,
    iterations: 2,
    signal,
  });
  signal.throwIfAborted();
  ctx.progress(0.3);

  // 2. Lines from the smoothed luma: how much darker a pixel is than its surround.
  const luma = lumaOfPlanes(r, g, b);
  const { lines: field } = await pencilLines({
    sharp: ctx.sharp,
    grey: floatToGrey(luma),
    width: ww,
    height: wh,
    softness: p.lineSoftness,
    unit,
    signal,
  });
  ctx.progress(0.5);

  // 3. Pigment: saturated colour, and how much of it (dark and vivid areas get more).
  pigment(r, g, b, luma, p, paperLevels(luma, 255));

  // 4. Strokes, drawn at work size: enlarged, they get the soft, waxy edge of a colour pencil.
  // One hatching layer; mirrored, it is the cross-hatching layer.
  // A preview draws the real render's strokes, shrunk (see ctx.previewScale).
  const full = previewFullSize(image, ctx.previewScale);
  const drawnAt = fitLongSide(full.width, full.height, WORK_SIZE);
  const strokes = pencilStrokes({
    width: ww,
    height: wh,
    seed: ctx.seed,
    angle: 45,
    length: (20 * Math.max(drawnAt.width, drawnAt.height)) / 1000,
    coverage: 0.6,
    drawnAt,
  });
  const [hatch] = downsampleBox(strokes, ww, wh, 1, 1) as [Float32Array];
  signal.throwIfAborted();
  ctx.progress(0.7);

  // 5. Thin lines at full size: 1-2 px strings and wires the work size cannot hold.
  const thin = ThinLines.ofImage(image);
  const thinRows = [new Float32Array(width), new Float32Array(width)] as const;
  // In a preview under half size a 1-2 px line is less than a pixel: none are drawn (as in sketch).
  const thinLines = ctx.previewScale > PREVIEW_THIN_SCALE;
  signal.throwIfAborted();

  // 6. Compose at full size: every plane upsampled together, blended row by row; then the few
  // pixels on a thin line again, with it.
  const out = new Uint8Array(width * height * 3);
  const up = new BilinearUpsampler(
    [r, g, b, luma, field, hatch],
    ww,
    wh,
    width,
    height,
    width / ww,
    height / wh,
  );
  const tables = coverageTables(p.hatching);
  const inkMax = 0.25 + 0.6 * p.darkness;
  const ink = inkTable(p.darkness, inkMax);
  const rowScratch = [new Float64Array(width), new Float64Array(width)] as const;
  for (let y = 0; y < height; y++) {
    const t = up.select(y);
    const px = new Uint8ClampedArray(out.buffer, out.byteOffset + y * width * 3, width * 3);
    colorRow(px, width, t, up, tables, ink, undefined, rowScratch);
    const hits = thinLines ? thin.row(y, thinRows[0], thinRows[1]) : 0;
    if (hits > 0)
      colorRow(px, width, t, up, tables, ink, { hits: thin.hits, n: hits, thinRows, inkMax }, rowScratch);
    if ((y & 127) === 0) signal.throwIfAborted();
  }
  ctx.progress(1);
  return { data: out, width, height, channels: 3 };
}

/**
 * In place: r, g, b become the pigment colour (0..1, saturated, levels stretched) and `amount`
 * (the luma plane) how much pigment covers the paper (0..1).
 */
function pigment(
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  amount: Float32Array,
  p: Readonly<ColorPencilParams>,
  levels: PaperLevels,
): void {
  const scale = 1 / levels.range;
  const black = levels.black;
  const sat = p.saturation;
  const power = 1.6 - 0.8 * p.contrast;
  const keyed = new Float32Array(256);
  for (let v = 0; v < 256; v++) keyed[v] = (v / 255) ** levels.key;
  const darkness = new Float32Array(257);
  for (let v = 0; v <= 256; v++) darkness[v] = (1 - Math.min(1, v / 255)) ** power;
  const strength = p.colorStrength;
  for (let i = 0; i < amount.length; i++) {
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

interface CoverageTables {
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
  up: BilinearUpsampler,
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

/** Per pigment amount: blended base coverage, stroke and cross-hatch weights per unit of stroke value. */
function coverageTables(hatching: number): CoverageTables {
  const stroke = new Float32Array(256);
  const cross = new Float32Array(256);
  const base = new Float32Array(256);
  for (let a = 0; a < 256; a++) {
    const m = a / 255;
    // The strokes carry `hatching` of the coverage; the rest is blended evenly.
    const texture = hatching * Math.min(1, m * 1.4);
    base[a] = m * (1 - 0.85 * hatching);
    stroke[a] = (texture * 0.9) / 255;
    cross[a] = (Math.max(0, m - 0.5) * 1.4 * hatching * 0.8) / 255;
  }
  return { stroke, cross, base };
}
