import {
  bandThreads,
  BilinearUpsampler,
  definePlugin,
  domainTransformFilter,
  downsampleBox,
  downsampledSize,
  embossPlane,
  isShared,
  outputArray,
  paperTexture,
  previewFullSize,
  runBands,
  sharedArray,
  tileableNoise,
  toShared,
  valueNoise,
  z,
} from '@atelier/core';
import type { RawImage } from '@atelier/core';
import { STRIDE, paintBand, slopeSizes } from './watercolor.bands.ts';
import type { PaintArgs } from './watercolor.bands.ts';

const params = z.object({
  abstraction: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('How broad and few the washes are: 0 lays many small washes, 1 a few broad, simple ones.'),
  wetness: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe(
      'Wet-in-wet painting: how often neighbouring washes run softly into each other instead of drying with a hard edge, and how much the wash edges wobble.',
    ),
  edgeDarkening: z
    .number()
    .min(0)
    .max(1)
    .default(0.6)
    .describe('Pigment pooled at the hard edges of each wash (the dark rim of a dried wash); 0 has none.'),
  granulation: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('Pigment settling into the hollows of the paper as fine speckle, strongest in dark washes.'),
  paper: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('How much the relief of cold-pressed paper shows, lit from the top left.'),
  whites: z
    .number()
    .min(0)
    .max(1)
    .default(0.5)
    .describe('How much of the highlights is left as unpainted white paper: 0 paints everything.'),
});

type WatercolorParams = z.output<typeof params>;

/** The washes are laid out at a size whose long side is at most this (an integer fraction). */
const WORK_LONG_SIDE = 512;
/** The image long side that the paper texture sizes refer to. */
const REFERENCE_LONG_SIDE = 1920;

/**
 * Watercolour after Curtis et al. (1997) and Bousseau et al. (2006): the photo abstracted into
 * flat washes of a few pigments, with hard edges where pigment pooled as the wash dried, soft
 * wet-in-wet blends elsewhere, uneven pigment density, granulation in the paper grain and white
 * paper left in the highlights.
 *
 * 1. At a working size of about 512 px (an integer fraction of the image): edge-preserving
 *    smoothing (the domain transform), then a palette of wash colours (k-means on a colour
 *    histogram, so it is deterministic and the same at any image size), lifted as transparent
 *    pigment on white paper, with the lightest colours replaced by the paper itself. The slopes
 *    of the smoothed colour and the seeded noise fields (wobble, turbulence, wetness) are stored
 *    beside it.
 * 2. At full resolution, in one streaming pass: the smoothed colour is read through a slow seeded
 *    displacement (wobbled edges) and assigned to its nearest wash colour. The distance in
 *    pixels to the boundary with the second-nearest wash is the gap between the two squared
 *    colour distances (linear in the colour) over its slope, so each boundary is drawn at full
 *    resolution wherever it falls: hard where the photo has an edge, soft where the photo only
 *    shades (and in wet patches), with pigment pooled along its hard parts.
 * 3. Pigment density `d` (edge darkening, turbulence, granulation in the paper's hollows) is
 *    applied with Bousseau's model `C' = C(1 - (1 - C)(d - 1))`, and the paper relief is lit.
 */
export const watercolor = definePlugin({
  id: 'watercolor',
  name: 'Watercolour',
  description:
    'Flat transparent washes with dark pooled edges, wet-in-wet blends and granulation on white paper.',
  version: '2.0.0',
  engine: '^1',
  kind: 'style',
  tags: ['painterly'],
  params,
  apply(ctx) {
    return renderWatercolor(ctx.image, ctx.params, ctx.seed, ctx.signal, ctx.progress, ctx.previewScale);
  },
});

