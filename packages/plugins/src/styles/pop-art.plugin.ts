import {
  definePlugin,
  downsampleArea,
  FIXED_MAX,
  FIXED_SCALE,
  gaussianBlurU16,
  hexColor,
  hsvToRgb,
  isShared,
  outputArray,
  parseHexColor,
  rgbToHsv,
  runBands,
  sharedArray,
  simdAvailable,
  smoothHistogram,
  toShared,
  z,
} from '@atelier/core';
import type { FixedPlanes, RawImage } from '@atelier/core';
import { PACKED_WORDS, countBand, packedTable, paintBand } from './pop-art.bands.ts';
import type { PaintArgs } from './pop-art.bands.ts';

/**
 * Pop art as a Warhol grid: the photo is shrunk once to the size of one tile, smoothed a little,
 * tone-separated into a few flat levels, and every tile paints those levels with its own palette.
 *
 * Order of operations (fixed, so one request always gives one image):
 * 1. tile geometry: the output keeps the input size; `columns` x `rows` tiles with `gutter`
 *    lines between them; each tile shows the whole photo, centre-cropped to the tile's aspect;
 * 2. area-average downscale to the tile size (luminance, plus colour for `hue-rotate` and alpha
 *    when the input has it);
 * 3. Gaussian-like smoothing of `smoothing` percent of the tile's shorter side (binomial passes,
 *    or two box passes for wide radii), which removes speckle and rounds region contours;
 * 4. level boundaries from contrast-limited histogram equalisation, each moved to a nearby
 *    valley of the histogram, so dark, bright and grey photos use every level while flat areas
 *    are not split into noise;
 * 5. each tile maps level k to colour k of its palette (hue-rotate: the pixel's hue bin turned
 *    by the tile's angle), with halftone dots across level boundaries when `halftone` is on.
 *
 * Speed: the default path never leaves integers. Steps 2 and 3 are core's fixed-point kernels
 * (`downsampleArea`, which halves RGB reading four bytes at a time, and `gaussianBlurU16`, which
 * carries two pixels per 32-bit word); painting writes four RGB pixels as three words from a
 * per-tile table of all 4096 combinations of four levels. The halftone screen is a precomputed
 * distance map, worked out once for all tiles.
 */

const PALETTE_NAMES = ['warhol', 'lichtenstein', 'neon', 'pastel', 'hue-rotate'] as const;
type PaletteName = (typeof PALETTE_NAMES)[number];

/** Colour stops from the darkest tone to the lightest, one list per tile (tiles cycle them). */
const PALETTES: Record<Exclude<PaletteName, 'hue-rotate'>, readonly (readonly string[])[]> = {
  warhol: [
    ['#1b1464', '#ec008c', '#ff8a00', '#fff200'],
    ['#202020', '#00a99d', '#f49ac2', '#fff8c4'],
    ['#3b0a45', '#e4202c', '#39b54a', '#ffe34d'],
    ['#0b2341', '#2e6bf0', '#ff7bac', '#ffef9a'],
    ['#41114a', '#ff6a13', '#27c4d6', '#f9f871'],
    ['#1e1e1e', '#8f2bcc', '#ffcf00', '#b8f4ff'],
  ],
  lichtenstein: [
    ['#141414', '#e3262b', '#ffd91a', '#fbf7ea'],
    ['#141414', '#1f4fbf', '#6ec6f0', '#fbf7ea'],
    ['#1f4fbf', '#e3262b', '#ffd91a', '#fbf7ea'],
    ['#141414', '#e3262b', '#f5a3b5', '#fbf7ea'],
  ],
  neon: [
    ['#0d0221', '#ff2079', '#00f0ff', '#f6ff00'],
    ['#0d0221', '#7a04eb', '#39ff14', '#fdfdfd'],
    ['#10002b', '#ff6c11', '#ff3864', '#fffb96'],
    ['#000c24', '#00b3ff', '#ff00e6', '#ccff00'],
  ],
  pastel: [
    ['#5b5f97', '#ff6b6c', '#ffc145', '#fffffb'],
    ['#3d5a80', '#98c1d9', '#f4a6c0', '#fdf6e3'],
    ['#6a4c93', '#8ac926', '#ffca3a', '#fbf8f0'],
    ['#355070', '#e56b6f', '#eaac8b', '#fff3e6'],
  ],
};

