import {
  BilinearUpsampler,
  blurGrey,
  definePlugin,
  domainTransformFilter,
  downsampleBox,
  floatToGrey,
  pencilStrokes,
  planePercentiles,
} from '@atelier/core';
import type { PluginContext, RawImage } from '@atelier/core';
import { z } from 'zod';

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
/** Long side, in pixels, above which strokes are drawn at this size and enlarged, so they keep their look. */
const STROKE_SIZE = 2400;

/**
 * Colour pencil: coloured hatching on white paper with soft graphite outlines.
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
  const long = Math.max(width, height);
  const ws = Math.min(1, WORK_SIZE / long);
  const ww = Math.max(1, Math.round(width * ws));
  const wh = Math.max(1, Math.round(height * ws));
  const n = ww * wh;
  const work = await ctx.sharp().resize(ww, wh, { fit: 'fill', kernel: 'linear' }).raw().toBuffer();
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
  });
  signal.throwIfAborted();
  ctx.progress(0.3);

  // 2. Lines from the smoothed luma: how much darker a pixel is than its surround.
  const luma = new Float32Array(n);
  for (let i = 0; i < n; i++) luma[i] = 0.299 * r[i]! + 0.587 * g[i]! + 0.114 * b[i]!;
  const grey = floatToGrey(luma);
  const s1 = (0.5 + 1.2 * p.lineSoftness) * unit;
  const near = await blurGrey(ctx.sharp, grey, ww, wh, s1);
  signal.throwIfAborted();
  const far = await blurGrey(ctx.sharp, grey, ww, wh, s1 * 2.5);
  signal.throwIfAborted();
  const field = near;
  for (let i = 0; i < n; i++) field[i] = (far[i]! - near[i]!) / (far[i]! + 40);
  ctx.progress(0.5);

  // 3. Pigment: saturated colour, and how much of it (dark and vivid areas get more).
  pigment(r, g, b, luma, p, autoLevels(luma));

  // 4. Strokes: one hatching layer; read mirrored it is the cross-hatching layer.
  const ss = Math.min(1, STROKE_SIZE / long);
  const sw = Math.max(1, Math.round(width * ss));
  const sh = Math.max(1, Math.round(height * ss));
  const strokes = pencilStrokes({
    width: sw,
    height: sh,
    seed: ctx.seed,
    angle: 45,
    length: 20 * (Math.max(sw, sh) / 1000),
    coverage: 0.6,
  });
  signal.throwIfAborted();
  ctx.progress(0.7);

  // 5. Compose at full size.
  const out = new Uint8Array(width * height * 3);
  const fx = width / ww;
  const fy = height / wh;
  const ups = [r, g, b, luma, field].map(
    (plane) => new BilinearUpsampler(plane, ww, wh, width, height, fx, fy),
  );
  const rows = ups.map(() => new Float32Array(width));
  const [rr, gr, br, cr, lr] = rows as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
  const strokeRows = ss < 1 ? new StrokeRows(strokes, sw, sh, width, height) : undefined;
  const s1Row = new Uint8Array(width);
  const s2Row = new Uint8Array(width);
  const tables = coverageTables(p.hatching);
  const ink = inkTable(p.darkness);
  for (let y = 0; y < height; y++) {
    for (let k = 0; k < ups.length; k++) ups[k]!.row(y, rows[k]!);
    if (strokeRows) strokeRows.rows(y, s1Row, s2Row);
    else strokeRowsDirect(strokes, width, y, s1Row, s2Row);
    colorRow(out, y * width * 3, width, rr, gr, br, cr, lr, s1Row, s2Row, tables, ink);
    if ((y & 127) === 0) signal.throwIfAborted();
  }
  ctx.progress(1);
  return { data: out, width, height, channels: 3 };
}

/** Black and white points of the luma, stretched partway so dark photos still read as dark. */
function autoLevels(luma: Float32Array): { black: number; white: number } {
  const [lo, hi] = planePercentiles(luma, 255, [0.01, 0.99]) as [number, number];
  return { black: (0.6 * lo) / 255, white: 1 - (0.6 * (255 - hi)) / 255 };
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
  levels: { black: number; white: number },
): void {
  const scale = 1 / Math.max(0.05, levels.white - levels.black);
  const black = levels.black;
  const sat = p.saturation;
  const power = 1.6 - 0.8 * p.contrast;
  const strength = p.colorStrength;
  for (let i = 0; i < amount.length; i++) {
    const y = amount[i]!;
    const ys = Math.min(1, Math.max(0, (y - black) * scale));
    // Saturate around the stretched luma.
    let cr = ys + (r[i]! - y) * sat;
    let cg = ys + (g[i]! - y) * sat;
    let cb = ys + (b[i]! - y) * sat;
    cr = Math.min(1, Math.max(0, cr));
    cg = Math.min(1, Math.max(0, cg));
    cb = Math.min(1, Math.max(0, cb));
    r[i] = cr;
    g[i] = cg;
    b[i] = cb;
    // Pigment amount: darker and more saturated colours need more of it.
    const chroma = Math.max(cr, cg, cb) - Math.min(cr, cg, cb);
    const dark = (1 - ys) ** power;
    amount[i] = Math.min(1, strength * (0.35 + 0.9 * dark + 0.5 * chroma));
  }
}

