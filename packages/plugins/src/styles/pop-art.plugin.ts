import { definePlugin } from '@atelier/core';
import type { RawImage } from '@atelier/core';
import { z } from 'zod';
import { hexColor, parseHexColor } from '../color-param.ts';

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
 * Speed: the default path never leaves integers. The 2x2 average reads the RGB bytes four at a
 * time, the smoothing carries two pixels per 32-bit word, and painting writes four RGB pixels as
 * three words from a per-tile table of all 4096 combinations of four levels. The halftone screen
 * is a precomputed distance map, worked out once for all tiles.
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
export const popArtParams = z.object({
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

/**
 * Planes at tile size hold 4 x the 0–255 value (0–1020): a quarter level of precision, and two
 * values times 16 still fit a 32-bit word below 2^30 (see {@link binomialPass}).
 */
const SCALE = 4;
const HALVE_SHIFT = 8;
const HALVE_ROUND = 1 << (HALVE_SHIFT - 1);
const MAX_VALUE = 255 * SCALE;
const TONE_BINS = MAX_VALUE + 1;

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

/**
 * The photo at tile size: `w` x `h` pixels in rows of `stride` (even) values. `y` is luminance
 * (BT.601 weights), `r`/`g`/`b` colour (hue-rotate only), all scaled by {@link SCALE};
 * `a` is alpha 0–255 in rows of `w`, when the input has alpha.
 */
interface Planes {
  readonly w: number;
  readonly h: number;
  readonly stride: number;
  readonly y: Uint16Array;
  readonly rgb: readonly [Uint16Array, Uint16Array, Uint16Array] | undefined;
  readonly a: Uint8Array | undefined;
}

/** Source pixel ranges [lo, hi) that average into each of `n` output pixels. */
function boxRanges(offset: number, length: number, n: number): { lo: Int32Array; hi: Int32Array } {
  const lo = new Int32Array(n);
  const hi = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const a = Math.floor(offset + (i * length) / n);
    lo[i] = a;
    hi[i] = Math.max(a + 1, Math.floor(offset + ((i + 1) * length) / n));
  }
  return { lo, hi };
}

/**
 * Area-averages the centre crop of `image` that has the aspect of w x h down to w x h. The
 * common case (RGB, exactly half size) has fused fast paths; the rest sums rows into column
 * accumulators, then columns in boxes: one pass over the source either way.
 */
function downscale(image: RawImage, w: number, h: number, wantColor: boolean): Planes {
  const { width: W, height: H, channels: c, data } = image;
  let cw = W;
  let ch = H;
  if (W * h > H * w) cw = Math.max(1, Math.min(W, (H * w) / h));
  else ch = Math.max(1, Math.min(H, (W * h) / w));
  const cx = (W - cw) / 2;
  const cy = (H - ch) / 2;
  const stride = w + (w & 1);
  const n = stride * h;
  const y = new Uint16Array(n);
  const color = wantColor && c >= 3;
  const hasAlpha = c === 2 || c === 4;
  const planes: Planes = {
    w,
    h,
    stride,
    y,
    rgb: color ? [new Uint16Array(n), new Uint16Array(n), new Uint16Array(n)] : undefined,
    a: hasAlpha ? new Uint8Array(w * h) : undefined,
  };
  const half =
    c === 3 && !color && cw === 2 * w && ch === 2 * h && Number.isInteger(cx) && Number.isInteger(cy);
  if (half && LITTLE_ENDIAN && data.byteOffset % 4 === 0 && W % 4 === 0 && cx % 4 === 0 && w % 2 === 0) {
    halveLumaWords(data, W, cx, cy, w, h, y);
  } else if (half) {
    halveLuma(data, W, cx, cy, w, h, y);
  } else if (
    c === 3 &&
    planes.rgb &&
    cw === 2 * w &&
    ch === 2 * h &&
    Number.isInteger(cx) &&
    Number.isInteger(cy)
  ) {
    const [r, g, b] = planes.rgb;
    for (let oy = 0; oy < h; oy++)
      halveColorRow(data, ((cy + 2 * oy) * W + cx) * 3, W * 3, y, r, g, b, oy * stride, w);
  } else {
    areaAverage(image, cx, cy, cw, ch, planes);
  }
  // An odd width leaves a spare column in each row: repeat the last pixel into it.
  if (stride !== w) {
    for (const plane of [y, ...(planes.rgb ?? [])]) {
      for (let row = 0; row < n; row += stride) plane[row + w] = plane[row + w - 1]!;
    }
  }
  return planes;
}

/** 2x2 box average of RGB into luminance, reading four bytes at a time (little-endian). */
function halveLumaWords(
  data: Uint8Array,
  W: number,
  cx: number,
  cy: number,
  w: number,
  h: number,
  y: Uint16Array,
): void {
  const u = new Uint32Array(data.buffer, data.byteOffset, data.byteLength >> 2);
  const rowWords = (W * 3) >> 2;
  // One call per row: V8 optimises a small hot function better than a long nested loop.
  for (let oy = 0; oy < h; oy++) {
    const i = (cy + 2 * oy) * rowWords + ((cx * 3) >> 2);
    halveLumaWordsRow(u, i, i + rowWords, y, oy * w, w);
  }
}

function halveLumaWordsRow(u: Uint32Array, i: number, j: number, y: Uint16Array, o: number, w: number): void {
  // Twelve bytes R0 G0 B0 R1 | G1 B1 R2 G2 | B2 R3 G3 B3 hold two output pixels per row; even
  // and odd bytes of the two rows are summed in 16-bit lanes, then picked apart.
  for (let ox = 0; ox < w; ox += 2, o += 2, i += 3, j += 3) {
    const a0 = u[i]!;
    const a1 = u[i + 1]!;
    const a2 = u[i + 2]!;
    const b0 = u[j]!;
    const b1 = u[j + 1]!;
    const b2 = u[j + 2]!;
    const e0 = (a0 & 0xff00ff) + (b0 & 0xff00ff);
    const o0 = ((a0 >>> 8) & 0xff00ff) + ((b0 >>> 8) & 0xff00ff);
    const e1 = (a1 & 0xff00ff) + (b1 & 0xff00ff);
    const o1 = ((a1 >>> 8) & 0xff00ff) + ((b1 >>> 8) & 0xff00ff);
    const e2 = (a2 & 0xff00ff) + (b2 & 0xff00ff);
    const o2 = ((a2 >>> 8) & 0xff00ff) + ((b2 >>> 8) & 0xff00ff);
    const r0 = (e0 & 0xffff) + (o0 >>> 16);
    const g0 = (o0 & 0xffff) + (e1 & 0xffff);
    const b0s = (e0 >>> 16) + (o1 & 0xffff);
    const r1 = (e1 >>> 16) + (o2 & 0xffff);
    const g1 = (o1 >>> 16) + (e2 >>> 16);
    const b1s = (e2 & 0xffff) + (o2 >>> 16);
    // Four pixels times weights summing to 256, to SCALE x 0–255: divide by 1024 / SCALE.
    y[o] = (77 * r0 + 150 * g0 + 29 * b0s + HALVE_ROUND) >> HALVE_SHIFT;
    y[o + 1] = (77 * r1 + 150 * g1 + 29 * b1s + HALVE_ROUND) >> HALVE_SHIFT;
  }
}

/** 2x2 box average of RGB into luminance, byte by byte. */
function halveLuma(
  data: Uint8Array,
  W: number,
  cx: number,
  cy: number,
  w: number,
  h: number,
  y: Uint16Array,
): void {
  const stride = w + (w & 1);
  for (let oy = 0; oy < h; oy++) halveLumaRow(data, ((cy + 2 * oy) * W + cx) * 3, W * 3, y, oy * stride, w);
}

function halveLumaRow(
  data: Uint8Array,
  p: number,
  rowBytes: number,
  y: Uint16Array,
  o: number,
  w: number,
): void {
  for (let ox = 0; ox < w; ox++, o++, p += 6) {
    const q = p + rowBytes;
    const r = data[p]! + data[p + 3]! + data[q]! + data[q + 3]!;
    const g = data[p + 1]! + data[p + 4]! + data[q + 1]! + data[q + 4]!;
    const b = data[p + 2]! + data[p + 5]! + data[q + 2]! + data[q + 5]!;
    y[o] = (77 * r + 150 * g + 29 * b + HALVE_ROUND) >> HALVE_SHIFT;
  }
}

function halveColorRow(
  data: Uint8Array,
  p: number,
  rowBytes: number,
  y: Uint16Array,
  rp: Uint16Array,
  gp: Uint16Array,
  bp: Uint16Array,
  o: number,
  w: number,
): void {
  for (let ox = 0; ox < w; ox++, o++, p += 6) {
    const q = p + rowBytes;
    const r = data[p]! + data[p + 3]! + data[q]! + data[q + 3]!;
    const g = data[p + 1]! + data[p + 4]! + data[q + 1]! + data[q + 4]!;
    const b = data[p + 2]! + data[p + 5]! + data[q + 2]! + data[q + 5]!;
    y[o] = (77 * r + 150 * g + 29 * b + HALVE_ROUND) >> HALVE_SHIFT;
    // Four pixels sum to 4 x 0–255, which is SCALE x 0–255.
    rp[o] = r;
    gp[o] = g;
    bp[o] = b;
  }
}

/** General area average (any size, any channel count) into `planes`. */
function areaAverage(image: RawImage, cx: number, cy: number, cw: number, ch: number, planes: Planes): void {
  const { width: W, channels: c, data } = image;
  const { w, h, stride, y, rgb, a } = planes;
  const xs = boxRanges(cx, cw, w);
  const ys = boxRanges(cy, ch, h);
  const x0 = xs.lo[0]!;
  const span = xs.hi[w - 1]! - x0;
  // Box edges relative to the crop's first column.
  for (let i = 0; i < w; i++) {
    xs.lo[i]! -= x0;
    xs.hi[i]! -= x0;
  }
  const accY = new Float64Array(span);
  const accC = rgb
    ? ([new Float64Array(span), new Float64Array(span), new Float64Array(span)] as const)
    : undefined;
  const accA = a ? new Float64Array(span) : undefined;
  for (let oy = 0; oy < h; oy++) {
    const sy0 = ys.lo[oy]!;
    const sy1 = ys.hi[oy]!;
    accY.fill(0);
    accA?.fill(0);
    if (accC) for (const acc of accC) acc.fill(0);
    for (let sy = sy0; sy < sy1; sy++) {
      const p = (sy * W + x0) * c;
      if (c < 3) sumGrey(data, p, c, span, accY);
      else if (accC) sumColor(data, p, c, span, accY, accC[0], accC[1], accC[2]);
      else sumLuma(data, p, c, span, accY);
      if (accA) sumChannel(data, p + c - 1, c, span, accA);
    }
    const o = oy * stride;
    // accY holds luminance times 256; the planes hold SCALE times 0–255.
    const scale = SCALE / (sy1 - sy0);
    boxesOut(accY, xs.lo, xs.hi, scale / 256, MAX_VALUE, y, o, w);
    if (accC && rgb)
      for (let k = 0; k < 3; k++) boxesOut(accC[k]!, xs.lo, xs.hi, scale, MAX_VALUE, rgb[k]!, o, w);
    if (accA && a) boxesOut(accA, xs.lo, xs.hi, 1 / (sy1 - sy0), 255, a, oy * w, w);
  }
}

function sumLuma(data: Uint8Array, p: number, c: number, span: number, acc: Float64Array): void {
  for (let x = 0; x < span; x++, p += c) acc[x]! += 77 * data[p]! + 150 * data[p + 1]! + 29 * data[p + 2]!;
}

function sumGrey(data: Uint8Array, p: number, c: number, span: number, acc: Float64Array): void {
  for (let x = 0; x < span; x++, p += c) acc[x]! += 256 * data[p]!;
}

function sumChannel(data: Uint8Array, p: number, c: number, span: number, acc: Float64Array): void {
  for (let x = 0; x < span; x++, p += c) acc[x]! += data[p]!;
}

function sumColor(
  data: Uint8Array,
  p: number,
  c: number,
  span: number,
  accY: Float64Array,
  accR: Float64Array,
  accG: Float64Array,
  accB: Float64Array,
): void {
  for (let x = 0; x < span; x++, p += c) {
    const r = data[p]!;
    const g = data[p + 1]!;
    const b = data[p + 2]!;
    accY[x]! += 77 * r + 150 * g + 29 * b;
    accR[x]! += r;
    accG[x]! += g;
    accB[x]! += b;
  }
}

/** Sums each box [lo, hi) of `acc`, averages it, and writes it times `scale` (rounded, capped at `max`). */
function boxesOut(
  acc: Float64Array,
  lo: Int32Array,
  hi: Int32Array,
  scale: number,
  max: number,
  out: Uint16Array | Uint8Array,
  o: number,
  w: number,
): void {
  for (let ox = 0; ox < w; ox++, o++) {
    const l = lo[ox]!;
    const r = hi[ox]!;
    let s = 0;
    for (let x = l; x < r; x++) s += acc[x]!;
    out[o] = Math.min(max, (s * scale) / (r - l) + 0.5);
  }
}

/**
 * One pass of the 5-tap binomial [1 4 6 4 1]/16 (sigma 1 px) along rows then columns, edges
 * repeated, in place. Two pixels travel in each 32-bit word: values up to 1020 times 16 still fit
 * a 16-bit lane and the word stays below 2^30 (a small integer for V8), so the adds need no
 * unpacking.
 */
function binomialPass(plane: Uint16Array, stride: number, h: number): void {
  const k = stride >> 1;
  const u = new Uint32Array(plane.buffer, plane.byteOffset, (stride * h) >> 1);
  for (let base = 0; base < u.length; base += k) binomialRow(u, base, k);
  // Columns: rows above the current one are kept unfiltered in a ring of three row copies.
  let above2 = new Uint32Array(k);
  let above1 = new Uint32Array(k);
  let current = new Uint32Array(k);
  above2.set(u.subarray(0, k));
  above1.set(u.subarray(0, k));
  for (let row = 0; row < h; row++) {
    const c = row * k;
    current.set(u.subarray(c, c + k));
    binomialColumns(
      u,
      c,
      above2,
      above1,
      current,
      Math.min(row + 1, h - 1) * k,
      Math.min(row + 2, h - 1) * k,
      k,
    );
    const spare = above2;
    above2 = above1;
    above1 = current;
    current = spare;
  }
}

const LANE_ROUND = 0x00080008;
const LANE_MASK = 0x0fff0fff;

function binomialRow(u: Uint32Array, base: number, k: number): void {
  // With W_i the word of pixels 2i, 2i+1 and S_i = (pixel 2i-1, pixel 2i), the filtered word is
  // W_i-1 + 4 S_i + 6 W_i + 4 S_i+1 + W_i+1, lane by lane.
  const first = u[base]! & 0xffff;
  const lastPx = u[base + k - 1]! >>> 16;
  const last = lastPx | (lastPx << 16);
  let wm = first | (first << 16);
  let w0 = u[base]!;
  let s0 = (wm >>> 16) | ((w0 & 0xffff) << 16);
  for (let i = 0; i < k; i++) {
    const w1 = i + 1 < k ? u[base + i + 1]! : last;
    const s1 = (w0 >>> 16) | ((w1 & 0xffff) << 16);
    u[base + i] = ((wm + 4 * s0 + 6 * w0 + 4 * s1 + w1 + LANE_ROUND) >>> 4) & LANE_MASK;
    wm = w0;
    w0 = w1;
    s0 = s1;
  }
}

function binomialColumns(
  u: Uint32Array,
  c: number,
  above2: Uint32Array,
  above1: Uint32Array,
  current: Uint32Array,
  d1: number,
  d2: number,
  k: number,
): void {
  for (let i = 0; i < k; i++) {
    const sum = above2[i]! + 4 * (above1[i]! + u[d1 + i]!) + 6 * current[i]! + u[d2 + i]!;
    u[c + i] = ((sum + LANE_ROUND) >>> 4) & LANE_MASK;
  }
}

/** One box pass of radius `rad` along rows then columns, edges repeated, in place. */
function boxPass(plane: Uint16Array, w: number, stride: number, h: number, rad: number): void {
  const norm = 1 / (2 * rad + 1);
  const padded = new Uint16Array(w + 2 * rad + 1);
  for (let row = 0; row < h; row++) boxRow(plane, row * stride, w, rad, norm, padded);
  const acc = new Float64Array(w);
  for (let k = -rad; k <= rad; k++) addRow(acc, plane, Math.min(h - 1, Math.max(0, k)) * stride, w);
  // Rows above the current one are already filtered: a ring of rad + 1 rows keeps their
  // unfiltered values, rather than a copy of the whole plane.
  const slots = rad + 1;
  const ring = new Uint16Array(slots * w);
  for (let row = 0; row < h; row++) {
    const base = row * stride;
    ring.set(plane.subarray(base, base + w), (row % slots) * w);
    const addRowIndex = Math.min(h - 1, row + rad + 1);
    const addSrc = addRowIndex > row ? plane : ring;
    const add = addRowIndex > row ? addRowIndex * stride : (row % slots) * w;
    const sub = (Math.max(0, row - rad) % slots) * w;
    boxColumnsRow(plane, base, acc, addSrc, add, ring, sub, w, norm);
  }
}

function boxRow(
  p: Uint16Array,
  base: number,
  w: number,
  rad: number,
  norm: number,
  padded: Uint16Array,
): void {
  const first = p[base]!;
  const last = p[base + w - 1]!;
  for (let i = 0; i < rad; i++) padded[i] = first;
  padded.set(p.subarray(base, base + w), rad);
  for (let i = rad + w; i < padded.length; i++) padded[i] = last;
  let s = 0;
  for (let i = 0; i <= 2 * rad; i++) s += padded[i]!;
  for (let x = 0, span = 2 * rad + 1; x < w; x++) {
    p[base + x] = s * norm + 0.5;
    s += padded[x + span]! - padded[x]!;
  }
}

function addRow(acc: Float64Array, src: Uint16Array, base: number, w: number): void {
  for (let x = 0; x < w; x++) acc[x]! += src[base + x]!;
}

function boxColumnsRow(
  p: Uint16Array,
  base: number,
  acc: Float64Array,
  addSrc: Uint16Array,
  add: number,
  subSrc: Uint16Array,
  sub: number,
  w: number,
  norm: number,
): void {
  for (let x = 0; x < w; x++) {
    p[base + x] = acc[x]! * norm + 0.5;
    acc[x]! += addSrc[add + x]! - subSrc[sub + x]!;
  }
}

/**
 * Gaussian-like smoothing of `sigma` pixels: binomial passes (sigma^2 = 1 each) for small sigma,
 * two box passes for larger ones, whose cost does not grow with the radius.
 */
function smooth(planes: Planes, sigma: number): void {
  const { w, h, stride } = planes;
  const all = [planes.y, ...(planes.rgb ?? [])];
  const passes = Math.round(sigma * sigma);
  if (passes === 0) return;
  if (passes <= 3) {
    for (const plane of all) for (let i = 0; i < passes; i++) binomialPass(plane, stride, h);
    return;
  }
  // Two box passes of width 2r+1 have variance 2((2r+1)^2 - 1)/12.
  const rad = Math.max(1, Math.round((Math.sqrt(6 * sigma * sigma + 1) - 1) / 2));
  for (const plane of all) {
    boxPass(plane, w, stride, h, rad);
    boxPass(plane, w, stride, h, rad);
  }
}

/**
 * The posterisation of the luminance values 0–1020: `level` is the flat tone 0 to levels-1 of
 * each value, `tone` a continuous 0–255 tone whose level is the same (for the halftone).
 */
interface Tones {
  readonly level: Uint8Array;
  readonly tone: Uint8Array;
}

/** How far (in values, 4 per grey level) a level boundary may move to find a valley. */
const VALLEY_REACH = 12 * SCALE;

/**
 * Chooses the level boundaries. Targets come from histogram equalisation with each bin clipped
 * at `clip` times the mean (contrast-limited, so dark and bright photos use every level while
 * the curve's slope stays bounded). Each boundary then moves, within reach, to a valley of the
 * smoothed histogram: a boundary through the middle of a flat area (a sky, a wall, a grey
 * card) would split it into speckle of two tones, which is the noise blow-up to avoid.
 */
function posterise(planes: Planes, levels: number, clip: number): Tones {
  const { y, w, h, stride } = planes;
  const counts = new Int32Array(TONE_BINS);
  for (let row = 0; row < h * stride; row += stride) countRow(y, row, row + w, counts);
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
  const density = smoothHistogram(counts, 2 * SCALE);
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
  return { level, tone };
}

function countRow(y: Uint16Array, start: number, end: number, counts: Int32Array): void {
  for (let i = start; i < end; i++) counts[y[i]!]!++;
}

/** The histogram smoothed by two box passes of radius `r` bins. */
function smoothHistogram(counts: Int32Array, r: number): Float64Array {
  let a = Float64Array.from(counts);
  for (let pass = 0; pass < 2; pass++) {
    const b = new Float64Array(a.length);
    let s = 0;
    for (let i = 0; i <= r && i < a.length; i++) s += a[i]!;
    for (let i = 0; i < a.length; i++) {
      b[i] = s / (2 * r + 1);
      if (i + r + 1 < a.length) s += a[i + r + 1]!;
      if (i - r >= 0) s -= a[i - r]!;
    }
    a = b;
  }
  return a;
}

type Rgb = readonly [number, number, number];

function hexToRgb(hex: string): Rgb {
  const c = parseHexColor(hex);
  return [c.r, c.g, c.b];
}

function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const max = Math.max(r, g, b);
  const d = max - Math.min(r, g, b);
  let hue = 0;
  if (d > 0) {
    if (max === r) hue = 60 * (((g - b) / d + 6) % 6);
    else if (max === g) hue = 60 * ((b - r) / d + 2);
    else hue = 60 * ((r - g) / d + 4);
  }
  return [hue, max === 0 ? 0 : d / max, max / 255];
}

