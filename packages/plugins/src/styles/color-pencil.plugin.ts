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
  pixelsAt,
  previewFullSize,
  runBands,
  sharedArray,
  ThinLines,
  ThinRowsAhead,
  toShared,
  z,
} from '@atelier/core';
import type { PaperLevels, PluginContext, RawImage, ThinLinesGate } from '@atelier/core';
import { colorBand, lumaBand, pigmentBand } from './color-pencil.bands.ts';
import { thinLinesOf } from './pencil-luma.ts';
import { KeptPlanes } from './kept-planes.ts';
import type { PlaneSetKey } from './kept-planes.ts';
import { previewLineField } from './pencil-preview.ts';
import type { ColorArgs, CoverageTables, PigmentArgs } from './color-pencil.bands.ts';

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
  const { image } = ctx;
  const { width, height } = image;
  const { width: ww, height: wh } = fitLongSide(width, height, WORK_SIZE);
  // libvips resizes the photo on its own thread while this one takes the luma for the thin lines
  // (1-2 px strings and wires the work size cannot hold, found at full size). In a preview under
  // half size a 1-2 px line is less than a pixel: none are drawn (as in sketch).
  const work = pixelsAt(ctx, { width: ww, height: wh });
  // A rejection is awaited in renderWith; until then it must not count as unhandled.
  work.catch(() => {});
  const thin = ctx.previewScale > PREVIEW_THIN_SCALE ? thinLinesOf(image) : undefined;
  try {
    // Where thin lines are dense (gravel, grass) they are texture: faded out (ThinLines.densityGate).
    const gate = thin?.lines.densityGate();
    // On one thread the thin lines' first rows are found while libvips resizes and blurs, which
    // this thread would otherwise wait for; the composition takes them and finds the rest. With
    // helper threads the cores are busy with libvips' threads then, and the bands find them all.
    const ahead =
      thin && bandThreads() <= 1
        ? new ThinRowsAhead(new ThinLines({ luma: thin.lines.luma, width, height, gate }))
        : undefined;
    if (ahead) await ahead.fillWhile(work, ctx.signal);
    const lines = thin && gate ? { luma: thin.lines.luma, gate, ahead } : undefined;
    return await renderWith(ctx, await work, lines);
  } finally {
    thin?.release();
  }
}

/** The render from the photo at work size and, unless no thin lines are drawn, its full-size luma and their gate. */
async function renderWith(
  ctx: PluginContext<ColorPencilParams>,
  work: Uint8Array,
  thin:
    | { readonly luma: Uint8Array; readonly gate: ThinLinesGate; readonly ahead: ThinRowsAhead | undefined }
    | undefined,
): Promise<RawImage> {
  const { image, params: p, signal } = ctx;
  const { width, height } = image;
  const { width: ww, height: wh } = fitLongSide(width, height, WORK_SIZE);
  signal.throwIfAborted();

  // 1. Edge-preserving smoothing of the colours: flat areas of pigment, sharp borders.
  const unit = Math.max(ww, wh) / 1000;
  // The work-size planes, kept from the last render of this size (see takeWorkPlanes; each is
  // written whole before it is read), and shared when the run has helper threads: the smoothing
  // and the composition read them on every thread, and copies would add to the run's peak memory.
  const kept = takeWorkPlanes(ww, wh);
  const { r, g, b, luma, grey, hatch } = kept;
  splitPlanes(work, ww * wh, r, g, b);
  domainTransformFilter({
    planes: [r, g, b],
    width: ww,
    height: wh,
    sigmaSpatial: 6 * unit,
    sigmaRange: 0.2,
    iterations: 2,
    signal,
  });
  signal.throwIfAborted();
  ctx.progress(0.3);

  // 2. Lines from the smoothed luma: how much darker a pixel is than its surround. libvips blurs
  // it on its own threads while this one works out the pigment and draws the strokes.
  runBands(lumaBand, { r, g, b, luma, grey, width: ww }, wh, { signal, minBand: 32 });
  const lines = pencilLines({
    sharp: ctx.sharp,
    grey,
    width: ww,
    height: wh,
    softness: p.lineSoftness,
    unit,
    signal,
    scratch: kept.lines,
  });
  // A rejection is awaited below; until then it must not count as unhandled.
  lines.catch(() => {});

  // 3. Pigment: saturated colour, and how much of it (dark and vivid areas get more).
  pigment(r, g, b, luma, ww, p, paperLevels(luma, 255), signal);

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
    out: kept.strokes,
  });
  // As floats, for the upsampler (the typed array's own conversion: exact, and native).
  hatch.set(strokes.subarray(0, ww * wh));
  if (thin?.ahead) await thin.ahead.fillWhile(lines, signal);
  const { lines: field } = await lines;
  signal.throwIfAborted();
  ctx.progress(0.7);

  // 5. Compose at full size, in bands of rows on the run's threads: every plane upsampled
  // together, blended row by row; then the few pixels on a thin line again, with it.
  const out = outputArray(Uint8Array, width * height * 3);
  const inkMax = 0.25 + 0.6 * p.darkness;
  const ink = inkTable(p.darkness, inkMax);
  // A preview composed at work size inks its graphite lines as the real render scaled down shows them.
  const preview =
    ctx.previewScale < 1 && ww === width && wh === height ? previewLineField(field, ww, wh, ink) : undefined;
  const args: ColorArgs = {
    out,
    width,
    height,
    ww,
    wh,
    planes: [r, g, b, luma, preview ? preview.field : toShared(field), hatch],
    luma: thin ? toShared(thin.luma) : undefined,
    gate: thin?.gate,
    ahead: thin?.ahead?.rows(),
    tables: coverageTables(p.hatching),
    ink,
    inkMax,
  };
  try {
    runBands(colorBand, args, height, { signal, minBand: 32 });
  } finally {
    preview?.release();
  }
  // Only after a render that succeeded: a cancelled one may leave libvips reading `grey`.
  keptPlanes.give(kept);
  ctx.progress(1);
  return { data: out, width, height, channels: 3 };
}