function renderWatercolor(
  image: RawImage,
  p: Readonly<WatercolorParams>,
  seed: number,
  signal: AbortSignal,
  progress: (fraction: number) => void,
  previewScale: number,
): RawImage {
  const { width, height, data } = image;
  const long = Math.max(width, height);
  const factor = Math.max(1, Math.ceil(long / WORK_LONG_SIDE));
  const { width: lw, height: lh } = downsampledSize(width, height, factor);
  // Sizes below are in working pixels for a 512 px long side.
  const unit = Math.max(lw, lh) / WORK_LONG_SIDE;
  const n = lw * lh;

  // 1. Abstraction at working size.
  const planes = downsampleBox(data, width, height, 3, factor, 1 / 255, planesOf(n));
  const a = p.abstraction;
  domainTransformFilter({
    planes,
    width: lw,
    height: lh,
    sigmaSpatial: (8 + 16 * a) * unit,
    sigmaRange: 0.2 + 0.3 * a,
    iterations: 2,
    signal,
  });
  signal.throwIfAborted();
  progress(0.3);
  const palette = washPalette(planes, Math.round(28 - 16 * a));
  const washes = washColours(palette, p.whites);
  // 1 where a palette colour is left as white paper.
  const whiteOf = new Float32Array(washes.length);
  for (let q = 0; q < washes.length; q += 3)
    whiteOf[q] = washes[q]! === 1 && washes[q + 1]! === 1 && washes[q + 2]! === 1 ? 1 : 0;
  signal.throwIfAborted();

  const field = fieldOf(n);
  const [pr, pg, pb] = planes as [Float32Array, Float32Array, Float32Array];
  const cells = colourCells.fill(-1);
  const probe = new Float32Array(STRIDE);
  for (let y = 0; y < lh; y++) fieldRow(field, pr, pg, pb, lw, lh, y, cells, probe, palette);
  // Noise fields: wobble of the edges, turbulence, wet patches (already in the kept field when
  // the last run copied the same ones there).
  const noise = noiseOf(lw, lh, unit, seed);
  if (fieldNoise !== noise) {
    for (let k = 0; k < NOISE_FIELDS.length; k++) {
      const plane = noise[k]!;
      const slot = NOISE_FIELDS[k]![0];
      if (slot >= 0) for (let i = 0, o = slot; i < n; i++, o += STRIDE) field[o] = plane[i]!;
    }
    fieldNoise = noise;
  }
  signal.throwIfAborted();
  progress(0.45);

  // A preview paints the real render's paper: at its scale, each preview pixel showing the
  // paper under its footprint there, averaged (see ctx.previewScale).
  const fullLong = Math.max(...Object.values(previewFullSize(image, previewScale)));
  const texScale = Math.max(0.5, fullLong / REFERENCE_LONG_SIDE);
  // The paper's grain is finer than a small image's pixels: seen at that size (or the full
  // painting scaled down) it averages out, so small images show it faintly.
  const texAmp = Math.min(1, (fullLong / REFERENCE_LONG_SIDE) ** 1.5);
  const footprint = Math.max(1, Math.round(1 / previewScale));
  const { paper, hollow, paperSize, relief, grain, grainSize } = paperOf(texScale, seed, footprint);
  signal.throwIfAborted();

  // 2. and 3. Full resolution, in bands of rows on the run's threads.
  const out = outputArray(Uint8Array, width * height * 3);
  const px = factor / unit; // full-resolution pixels per 512-px working pixel
  // The wobble planes are the first two noise fields (shared when there are helper threads).
  const [wobbleX, wobbleY] = noise as [Float32Array, Float32Array];
  const args: PaintArgs = {
    out,
    width,
    height,
    lw,
    lh,
    factor,
    field,
    palette,
    washes,
    whiteOf,
    // The cached tiles: shared already, unless they were made in a run without helper threads.
    paper: toShared(paper),
    hollow: toShared(hollow),
    paperSize,
    relief: toShared(relief),
    grain: toShared(grain),
    grainSize,
    previewScale,
    wobbleX,
    wobbleY,
    wobble: (0.6 + 1.6 * p.wetness) * px,
    px,
    hardWidth: 0.6 + 0.25 * px,
    wetWidth: (2 + 5 * p.wetness) * px,
    rimWidth: 0.9 * px + 0.6,
    wetBias: 0.8 - 1.1 * p.wetness,
    kEdge: 1.6 * p.edgeDarkening,
    kGran: 0.35 * p.granulation * texAmp,
    kRelief: 0.07 * p.paper * texAmp,
    kPaper: 0.06 * p.paper * texAmp,
  };
  runBands(paintBand, args, height, {
    signal,
    minBand: 32,
    progress: (f) => progress(0.45 + 0.55 * f),
  });
  progress(1);
  return { data: out, width, height, channels: 3 };
}

/**
 * Row `y` of the field: the smoothed colour, its central-difference slopes in x and y, their
 * size ({@link slopeSizes}), and the offsets of the {@link CANDIDATES} palette colours nearest to
 * it. The search is made once per cell of a 32³ colour grid (at the cell's centre, when a pixel
 * first falls in it; `cells` holds what was found, -1 where nothing yet): a photo visits a few
 * thousand cells, not one per pixel.
 */
