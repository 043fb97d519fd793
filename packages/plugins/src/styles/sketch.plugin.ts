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
    .default(0.7)
    .describe('How dark the pencil lines are; 0 leaves only shading.'),
  lineSoftness: z
    .number()
    .min(0)
    .max(1)
    .default(0.3)
    .describe('0 draws thin crisp lines, 1 broad soft ones.'),
  hatching: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('How much of the tone is shaded with pencil strokes; 0 is a pure line drawing.'),
  contrast: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('Tonal contrast of the shading: low keeps most of the paper white, high gives deep shadows.'),
});

type SketchParams = z.output<typeof params>;

/** Long side, in pixels, at which the photo is analysed (smoothing, lines, tone). */
const WORK_SIZE = 1200;
/** Long side, in pixels, above which strokes are drawn at this size and enlarged, so they keep their look. */
const STROKE_SIZE = 2400;

/**
 * Pencil sketch: graphite lines on white paper with hatched shading.
 */
export const sketch = definePlugin({
  id: 'sketch',
  name: 'Pencil sketch',
  description: 'Graphite lines and hatched shading on white paper.',
  version: '1.0.0',
  engine: '^1',
  kind: 'style',
  tags: ['drawing'],
  params,
  async apply(ctx) {
    return renderSketch(ctx);
  },
});

