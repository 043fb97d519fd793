import {
  canvasTexture,
  definePlugin,
  embossPlane,
  flowField,
  hash32,
  kuwaharaFilter,
  outputArray,
  previewFullSize,
  runBands,
  sharedArray,
  strokeTextures,
  toShared,
  valueNoise,
  z,
} from '@atelier/core';
import type { FlowField, RawImage, StrokeOwners, StrokeTextures } from '@atelier/core';
import {
  SHADE_CHUNK,
  angleBand,
  chunkEdges,
  coarseBand,
  shadeBand,
  strokeColours,
} from './oil-painting.bands.ts';
import type { CoarseArgs, ShadeArgs, StrokeArgs } from './oil-painting.bands.ts';

const params = z.object({
  brushSize: z
    .number()
    .min(1)
    .max(12)
    .default(5)
    .describe(
      'Size of the fine paint dabs that keep detail (edges, small shapes), in pixels on a 1920-pixel-wide image; scales with the image so previews match the final render.',
    ),
  strokeSize: z
    .number()
    .min(0)
    .max(80)
    .default(32)
    .describe(
      'Length of the visible brush strokes, in pixels on a 1920-pixel-wide image (32 is about 1.7 % of the long side, so strokes still read as paint in a thumbnail); each stroke is about a third as wide, carries one slightly varied colour and its own relief along the flow of the image. Where a stroke would blur detail, the fine dabs paint instead. 0 paints only the fine dabs.',
    ),
  sharpness: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe(
      'How crisply the dabs of paint meet: 0 blends neighbouring strokes softly, 1 keeps hard-edged, distinct dabs.',
    ),
  saturation: z
    .number()
    .min(0)
    .max(2)
    .default(1.15)
    .describe("Colour saturation: 0 is monochrome, 1 the photo's own, above 1 richer pigment."),
  impasto: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('Depth of the brush marks in the paint, lit from the top left; 0 is flat paint.'),
  canvas: z
    .number()
    .min(0)
    .max(1)
    .default(0.2)
    .describe('How much of the canvas weave shows through the paint; 0 hides it.'),
});

type OilParams = z.output<typeof params>;

/** The reference width the pixel sizes in the parameters refer to. */
const REFERENCE_WIDTH = 1920;
/** Short side, on the reference scale, of an 8:1 strip: past that, the short side sets the scale. */
const STRIP_SHORT_SIDE = REFERENCE_WIDTH / 8;
/** Stroke directions in the brush-mark textures. */
const STROKE_BINS = 16;
/** How strongly sectors along the strokes are preferred by the Kuwahara filter. */
const ANISOTROPY = 6;
/** How much of a fitting stroke's colour covers the dabs under it. */
const STROKE_MIX = 0.9;
/**
 * Hertzmann's error threshold, as |ΔR| + |ΔG| + |ΔB| between a stroke's colour and the dabs': a
 * stroke paints fully below the first and not at all above the second (detail the stroke misses).
 */
const ERROR_LOW = 36;
const ERROR_HIGH = 72;
/** A stroke's tone varies by up to this fraction, its hue by up to this many levels. */
const TINT_TONE = 0.06;
const TINT_HUE = 4;