function fieldRow(
  field: Float32Array,
  pr: Float32Array,
  pg: Float32Array,
  pb: Float32Array,
  lw: number,
  lh: number,
  y: number,
  cells: Int16Array,
  probe: Float32Array,
  palette: Float32Array,
): void {
  const up = (y > 0 ? y - 1 : 0) * lw;
  const row = y * lw;
  const down = (y < lh - 1 ? y + 1 : y) * lw;
  const sy = y > 0 && y < lh - 1 ? 0.5 : 1;
  for (let x = 0; x < lw; x++) {
    const i = row + x;
    const l = row + (x > 0 ? x - 1 : 0);
    const r = row + (x < lw - 1 ? x + 1 : x);
    const sx = x > 0 && x < lw - 1 ? 0.5 : 1;
    const o = i * STRIDE;
    field[o] = pr[i]!;
    field[o + 1] = pg[i]!;
    field[o + 2] = pb[i]!;
    field[o + 3] = (pr[r]! - pr[l]!) * sx;
    field[o + 4] = (pg[r]! - pg[l]!) * sx;
    field[o + 5] = (pb[r]! - pb[l]!) * sx;
    field[o + 6] = (pr[down + x]! - pr[up + x]!) * sy;
    field[o + 7] = (pg[down + x]! - pg[up + x]!) * sy;
    field[o + 8] = (pb[down + x]! - pb[up + x]!) * sy;
    const c = (cell32(pr[i]!) << 10) | (cell32(pg[i]!) << 5) | cell32(pb[i]!);
    const k = c * 3;
    if (cells[k]! < 0) {
      probe[0] = ((c >> 10) + 0.5) / 32;
      probe[1] = (((c >> 5) & 31) + 0.5) / 32;
      probe[2] = ((c & 31) + 0.5) / 32;
      nearestThree(probe, 0, palette);
      cells[k] = probe[13]!;
      cells[k + 1] = probe[14]!;
      cells[k + 2] = probe[15]!;
    }
    field[o + 13] = cells[k]!;
    field[o + 14] = cells[k + 1]!;
    field[o + 15] = cells[k + 2]!;
  }
  slopeSizes(field, row, lw);
}

/**
 * A palette of `k` wash colours for the smoothed planes: k-means on a 16³ colour histogram
 * (weighted bin means), started from the most frequent bins that are far enough apart. Works on
 * the histogram, not the pixels, so it costs the same at any size and gives the same colours for
 * the same photo at any size.
 */
function washPalette(planes: readonly Float32Array[], k: number): Float32Array {
  const [r, g, b] = planes as [Float32Array, Float32Array, Float32Array];
  const bins = 4096;
  const count = new Float64Array(bins);
  const sum = new Float64Array(bins * 3);
  for (let i = 0; i < r.length; i++) {
    const q = (cell(r[i]!) << 8) | (cell(g[i]!) << 4) | cell(b[i]!);
    count[q]!++;
    sum[q * 3]! += r[i]!;
    sum[q * 3 + 1]! += g[i]!;
    sum[q * 3 + 2]! += b[i]!;
  }
  const used: number[] = [];
  for (let q = 0; q < bins; q++) if (count[q]! > 0) used.push(q);
  const mean = new Float32Array(used.length * 3);
  const weight = new Float64Array(used.length);
  for (const [j, q] of used.entries()) {
    weight[j] = count[q]!;
    for (let c = 0; c < 3; c++) mean[j * 3 + c] = sum[q * 3 + c]! / count[q]!;
  }
  // Start: bins by frequency (ties by index), each at least `gap` from those taken.
  const order = used.map((_, j) => j).sort((x, y) => weight[y]! - weight[x]! || x - y);
  const centres: number[] = [];
  for (let gap = 0.25; centres.length < 3 * k && gap > 0.01; gap *= 0.6) {
    for (const j of order) {
      if (centres.length >= 3 * k) break;
      let far = true;
      for (let c = 0; c < centres.length && far; c += 3) {
        const dr = mean[j * 3]! - centres[c]!;
        const dg = mean[j * 3 + 1]! - centres[c + 1]!;
        const db = mean[j * 3 + 2]! - centres[c + 2]!;
        far = dr * dr + dg * dg + db * db >= gap * gap;
      }
      if (far) centres.push(mean[j * 3]!, mean[j * 3 + 1]!, mean[j * 3 + 2]!);
    }
  }
  const m = centres.length / 3;
  const acc = new Float64Array(m * 4);
  for (let iter = 0; iter < 8; iter++) {
    acc.fill(0);
    for (let j = 0; j < used.length; j++) {
      let best = 0;
      let bd = Infinity;
      for (let c = 0; c < m; c++) {
        const dr = mean[j * 3]! - centres[c * 3]!;
        const dg = mean[j * 3 + 1]! - centres[c * 3 + 1]!;
        const db = mean[j * 3 + 2]! - centres[c * 3 + 2]!;
        const d = dr * dr + dg * dg + db * db;
        if (d < bd) {
          bd = d;
          best = c;
        }
      }
      const w = weight[j]!;
      acc[best * 4]! += w;
      acc[best * 4 + 1]! += mean[j * 3]! * w;
      acc[best * 4 + 2]! += mean[j * 3 + 1]! * w;
      acc[best * 4 + 3]! += mean[j * 3 + 2]! * w;
    }
    for (let c = 0; c < m; c++) {
      const w = acc[c * 4]!;
      if (w > 0) for (let ch = 0; ch < 3; ch++) centres[c * 3 + ch] = acc[c * 4 + 1 + ch]! / w;
    }
  }
  return Float32Array.from(centres);
}

