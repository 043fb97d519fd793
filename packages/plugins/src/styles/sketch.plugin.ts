import {
  BilinearUpsampler,
  definePlugin,
  domainTransformFilter,
  downsampleBox,
  fitLongSide,
  floatToGrey,
  inkTable,
  paperLevels,
  pencilLines,
  pencilStrokes,
  previewFullSize,
  ThinLines,
  z,
} from '@atelier/core';
import type { PluginContext, RawImage } from '@atelier/core';

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
/** Previews at this scale or below draw no thin lines (see ctx.previewScale). */
const PREVIEW_THIN_SCALE = 0.5;
/** Long side, in pixels, above which strokes are drawn at this size and enlarged, so they keep their look. */
const STROKE_SIZE = 2400;

/**
 * Pencil sketch: graphite lines on white paper with hatched shading; one grey channel out.
 *
 * How: the luma is analysed at 1200 px on its long side, smoothed with the domain transform so
 * grain and fine texture do not draw. Lines are the larger of a difference of Gaussians (dark
 * lines, the dark side of edges) and the gradient (contours whichever side is darker), both
 * relative to the local brightness so shadows and highlights draw alike. Tone comes from the
 * surround brightness, stretched to the photo's own range with its middle lifted towards light
 * grey (a night shot still reads as a drawing), and is rendered with seeded 45° strokes, crossed
 * by their mirror image in the darks, at up to 2400 px. Thin lines (1-2 px, darker or lighter than
 * both sides) are found at full size ({@link ThinLines}) and drawn over the hatching: dark ones
 * and light ones on light paper in graphite, light ones on dark hatching lifted out to white.
 * Same seed, same strokes.
 *
 * @example
 * const out = await runStep(sketch, image, { hatching: 0 }); // a pure line drawing
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
  const { width: ww, height: wh } = fitLongSide(width, height, WORK_SIZE);
  // The luma at full size feeds the thin lines; resized, the analysis (one channel resizes faster
  // than three).
  const thin = ThinLines.ofImage(image);
  const grey: Uint8Array =
    ww === width && wh === height
      ? thin.luma.slice()
      : await ctx
          .sharp({ data: thin.luma, width, height, channels: 1 })
          .resize(ww, wh, { fit: 'fill', kernel: 'linear' })
          .toColourspace('b-w')
          .raw()
          .toBuffer();
  if (grey.length !== ww * wh) throw new Error('sketch: unexpected grey size');
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
    signal,
  });
  signal.throwIfAborted();
  ctx.progress(0.3);

  // 2. Lines: how much darker a pixel is than its surround, relative to the surround.
  const { lines: field, surround: far } = await pencilLines({
    sharp: ctx.sharp,
    grey: floatToGrey(smooth, grey),
    width: ww,
    height: wh,
    softness: p.lineSoftness,
    unit,
    signal,
    scratch: smooth,
  });
  ctx.progress(0.5);

  // 3. Tone: the surround brightness, mapped onto paper.
  const toneLut = toneTable(far, p.contrast);

  // 4. Strokes: one hatching layer; read mirrored it is the cross-hatching layer.
  // A preview draws the real render's strokes, shrunk (see ctx.previewScale).
  const { width: sw, height: sh } = fitLongSide(width, height, STROKE_SIZE);
  const full = previewFullSize(image, ctx.previewScale);
  const drawnAt = fitLongSide(full.width, full.height, STROKE_SIZE);
  const strokes = pencilStrokes({
    width: sw,
    height: sh,
    seed: ctx.seed,
    angle: 45,
    length: (20 * Math.max(drawnAt.width, drawnAt.height)) / 1000,
    coverage: 0.6,
    drawnAt,
  });
  signal.throwIfAborted();
  ctx.progress(0.7);

  // 5. Compose at full size; then the few pixels on a thin line (1-2 px strings and wires the work
  // size cannot hold, found at full size) again, with it.
  const thinDark = new Float32Array(width);
  const thinLight = new Float32Array(width);
  const out = new Uint8Array(width * height);
  const up = new BilinearUpsampler([field, far], ww, wh, width, height, width / ww, height / wh);
  const tables = shadingTables(p.hatching, meanStroke(strokes));
  const inkMax = 0.3 + 0.65 * p.darkness;
  const ink = inkTable(p.darkness, inkMax);
  const strokeRows =
    sw !== width || sh !== height ? new StrokeRows(strokes, sw, sh, width, height) : undefined;
  // Thin lines are 1-2 px at full size: less than a pixel in a preview under half size, where
  // the lines found would be other, wider ones the real render does not draw.
  const thinLines = ctx.previewScale > PREVIEW_THIN_SCALE;
  for (let y = 0; y < height; y++) {
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
    const hits = thinLines ? thin.row(y, thinDark, thinLight) : 0;
    if (hits > 0) {
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
    if ((y & 127) === 0) signal.throwIfAborted();
  }
  ctx.progress(1);
  return { data: out, width, height, channels: 1 };
}

/** Enlarged stroke rows for photos above {@link STROKE_SIZE}. */
class StrokeRows {
  readonly #up: BilinearUpsampler;
  readonly #row: Float32Array;
  readonly #bytes: Uint8Array;