async function renderSketch(ctx: PluginContext<SketchParams>): Promise<RawImage> {
  const { image, params: p, signal } = ctx;
  const { width, height } = image;
  const long = Math.max(width, height);
  const ws = Math.min(1, WORK_SIZE / long);
  const ww = Math.max(1, Math.round(width * ws));
  const wh = Math.max(1, Math.round(height * ws));
  const n = ww * wh;
  const grey = new Uint8Array(
    await ctx.sharp().resize(ww, wh, { fit: 'fill', kernel: 'linear' }).greyscale().raw().toBuffer(),
  );
  signal.throwIfAborted();

  // 1. Edge-preserving smoothing removes grain and fine texture so only real contours draw.
  const unit = Math.max(ww, wh) / 1000;
  const [smooth] = downsampleBox(grey, ww, wh, 1, 1, 1 / 255) as [Float32Array];
  domainTransformFilter({
    planes: [smooth],
    width: ww,
    height: wh,
    sigmaSpatial: 5 * unit,
    sigmaRange: 0.1,
    iterations: 2,
  });
  signal.throwIfAborted();
  ctx.progress(0.3);

  // 2. Lines: how much darker a pixel is than its surround, relative to the surround.
  const smoothGrey = floatToGrey(smooth, grey);
  const s1 = (0.5 + 1.2 * p.lineSoftness) * unit;
  const near = await blurGrey(ctx.sharp, smoothGrey, ww, wh, s1);
  signal.throwIfAborted();
  const far = await blurGrey(ctx.sharp, smoothGrey, ww, wh, s1 * 2.5);
  signal.throwIfAborted();
  const field = near;
  for (let i = 0; i < n; i++) field[i] = (far[i]! - near[i]!) / (far[i]! + 40);
  ctx.progress(0.5);

  // 3. Tone: the surround brightness, mapped onto paper.
  const toneLut = toneTable(far, p.contrast);

  // 4. Strokes: one hatching layer; read mirrored it is the cross-hatching layer.
  const ss = Math.min(1, STROKE_SIZE / long);
  const sw = Math.max(1, Math.round(width * ss));
  const sh = Math.max(1, Math.round(height * ss));
  const strokeUnit = Math.max(sw, sh) / 1000;
  const strokes = pencilStrokes({
    width: sw,
    height: sh,
    seed: ctx.seed,
    angle: 45,
    length: 20 * strokeUnit,
    coverage: 0.6,
  });
  signal.throwIfAborted();
  ctx.progress(0.7);

  // 5. Compose at full size.
  const out = new Uint8Array(width * height);
  const fx = width / ww;
  const fy = height / wh;
  const upLine = new BilinearUpsampler(field, ww, wh, width, height, fx, fy);
  const upTone = new BilinearUpsampler(far, ww, wh, width, height, fx, fy);
  const lineRow = new Float32Array(width);
  const toneRow = new Float32Array(width);
  const tables = shadingTables(p.hatching);
  const ink = inkTable(p.darkness);
  const strokeRows = ss < 1 ? new StrokeRows(strokes, sw, sh, width, height) : undefined;
  const s1Row = new Uint8Array(width);
  const s2Row = new Uint8Array(width);
  for (let y = 0; y < height; y++) {
    upLine.row(y, lineRow);
    upTone.row(y, toneRow);
    if (strokeRows) strokeRows.rows(y, s1Row, s2Row);
    else strokeRowsDirect(strokes, width, y, s1Row, s2Row);
    shadeRow(out, y * width, width, lineRow, toneRow, s1Row, s2Row, toneLut, tables, ink);
    if ((y & 127) === 0) signal.throwIfAborted();
  }
  ctx.progress(1);
  return { data: out, width, height, channels: 1 };
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

interface ShadingTables {
  /** Stroke strength per darkness level (0..255). */
  readonly stroke: Float32Array;
  /** Cross-hatching strength per darkness level. */
  readonly cross: Float32Array;
  /** Even graphite smudge per darkness level. */
  readonly smudge: Float32Array;
}

function shadeRow(
  out: Uint8Array,
  o: number,
  width: number,
  line: Float32Array,
  tone: Float32Array,
  s1: Uint8Array,
  s2: Uint8Array,
  toneLut: Uint8Array,
  t: ShadingTables,
  ink: Float32Array,
): void {
  const stroke = t.stroke;
  const cross = t.cross;
  const smudge = t.smudge;
  const px = new Uint8ClampedArray(out.buffer, out.byteOffset + o, width);
  for (let x = 0; x < width; x++) {
    const d = toneLut[tone[x]! | 0]!;
    const a = 1 - stroke[d]! * s1[x]!;
    const c = 1 - cross[d]! * s2[x]!;
    const li = Math.min(1023, Math.max(0, line[x]! * 2048)) | 0;
    // Graphite lines pick up the paper's tooth: the stroke texture lightens them a little.
    const e = ink[li]!;
    px[x] = smudge[d]! * a * c * (e + (1 - e) * (0.25 - s2[x]! * 0.001));
  }
}

/** Surround brightness (0..255) to darkness on paper (0 white .. 255 black), by contrast. */
function toneTable(far: Float32Array, contrast: number): Uint8Array {
  const [lo, hi] = planePercentiles(far, 1, [0.01, 0.99]) as [number, number];
  // Stretch partway towards the photo's own range, so dark photos still read as dark.
  const black = (0.6 * lo) / 255;
  const white = 1 - (0.6 * (255 - hi)) / 255;
  // Darkness falls off faster than brightness rises: mid-tones stay light, as in a drawing.
  const power = 2.4 - 1.2 * contrast;
  const lut = new Uint8Array(257);
  for (let v = 0; v <= 256; v++) {
    const t = Math.min(1, Math.max(0, (v / 255 - black) / Math.max(0.05, white - black)));
    lut[v] = Math.round(255 * (1 - t) ** power);
  }
  return lut;
}

/** Per darkness level: stroke and cross-hatch strength per unit of stroke value, and paper smudge (scaled to 0..255 output). */
function shadingTables(hatching: number): ShadingTables {
  const stroke = new Float32Array(256);
  const cross = new Float32Array(256);
  const smudge = new Float32Array(256);
  for (let d = 0; d < 256; d++) {
    const dark = (d / 255) * Math.min(1, 1.6 * hatching);
    stroke[d] = (Math.min(1, dark / 0.55) * 0.8) / 255;
    cross[d] = (Math.min(1, Math.max(0, (dark - 0.4) / 0.4)) * 0.75) / 255;
    smudge[d] = 255 * (1 - Math.max(0, dark - 0.55) * 0.8);
  }
  return { stroke, cross, smudge };
}

/** Line field (0..0.5 in 1024 steps) to ink transmission. */
function inkTable(darkness: number): Float32Array {
  const t = new Float32Array(1024);
  const gain = 8 + 16 * darkness;
  const max = 0.3 + 0.65 * darkness;
  for (let i = 0; i < 1024; i++) {
    const v = i / 2048;
    // Soft knee: faint differences vanish, strong ones saturate at `max`.
    const l = Math.max(0, gain * v - 0.04);
    t[i] = 1 - max * Math.tanh(l);
  }
  return t;
}