/** The colour grid's nearest palette colours ({@link fieldRow}): kept, as fresh memory costs its page faults on every run. */
const colourCells = new Int16Array(32 * 32 * 32 * 3);

function cell32(v: number): number {
  const q = (v * 32) | 0;
  return q < 0 ? 0 : q > 31 ? 31 : q;
}

/** The three palette colours nearest to the colour at `field[o..o+2]`, written from `o + 13`. */
function nearestThree(field: Float32Array, o: number, palette: Float32Array): void {
  const r = field[o]!;
  const g = field[o + 1]!;
  const b = field[o + 2]!;
  let d0 = Infinity;
  let d1 = Infinity;
  let d2 = Infinity;
  let q0 = 0;
  let q1 = 0;
  let q2 = 0;
  for (let q = 0; q < palette.length; q += 3) {
    const er = r - palette[q]!;
    const eg = g - palette[q + 1]!;
    const eb = b - palette[q + 2]!;
    const d = er * er + eg * eg + eb * eb;
    if (d >= d2) continue;
    if (d < d1) {
      d2 = d1;
      q2 = q1;
      if (d < d0) {
        d1 = d0;
        q1 = q0;
        d0 = d;
        q0 = q;
      } else {
        d1 = d;
        q1 = q;
      }
    } else {
      d2 = d;
      q2 = q;
    }
  }
  field[o + 13] = q0;
  field[o + 14] = d1 < Infinity ? q1 : q0;
  field[o + 15] = d2 < Infinity ? q2 : q0;
}

function cell(v: number): number {
  const q = (v * 16) | 0;
  return q < 0 ? 0 : q > 15 ? 15 : q;
}

/**
 * The palette as pigment on paper: colours lifted (transparent washes on white are lighter and
 * purer than a photo), and the lightest ones left as white paper.
 */