function hsvToRgb(hue: number, s: number, v: number): Rgb {
  const hh = (((hue % 360) + 360) % 360) / 60;
  const c = v * s;
  const x = c * (1 - Math.abs((hh % 2) - 1));
  const m = v - c;
  const [r, g, b] =
    hh < 1
      ? [c, x, 0]
      : hh < 2
        ? [x, c, 0]
        : hh < 3
          ? [0, c, x]
          : hh < 4
            ? [0, x, c]
            : hh < 5
              ? [x, 0, c]
              : [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
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
  if (d <= 12 * SCALE || d <= 0.15 * max) return HUE_BINS;
  let hue: number;
  if (max === r) hue = (g - b) / d;
  else if (max === g) hue = (b - r) / d + 2;
  else hue = (r - g) / d + 4;
  return Math.round((((hue + 6) % 6) * HUE_BINS) / 6) % HUE_BINS;
}

/** For hue-rotate: `bin * levels` per pixel (rows of `w`); tileColors adds the level. */
function hueBaseMap(planes: Planes, levels: number): Uint16Array {
  const { w, h, stride } = planes;
  const base = new Uint16Array(w * h);
  for (let row = 0; row < h; row++) hueRow(planes, row * stride, levels, base, row * w, w);
  return base;
}

/** Hue bins of colours quantised to 6 bits a channel, made on first use (256 KiB). */
let hueBins: Uint8Array | undefined;

function hueBinTable(): Uint8Array {
  if (hueBins) return hueBins;
  const table = new Uint8Array(1 << 18);
  const step = MAX_VALUE / 63;
  for (let r = 0; r < 64; r++) {
    for (let g = 0; g < 64; g++) {
      for (let b = 0; b < 64; b++) table[(r << 12) | (g << 6) | b] = hueBin(r * step, g * step, b * step);
    }
  }
  hueBins = table;
  return table;
}

function hueRow(planes: Planes, i: number, levels: number, base: Uint16Array, o: number, w: number): void {
  const { rgb } = planes;
  if (!rgb) {
    base.fill(HUE_BINS * levels, o, o + w);
    return;
  }
  const [rp, gp, bp] = rgb;
  const table = hueBinTable();
  // 0–1020 to 0–63, rounded.
  const q = 63 / MAX_VALUE;
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

/** Where one tile goes in the output. */
interface TileRect {
  readonly x0: number;
  readonly y0: number;
  readonly tw: number;
  readonly th: number;
}

/** The output: interleaved RGB or RGBA bytes, with a 32-bit view for whole-word writes. */
interface Canvas {
  readonly data: Uint8Array;
  readonly words: Uint32Array;
  readonly W: number;
  readonly oc: 3 | 4;
}

/**
 * Flat painting, RGB, four pixels per three 32-bit words: each tile turns the indices of four
 * neighbours (3 bits each, so palettes of up to 8 colours) into 12 bytes by one look-up in a
 * 4096-entry table of its colours.
 */
class PackedPainter {
  readonly #src: IndexSource;
  /** Codes of four pixels, per row from `head` pixels in, made when a tile first needs them. */
  readonly #codes: ({ codes: Uint16Array; groups: number } | undefined)[] = [
    undefined,
    undefined,
    undefined,
    undefined,
  ];

  constructor(src: IndexSource) {
    this.#src = src;
  }

  #codesFrom(head: number): { codes: Uint16Array; groups: number } {
    const cached = this.#codes[head];
    if (cached) return cached;
    const { values, stride, lut, w, h } = this.#src;
    const groups = Math.max(0, Math.floor((w - head) / 4));
    const codes = new Uint16Array(groups * h);
    for (let row = 0; row < h; row++) codeRow(values, row * stride + head, lut, codes, row * groups, groups);
    const entry = { codes, groups };
    this.#codes[head] = entry;
    return entry;
  }

  /** Paints the part of the tile the map covers; see {@link extendTile} for the rest. */
  paint(out: Canvas, rect: TileRect, colors: Uint8Array): void {
    const table = packedTable(colors);
    const { data, words, W } = out;
    const { values, stride, lut, w, h } = this.#src;
    const cols = Math.min(rect.tw, w);
    const rows = Math.min(rect.th, h);
    for (let yy = 0; yy < rows; yy++) {
      const s = yy * stride;
      const p0 = (rect.y0 + yy) * W + rect.x0;
      const head = Math.min(cols, (4 - (p0 & 3)) & 3);
      const { codes, groups } = this.#codesFrom(head);
      const d = p0 * 3;
      pixelsRow(data, d, values, s, head, lut, colors);
      packedRow(words, (d + head * 3) >> 2, codes, yy * groups, groups, table);
      const done = head + groups * 4;
      pixelsRow(data, d + done * 3, values, s + done, cols - done, lut, colors);
    }
  }
}