/** The parameters of {@link popArt}. */
const popArtParams = z.object({
  columns: z.int().min(1).max(4).default(2).describe('Tiles across.'),
  rows: z.int().min(1).max(4).default(2).describe('Tiles down.'),
  levels: z.int().min(2).max(8).default(4).describe('Flat tones per tile (posterisation levels).'),
  palette: z
    .enum(PALETTE_NAMES)
    .default('warhol')
    .describe(
      'Colours of the tiles: warhol (bold inks), lichtenstein (primaries on paper), neon, pastel, ' +
        "or hue-rotate (the photo's own hues, saturated and turned round the colour wheel tile by tile).",
    ),
  smoothing: z
    .number()
    .min(0)
    .max(5)
    .default(0.2)
    .describe("Smoothing before posterising, in percent of a tile's shorter side; 0 keeps every speck."),
  halftone: z.boolean().default(false).describe('Render the boundaries between tones as halftone dots.'),
  dotSize: z
    .number()
    .min(0.2)
    .max(10)
    .default(1.5)
    .describe("Halftone dot spacing, in percent of a tile's shorter side (at least 3 pixels)."),
  gutter: z
    .number()
    .min(0)
    .max(10)
    .default(0)
    .describe("Width of the lines between tiles, in percent of the image's shorter side."),
  gutterColor: hexColor('Colour of the lines between tiles; a transparent one adds alpha').default('#ffffff'),
});

type PopArtParams = z.output<typeof popArtParams>;

/** Tone values of the luminance plane: 0 to FIXED_MAX, a quarter grey level each. */
const TONE_BINS = FIXED_MAX + 1;

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

interface Span {
  readonly start: number;
  readonly size: number;
}

/** Splits `length` pixels into `count` tiles with `gap` pixels between them. */
function spans(length: number, count: number, gap: number): Span[] {
  const g = count > 1 ? Math.max(0, Math.min(gap, Math.floor((length - count) / (count - 1)))) : 0;
  const out: Span[] = [];
  for (let i = 0; i < count; i++) {
    const start = Math.round((i * (length + g)) / count);
    const end = Math.round(((i + 1) * (length + g)) / count) - g;
    out.push({ start, size: Math.max(0, end - start) });
  }
  return out;
}

/** Gaussian-like smoothing of the luminance (and colour) planes, `sigma` pixels. */
function smooth(planes: FixedPlanes, sigma: number): void {
  for (const plane of [planes.luma, ...(planes.rgb ?? [])])
    gaussianBlurU16(plane, planes.width, planes.height, sigma, planes.stride);
}

/**
 * The posterisation of the luminance values 0–1020: `level` is the flat tone 0 to levels-1 of
 * each value, `tone` a continuous 0–255 tone whose level is the same (for the halftone).
 */
interface Tones {
  readonly level: Uint8Array;
  readonly tone: Uint8Array;
  /** The first value of levels 1 to levels - 1: `level[v]` is how many of them v reaches. */
  readonly thresholds: Uint16Array;
}

/** How far (in values, 4 per grey level) a level boundary may move to find a valley. */
const VALLEY_REACH = 12 * FIXED_SCALE;

/**
 * Chooses the level boundaries. Targets come from histogram equalisation with each bin clipped
 * at `clip` times the mean (contrast-limited, so dark and bright photos use every level while
 * the curve's slope stays bounded). Each boundary then moves, within reach, to a valley of the
 * smoothed histogram: a boundary through the middle of a flat area (a sky, a wall, a grey
 * card) would split it into speckle of two tones, which is the noise blow-up to avoid.
 */
