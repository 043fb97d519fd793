import {
  canvasTexture,
  definePlugin,
  embossPlane,
  flowField,
  hash32,
  kuwaharaFilter,
  lumaPlane,
  rowBands,
  strokeTextures,
  valueNoise,
} from '@atelier/core';
import type { FlowField, RawImage, StrokeTextures } from '@atelier/core';
import { z } from 'zod';

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
/** Stroke directions in the brush-mark textures. */
const STROKE_BINS = 12;
/** Largest number of pixels processed at once (halo included); bounds memory on large photos. */
const BAND_PIXELS = 3_000_000;
/** How strongly sectors along the strokes are preferred by the Kuwahara filter. */
const ANISOTROPY = 6;

/**
 * Oil painting: flat dabs of paint with crisp edges, laid along the image's own strokes, with lit
 * brush marks and canvas.
 *
 * 1. A flow field: the smoothed structure tensor on a grid of 2 to 4 px cells; in flat areas it
 *    follows a seeded, slowly turning direction instead of noise.
 * 2. A generalised Kuwahara filter over eight square sectors laid out along the flow and weighted
 *    toward the sectors ahead and behind: O(1) per pixel from streamed box sums, no halos, edges
 *    stay sharp, dabs follow the shapes instead of a square grid.
 * 3. Lighting: impasto relief from brush-stroke tiles, the two nearest the local flow direction
 *    blended per pixel (no per-pixel line integrals), paint ridges at colour boundaries and the
 *    canvas weave, as one relief lit from the top left with a little gloss; then saturation.
 *
 * Sizes scale with the image. Large images run in horizontal bands with enough margin that the
 * result is identical to a single pass; noise and textures use absolute positions.
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
    return renderOil(ctx.image, ctx.params, ctx.seed, ctx.signal, ctx.progress);
  },
});

function renderOil(
  image: RawImage,
  p: Readonly<OilParams>,
  seed: number,
  signal: AbortSignal,
  progress: (fraction: number) => void,
): RawImage {
  const { width, height, data } = image;
  const scale = Math.max(width, height) / REFERENCE_WIDTH;
  const radius = Math.max(1, Math.round(0.5 * p.brushSize * scale));
  const sharpness = 2 + 3 * p.sharpness;
  const flowSigma = Math.max(2, 1.5 * radius);
  // The flow is smooth at the scale of flowSigma: a grid of cells about flowSigma / 1.5 wide is enough.
  const factor = Math.max(2, Math.min(4, Math.floor(flowSigma / 1.5)));
  // Rows of margin a band needs: the flow at a row depends on rows within about 3 sigma plus two
  // cells; a painted row on rows within the sector reach (r√2) plus the box radius; relief on ±1.
  const halo = Math.max(Math.ceil(3 * flowSigma) + 3 * factor, Math.ceil(radius * Math.SQRT2) + radius) + 2;
  const bands = rowBands({ width, height, halo, maxPixels: BAND_PIXELS, align: factor });

  const textureScale = Math.max(0.5, scale);
  // Tiles of 128 to 512 px: a larger tile only repeats less often, and the strokes follow the flow anyway.
  const strokes = strokeRelief(Math.min(512, Math.round(256 * textureScale)), radius, textureScale);
  const weave = canvasTexture({ threadWidth: 3.2 * textureScale, threads: 64, seed: seed ^ 0x0ca1 });
  const weaveRelief = embossPlane({
    heights: weave.heights,
    width: weave.size,
    height: weave.size,
    wrap: true,
  });
  signal.throwIfAborted();

  const out = new Uint8Array(width * height * 3);
  const shade = new Shader(p, strokes, weave.size, weaveRelief, seed, width);
  // Per-band buffers, sized for the tallest band and reused: no memory churn band after band.
  const tallest = Math.max(...bands.map((band) => band.bottom - band.top));
  const painted = new Uint8Array(width * tallest * 3);
  const grey = new Uint8Array(width * tallest);
  const fallbackAngle = new Float32Array(Math.ceil(width / factor) * Math.ceil(tallest / factor));
  for (let b = 0; b < bands.length; b++) {
    const band = bands[b]!;
    const rows = band.bottom - band.top;
    const src = data.subarray(band.top * width * 3, band.bottom * width * 3);
    const gw = Math.ceil(width / factor);
    const gh = Math.ceil(rows / factor);
    // Where the photo is flat, strokes follow a slowly turning seeded direction.
    const angles = valueNoise({
      width: gw,
      height: gh,
      cell: (160 * scale) / factor,
      seed: seed ^ 0x5eed,
      y0: band.top / factor,
      out: fallbackAngle.subarray(0, gw * gh),
    });
    for (let i = 0; i < angles.length; i++) angles[i] = 0.35 + 1.4 * angles[i]!;
    const flow = flowField({
      data: src,
      width,
      height: rows,
      factor,
      sigma: flowSigma,
      fallback: { angle: angles, strength: 4e-5 },
    });
    signal.throwIfAborted();
    const bandPainted = painted.subarray(0, width * rows * 3);
    kuwaharaFilter({
      data: src,
      width,
      height: rows,
      radius,
      sharpness,
      flow,
      anisotropy: ANISOTROPY,
      out: bandPainted,
    });
    signal.throwIfAborted();
    shade.band(bandPainted, flow, band.top, band.y0, band.y1, rows, out, grey);
    signal.throwIfAborted();
    progress((b + 1) / bands.length);
  }
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

/** The final per-pixel pass: relief lighting, gloss and saturation. */
class Shader {
  readonly #strokes: StrokeTextures;
  readonly #weaveSize: number;
  readonly #weave: Float32Array;
  readonly #strokeAmount: number;
  readonly #ridgeAmount: number;
  readonly #weaveAmount: number;
  readonly #gloss: number;
  readonly #saturation: number;
  /** Tile column of each image column, for the stroke and weave tiles. */
  readonly #strokeCol: Int32Array;
  readonly #weaveCol: Int32Array;
  readonly #offsetY: number;
  readonly #weaveOffsetY: number;