/**
 * The 12 bytes of every combination of four indices, as three words each. Only codes whose
 * indices are all below the palette size occur, so only those are filled.
 */
function packedTable(colors: Uint8Array): Uint32Array {
  const count = colors.length / 3;
  const table = new Uint32Array(4096 * 3);
  const bytes = new Uint8Array(table.buffer);
  for (let a = 0; a < count; a++) {
    for (let b = 0; b < count; b++) {
      for (let c = 0; c < count; c++) {
        for (let d = 0; d < count; d++) {
          const o = (a | (b << 3) | (c << 6) | (d << 9)) * 12;
          bytes.set(colors.subarray(a * 3, a * 3 + 3), o);
          bytes.set(colors.subarray(b * 3, b * 3 + 3), o + 3);
          bytes.set(colors.subarray(c * 3, c * 3 + 3), o + 6);
          bytes.set(colors.subarray(d * 3, d * 3 + 3), o + 9);
        }
      }
    }
  }
  return table;
}

function codeRow(
  values: Uint16Array,
  s: number,
  lut: Uint8Array,
  codes: Uint16Array,
  o: number,
  groups: number,
): void {
  for (let g = 0; g < groups; g++, o++, s += 4) {
    codes[o] =
      lut[values[s]!]! |
      (lut[values[s + 1]!]! << 3) |
      (lut[values[s + 2]!]! << 6) |
      (lut[values[s + 3]!]! << 9);
  }
}