/** Row y of the hatching layer and of its mirror image (the cross-hatching layer). */
function strokeRowsDirect(strokes: Uint8Array, width: number, y: number, a: Uint8Array, b: Uint8Array): void {
  const row = y * width;
  a.set(strokes.subarray(row, row + width));
  for (let x = 0, m = row + width - 1; x < width; x++, m--) b[x] = strokes[m]!;
}

/** Enlarged stroke rows for photos above {@link STROKE_SIZE}. */
class StrokeRows {
  readonly #up: BilinearUpsampler;
  readonly #row: Float32Array;
  readonly #width: number;

  constructor(strokes: Uint8Array, sw: number, sh: number, width: number, height: number) {
    const [plane] = downsampleBox(strokes, sw, sh, 1, 1) as [Float32Array];
    this.#up = new BilinearUpsampler(plane, sw, sh, width, height, width / sw, height / sh);
    this.#row = new Float32Array(width);
    this.#width = width;
  }

  rows(y: number, a: Uint8Array, b: Uint8Array): void {
    this.#up.row(y, this.#row);
    const w = this.#width;
    for (let x = 0; x < w; x++) a[x] = this.#row[x]!;
    for (let x = 0; x < w; x++) b[x] = a[w - 1 - x]!;
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

function colorRow(
  out: Uint8Array,
  o: number,
  width: number,
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  amount: Float32Array,
  line: Float32Array,
  s1: Uint8Array,
  s2: Uint8Array,
  t: CoverageTables,
  ink: Float32Array,
): void {
  const stroke = t.stroke;
  const cross = t.cross;
  const base = t.base;
  const px = new Uint8ClampedArray(out.buffer, out.byteOffset + o, width * 3);
  for (let x = 0, k = 0; x < width; x++, k += 3) {
    const a = Math.min(255, Math.max(0, amount[x]! * 255)) | 0;
    // Coverage of pigment over paper at this pixel, from the strokes.
    const m = Math.min(1, base[a]! + stroke[a]! * s1[x]! + cross[a]! * s2[x]!);
    const li = Math.min(1023, Math.max(0, line[x]! * 2048)) | 0;
    const e = ink[li]!;
    // Outlines: graphite, tinted by the pigment under it.
    const cr = 1 - (1 - r[x]!) * m;
    const cg = 1 - (1 - g[x]!) * m;
    const cb = 1 - (1 - b[x]!) * m;
    const lw = 1 - e;
    px[k] = 255 * cr * (1 - lw * (1 - 0.3 * cr));
    px[k + 1] = 255 * cg * (1 - lw * (1 - 0.3 * cg));
    px[k + 2] = 255 * cb * (1 - lw * (1 - 0.3 * cb));
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

/** Line field (0..0.5 in 1024 steps) to ink transmission. */
function inkTable(darkness: number): Float32Array {
  const t = new Float32Array(1024);
  const gain = 8 + 16 * darkness;
  const max = 0.25 + 0.6 * darkness;
  for (let i = 0; i < 1024; i++) {
    const l = Math.max(0, gain * (i / 2048) - 0.04);
    t[i] = 1 - max * Math.tanh(l);
  }
  return t;
}