  constructor(strokes: Uint8Array, sw: number, sh: number, width: number, height: number) {
    const [plane] = downsampleBox(strokes, sw, sh, 1, 1) as [Float32Array];
    this.#up = new BilinearUpsampler(plane, sw, sh, width, height, width / sw, height / sh);
    this.#row = new Float32Array(width);
    this.#bytes = new Uint8Array(width);
  }

  row(y: number): Uint8Array {
    this.#up.row(y, this.#row);
    this.#bytes.set(this.#row);
    return this.#bytes;
  }
}

interface ShadingTables {
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
  const stroke = tables.stroke;
  const cross = tables.cross;
  const smudge = tables.smudge;
  const mirror = offset + width - 1;
  for (let x = 0; x < width; x++) {
    const d = toneLut[(f0[x]! + (f1[x]! - f0[x]!) * t) | 0]!;
    const s2 = strokes[mirror - x]!;
    const a = 1 - stroke[d]! * strokes[offset + x]!;
    const c = 1 - cross[d]! * s2;
    const line = (l0[x]! + (l1[x]! - l0[x]!) * t) * 2048;
    // Graphite lines pick up the paper's tooth: the stroke texture lightens them a little. (The
    // index is clamped with comparisons: Math.min and Math.max on floats cost several times more.)
    const e = ink[line > 0 ? (line < 1023 ? line | 0 : 1023) : 0]!;
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

/** Surround brightness (0..255) to darkness on paper (0 white .. 255 black), by contrast. */
function toneTable(far: Float32Array, contrast: number): Uint8Array {
  const { black, range, key } = paperLevels(far, 1);
  // Darkness falls off faster than brightness rises: mid-tones stay light, as in a drawing.
  const power = 2.8 - 1.4 * contrast;
  const lut = new Uint8Array(257);
  for (let v = 0; v <= 256; v++) {
    const t = Math.min(1, Math.max(0, (v / 255 - black) / range)) ** key;
    lut[v] = Math.round(255 * (1 - t) ** power);
  }
  return lut;
}

/**
 * Per darkness level: stroke and cross-hatch strength per unit of stroke value, paper smudge
 * (scaled to 0..255 output), and whether thin light lines are erased or drawn, from the shading's
 * mean brightness with strokes of mean value `strokeMean`.
 */
function shadingTables(hatching: number, strokeMean: number): ShadingTables {
  const stroke = new Float32Array(256);
  const cross = new Float32Array(256);
  const smudge = new Float32Array(256);
  const erase = new Float32Array(256);
  for (let d = 0; d < 256; d++) {
    const dark = (d / 255) * Math.min(1, 1.6 * hatching);
    stroke[d] = (Math.min(1, dark / 0.55) * 0.8) / 255;
    cross[d] = (Math.min(1, Math.max(0, (dark - 0.4) / 0.4)) * 0.75) / 255;
    smudge[d] = 255 * (1 - Math.max(0, dark - 0.55) * 0.8);
    // A graphite line shows best on paper lighter than ~160 of 255, white below it; either way by
    // at least ~95 of 255. A blend of the two would cancel out.
    const around = smudge[d]! * (1 - stroke[d]! * strokeMean) * (1 - cross[d]! * strokeMean);
    erase[d] = around < 160 ? 1 : 0;
  }
  return { stroke, cross, smudge, erase };
}

/** Mean value of a stroke layer, from every 7th pixel. */
function meanStroke(strokes: Uint8Array): number {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < strokes.length; i += 7, n++) sum += strokes[i]!;
  return n > 0 ? sum / n : 0;
}