/**
 * Oil painting: visible brush strokes of one colour each, laid along the image's own flow, over
 * flat dabs of paint that keep the detail, with lit brush marks and canvas.
 *
 * 1. A flow field: the smoothed structure tensor on a grid of 2 to 6 px cells; in flat areas it
 *    follows a seeded, slowly turning direction instead of noise.
 * 2. The fine layer: a generalised Kuwahara filter over eight square sectors laid out along the
 *    flow and weighted toward the sectors ahead and behind: O(1) per pixel from streamed box
 *    sums, no halos, edges stay sharp, dabs follow the shapes instead of a square grid.
 * 3. The coarse layer, after Hertzmann 1998 ("Painterly rendering with curved brush strokes of
 *    multiple sizes"): strokes `strokeSize` long from seeded tiles (one per direction, the one
 *    nearest the flow read per pixel), each loaded with the fine layer's colour averaged around
 *    its centre and tinted a little (tone, and hue in proportion to the colour's chroma), so
 *    single strokes read as separate dabs even in a thumbnail. A stroke paints where its colour
 *    is within an error threshold of the fine layer's and leaves detail it would miss (edges,
 *    small shapes) to the fine dabs.
 * 4. Lighting: impasto relief of the same strokes, paint ridges at colour boundaries and the
 *    canvas weave, as one relief lit from the top left with a little gloss; then saturation.
 *
 * Sizes scale with the image. Memory beyond the output is the flow grid (1/4 to 1/36 of the
 * pixels), the stroke colours' cells (three quarters of a stroke wide) and small texture tiles: the
 * filter streams its statistics and lighting is done in place. A preview draws the real render's
 * strokes at their real positions and size, shrunk.
 */
export const oilPainting = definePlugin({
  id: 'oil-painting',
  name: 'Oil painting',
  description:
    'Visible brush strokes of oil paint following the shapes of the photo, over crisp dabs that keep the detail, with brush marks and canvas.',
  version: '1.1.0',
  engine: '^1',
  kind: 'style',
  tags: ['painterly'],
  params,
  apply(ctx) {
    return renderOil(ctx.image, ctx.params, ctx.seed, ctx.signal, ctx.progress, ctx.previewScale);
  },
});

function renderOil(
  image: RawImage,
  p: Readonly<OilParams>,
  seed: number,
  signal: AbortSignal,
  progress: (fraction: number) => void,
  previewScale: number,
): RawImage {
  const { width, height, data } = image;
  const scale = sizeScale(width, height);
  const radius = Math.max(1, Math.round(0.5 * p.brushSize * scale));
  const sharpness = 2 + 3 * p.sharpness;
  const flowSigma = Math.max(2, 1.5 * radius);
  // The flow is smooth at the scale of flowSigma: a grid of cells about flowSigma / 1.2 wide is enough.
  const factor = Math.max(2, Math.min(6, Math.round(flowSigma / 1.2)));
  const textureScale = Math.max(0.5, scale);
  // The visible strokes are the real render's (a preview shows them shrunk): sized on its scale.
  const full = previewFullSize(image, previewScale);
  const fullScale = sizeScale(full.width, full.height);
  const shape = strokeShape(p, fullScale);
  const strokeTiles = strokeRelief(shape, p.strokeSize > 0);
  // The brush marks' relief: the visible strokes' own in a real render; a preview lights marks of
  // its own scale (their relief is mostly averaged away in a downscale, see below).
  const strokes =
    previewScale < 1 || p.strokeSize <= 0 ? strokeRelief(strokeShape(p, scale), false) : strokeTiles;
  signal.throwIfAborted();
  const weave = weaveRelief(3.2 * textureScale, seed ^ 0x0ca1);
  signal.throwIfAborted();

  // 1. Flow. Where the photo is flat, strokes follow a slowly turning seeded direction.
  const gw = Math.ceil(width / factor);
  const gh = Math.ceil(height / factor);
  const angles = toShared(
    valueNoise({ width: gw, height: gh, cell: (160 * scale) / factor, seed: seed ^ 0x5eed }),
  );
  runBands(angleBand, { angles }, angles.length, { minBand: 65536 });
  signal.throwIfAborted();
  const flow = flowField({
    data,
    width,
    height,
    factor,
    sigma: flowSigma,
    fallback: { angle: angles, strength: 4e-5 },
  });
  signal.throwIfAborted();
  progress(0.2);

  // 2. Paint, straight into the output (the filter streams its statistics: a few dozen rows).
  const out = outputArray(Uint8Array, width * height * 3);
  kuwaharaFilter({ data, width, height, radius, sharpness, flow, anisotropy: ANISOTROPY, out, signal });
  signal.throwIfAborted();
  progress(0.7);

  // 3. The colours the visible strokes are loaded with: the dabs averaged over cells about
  // three quarters of a stroke wide, read bilinearly (Hertzmann's reference blurred in
  // proportion to the brush), on the real render's grid.
  const cell = Math.max(2, Math.round(0.75 * shape.width));
  // A preview whose pixels are nearly that size already reads its own pixels (each one the
  // average of its footprint in the real render).
  const direct = previewScale < 1 && cell * previewScale < 2;
  const cw = Math.ceil(full.width / cell);
  const ch = Math.ceil(full.height / cell);
  let coarse: CoarseArgs = { rgb: out, width, height, cell: 1 / previewScale };
  if (p.strokeSize > 0 && !direct) {
    const cells = { rgb: sharedArray(Float32Array, cw * ch * 3), width: cw, height: ch, cell };
    runBands(coarseBand, { img: out, width, height, previewScale, coarse: cells }, ch, {
      signal,
      minBand: Math.max(1, Math.ceil(64 / cell)),
    });
    coarse = cells;
  }
  progress(0.75);

  // 4. Strokes and light, in place, in bands of whole chunks of rows: row y needs the painted
  // luma of rows y - 1 to y + 1, so the rows beside each chunk boundary are taken first, for the
  // bands that meet there (no band reads a row another one already lit).
  // Brush marks, ridges and weave are a few pixels wide in the real render: a preview shrunk by
  // previewScale keeps about that fraction of their relief (a downscale averages the rest away).
  const edges = chunkEdges(out, width, height);
  const shade = shadeArgs(
    p,
    strokes,
    weave.size,
    weave.relief,
    seed,
    out,
    edges,
    width,
    height,
    flow,
    previewScale,
  );
  runBands(
    shadeBand,
    { ...shade, strokes: strokeArgs(p, strokeTiles, shape, seed, previewScale, coarse, full) },
    Math.ceil(height / SHADE_CHUNK),
    // A band a chunk: no halo to pay, and the thread that finishes first waits at most a chunk.
    { signal, minBand: 1, bandsPerThread: 32 },
  );
  progress(1);
  return { data: out, width, height, channels: 3 };
}

