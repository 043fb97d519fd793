import {
  BilinearUpsampler,
  definePlugin,
  domainTransformFilter,
  downsampleBox,
  downsampledSize,
  embossPlane,
  gaussianBlur,
  guidedFilterCoefficients,
  paperTexture,
  tileableNoise,
  valueNoise,
  z,
} from '@atelier/core';
import type { RawImage } from '@atelier/core';

const params = z.object({
  washSmoothing: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe(
      'How much detail the washes flatten: 0 keeps fine detail, 1 lays broad, simple washes. Edges stay crisp.',
    ),
  bleeding: z
    .number()
    .min(0)
    .max(1)
    .default(0.4)
    .describe(
      'Wet-in-wet colour bleeding: patches where colours run softly into each other, and wobble of the wash edges.',
    ),
  edgeDarkening: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe(
      'Pigment pooling at the edges of each wash (the dark rim of a dried watercolour wash); 0 has none.',
    ),
  paper: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe(
      'Paper texture: how much the grain of cold-pressed paper shows through, lit from the top left.',
    ),
  granulation: z
    .number()
    .min(0)
    .max(1)
    .default(0.4)
    .describe(
      'Granulation: pigment settling into the hollows of the paper as fine speckle, strongest in dark washes.',
    ),
});

type WatercolorParams = z.output<typeof params>;

/** Long side, in pixels, of the resolution the washes are computed at. */
const WORK_LONG_SIDE = 1100;
/** The image long side that the texture sizes refer to. */
const REFERENCE_LONG_SIDE = 1920;
/** Soft quantisation of the wash's lightness into this many glazes. */
const GLAZES = 9;
/** How much a lighter neighbourhood bleeds into a darker wash, relative to a darker one. */
const LIGHT_BLEED = 0.15;
/** Gamma of the lightness: below 1 lifts the mid-tones, as transparent washes on white paper do. */
const LIFT = 0.88;
/** Watercolour pigments are purer than a photo's colours. */
const SATURATION = 1.15;

/**
 * Watercolour: flat, transparent washes with soft edges, dark pigment rims where washes dried,
 * colours bleeding into each other in places, on grainy paper.
 *
 * 1. Washes, at an integer fraction of the size (about 1000 px on the long side): edge-preserving
 *    smoothing by the domain transform (O(1) per pixel), mixed with a wide blur in seeded "wet"
 *    patches (colour bleeding), then turned into a local linear model of the photo (the fast
 *    guided filter), which gives the washes back at full resolution with pixel-sharp edges.
 * 2. Wet edges: the slope of the softened, glazed lightness of the washes, where pigment pools as
 *    a wash dries (normalised so the rim's strength is the step between washes at any size).
 * 3. At full resolution, in one streaming pass: everything is read through a slow seeded
 *    displacement (wobbly, hand-painted edges); lightness is softly quantised into glazes; the
 *    pigment density is modulated by the wet edges, low-frequency turbulence, granulation and
 *    paper grain with the density model of Bousseau et al. (2006), which darkens and lightens
 *    like real pigment, `C - (C - C²)(d - 1)`; the paper relief is lit from the top left.
 *
 * Noise and textures are seeded, sizes scale with the image, and memory beyond the output is a
 * few planes at working resolution plus small texture tiles.
 */
export const watercolor = definePlugin({
  id: 'watercolor',
  name: 'Watercolour',
  description: 'Transparent washes with wet edges and colour bleeding on textured paper.',
  version: '1.0.0',
  engine: '^1',
  kind: 'style',
  tags: ['painterly'],
  params,
  apply(ctx) {
    return renderWatercolor(ctx.image, ctx.params, ctx.seed, ctx.signal, ctx.progress);
  },
});