function posterise(planes: FixedPlanes, levels: number, clip: number): Tones {
  const { luma: y, width: w, height: h, stride } = planes;
  // The histogram, in bands of rows on the run's threads.
  const counts = sharedArray(Int32Array, TONE_BINS);
  const minBand = Math.max(64, Math.ceil((1 << 18) / w));
  runBands(countBand, { values: toShared(y), stride, w, counts }, h, { minBand });
  const n = w * h;
  // Contrast-limited equalisation: cdf[v] is the share of the (clipped) histogram below the
  // middle of bin v.
  const limit = (clip * n) / TONE_BINS;
  let excess = 0;
  for (let v = 0; v < TONE_BINS; v++) excess += Math.max(0, counts[v]! - limit);
  const spread = excess / TONE_BINS;
  const cdf = new Float64Array(TONE_BINS);
  let below = 0;
  for (let v = 0; v < TONE_BINS; v++) {
    const count = Math.min(counts[v]!, limit) + spread;
    cdf[v] = (below + count / 2) / n;
    below += count;
  }
  const density = smoothHistogram(counts, 2 * FIXED_SCALE);
  const mean = n / TONE_BINS;
  // thresholds[k]: the first value of level k.
  const thresholds = new Int32Array(levels + 1);
  thresholds[levels] = TONE_BINS;
  const target = (k: number): number => {
    let v = 0;
    while (v < TONE_BINS - 1 && cdf[v]! < k / levels) v++;
    return v;
  };
  for (let k = 1; k < levels; k++) {
    const t = target(k);
    const reach = Math.max(1, Math.min(VALLEY_REACH, 0.35 * (target(k + 1) - target(k - 1))));
    const lo = Math.max(thresholds[k - 1]! + 1, Math.ceil(t - reach));
    const hi = Math.min(TONE_BINS - (levels - k), Math.floor(t + reach));
    let best = Math.min(Math.max(t, lo), hi);
    let bestCost = Infinity;
    for (let v = lo; v <= hi; v++) {
      const d = (v - t) / reach;
      const cost = density[v]! + 0.5 * mean * d * d;
      if (cost < bestCost) {
        bestCost = cost;
        best = v;
      }
    }
    thresholds[k] = Math.max(best, thresholds[k - 1]! + 1);
  }
  const level = new Uint8Array(TONE_BINS);
  const tone = new Uint8Array(TONE_BINS);
  for (let k = 0; k < levels; k++) {
    const start = thresholds[k]!;
    const end = thresholds[k + 1]!;
    const c0 = k === 0 ? 0 : cdf[start]!;
    const c1 = k === levels - 1 ? 1 : cdf[end]!;
    const lowest = Math.ceil((k * 256) / levels);
    const highest = Math.ceil(((k + 1) * 256) / levels) - 1;
    for (let v = start; v < end; v++) {
      level[v] = k;
      const f = c1 > c0 ? (cdf[v]! - c0) / (c1 - c0) : 0.5;
      tone[v] = Math.min(highest, Math.max(lowest, Math.floor(((k + f) * 256) / levels)));
    }
  }
  return { level, tone, thresholds: Uint16Array.from(thresholds.subarray(1, levels)) };
}

type Rgb = readonly [number, number, number];

function hexToRgb(hex: string): Rgb {
  const c = parseHexColor(hex);
  return [c.r, c.g, c.b];
}

function rotateHue(rgb: Rgb, degrees: number): Rgb {
  if (degrees % 360 === 0) return rgb;
  const [hue, s, v] = rgbToHsv(rgb[0], rgb[1], rgb[2]);
  return hsvToRgb(hue + degrees, s, v);
}

/** `levels` colours sampled evenly along the stops, interpolated in sRGB. */
function sampleStops(stops: readonly Rgb[], levels: number): Uint8Array {
  const out = new Uint8Array(levels * 3);
  for (let k = 0; k < levels; k++) {
    const t = (k / (levels - 1)) * (stops.length - 1);
    const i = Math.min(stops.length - 2, Math.floor(t));
    const f = t - i;
    const a = stops[i]!;
    const b = stops[i + 1]!;
    for (let ch = 0; ch < 3; ch++) out[k * 3 + ch] = Math.round(a[ch]! + (b[ch]! - a[ch]!) * f);
  }
  return out;
}