/**
 * Pixels of the reference width per pixel of an image of this size. Sizes follow the long side,
 * except on strips longer than 8:1, where they follow the short side: a 50000x40 strip scaled by
 * its long side got 66 px dabs and a 5400 px canvas tile (seconds and 500 MB for 2 megapixels).
 * Photos of ordinary shape are unaffected.
 */
function sizeScale(width: number, height: number): number {
  return Math.min(Math.max(width, height) / REFERENCE_WIDTH, Math.min(width, height) / STRIP_SHORT_SIDE);
}

/** What the stroke tiles are made of, on an image of the given scale. */
interface StrokeShape {
  readonly size: number;
  readonly length: number;
  readonly width: number;
  readonly bristle: number;
}

/**
 * The strokes of an image of `scale`: `strokeSize` long and a third as wide, or without visible
 * strokes the brush marks of the fine dabs (6.5 dab radii long), as before strokes were visible.
 */
function strokeShape(p: Readonly<OilParams>, scale: number): StrokeShape {
  const textureScale = Math.max(0.5, scale);
  const radius = Math.max(1, Math.round(0.5 * p.brushSize * scale));
  const length = p.strokeSize > 0 ? Math.max(4, p.strokeSize * scale) : Math.max(6, 6.5 * radius);
  return {
    // Visible strokes: tiles about five strokes long (64 to 320 px), small enough to stay in
    // the cache while a row reads them (the stroke colours and tints differ from one repeat to
    // the next, so a repeat shows only in the relief). Brush marks alone: 128 to 384 px, a
    // larger tile only repeats less often, and the marks follow the flow anyway.
    size:
      p.strokeSize > 0
        ? Math.min(320, Math.max(64, Math.round(5.2 * length)))
        : Math.min(384, Math.max(Math.round(256 * textureScale), Math.round(6 * length))),
    length,
    width: p.strokeSize > 0 ? Math.max(2.5, length / 3) : Math.max(2.5, 2.3 * radius),
    bristle: 1.2 * textureScale,
  };
}