function renderWatercolor(
  image: RawImage,
  p: Readonly<WatercolorParams>,
  seed: number,
  signal: AbortSignal,
  progress: (fraction: number) => void,
): RawImage {
  const { width, height, data } = image;
  const long = Math.max(width, height);
  const factor = Math.max(1, Math.round(long / WORK_LONG_SIDE));
  const { width: lw, height: lh } = downsampledSize(width, height, factor);
  // Sizes below are in working pixels for a 1000 px long side.
  const unit = Math.max(lw, lh) / 1000;
  const n = lw * lh;

  // 1. Washes: edge-preserving smoothing at working resolution.
  const photo = downsampleBox(data, width, height, 3, factor, 1 / 255);
  const washes = photo.map((plane) => plane.slice());
  const s = p.washSmoothing;
  domainTransformFilter({
    planes: washes,
    guide: photo,
    width: lw,
    height: lh,
    sigmaSpatial: (6 + 34 * s) * unit,
    sigmaRange: 0.12 + 0.38 * s,
    iterations: 3,
    signal,
  });
  signal.throwIfAborted();
  progress(0.3);
  if (p.bleeding > 0) bleed(washes, lw, lh, unit, p.bleeding, seed);
  signal.throwIfAborted();

  // The washes as a local linear model of the photo (fast guided filter, He and Sun 2015):
  // applied to the full-resolution photo it gives the washes with pixel-sharp edges.
  const model: Float32Array[] = [];
  for (let c = 0; c < 3; c++) {
    const { a, b } = guidedFilterCoefficients({
      guide: photo[c]!,
      input: washes[c]!,
      width: lw,
      height: lh,
      radius: Math.max(1, Math.round(1.5 * unit)),
      eps: 0.0004 + 0.004 * s,
    });
    model.push(a, b);
  }
  signal.throwIfAborted();
  progress(0.5);

  // 2. Wet edges: slope of the softened, glazed lightness of the washes.
  const glaze = glazeTable();
  const [wr, wg, wb] = washes as [Float32Array, Float32Array, Float32Array];
  const lum = photo[0]!;
  for (let i = 0; i < n; i++) {
    const y = 0.299 * wr[i]! + 0.587 * wg[i]! + 0.114 * wb[i]!;
    let k = (y * 1023) | 0;
    k = k < 0 ? 0 : k > 1023 ? 1023 : k;
    lum[i] = glaze[k]!;
  }
  // The slope of a step of height d blurred by sigma peaks at d / (sigma √(2π)): scaled back, the
  // rim strength is the height of the step between two washes, whatever the resolution.
  const edgeSigma = Math.max(1.2, 1.5 * unit);
  const soft = gaussianBlur(lum, lw, lh, edgeSigma, photo[2]!, photo[1]!);
  const edge = photo[1]!;
  const edgeGain = 0.5 * edgeSigma * Math.sqrt(2 * Math.PI) * 1.6;
  for (let y = 0; y < lh; y++) {
    const up = (y > 0 ? y - 1 : 0) * lw;
    const row = y * lw;
    const down = (y < lh - 1 ? y + 1 : y) * lw;
    for (let x = 0; x < lw; x++) {
      const gx = soft[row + (x < lw - 1 ? x + 1 : x)]! - soft[row + (x > 0 ? x - 1 : 0)]!;
      const gy = soft[down + x]! - soft[up + x]!;
      const m = Math.sqrt(gx * gx + gy * gy) * edgeGain;
      edge[row + x] = m > 1 ? 1 : m;
    }
  }
  // The washes are no longer needed: their planes take the noise fields.
  // Turbulence: uneven pigment in broad, faint blotches.
  const turbulence = smoothNoise(lw, lh, 60 * unit, seed ^ 0x7b1, 3, washes[0]);
  // Wobble: everything is read through a slow seeded displacement (in full-resolution pixels),
  // so wash edges meander like a hand-painted wash's.
  const wobble = (0.9 + 1.8 * p.bleeding) * unit * factor;
  const dx = smoothNoise(lw, lh, 20 * unit, seed ^ 0xd1, 2, washes[1]);
  const dy = smoothNoise(lw, lh, 20 * unit, seed ^ 0xd2, 2, washes[2]);
  const [ar, br, ag, bg, ab, bb] = model as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  signal.throwIfAborted();
  progress(0.6);

  // Paper: heights for granulation and pigment pooling, relief for the light.
  const texScale = Math.max(0.5, long / REFERENCE_LONG_SIDE);
  const { paper, paperSize, relief, grain, grainSize } = paperOf(texScale, seed);
  signal.throwIfAborted();

  // 3. Full resolution, row by row.
  const out = new Uint8Array(width * height * 3);
  const kEdge = 1.2 * p.edgeDarkening;
  const kTurb = 0.08;
  const kPaper = 0.05 * p.paper;
  const kGran = 0.18 * p.granulation;
  const kRelief = 0.06 * p.paper;
  const upX = new BilinearUpsampler(dx, lw, lh, width, height, factor);
  const upY = new BilinearUpsampler(dy, lw, lh, width, height, factor);
  const rowX = new Float32Array(width);
  const rowY = new Float32Array(width);
  const paperCol = new Int32Array(width);
  const grainCol = new Int32Array(width);
  for (let x = 0; x < width; x++) {
    paperCol[x] = x % paperSize;
    grainCol[x] = x % grainSize;
  }
  const maxX = width - 1;
  const maxY = height - 1;
  const maxU = lw - 1;
  const maxV = lh - 1;
  const inv = 1 / factor;
  const stride = width * 3;
  for (let y = 0; y < height; y++) {
    upX.row(y, rowX);
    upY.row(y, rowY);
    const paperRow = (y % paperSize) * paperSize;
    const grainRow = (y % grainSize) * grainSize;
    let o = y * stride;
    for (let x = 0; x < width; x++, o += 3) {
      // The displaced position, in full-resolution and working pixels.
      let px = x + rowX[x]! * wobble;
      let py = y + rowY[x]! * wobble;
      px = px < 0 ? 0 : px > maxX ? maxX : px;
      py = py < 0 ? 0 : py > maxY ? maxY : py;
      let ix = px | 0;
      let iy = py | 0;
      let fx = px - ix;
      let fy = py - iy;
      let i00 = iy * stride + ix * 3;
      let sx = ix < maxX ? 3 : 0;
      let sy = iy < maxY ? stride : 0;
      let w00 = (1 - fx) * (1 - fy);
      let w01 = fx * (1 - fy);
      let w10 = (1 - fx) * fy;
      let w11 = fx * fy;
      const ir =
        (data[i00]! * w00 + data[i00 + sx]! * w01 + data[i00 + sy]! * w10 + data[i00 + sy + sx]! * w11) / 255;
      const ig =
        (data[i00 + 1]! * w00 +
          data[i00 + sx + 1]! * w01 +
          data[i00 + sy + 1]! * w10 +
          data[i00 + sy + sx + 1]! * w11) /
        255;
      const ib =
        (data[i00 + 2]! * w00 +
          data[i00 + sx + 2]! * w01 +
          data[i00 + sy + 2]! * w10 +
          data[i00 + sy + sx + 2]! * w11) /
        255;

      let u = (px + 0.5) * inv - 0.5;
      let v = (py + 0.5) * inv - 0.5;
      u = u < 0 ? 0 : u > maxU ? maxU : u;
      v = v < 0 ? 0 : v > maxV ? maxV : v;
      ix = u | 0;
      iy = v | 0;
      fx = u - ix;
      fy = v - iy;
      i00 = iy * lw + ix;
      sx = ix < maxU ? 1 : 0;
      sy = iy < maxV ? lw : 0;
      w00 = (1 - fx) * (1 - fy);
      w01 = fx * (1 - fy);
      w10 = (1 - fx) * fy;
      w11 = fx * fy;
      const i01 = i00 + sx;
      const i10 = i00 + sy;
      const i11 = i10 + sx;
      let cr = (ar[i00]! * w00 + ar[i01]! * w01 + ar[i10]! * w10 + ar[i11]! * w11) * ir;
      cr += br[i00]! * w00 + br[i01]! * w01 + br[i10]! * w10 + br[i11]! * w11;
      let cg = (ag[i00]! * w00 + ag[i01]! * w01 + ag[i10]! * w10 + ag[i11]! * w11) * ig;
      cg += bg[i00]! * w00 + bg[i01]! * w01 + bg[i10]! * w10 + bg[i11]! * w11;
      let cb = (ab[i00]! * w00 + ab[i01]! * w01 + ab[i10]! * w10 + ab[i11]! * w11) * ib;
      cb += bb[i00]! * w00 + bb[i01]! * w01 + bb[i10]! * w10 + bb[i11]! * w11;
      const e = edge[i00]! * w00 + edge[i01]! * w01 + edge[i10]! * w10 + edge[i11]! * w11;
      const t =
        turbulence[i00]! * w00 + turbulence[i01]! * w01 + turbulence[i10]! * w10 + turbulence[i11]! * w11;

      // Soft glazes: lightness pulled toward flat levels with smooth steps (and lifted a little:
      // transparent pigment on white paper); colour a little more saturated.
      const yl = 0.299 * cr + 0.587 * cg + 0.114 * cb;
      let k = (yl * 1023) | 0;
      k = k < 0 ? 0 : k > 1023 ? 1023 : k;
      const yq = glaze[k]!;
      cr = yq + (cr - yl) * SATURATION;
      cg = yq + (cg - yl) * SATURATION;
      cb = yq + (cb - yl) * SATURATION;
      const shift = yq - yl;

      // Pigment density: pooled at wet edges, uneven (turbulence), settled in the paper's
      // hollows (granulation, more where there is more pigment), thinner on the paper's tops.
      const pi = paperRow + paperCol[x]!;
      const h = paper[pi]!;
      const pigment = 1 - yl - shift;
      const hollow = h < 0 ? (h > -1.5 ? -h : 1.5) : 0;
      const settle = hollow * (0.7 + 0.3 * grain[grainRow + grainCol[x]!]!) * pigment;
      const dens = kEdge * e + kTurb * t - kPaper * h + kGran * settle;
      const light = 255 * (1 + kRelief * relief[pi]!);
      out[o] = pigmentTone(cr, dens, light);
      out[o + 1] = pigmentTone(cg, dens, light);
      out[o + 2] = pigmentTone(cb, dens, light);
    }
    if ((y & 127) === 0) {
      signal.throwIfAborted();
      progress(0.6 + (0.4 * y) / height);
    }
  }
  progress(1);
  return { data: out, width, height, channels: 3 };
}