const HUE_BINS = 12;

/**
 * The colours of one tile (RGB triples), indexed like the index map: tone k for the named
 * palettes; for hue-rotate, `bin * levels + k` with bin 12 for pixels without a clear hue.
 */
function tileColors(palette: PaletteName, tile: number, tiles: number, levels: number): Uint8Array {
  if (palette === 'hue-rotate') {
    const shift = (tile * 360) / tiles;
    const out = new Uint8Array((HUE_BINS + 1) * levels * 3);
    for (let bin = 0; bin <= HUE_BINS; bin++) {
      const grey = bin === HUE_BINS;
      const hue = grey ? 200 + shift : bin * (360 / HUE_BINS) + shift;
      for (let k = 0; k < levels; k++) {
        const t = k / (levels - 1);
        // The darkest tone is near black, the lightest a bright tint; greys get a soft tint.
        const v = 0.12 + 0.88 * t;
        const s = grey ? 0.45 * (1 - 0.5 * t) : 1 - 0.35 * t * t;
        out.set(hsvToRgb(hue, s, v), (bin * levels + k) * 3);
      }
    }
    return out;
  }
  const set = PALETTES[palette];
  const base = set[tile % set.length]!;
  // Past the end of the set, cycle it with the hues turned, so a 4x4 grid has 16 different tiles.
  const turn = Math.floor(tile / set.length) * 67;
  return sampleStops(
    base.map((hex) => rotateHue(hexToRgb(hex), turn)),
    levels,
  );
}

const IDENTITY = Uint8Array.from({ length: 256 }, (_, i) => i);

/** The hue bin (0–11, or 12 for no clear hue) of one colour, each channel 0–1020. */
function hueBin(r: number, g: number, b: number): number {
  const max = Math.max(r, g, b);
  const d = max - Math.min(r, g, b);
  // A hue is trusted when the chroma is clear of noise in absolute and relative terms.
  if (d <= 12 * FIXED_SCALE || d <= 0.15 * max) return HUE_BINS;
  let hue: number;
  if (max === r) hue = (g - b) / d;
  else if (max === g) hue = (b - r) / d + 2;
  else hue = (r - g) / d + 4;
  return Math.round((((hue + 6) % 6) * HUE_BINS) / 6) % HUE_BINS;
}

/** For hue-rotate: `bin * levels` per pixel (rows of `w`); tileColors adds the level. */
function hueBaseMap(planes: FixedPlanes, levels: number): Uint16Array {
  const { width: w, height: h, stride } = planes;
  const base = new Uint16Array(w * h);
  for (let row = 0; row < h; row++) hueRow(planes, row * stride, levels, base, row * w, w);
  return base;
}

/** Hue bins of colours quantised to 6 bits a channel, made on first use (256 KiB). */
let hueBins: Uint8Array | undefined;

function hueBinTable(): Uint8Array {
  if (hueBins) return hueBins;
  const table = new Uint8Array(1 << 18);
  const step = FIXED_MAX / 63;
  for (let r = 0; r < 64; r++) {
    for (let g = 0; g < 64; g++) {
      for (let b = 0; b < 64; b++) table[(r << 12) | (g << 6) | b] = hueBin(r * step, g * step, b * step);
    }
  }
  hueBins = table;
  return table;
}

function hueRow(
  planes: FixedPlanes,
  i: number,
  levels: number,
  base: Uint16Array,
  o: number,
  w: number,
): void {
  const { rgb } = planes;
  if (!rgb) {
    base.fill(HUE_BINS * levels, o, o + w);
    return;
  }
  const [rp, gp, bp] = rgb;
  const table = hueBinTable();
  // 0–1020 to 0–63, rounded.
  const q = 63 / FIXED_MAX;
  for (let end = o + w; o < end; o++, i++) {
    const key = (((rp[i]! * q + 0.5) | 0) << 12) | (((gp[i]! * q + 0.5) | 0) << 6) | ((bp[i]! * q + 0.5) | 0);
    base[o] = table[key]! * levels;
  }
}

