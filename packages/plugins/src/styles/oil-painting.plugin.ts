import {
  canvasTexture,
  definePlugin,
  embossPlane,
  flowField,
  hash32,
  kuwaharaFilter,
  runBands,
  sharedArray,
  strokeTextures,
  toShared,
  valueNoise,
  z,
} from '@atelier/core';
import type { FlowField, RawImage, StrokeTextures } from '@atelier/core';
import { SHADE_CHUNK, chunkEdges, shadeBand } from './oil-painting.bands.ts';
import type { ShadeArgs } from './oil-painting.bands.ts';

const params = z.object({
  brushSize: z
    .number()
    .min(1)
    .max(12)
    .default(5)
    .describe(
      'Size of the paint dabs, in pixels on a 1920-pixel-wide image; scales with the image so previews match the final render.',
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
const STROKE_BINS = 12;
/** How strongly sectors along the strokes are preferred by the Kuwahara filter. */
const ANISOTROPY = 6;

/**
 * Oil painting: flat dabs of paint with crisp edges, laid along the image's own strokes, with lit
 * brush marks and canvas.
 *
 * 1. A flow field: the smoothed structure tensor on a grid of 2 to 6 px cells; in flat areas it
 *    follows a seeded, slowly turning direction instead of noise.
 * 2. A generalised Kuwahara filter over eight square sectors laid out along the flow and weighted
 *    toward the sectors ahead and behind: O(1) per pixel from streamed box sums, no halos, edges
 *    stay sharp, dabs follow the shapes instead of a square grid.
 * 3. Lighting: impasto relief from brush-stroke tiles, the two nearest the local flow direction
 *    blended per pixel (no per-pixel line integrals), paint ridges at colour boundaries and the
 *    canvas weave, as one relief lit from the top left with a little gloss; then saturation.
 *
 * Sizes scale with the image. Memory beyond the output is the flow grid (1/4 to 1/36 of the
 * pixels) and small texture tiles: the filter streams its statistics and lighting is done in place.
 */
export const oilPainting = definePlugin({
  id: 'oil-painting',
  name: 'Oil painting',
  description:
    'Thick, crisp dabs of oil paint following the shapes of the photo, with brush marks and canvas.',
  version: '1.0.0',
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
  // Sizes follow the long side, except on strips longer than 8:1, where they follow the short
  // side: a 50000x40 strip scaled by its long side got 66 px dabs and a 5400 px canvas tile
  // (seconds and 500 MB for 2 megapixels). Photos of ordinary shape are unaffected.
  const scale = Math.min(
    Math.max(width, height) / REFERENCE_WIDTH,
    Math.min(width, height) / STRIP_SHORT_SIDE,
  );
  const radius = Math.max(1, Math.round(0.5 * p.brushSize * scale));
  const sharpness = 2 + 3 * p.sharpness;
  const flowSigma = Math.max(2, 1.5 * radius);
  // The flow is smooth at the scale of flowSigma: a grid of cells about flowSigma / 1.5 wide is enough.
  const factor = Math.max(2, Math.min(6, Math.floor(flowSigma / 1.5)));
  const textureScale = Math.max(0.5, scale);
  // Tiles of 128 to 384 px: a larger tile only repeats less often, and the strokes follow the flow anyway.
  const strokes = strokeRelief(Math.min(384, Math.round(256 * textureScale)), radius, textureScale);
  signal.throwIfAborted();
  const weave = canvasTexture({ threadWidth: 3.2 * textureScale, threads: 64, seed: seed ^ 0x0ca1 });
  signal.throwIfAborted();
  const weaveRelief = embossPlane({
    heights: weave.heights,
    width: weave.size,
    height: weave.size,
    wrap: true,
  });
  signal.throwIfAborted();

  // 1. Flow. Where the photo is flat, strokes follow a slowly turning seeded direction.
  const gw = Math.ceil(width / factor);
  const gh = Math.ceil(height / factor);
  const angles = valueNoise({ width: gw, height: gh, cell: (160 * scale) / factor, seed: seed ^ 0x5eed });
  for (let i = 0; i < angles.length; i++) angles[i] = 0.35 + 1.4 * angles[i]!;
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
  const out = sharedArray(Uint8Array, width * height * 3);
  kuwaharaFilter({ data, width, height, radius, sharpness, flow, anisotropy: ANISOTROPY, out, signal });
  signal.throwIfAborted();
  progress(0.75);

  // 3. Light it, in place, in bands of whole chunks of rows: row y needs the painted luma of rows
  // y - 1 to y + 1, so the rows beside each chunk boundary are taken first, for the bands that
  // meet there (no band reads a row another one already lit).
  // Brush marks, ridges and weave are a few pixels wide in the real render: a preview shrunk by
  // previewScale keeps about that fraction of their relief (a downscale averages the rest away).
  const edges = chunkEdges(out, width, height);
  runBands(
    shadeBand,
    shadeArgs(p, strokes, weave.size, weaveRelief, seed, out, edges, width, height, flow, previewScale),
    Math.ceil(height / SHADE_CHUNK),
    { signal, minBand: 1 },
  );
  progress(1);
  return { data: out, width, height, channels: 3 };
}

/**
 * The last stroke relief tiles made. They depend only on the tile size, brush radius and texture
 * scale (never on the image or seed: a seed only shifts where the tiles are read), so runs on
 * images of similar size reuse them instead of painting the strokes again (tens of milliseconds).
 */
let strokeCache: { key: string; tiles: StrokeTextures } | undefined;

function strokeRelief(size: number, radius: number, textureScale: number): StrokeTextures {
  const key = `${size}:${radius}:${textureScale}`;
  if (strokeCache?.key === key) return strokeCache.tiles;
  const tiles = reliefTiles(
    strokeTextures({
      size,
      bins: STROKE_BINS,
      length: Math.max(6, 6.5 * radius),
      width: Math.max(2.5, 2.3 * radius),
      bristle: 1.2 * textureScale,
      seed: 0x0111,
    }),
  );
  strokeCache = { key, tiles };
  return tiles;
}

/** Stroke textures turned into lit relief, tile by tile, in place. */
function reliefTiles(t: StrokeTextures): StrokeTextures {
  const n = t.size * t.size;
  const scratch = new Float32Array(n);
  for (let k = 0; k < t.bins; k++) {
    const tile = t.heights.subarray(k * n, (k + 1) * n);
    embossPlane({ heights: tile, width: t.size, height: t.size, wrap: true, out: scratch });
    tile.set(scratch);
  }
  return t;
}

/** The arguments of the final pass: relief lighting, gloss and saturation. */
function shadeArgs(
  p: Readonly<OilParams>,
  strokes: StrokeTextures,
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
): ShadeArgs {
  const h = hash32(seed ^ 0x0b5e55ed);
  const hw = hash32(h);
  return {
    img,
    edges,
    width,
    height,
    strokeSize: strokes.size,
    bins: strokes.bins,
    // The cached tiles, shared once (helper threads read them).
    relief: toShared(strokes.heights),
    weaveSize,
    weave: toShared(weave),
    strokeAmount: 0.16 * p.impasto * keep,
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