/**
 * Wet-in-wet colour bleeding: in seeded patches, the washes are mixed with a wide blur of
 * themselves, where the blur is darker (more pigment) than the wash. The blur is taken at a
 * quarter of the working resolution (it is wide and smooth anyway).
 */
function bleed(
  planes: readonly Float32Array[],
  w: number,
  h: number,
  unit: number,
  amount: number,
  seed: number,
): void {
  const k = 4;
  const { width: cw, height: ch } = downsampledSize(w, h, k);
  const wet = valueNoise({ width: cw, height: ch, cell: (90 * unit) / k, seed: seed ^ 0x77e7, octaves: 2 });
  for (let i = 0; i < wet.length; i++) {
    let t = (wet[i]! + 0.15) * 2.2;
    t = t < 0 ? 0 : t > 1 ? 1 : t * t * (3 - 2 * t);
    wet[i] = t * amount;
  }
  const wetUp = new BilinearUpsampler(wet, cw, ch, w, h, k);
  const scratch = new Float32Array(cw * ch);
  const ups = planes.map((plane) => {
    const coarse = downsampleBox(plane, w, h, 1, k)[0]!;
    gaussianBlur(coarse, cw, ch, (5 * unit) / k, coarse, scratch);
    return new BilinearUpsampler(coarse, cw, ch, w, h, k);
  });
  const wetRow = new Float32Array(w);
  const rows = planes.map(() => new Float32Array(w));
  const [pr, pg, pb] = planes as [Float32Array, Float32Array, Float32Array];
  const [br, bg, bb] = rows as [Float32Array, Float32Array, Float32Array];
  for (let y = 0; y < h; y++) {
    wetUp.row(y, wetRow);
    for (let c = 0; c < 3; c++) ups[c]!.row(y, rows[c]!);
    const o = y * w;
    for (let x = 0; x < w; x++) {
      const i = o + x;
      const r = pr[i]!;
      const g = pg[i]!;
      const b = pb[i]!;
      // Pigment runs from where there is more of it into where there is less: a darker
      // neighbourhood bleeds in fully, a lighter one barely (paint cannot bleed light into dark).
      const darker = 0.299 * br[x]! + 0.587 * bg[x]! + 0.114 * bb[x]! < 0.299 * r + 0.587 * g + 0.114 * b;
      const t = wetRow[x]! * (darker ? 1 : LIGHT_BLEED);
      pr[i] = r + (br[x]! - r) * t;
      pg[i] = g + (bg[x]! - g) * t;
      pb[i] = b + (bb[x]! - b) * t;
    }
  }
}