function packedRow(
  words: Uint32Array,
  q: number,
  codes: Uint16Array,
  c: number,
  groups: number,
  table: Uint32Array,
): void {
  for (let end = c + groups; c < end; c++, q += 3) {
    const k = codes[c]! * 3;
    words[q] = table[k]!;
    words[q + 1] = table[k + 1]!;
    words[q + 2] = table[k + 2]!;
  }
}

function pixelsRow(
  data: Uint8Array,
  d: number,
  values: Uint16Array,
  s: number,
  count: number,
  lut: Uint8Array,
  colors: Uint8Array,
): void {
  for (let x = 0; x < count; x++, s++, d += 3) {
    const k = lut[values[s]!]! * 3;
    data[d] = colors[k]!;
    data[d + 1] = colors[k + 1]!;
    data[d + 2] = colors[k + 2]!;
  }
}

/** Flat painting one pixel at a time: any palette size, RGB or RGBA (alpha from the map). */
function paintPixels(
  out: Canvas,
  rect: TileRect,
  src: IndexSource,
  alpha: Uint8Array | undefined,
  colors: Uint8Array,
): void {
  const { data, words, W, oc } = out;
  const { values, stride, lut, w, h } = src;
  const cols = Math.min(rect.tw, w);
  const rows = Math.min(rect.th, h);
  if (oc === 4 && LITTLE_ENDIAN) {
    const rgb = new Uint32Array(colors.length / 3);
    for (let k = 0; k < rgb.length; k++)
      rgb[k] = colors[3 * k]! | (colors[3 * k + 1]! << 8) | (colors[3 * k + 2]! << 16);
    for (let yy = 0; yy < rows; yy++) {
      rgbaWordsRow(words, (rect.y0 + yy) * W + rect.x0, values, yy * stride, alpha, yy * w, cols, lut, rgb);
    }
    return;
  }
  for (let yy = 0; yy < rows; yy++) {
    const d = ((rect.y0 + yy) * W + rect.x0) * oc;
    if (oc === 3) pixelsRow(data, d, values, yy * stride, cols, lut, colors);
    else rgbaBytesRow(data, d, values, yy * stride, alpha, yy * w, cols, lut, colors);
  }
}

