import {
  bandThreads,
  definePlugin,
  domainTransformFilter,
  fitLongSide,
  inkTable,
  outputArray,
  paperLevels,
  pencilLines,
  pencilStrokes,
  previewFullSize,
  runBands,
  sharedArray,
  ThinLines,
  ThinRowsAhead,
  toShared,
  z,
} from '@atelier/core';
import type { PluginContext, RawImage } from '@atelier/core';
import { thinLinesOf } from './pencil-luma.ts';
import { previewLineField } from './pencil-preview.ts';
import { shadeBand, toGreyBand, toUnitBand } from './sketch.bands.ts';
import type { ShadeArgs, ShadingTables } from './sketch.bands.ts';

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
/**
 * A photo of at least this many times the work size's area takes libvips longer to resize than
 * to blur the line field at work size (on the bench machine a resize to work size took about 4 ms
 * per megapixel of photo, the two blurs about 40 ms): the strokes are drawn during the resize.
 */
const RESIZE_OUTWEIGHS_BLURS = 8;
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
  // The luma at full size feeds the thin lines; resized, the analysis (one channel resizes faster
  // than three). Shared: the band kernels read it from every thread.
  const { lines: thin, release } = thinLinesOf(ctx.image);
  try {
    return await renderWith(ctx, thin);
  } finally {
    release();
  }
}

async function renderWith(ctx: PluginContext<SketchParams>, thin: ThinLines): Promise<RawImage> {
  const { image, params: p, signal } = ctx;
  const { width, height } = image;
  const { width: ww, height: wh } = fitLongSide(width, height, WORK_SIZE);
  // The strokes do not depend on the photo: they are drawn (in bands, on the run's threads) while
  // libvips resizes the luma on its own thread.
  const resized =
    ww === width && wh === height
      ? undefined
      : ctx
          .sharp({ data: thin.luma, width, height, channels: 1 })
          .resize(ww, wh, { fit: 'fill', kernel: 'linear' })
          .toColourspace('b-w')
          .raw()
          .toBuffer();
  // A rejection is awaited below; until then it must not count as unhandled.
  resized?.catch(() => {});
  // The strokes do not depend on the photo: they are drawn (in bands, on the run's threads) while
  // libvips does the longer of its two jobs, the resize of a large photo (it reads every pixel)
  // or else the two blurs of step 2 (at work size, whatever the photo's size).
  let layer =
    width * height >= RESIZE_OUTWEIGHS_BLURS * ww * wh ? strokeLayer(ctx, width, height) : undefined;
  // Thin lines are 1-2 px at full size: less than a pixel in a preview under half size, where
  // the lines found would be other, wider ones the real render does not draw. Where they are
  // dense (gravel, grass) they are texture, not strings and wires: faded out (ThinLines.densityGate).
  const thinLines = ctx.previewScale > PREVIEW_THIN_SCALE;
  const gate = thinLines ? thin.densityGate() : undefined;
  // On one thread the thin lines' first rows are found while libvips resizes and blurs, which
  // this thread would otherwise wait for; the composition takes them and finds the rest. With
  // helper threads the cores are busy with libvips' threads then, and the bands find them all.
  const ahead =
    thinLines && bandThreads() <= 1
      ? new ThinRowsAhead(new ThinLines({ luma: thin.luma, width, height, gate }))
      : undefined;
  if (resized && ahead) await ahead.fillWhile(resized, signal);
  const grey: Uint8Array = resized ? await resized : thin.luma.slice();
  if (grey.length !== ww * wh) throw new Error('sketch: unexpected grey size');
  signal.throwIfAborted();

  // 1. Edge-preserving smoothing removes grain and fine texture so only real contours draw.
  const unit = Math.max(ww, wh) / 1000;
  // To 0..1 and back to bytes after the smoothing, in bands (the planes are shared).
  const smooth = sharedArray(Float32Array, ww * wh);
  runBands(toUnitBand, { grey: toShared(grey), plane: smooth, width: ww }, wh, { signal, minBand: 32 });
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
  const smoothGrey = sharedArray(Uint8Array, ww * wh);
  runBands(toGreyBand, { grey: smoothGrey, plane: smooth, width: ww }, wh, { signal, minBand: 32 });
  const lines = pencilLines({
    sharp: ctx.sharp,
    grey: smoothGrey,
    width: ww,
    height: wh,
    softness: p.lineSoftness,
    unit,
    signal,
    scratch: smooth,
  });
  // A rejection is awaited below; until then it must not count as unhandled.
  lines.catch(() => {});
  layer ??= strokeLayer(ctx, width, height);
  const { strokes, sw, sh } = layer;
  // The output's zeroed pages are taken while libvips blurs on its own threads.
  const out = outputArray(Uint8Array, width * height);
  if (ahead) await ahead.fillWhile(lines, signal);
  const { lines: field, surround: far } = await lines;
  ctx.progress(0.5);

  // 3. Tone: the surround brightness, mapped onto paper.
  const toneLut = toneTable(far, p.contrast);

  // 4. The strokes were drawn above, while libvips resized or blurred.
  const tables = shadingTables(p.hatching, meanStroke(strokes));
  ctx.progress(0.7);

  // 5. Compose at full size, in bands of rows on the run's threads; then the few pixels on a thin
  // line (1-2 px strings and wires the work size cannot hold, found at full size) again, with it.
  const inkMax = 0.3 + 0.65 * p.darkness;
  const ink = inkTable(p.darkness, inkMax);
  // A preview composed at work size inks its lines as the real render scaled down shows them.
  const preview =
    ctx.previewScale < 1 && ww === width && wh === height ? previewLineField(field, ww, wh, ink) : undefined;
  const args: ShadeArgs = {
    out,
    width,
    height,
    ww,
    wh,
    field: preview ? preview.field : toShared(field),
    far: toShared(far),
    strokes: toShared(strokes),
    sw,
    sh,
    luma: thinLines ? toShared(thin.luma) : undefined,
    gate,
    ahead: ahead?.rows(),
    toneLut,
    tables,
    ink,
    inkMax,
  };
  try {
    runBands(shadeBand, args, height, { signal, minBand: 32 });
  } finally {
    preview?.release();
  }
  ctx.progress(1);
  return { data: out, width, height, channels: 1 };
}

/**
 * One hatching layer; read mirrored it is the cross-hatching layer. At most STROKE_SIZE on the long
 * side. A preview draws the real render's strokes, shrunk (see ctx.previewScale).
 */
function strokeLayer(
  ctx: PluginContext<SketchParams>,
  width: number,
  height: number,
): { strokes: Uint8Array; sw: number; sh: number } {
  const { width: sw, height: sh } = fitLongSide(width, height, STROKE_SIZE);
  const full = previewFullSize(ctx.image, ctx.previewScale);
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
  return { strokes, sw, sh };
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