/**
 * Smooth value noise for a `w × h` plane whose finest octave has blobs of `cell / 2^(octaves-1)`
 * pixels: computed on a grid a few times coarser than that and upsampled bilinearly, which looks
 * the same at a fraction of the cost.
 */
function smoothNoise(
  w: number,
  h: number,
  cell: number,
  seed: number,
  octaves: number,
  out: Float32Array = new Float32Array(w * h),
): Float32Array {
  const finest = cell / 2 ** (octaves - 1);
  const k = Math.max(1, Math.floor(finest / 5));
  if (k === 1) return valueNoise({ width: w, height: h, cell, seed, octaves, out });
  const cw = Math.ceil(w / k);
  const ch = Math.ceil(h / k);
  const coarse = valueNoise({ width: cw, height: ch, cell: cell / k, seed, octaves });
  const up = new BilinearUpsampler(coarse, cw, ch, w, h, k);
  for (let y = 0; y < h; y++) up.row(y, out.subarray(y * w, (y + 1) * w));
  return out;
}

/** Bousseau's pigment density model for one channel (0..1), density offset `d - 1`, times `light`. */
function pigmentTone(c: number, dens: number, light: number): number {
  const cc = c < 0 ? 0 : c > 1 ? 1 : c;
  const v = (cc - (cc - cc * cc) * dens) * light;
  return v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
}