function rgbaWordsRow(
  words: Uint32Array,
  p: number,
  values: Uint16Array,
  s: number,
  alpha: Uint8Array | undefined,
  a: number,
  count: number,
  lut: Uint8Array,
  rgb: Uint32Array,
): void {
  for (let x = 0; x < count; x++, p++, s++, a++)
    words[p] = rgb[lut[values[s]!]!]! | ((alpha ? alpha[a]! : 255) << 24);
}

function rgbaBytesRow(
  data: Uint8Array,
  d: number,
  values: Uint16Array,
  s: number,
  alpha: Uint8Array | undefined,
  a: number,
  count: number,
  lut: Uint8Array,
  colors: Uint8Array,
): void {
  for (let x = 0; x < count; x++, d += 4, s++, a++) {
    const k = lut[values[s]!]! * 3;
    data[d] = colors[k]!;
    data[d + 1] = colors[k + 1]!;
    data[d + 2] = colors[k + 2]!;
    data[d + 3] = alpha ? alpha[a]! : 255;
  }
}

/** A tile one pixel wider or taller than the map repeats its last column and row. */
function extendTile(out: Canvas, rect: TileRect, w: number, h: number): void {
  const { data, W, oc } = out;
  const cols = Math.min(rect.tw, w);
  const rows = Math.min(rect.th, h);
  if (rect.tw > cols) {
    for (let yy = 0; yy < rows; yy++) {
      const rowStart = ((rect.y0 + yy) * W + rect.x0) * oc;
      for (let x = cols; x < rect.tw; x++) {
        const e = rowStart + x * oc;
        data.copyWithin(e, e - oc, e);
      }
    }
  }
  const rowBytes = rect.tw * oc;
  const last = ((rect.y0 + rows - 1) * W + rect.x0) * oc;
  for (let yy = rows; yy < rect.th; yy++)
    data.copyWithin(((rect.y0 + yy) * W + rect.x0) * oc, last, last + rowBytes);
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
  planes: Planes,
  tone: Uint8Array,
  hueBase: Uint16Array | undefined,
  ht: Halftone,
): HalftoneMap {
  const { w, h, stride } = planes;
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
  planes: Planes,
  s: number,
  row: number,
  tone: Uint8Array,
  hueBase: Uint16Array | undefined,
  ht: Halftone,
  map: HalftoneMap,
  count: number,
): number {
  const { y, w } = planes;
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

/** Blends the dots of a halftone map over a tile already painted with its background. */
function blendDots(out: Canvas, rect: TileRect, map: HalftoneMap, colors: Uint8Array): void {
  const { data, W, oc } = out;
  const { x: xs, y: ys, other, cover, count } = map;
  for (let i = 0; i < count; i++) {
    const x = xs[i]!;
    const y = ys[i]!;
    if (x >= rect.tw || y >= rect.th) continue;
    const d = ((rect.y0 + y) * W + rect.x0 + x) * oc;
    const k = other[i]! * 3;
    const f = cover[i]!;
    const g = 256 - f;
    data[d] = (data[d]! * g + colors[k]! * f + 128) >> 8;
    data[d + 1] = (data[d + 1]! * g + colors[k + 1]! * f + 128) >> 8;
    data[d + 2] = (data[d + 2]! * g + colors[k + 2]! * f + 128) >> 8;
  }
}

/** Fills a rectangle with one colour: one pixel, then doubling copies, then row copies. */
function fillRect(out: Canvas, x0: number, y0: number, rw: number, rh: number, color: Uint8Array): void {
  if (rw <= 0 || rh <= 0) return;
  const { data, W, oc } = out;
  const start = (y0 * W + x0) * oc;
  const len = rw * oc;
  data.set(color.subarray(0, oc), start);
  for (let filled = oc; filled < len; filled *= 2) {
    data.copyWithin(start + filled, start, start + Math.min(filled, len - filled));
  }
  for (let row = 1; row < rh; row++) data.copyWithin(start + row * W * oc, start, start + len);
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
  apply({ image, params, signal, progress }) {
    return renderPopArt(image, params, signal, progress);
  },
});