/** The work-size planes of one render. */
interface WorkPlanes extends PlaneSetKey {
  /** The colour (0..1), smoothed, then the pigment's colour. */
  readonly r: Float32Array;
  readonly g: Float32Array;
  readonly b: Float32Array;
  /** The smoothed luma (0..1), then the pigment's amount. */
  readonly luma: Float32Array;
  /** The luma as bytes, for libvips' blurs. */
  readonly grey: Uint8Array;
  /** The lines from the blurs (pencilLines' scratch). */
  readonly lines: Float32Array;
  /** The stroke layer, and as floats for the upsampler. */
  readonly strokes: Uint8Array;
  readonly hatch: Float32Array;
}

/**
 * Work-size planes kept from earlier renders on this thread (see KeptPlanes): at 1200 x 750 about
 * 25 MB, fresh at every render until 2026-12-05 (zeroed memory and page faults).
 */
const keptPlanes = new KeptPlanes<WorkPlanes>();

function takeWorkPlanes(width: number, height: number): WorkPlanes {
  const shared = bandThreads() > 1;
  return keptPlanes.take({ width, height, shared }, () => {
    const n = width * height;
    return {
      width,
      height,
      shared,
      r: sharedArray(Float32Array, n),
      g: sharedArray(Float32Array, n),
      b: sharedArray(Float32Array, n),
      luma: sharedArray(Float32Array, n),
      grey: sharedArray(Uint8Array, n),
      lines: sharedArray(Float32Array, n),
      strokes: sharedArray(Uint8Array, n),
      hatch: sharedArray(Float32Array, n),
    };
  });
}

/**
 * Interleaved RGB bytes to three planes of 0..1 (as core's downsampleBox by 1), in spans of
 * {@link SPLIT_SPAN} pixels: a loop that runs once per render loses its optimised code at each full
 * garbage collection (V8 holds code compiled for a running loop weakly) and starts again
 * interpreted: in CPU profiles of `atelier bench` on evening-glow at 1920 px this split took 4.9 ms
 * a render as one loop and 3.5 ms in spans.
 */
function splitPlanes(rgb: Uint8Array, n: number, r: Float32Array, g: Float32Array, b: Float32Array): void {
  for (let i = 0; i < n; i += SPLIT_SPAN) splitSpan(rgb, i, Math.min(n, i + SPLIT_SPAN), r, g, b);
}

/** Pixels per call of {@link splitSpan}. */
const SPLIT_SPAN = 4096;

function splitSpan(
  rgb: Uint8Array,
  from: number,
  to: number,
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
): void {
  const scale = 1 / 255;
  for (let i = from, j = 3 * from; i < to; i++, j += 3) {
    r[i] = rgb[j]! * scale;
    g[i] = rgb[j + 1]! * scale;
    b[i] = rgb[j + 2]! * scale;
  }
}

/**
 * In place: r, g, b become the pigment colour (0..1, saturated, levels stretched) and `amount`
 * (the luma plane) how much pigment covers the paper (0..1); in bands of rows (`width` pixels).
 */
function pigment(
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  amount: Float32Array,
  width: number,
  p: Readonly<ColorPencilParams>,
  levels: PaperLevels,
  signal: AbortSignal,
): void {
  const scale = 1 / levels.range;
  const black = levels.black;
  const sat = p.saturation;
  const power = 1.6 - 0.8 * p.contrast;
  const keyed = new Float32Array(256);
  for (let v = 0; v < 256; v++) keyed[v] = (v / 255) ** levels.key;
  const darkness = new Float32Array(257);
  for (let v = 0; v <= 256; v++) darkness[v] = (1 - Math.min(1, v / 255)) ** power;
  const args: PigmentArgs = {
    r,
    g,
    b,
    amount,
    width,
    keyed,
    darkness,
    black,
    scale,
    sat,
    strength: p.colorStrength,
  };
  runBands(pigmentBand, args, amount.length / width, { signal, minBand: 32 });
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