function addLevelRow(
  base: Uint16Array,
  y: Uint16Array,
  i: number,
  level: Uint8Array,
  o: number,
  w: number,
): void {
  for (let end = o + w; o < end; o++, i++) base[o]! += level[y[i]!]!;
}

/**
 * What the tiles paint: per pixel of the tile-sized map (rows of `stride`), `lut[values[i]]`
 * is the palette index. For the default path that is the luminance plane and the level table,
 * so no index map is ever built.
 */
interface IndexSource {
  readonly values: Uint16Array;
  readonly stride: number;
  readonly lut: Uint8Array;
  readonly w: number;
  readonly h: number;
}

interface Halftone {
  /** Dot period in pixels. */
  readonly period: number;
  /** Per tone 0–255: the lower and upper level around it and the share of the upper one. */
  readonly lo: Uint8Array;
  readonly hi: Uint8Array;
  readonly share: Float32Array;
  /** Per tone: radius of the upper level's dots and of the lower level's holes, plus half a pixel. */
  readonly dotRadius: Float32Array;
  readonly holeRadius: Float32Array;
  /** Distance in pixels from each cell of one period to the nearest dot and hole centre. */
  readonly dDot: Float32Array;
  readonly dHole: Float32Array;
}

/** Share of each tone band, either side of a level boundary, that is drawn as dots. */
const HALFTONE_BAND = 0.3;

/**
 * A 45-degree halftone screen: dots on one quincunx lattice, holes on the other. Tones within
 * {@link HALFTONE_BAND} of a level boundary mix the two levels; elsewhere a level stays flat.
 */
function makeHalftone(levels: number, period: number): Halftone {
  const lo = new Uint8Array(256);
  const hi = new Uint8Array(256);
  const share = new Float32Array(256);
  for (let v = 0; v < 256; v++) {
    const u = (v * levels) / 256;
    const j = Math.round(u);
    const d = u - j;
    if (j >= 1 && j <= levels - 1 && Math.abs(d) < HALFTONE_BAND) {
      lo[v] = j - 1;
      hi[v] = j;
      share[v] = (d + HALFTONE_BAND) / (2 * HALFTONE_BAND);
    } else {
      const k = Math.min(levels - 1, Math.floor(u));
      lo[v] = k;
      hi[v] = k;
    }
  }
  const P = period;
  const dDot = new Float32Array(P * P);
  const dHole = new Float32Array(P * P);
  const half = P / 2;
  for (let yy = 0; yy < P; yy++) {
    for (let xx = 0; xx < P; xx++) {
      let dd = Infinity;
      let dh = Infinity;
      for (let gy = -1; gy <= 2; gy++) {
        for (let gx = -1; gx <= 2; gx++) {
          const dist = Math.hypot(xx + 0.5 - gx * half, yy + 0.5 - gy * half);
          if ((gx + gy + 2) % 2 === 0) dd = Math.min(dd, dist);
          else dh = Math.min(dh, dist);
        }
      }
      dDot[yy * P + xx] = dd;
      dHole[yy * P + xx] = dh;
    }
  }
  // A dot covering share t of its cell (area P^2 / 2) has radius sqrt(t P^2 / 2 / pi).
  const area = (P * P) / 2 / Math.PI;
  const dotRadius = new Float32Array(256);
  const holeRadius = new Float32Array(256);
  for (let v = 0; v < 256; v++) {
    dotRadius[v] = Math.sqrt(share[v]! * area) + 0.5;
    holeRadius[v] = Math.sqrt((1 - share[v]!) * area) + 0.5;
  }
  return { period: P, lo, hi, share, dotRadius, holeRadius, dDot, dHole };
}

/**
 * The halftone, worked out once for all tiles (the screen is tile-relative and only the colours
 * differ): each pixel's background index, and a list of the pixels where a dot or a hole edge
 * covers part of it, with the other index and its coverage 0–256.
 */
interface HalftoneMap {
  readonly background: Uint16Array;
  readonly count: number;
  readonly x: Uint16Array;
  readonly y: Uint16Array;
  readonly other: Uint16Array;
  readonly cover: Uint16Array;
}