/**
 * The last stroke tiles made, by shape (a real render's and its preview's). They depend only on
 * the shape (never on the image or seed: a seed only shifts where the tiles are read), so runs on
 * images of similar size reuse them instead of painting the strokes again (tens of milliseconds).
 */
const strokeCache: { key: string; tiles: StrokeTiles }[] = [];

function strokeRelief(shape: StrokeShape, owners: boolean): StrokeTiles {
  const key = `${shape.size}:${shape.length}:${shape.width}:${shape.bristle}:${owners}`;
  const hit = strokeCache.findIndex((c) => c.key === key);
  if (hit >= 0) return strokeCache[hit]!.tiles;
  const tiles = reliefTiles(strokeTextures({ ...shape, bins: STROKE_BINS, seed: 0x0111, owners }));
  // Two entries: a real render's tiles and its previews'. More would keep megabytes of tiles of
  // sizes no longer rendered.
  strokeCache.unshift({ key, tiles });
  strokeCache.length = Math.min(strokeCache.length, 2);
  return tiles;
}

/**
 * The last canvas weaves lit (a real render's and its preview's), by thread width and seed: a
 * render of the same image again (a slider moved) reuses its weave instead of weaving it again
 * (tens of milliseconds on the run's thread alone at 5120 px).
 */
const weaveCache: { key: string; weave: { size: number; relief: Float32Array } }[] = [];

function weaveRelief(threadWidth: number, seed: number): { size: number; relief: Float32Array } {
  const key = `${threadWidth}:${seed}`;
  const hit = weaveCache.find((c) => c.key === key);
  if (hit) return hit.weave;
  const tile = canvasTexture({ threadWidth, threads: 64, seed });
  const relief = embossPlane({ heights: tile.heights, width: tile.size, height: tile.size, wrap: true });
  const weave = { size: tile.size, relief };
  weaveCache.unshift({ key, weave });
  weaveCache.length = Math.min(weaveCache.length, 2);
  return weave;
}

/** The stroke tiles as the lighting reads them: lit relief in 8 bits, and who owns each pixel. */
interface StrokeTiles {
  readonly size: number;
  readonly bins: number;
  /** The relief of {@link embossPlane}, times {@link RELIEF_STEPS}, rounded. */
  readonly relief: Int8Array;
  readonly owners?: StrokeOwners;
}

/**
 * Relief in 32nds: a quarter of the 32-bit floats' memory (a lighting pass reads two tiles per
 * pixel, and the smaller tiles stay in the cache), steps far below a level of the output.
 */
const RELIEF_STEPS = 32;

/**
 * Stroke textures turned into lit relief, tile by tile, in memory that band kernels on other
 * threads can read (shared when the run has helpers), so the cached tiles are not copied per run.
 */
function reliefTiles(t: StrokeTextures): StrokeTiles {
  const n = t.size * t.size;
  const relief = sharedArray(Int8Array, t.bins * n);
  const lit = new Float32Array(n);
  for (let k = 0; k < t.bins; k++) {
    embossPlane({
      heights: t.heights.subarray(k * n, (k + 1) * n),
      width: t.size,
      height: t.size,
      wrap: true,
      out: lit,
    });
    for (let i = 0; i < n; i++) {
      const v = Math.round(lit[i]! * RELIEF_STEPS);
      relief[k * n + i] = v < -127 ? -127 : v > 127 ? 127 : v;
    }
  }
  if (!t.owners) return { size: t.size, bins: t.bins, relief };
  const owner = sharedArray(Uint16Array, t.owners.owner.length);
  owner.set(t.owners.owner);
  return { size: t.size, bins: t.bins, relief, owners: { ...t.owners, owner } };
}