function renderPopArt(
  image: RawImage,
  params: PopArtParams,
  signal: AbortSignal,
  progress: (fraction: number) => void,
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

  const planes = downscale(image, w, h, hueRotate);
  signal.throwIfAborted();
  smooth(planes, (params.smoothing / 100) * Math.min(w, h));
  progress(0.4);
  signal.throwIfAborted();

  const { level, tone } = posterise(planes, levels, 3);
  const hueBase = hueRotate ? hueBaseMap(planes, levels) : undefined;
  let src: IndexSource;
  let dots: HalftoneMap | undefined;
  if (params.halftone) {
    const period = Math.max(3, Math.round((params.dotSize / 100) * Math.min(w, h)));
    dots = halftoneMap(planes, tone, hueBase, makeHalftone(levels, period));
    src = { values: dots.background, stride: w, lut: IDENTITY, w, h };
  } else if (hueBase) {
    for (let row = 0; row < h; row++) addLevelRow(hueBase, planes.y, row * planes.stride, level, row * w, w);
    src = { values: hueBase, stride: w, lut: IDENTITY, w, h };
  } else {
    src = { values: planes.y, stride: planes.stride, lut: level, w, h };
  }
  signal.throwIfAborted();

  const data = new Uint8Array(W * H * oc);
  const out: Canvas = { data, words: new Uint32Array(data.buffer, 0, data.length >> 2), W, oc };
  if (gap > 0) {
    const gc = gutterColor;
    const color = Uint8Array.of(gc.r, gc.g, gc.b, oc === 4 ? gc.alpha : 255);
    for (let i = 1; i < columns; i++) {
      const end = xs[i - 1]!.start + xs[i - 1]!.size;
      fillRect(out, end, 0, xs[i]!.start - end, H, color);
    }
    for (let i = 1; i < rows; i++) {
      const end = ys[i - 1]!.start + ys[i - 1]!.size;
      fillRect(out, 0, end, W, ys[i]!.start - end, color);
    }
  }
  const packed = oc === 3 && !hueRotate && LITTLE_ENDIAN ? new PackedPainter(src) : undefined;
  const tiles = columns * rows;
  for (let t = 0; t < tiles; t++) {
    const sx = xs[t % columns]!;
    const sy = ys[Math.floor(t / columns)]!;
    const rect: TileRect = { x0: sx.start, y0: sy.start, tw: sx.size, th: sy.size };
    if (rect.tw === 0 || rect.th === 0) continue;
    const colors = tileColors(palette, t, tiles, levels);
    if (packed) packed.paint(out, rect, colors);
    else paintPixels(out, rect, src, planes.a, colors);
    if (dots) blendDots(out, rect, dots, colors);
    extendTile(out, rect, w, h);
    progress(0.4 + (0.6 * (t + 1)) / tiles);
  }
  return { data, width: W, height: H, channels: oc };
}