function washColours(palette: Float32Array, whites: number): Float32Array {
  const out = new Float32Array(palette.length);
  const threshold = 1.02 - 0.24 * whites;
  for (let q = 0; q < palette.length; q += 3) {
    const r = palette[q]!;
    const g = palette[q + 1]!;
    const b = palette[q + 2]!;
    const y = 0.299 * r + 0.587 * g + 0.114 * b;
    if (y >= threshold) {
      out[q] = out[q + 1] = out[q + 2] = 1;
      continue;
    }
    // Lighter: less pigment (1 - C) on white; a little more saturated.
    const yl = 1 - (1 - y) * 0.84;
    for (let c = 0; c < 3; c++) {
      const v = yl + (palette[q + c]! - y) * 1.15;
      out[q + c] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return out;
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

/** The noise fields: field slot, cell size (working pixels at 512 px), seed, octaves. */
const NOISE_FIELDS: readonly (readonly [number, number, number, number])[] = [
  // The wobble planes are read as they are (slot -1: not copied into the field).
  [-1, 24, 0xd1, 2], // wobble of the edges, x
  [-1, 24, 0xd2, 2], // and y
  [11, 70, 0x7b1, 3], // turbulence
  [12, 60, 0x77e7, 2], // wet patches
];

let noiseCache: { readonly key: string; readonly planes: readonly Float32Array[] } | undefined;

/**
 * The noise fields of a working size and seed (a few milliseconds, a fifth of a preview's time):
 * they depend on neither the photo nor the parameters, so the last ones are kept: a preview
 * tuned again and again, or a batch of photos of one size, makes them once. At most
 * 4 × 512 × 512 floats (4 MB). Read-only for the caller.
 */
function noiseOf(lw: number, lh: number, unit: number, seed: number): readonly Float32Array[] {
  // Shared when the run has helper threads (their kernels read the wobble planes).
  const shared = bandThreads() > 1;
  const key = `${lw}x${lh}:${unit}:${seed}:${shared}`;
  if (noiseCache?.key === key) return noiseCache.planes;
  const planes = NOISE_FIELDS.map(([, cell, s, octaves]) =>
    smoothNoise(
      lw,
      lh,
      cell * unit,
      seed ^ s,
      octaves,
      shared ? sharedArray(Float32Array, lw * lh) : undefined,
    ),
  );
  noiseCache = { key, planes };
  return planes;
}

interface Paper {
  readonly key: string;
  readonly paperSize: number;
  readonly paper: Float32Array;
  /** How deep each point of the paper lies in a hollow (0 on the tops), where pigment settles. */
  readonly hollow: Float32Array;
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
function paperOf(texScale: number, seed: number, footprint: number): Paper {
  const key = `${texScale}:${seed}:${footprint}`;
  if (paperCache?.key === key) return paperCache;
  const paperSize = Math.min(768, Math.round(384 * Math.max(1, texScale)));
  const paper = paperTexture({ size: paperSize, grain: 2.8 * texScale, seed: seed ^ 0x9a9e });
  const relief = embossPlane({ heights: paper, width: paperSize, height: paperSize, wrap: true });
  const hollow = paper.map((h) => (h < 0 ? (h > -1.5 ? -h : 1.5) : 0));
  const grainSize = 256;
  const grain = tileableNoise({
    size: grainSize,
    periods: [grainSize / (1.8 * texScale), grainSize / (4.5 * texScale)],
    amplitudes: [0.6, 0.4],
    seed: seed ^ 0x96a1,
  });
  if (footprint > 1) {
    // A preview's pixel covers footprint² of the real render's: the tiles averaged over that.
    for (const [tile, size] of [
      [paper, paperSize],
      [hollow, paperSize],
      [relief, paperSize],
      [grain, grainSize],
    ] as const)
      boxWrap(tile, size, footprint);
  }
  // Kept shared when the run has helper threads (they read the tiles): one copy of each, not the
  // tile and its shared copy (7 MB more at 5120 px).
  paperCache = {
    key,
    paperSize,
    paper: toShared(paper),
    hollow: toShared(hollow),
    relief: toShared(relief),
    grainSize,
    grain: toShared(grain),
  };
  return paperCache;
}

let planesCache: readonly Float32Array[] | undefined;

/**
 * The working-size colour planes (written whole by `downsampleBox`, then smoothed in place):
 * kept between runs like the field, at most 3 MB.
 */
function planesOf(n: number): readonly Float32Array[] {
  const shared = bandThreads() > 1;
  if (!planesCache || planesCache[0]!.length < n || isShared(planesCache[0]!) !== shared)
    planesCache = [0, 1, 2].map(() => sharedArray(Float32Array, n));
  return planesCache;
}

let fieldCache: Float32Array | undefined;
/** The noise planes whose values the kept field holds in its noise slots (only runs write them). */
let fieldNoise: readonly Float32Array[] | undefined;

/**
 * The working-size field (every slot the painting reads is written on each run). Kept between
 * runs: at most 512 × 512 × 16 floats (16 MB), and a fresh one costs its page faults and a
 * garbage collection on every preview.
 */
function fieldOf(n: number): Float32Array {
  // Shared when the run has helper threads (their kernels read it): made again when that changes.
  const shared = bandThreads() > 1;
  if (!fieldCache || fieldCache.length < n * STRIDE || isShared(fieldCache) !== shared) {
    fieldCache = sharedArray(Float32Array, n * STRIDE);
    fieldNoise = undefined;
  }
  return fieldCache.subarray(0, n * STRIDE);
}

/**
 * Averages a square tile, in place, over the `box` × `box` pixels centred on each (wrapping
 * around its edges, as the tile repeats).
 */
function boxWrap(tile: Float32Array, size: number, box: number): void {
  const line = new Float32Array(size);
  const half = box >> 1;
  const at = (i: number): number => (((i % size) + size) % size) | 0;
  const sums = (get: (i: number) => number, set: (i: number, v: number) => void): void => {
    let sum = 0;
    for (let i = -half; i < box - half; i++) sum += get(at(i));
    for (let i = 0; i < size; i++) {
      line[i] = sum / box;
      sum += get(at(i + box - half)) - get(at(i - half));
    }
    for (let i = 0; i < size; i++) set(i, line[i]!);
  };
  for (let y = 0; y < size; y++)
    sums(
      (x) => tile[y * size + x]!,
      (x, v) => (tile[y * size + x] = v),
    );
  for (let x = 0; x < size; x++)
    sums(
      (y) => tile[y * size + x]!,
      (y, v) => (tile[y * size + x] = v),
    );
}