/**
 * The visible strokes' arguments. Each stroke's tint: its tone a few percent lighter or darker
 * and a small shift of hue (an offset of equal luma), so neighbouring strokes of one colour still
 * read as separate dabs.
 */
function strokeArgs(
  p: Readonly<OilParams>,
  tiles: StrokeTiles,
  shape: StrokeShape,
  seed: number,
  previewScale: number,
  coarse: CoarseArgs,
  full: { readonly width: number; readonly height: number },
): StrokeArgs {
  const owners = tiles.owners;
  const count = owners ? owners.x.length : 0;
  const tints = new Float32Array(4 * count);
  for (let i = 0; i < count; i++) {
    const a = owners!.jitter[2 * i]!;
    const b = owners!.jitter[2 * i + 1]!;
    // Opponent offsets of zero luma: a toward red-green, b toward yellow-blue.
    const dr = TINT_HUE * (a + 0.3 * b);
    const dg = TINT_HUE * (-0.6 * a + 0.3 * b);
    const db = -(0.299 * dr + 0.587 * dg) / 0.114;
    tints[4 * i] = 1 + TINT_TONE * (a * 0.6 - b * 0.8);
    tints[4 * i + 1] = dr;
    tints[4 * i + 2] = dg;
    tints[4 * i + 3] = db;
  }
  const h = hash32(seed ^ 0x57e0c5);
  const offsetX = h & 0xffff;
  const offsetY = h >>> 16;
  const x = owners ? owners.x : new Float32Array(0);
  const y = owners ? owners.y : new Float32Array(0);
  const on = owners !== undefined && p.strokeSize > 0;
  const colours = on
    ? strokeColours(
        coarse,
        x,
        y,
        tints,
        tiles.size,
        offsetX,
        offsetY,
        full.width,
        full.height,
        0.7 * shape.length + 2,
      )
    : { rgb: new Uint8Array(0), across: 0, count: 0 };
  return {
    strokeMix: on ? STROKE_MIX : 0,
    errorLow: ERROR_LOW,
    errorHigh: ERROR_HIGH,
    size: tiles.size,
    // Without strokes the kernel reads no owner.
    owner: owners ? owners.owner : new Uint16Array(1),
    x: toShared(x),
    y: toShared(y),
    offsetX,
    offsetY,
    previewScale,
    colours,
  };
}

/** The arguments of the final pass: relief lighting, gloss and saturation. */
function shadeArgs(
  p: Readonly<OilParams>,
  strokes: StrokeTiles,
  weaveSize: number,
  weave: Float32Array,
  seed: number,
  img: Uint8Array,
  edges: Uint8Array,
  width: number,
  height: number,
  flow: FlowField,
  /** The share of the relief kept (ctx.previewScale): 1 in a real render. */
  keep: number,
): Omit<ShadeArgs, 'strokes'> {
  const h = hash32(seed ^ 0x0b5e55ed);
  const hw = hash32(h);
  return {
    img,
    edges,
    width,
    height,
    strokeSize: strokes.size,
    bins: strokes.bins,
    // The cached tiles (shared when made on a run with helpers; else shared once here).
    relief: toShared(strokes.relief),
    weaveSize,
    weave: toShared(weave),
    strokeAmount: (0.16 * p.impasto * keep) / RELIEF_STEPS,
    ridgeAmount: 0.0013 * p.impasto * keep,
    weaveAmount: 0.09 * p.canvas * keep,
    gloss: 560 * p.impasto,
    saturation: p.saturation,
    offsetX: h & 0xffff,
    offsetY: h >>> 16,
    weaveOffsetX: hw >>> 16,
    weaveOffsetY: hw & 0xffff,
    flowAngle: toShared(flow.angle),
    flowCoherence: toShared(flow.coherence),
    flowWidth: flow.width,
    flowFactor: flow.factor,
  };
}