interface Paper {
  readonly key: string;
  readonly paperSize: number;
  readonly paper: Float32Array;
  readonly relief: Float32Array;
  readonly grainSize: number;
  readonly grain: Float32Array;
}

let paperCache: Paper | undefined;

/**
 * The paper's heights and relief and the granulation tile for a texture scale and seed: 15–25 ms
 * to make, and the same for every image of a size class (the seed comes from the plan, not the
 * photo), so the last one is kept: a preview tuned again and again, or a batch of photos of one
 * camera, makes it once. Read-only for the caller.
 */
function paperOf(texScale: number, seed: number): Paper {
  const key = `${texScale}:${seed}`;
  if (paperCache?.key === key) return paperCache;
  const paperSize = Math.min(768, Math.round(384 * Math.max(1, texScale)));
  const paper = paperTexture({ size: paperSize, grain: 2.8 * texScale, seed: seed ^ 0x9a9e });
  const relief = embossPlane({ heights: paper, width: paperSize, height: paperSize, wrap: true });
  const grainSize = 256;
  const grain = tileableNoise({
    size: grainSize,
    periods: [grainSize / (1.8 * texScale), grainSize / (4.5 * texScale)],
    amplitudes: [0.6, 0.4],
    seed: seed ^ 0x96a1,
  });
  paperCache = { key, paperSize, paper, relief, grainSize, grain };
  return paperCache;
}

let glazeCache: Float32Array | undefined;

/** Lightness (0..1 in 1024 steps) to softly quantised lightness: flat glazes joined by smooth steps. */
function glazeTable(): Float32Array {
  if (glazeCache) return glazeCache;
  const t = new Float32Array(1024);
  const step = 1 / (GLAZES - 1);
  // Steepness: about a fifth of each step is transition, so glazes read as layers without banding.
  const phi = 2.2 / step;
  const norm = 1 / Math.tanh(phi * step * 0.5);
  for (let i = 0; i < 1024; i++) {
    const v = i / 1023;
    const q = Math.round(v / step) * step;
    // Half-way blend with the input keeps gradients inside a glaze alive.
    const glazed = 0.5 * v + 0.5 * (q + (step / 2) * Math.tanh(phi * (v - q)) * norm);
    t[i] = glazed ** LIFT;
  }
  glazeCache = t;
  return t;
}