  constructor(
    p: Readonly<OilParams>,
    strokes: StrokeTextures,
    weaveSize: number,
    weave: Float32Array,
    seed: number,
    width: number,
  ) {
    this.#strokes = strokes;
    this.#weaveSize = weaveSize;
    this.#weave = weave;
    this.#strokeAmount = 0.16 * p.impasto;
    this.#ridgeAmount = 0.0013 * p.impasto;
    this.#weaveAmount = 0.09 * p.canvas;
    this.#gloss = 560 * p.impasto;
    this.#saturation = p.saturation;
    const h = hash32(seed ^ 0x0b5e55ed);
    const offsetX = h & 0xffff;
    this.#offsetY = h >>> 16;
    this.#weaveOffsetY = hash32(h) & 0xffff;
    const weaveOffsetX = hash32(h) >>> 16;
    this.#strokeCol = new Int32Array(width);
    this.#weaveCol = new Int32Array(width);
    for (let x = 0; x < width; x++) {
      this.#strokeCol[x] = (x + offsetX) % strokes.size;
      this.#weaveCol[x] = (x + weaveOffsetX) % weaveSize;
    }
  }

  /**
   * Shades rows `[y0, y1)` (absolute) of the image from the painted band whose first row is
   * absolute row `top`, writing into the full-size `out`; `scratch` holds the band's luma.
   */
  band(
    painted: Uint8Array,
    flow: FlowField,
    top: number,
    y0: number,
    y1: number,
    rows: number,
    out: Uint8Array,
    scratch: Uint8Array,
  ): void {
    const w = painted.length / 3 / rows;
    const luma = lumaPlane(painted, w * rows, 3, scratch);
    const { size, bins, heights: relief } = this.#strokes;
    const tileN = size * size;
    const binScale = bins / Math.PI;
    const weave = this.#weave;
    const wsize = this.#weaveSize;
    const strokeCol = this.#strokeCol;
    const weaveCol = this.#weaveCol;
    const ks = this.#strokeAmount;
    const kr = this.#ridgeAmount;
    const kw = this.#weaveAmount;
    const gloss = this.#gloss;
    const sat = this.#saturation;
    // Per flow cell: where the two nearest stroke tiles start and their weights (blended at
    // constant contrast, deeper where strokes are coherent: edges, hair, not broad flat areas).
    const cells = flow.width * flow.height;
    const tile0 = new Int32Array(cells);
    const tile1 = new Int32Array(cells);
    const weight0 = new Float32Array(cells);
    const weight1 = new Float32Array(cells);
    for (let c = 0; c < cells; c++) {
      const pos = flow.angle[c]! * binScale;
      const k0 = Math.min(bins - 1, pos | 0);
      const t = pos - k0;
      const depth = ks * (0.55 + 0.45 * flow.coherence[c]!) * BLEND_NORM[Math.min(64, (t * 64) | 0)]!;
      tile0[c] = k0 * tileN;
      tile1[c] = (k0 + 1 === bins ? 0 : k0 + 1) * tileN;
      weight0[c] = (1 - t) * depth;
      weight1[c] = t * depth;
    }
    const fw = flow.width;
    const flowCol = new Int32Array(w);
    for (let x = 0; x < w; x++) flowCol[x] = Math.floor(x / flow.factor);
    for (let y = y0; y < y1; y++) {
      const ly = y - top;
      const row = ly * w;
      const up = (ly > 0 ? ly - 1 : 0) * w;
      const down = (ly < rows - 1 ? ly + 1 : ly) * w;
      const tileRow = ((y + this.#offsetY) % size) * size;
      const weaveRow = ((y + this.#weaveOffsetY) % wsize) * wsize;
      const flowRow = Math.floor(ly / flow.factor) * fw;
      let o = y * w * 3;
      let i = row * 3;
      for (let x = 0; x < w; x++, o += 3, i += 3) {
        const r = painted[i]!;
        const g = painted[i + 1]!;
        const b = painted[i + 2]!;
        const lum = 0.299 * r + 0.587 * g + 0.114 * b;

        // Brush marks: the two stroke tiles nearest the local angle.
        const f = flowRow + flowCol[x]!;
        const ti = tileRow + strokeCol[x]!;
        const mark = relief[tile0[f]! + ti]! * weight0[f]! + relief[tile1[f]! + ti]! * weight1[f]!;

        // Paint ridges where colours meet: the painted luma as relief, lit from the top left.
        const xl = x > 0 ? x - 1 : 0;
        const xr = x < w - 1 ? x + 1 : x;
        const ridge = luma[row + xr]! - luma[row + xl]! + luma[down + x]! - luma[up + x]!;

        const light = mark + ridge * kr + weave[weaveRow + weaveCol[x]!]! * kw;
        const spec = light > 0.04 ? (light - 0.04) * (light - 0.04) * gloss : 0;
        const m = 1 + light;
        const base = lum * m + spec;
        const sm = sat * m;
        const rr = base + (r - lum) * sm;
        const gg = base + (g - lum) * sm;
        const bb = base + (b - lum) * sm;
        out[o] = rr < 0 ? 0 : rr > 255 ? 255 : rr + 0.5;
        out[o + 1] = gg < 0 ? 0 : gg > 255 ? 255 : gg + 0.5;
        out[o + 2] = bb < 0 ? 0 : bb > 255 ? 255 : bb + 0.5;
      }
    }
  }
}

/**
 * `1 / sqrt((1-t)² + t²)` for t in 64ths: blending two uncorrelated textures with weights 1 - t
 * and t lowers their contrast by that much, so the blend is scaled back up.
 */
const BLEND_NORM = Float32Array.from({ length: 65 }, (_, k) => {
  const t = k / 64;
  return 1 / Math.sqrt((1 - t) * (1 - t) + t * t);
});