function halftoneMap(
  planes: FixedPlanes,
  tone: Uint8Array,
  hueBase: Uint16Array | undefined,
  ht: Halftone,
): HalftoneMap {
  const { width: w, height: h, stride } = planes;
  const n = w * h;
  const map = {
    background: new Uint16Array(n),
    count: 0,
    x: new Uint16Array(n),
    y: new Uint16Array(n),
    other: new Uint16Array(n),
    cover: new Uint16Array(n),
  };
  for (let row = 0; row < h; row++) {
    map.count = halftoneRow(planes, row * stride, row, tone, hueBase, ht, map, map.count);
  }
  return map;
}

function halftoneRow(
  planes: FixedPlanes,
  s: number,
  row: number,
  tone: Uint8Array,
  hueBase: Uint16Array | undefined,
  ht: Halftone,
  map: HalftoneMap,
  count: number,
): number {
  const { luma: y, width: w } = planes;
  const { period: P, lo, hi, share, dotRadius, holeRadius, dDot, dHole } = ht;
  const { background, x: xs, y: ys, other, cover } = map;
  const cellRow = (row % P) * P;
  for (let x = 0, o = row * w, cx = 0; x < w; x++, o++, s++) {
    const v = tone[y[s]!]!;
    const base = hueBase ? hueBase[o]! : 0;
    const t = share[v]!;
    if (t === 0) {
      background[o] = base + lo[v]!;
    } else {
      // Below half, dots of the upper level on the lower one; above, holes of the lower level
      // in the upper one.
      const dot = t <= 0.5;
      const f = dot ? dotRadius[v]! - dDot[cellRow + cx]! : holeRadius[v]! - dHole[cellRow + cx]!;
      background[o] = base + (dot ? lo[v]! : hi[v]!);
      if (f > 0) {
        xs[count] = x;
        ys[count] = row;
        other[count] = base + (dot ? hi[v]! : lo[v]!);
        cover[count] = f >= 1 ? 256 : (f * 256) | 0;
        count++;
      }
    }
    if (++cx === P) cx = 0;
  }
  return count;
}

/**
 * The `pop-art` style: a Warhol grid of posterised tiles, each in its own palette.
 *
 * @example
 * await runStep(popArt, image, { columns: 3, rows: 3, palette: 'neon', halftone: true });
 */
export const popArt = definePlugin({
  id: 'pop-art',
  name: 'Pop art',
  description:
    'A Warhol grid: the photo repeated in tiles, each posterised into a few bold flat colours from its own palette, with optional halftone dots.',
  version: '1.0.0',
  engine: '^1',
  kind: 'style',
  // Tiles are shrunk copies of the photo, so alpha must be shrunk and tiled with them.
  alpha: 'process',
  tags: ['graphic', 'colour'],
  params: popArtParams,
  apply({ image, params, signal, progress, previewScale }) {
    return renderPopArt(image, params, signal, progress, previewScale);
  },
});

function renderPopArt(
  image: RawImage,
  params: PopArtParams,
  signal: AbortSignal,
  progress: (fraction: number) => void,
  previewScale: number,
): RawImage {
  const { width: W, height: H, channels } = image;
  const { columns, rows, levels, palette } = params;
  const gap = Math.round((params.gutter / 100) * Math.min(W, H));
  const gutterColor = parseHexColor(params.gutterColor);
  // A see-through gutter gives an opaque photo an alpha channel.
  const clearGutter = gap > 0 && columns * rows > 1 && gutterColor.alpha < 255;
  const oc = channels === 2 || channels === 4 || clearGutter ? 4 : 3;
  const xs = spans(W, columns, gap);
  const ys = spans(H, rows, gap);
  const w = Math.max(1, Math.min(...xs.map((s) => s.size)));
  const h = Math.max(1, Math.min(...ys.map((s) => s.size)));
  const hueRotate = palette === 'hue-rotate';

  // The output. With helper threads its memory first holds a copy of the photo: the tile's
  // downsample then runs in bands (it needs its source in shared memory) for the price of a copy
  // into pages the output touches anyway, not of a second image-sized buffer. Painting
  // overwrites every byte when every tile is at least a pixel.
  const data = outputArray(Uint8Array, W * H * oc);
  const inputBytes = W * H * channels;
  let source = image;
  if (isShared(data) && !isShared(image.data) && xs.every((s) => s.size > 0) && ys.every((s) => s.size > 0)) {
    const staged = data.subarray(0, inputBytes);
    staged.set(image.data.subarray(0, inputBytes));
    source = { ...image, data: staged };
  }
  const planes = downsampleArea(source, { width: w, height: h, color: hueRotate });
  signal.throwIfAborted();
  smooth(planes, (params.smoothing / 100) * Math.min(w, h));
  progress(0.4);
  signal.throwIfAborted();

  const { level, tone, thresholds } = posterise(planes, levels, 3);
  const hueBase = hueRotate ? hueBaseMap(planes, levels) : undefined;
  let src: IndexSource;
  let dots: HalftoneMap | undefined;
  if (params.halftone) {
    const period = Math.max(3, Math.round((params.dotSize / 100) * Math.min(w, h)));
    dots = halftoneMap(planes, tone, hueBase, makeHalftone(levels, period));
    src = { values: dots.background, stride: w, lut: IDENTITY, w, h };
  } else if (hueBase) {
    for (let row = 0; row < h; row++)
      addLevelRow(hueBase, planes.luma, row * planes.stride, level, row * w, w);
    src = { values: hueBase, stride: w, lut: IDENTITY, w, h };
  } else {
    src = { values: planes.luma, stride: planes.stride, lut: level, w, h };
  }
  signal.throwIfAborted();

  // The output, in bands of map rows on the run's threads (each painted into every tile row).
  const tiles = columns * rows;
  const colorSets = Array.from({ length: tiles }, (_, t) => tileColors(palette, t, tiles, levels));
  const colorStride = colorSets[0]!.length;
  const colors = new Uint8Array(tiles * colorStride);
  colorSets.forEach((c, t) => colors.set(c, t * colorStride));
  // A preview of flat tones paints each pixel from four samples (see PaintArgs.supersampled);
  // hue-rotate's index map and the halftone's are painted as they are.
  const supersampled = previewScale < 1 && src.lut === level;
  // Flat RGB tiles of exactly the map's size side by side, with WebAssembly SIMD: core's
  // paintLevels paints them. Else flat RGB painting writes four pixels as three words from a
  // table per tile (palettes of up to 8 colours: 3 bits an index).
  const flat = oc === 3 && !hueRotate && !supersampled;
  const levelPaint =
    flat && src.lut === level && gap === 0 && xs.every((s) => s.size === w) && simdAvailable();
  let packed: Uint32Array | undefined;
  if (flat && LITTLE_ENDIAN && !levelPaint) {
    packed = sharedArray(Uint32Array, tiles * PACKED_WORDS);
    colorSets.forEach((c, t) => packedTable(c, packed!, t * PACKED_WORDS));
  }
  const gc = gutterColor;
  const args: PaintArgs = {
    data,
    W,
    H,
    oc,
    xs: Int32Array.from(xs.flatMap((s) => [s.start, s.size])),
    ys: Int32Array.from(ys.flatMap((s) => [s.start, s.size])),
    values: toShared(src.values),
    stride: src.stride,
    lut: src.lut,
    w,
    h,
    alpha: planes.alpha ? toShared(planes.alpha) : undefined,
    colors,
    colorStride,
    packed,
    dots: dots
      ? {
          count: dots.count,
          x: toShared(dots.x),
          y: toShared(dots.y),
          other: toShared(dots.other),
          cover: toShared(dots.cover),
        }
      : undefined,
    gutter: gap > 0 ? Uint8Array.of(gc.r, gc.g, gc.b, oc === 4 ? gc.alpha : 255) : undefined,
    supersampled,
    thresholds: levelPaint ? thresholds : undefined,
  };
  runBands(paintBand, args, h, { signal });
  progress(1);
  return { data, width: W, height: H, channels: oc };
}
