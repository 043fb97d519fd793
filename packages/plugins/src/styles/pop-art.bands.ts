// The pop art's painting of the output as a band kernel, in a module of its own that imports only
// `@atelier/core/kernels`: the engine's helper threads load it without the SDK.
import {
  bandKernel,
  histogramU16,
  paintLevels,
  quarterSampleRows,
  quarterSamples,
} from '@atelier/core/kernels';
import type { QuarterSampleRows } from '@atelier/core/kernels';

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Words per tile in {@link PaintArgs.packed}: three for each of the 4096 codes of four indices. */
export const PACKED_WORDS = 4096 * 3;

/** The dots of a halftone map (see the plugin's halftoneMap), in map rows from top to bottom. */
export interface Dots {
  readonly count: number;
  readonly x: Uint16Array;
  /** Map row of each dot: ascending. */
  readonly y: Uint16Array;
  /** Palette index of the dot's colour. */
  readonly other: Uint16Array;
  /** Coverage, 0–256. */
  readonly cover: Uint16Array;
}

/**
 * What {@link paintBand} gets: the output, the tile grid, the tile-sized index map and each
 * tile's colours. Plain data: helper threads get it by structured clone (the large arrays are
 * shared).
 */
export interface PaintArgs {
  /** Interleaved RGB or RGBA bytes, `W * H * oc`. */
  readonly data: Uint8Array;
  readonly W: number;
  readonly H: number;
  readonly oc: 3 | 4;
  /** Per tile column (row), its first pixel and width (height): `[start0, size0, start1, ...]`. */
  readonly xs: Int32Array;
  readonly ys: Int32Array;
  /** Per pixel of the map (rows of `stride`), `lut[values[i]]` is the palette index. */
  readonly values: Uint16Array;
  readonly stride: number;
  readonly lut: Uint8Array;
  /** Map size. */
  readonly w: number;
  readonly h: number;
  /** The map's alpha (rows of `w`), for RGBA output; 255 where undefined. */
  readonly alpha: Uint8Array | undefined;
  /** Each tile's colours (RGB triples by palette index), `colorStride` bytes a tile. */
  readonly colors: Uint8Array;
  readonly colorStride: number;
  /** Each tile's {@link PACKED_WORDS} words (see packedTable), for RGB palettes of up to 8 colours. */
  readonly packed: Uint32Array | undefined;
  readonly dots: Dots | undefined;
  /** The gutter colour (4 bytes; the first `oc` are used) when there are gutters. */
  readonly gutter: Uint8Array | undefined;
  /**
   * For previews (ctx.previewScale < 1) with `values` a tone plane and `lut` its levels: each
   * pixel is painted as the mean of four samples of the plane (see supersampledRow), so a level
   * boundary that crosses a pixel mixes its two colours, as the real render scaled down does.
   */
  readonly supersampled: boolean;
  /**
   * Where each level starts (the first tone of levels 1 to levels - 1), when the tiles are painted
   * with core's paintLevels: flat RGB, every tile exactly the map's size (`w` wide) with no gutter,
   * `lut` the levels. Otherwise undefined.
   */
  readonly thresholds: Uint16Array | undefined;
}

/**
 * Map rows `m0` to `m1 - 1`, painted into every tile row: for each map row, the output row it
 * gives in each tile row (its gutters, each tile's part of the row, its halftone dots and, for a
 * tile wider than the map, its last pixel repeated). A tile taller than the map repeats the map's
 * last row: the band with the last map row paints those rows, and the gutter rows between tile
 * rows. A map row's codes (see codeRow) are made once and serve all the tiles it is painted in,
 * whichever thread paints it; each output row depends only on the map and the tables, so bands
 * run on any thread in any order with the same result.
 */
export const paintBand = bandKernel(
  import.meta.url,
  'paintBand',
  (a: PaintArgs, m0: number, m1: number, abort): void => {
    const { data, W, oc, xs, ys, values, stride, lut, w, h, alpha, colorStride, packed, dots } = a;
    const columns = xs.length >> 1;
    const tileRows = ys.length >> 1;
    const words = new Uint32Array(data.buffer, data.byteOffset, data.length >> 2);
    const tiles = columns * tileRows;
    const colors: Uint8Array[] = [];
    const tables: Uint32Array[] = [];
    const rgbWords: Uint32Array[] = [];
    const wideColors: Int32Array[] = [];
    const samples = a.supersampled ? quarterSampleRows(w) : undefined;
    for (let t = 0; t < tiles; t++) {
      const c = a.colors.subarray(t * colorStride, (t + 1) * colorStride);
      colors.push(c);
      if (a.supersampled) wideColors.push(wideTable(c));
      if (packed) tables.push(packed.subarray(t * PACKED_WORDS, (t + 1) * PACKED_WORDS));
      if (oc === 4 && LITTLE_ENDIAN) {
        const rgb = new Uint32Array(c.length / 3);
        for (let k = 0; k < rgb.length; k++)
          rgb[k] = c[3 * k]! | (c[3 * k + 1]! << 8) | (c[3 * k + 2]! << 16);
        rgbWords.push(rgb);
      }
    }
    // The current map row's codes, per head (how many pixels a tile's row paints one by one
    // before its first aligned group of four): made on first use, for all the rows it is painted in.
    const groups = Math.max(0, w >> 2);
    const codes = packed ? [0, 1, 2, 3].map(() => new Uint16Array(groups)) : [];
    const codesOf = Int32Array.of(-1, -1, -1, -1);

    /** Output row `Y` of tile row `r`, from map row `my`. */
    const paintRow = (Y: number, r: number, my: number): void => {
      if (a.gutter) columnGutters(a, a.gutter, Y);
      const th = ys[2 * r + 1]!;
      const s = my * stride;
      for (let c = 0; c < columns; c++) {
        const x0 = xs[2 * c]!;
        const tw = xs[2 * c + 1]!;
        if (tw === 0 || th === 0) continue;
        const t = r * columns + c;
        const cols = Math.min(tw, w);
        const p0 = Y * W + x0;
        if (samples) {
          supersampledRow(data, p0 * oc, oc, samples, my * w, cols, lut, wideColors[t]!, alpha);
        } else if (packed) {
          const head = Math.min(cols, (4 - (p0 & 3)) & 3);
          const full = Math.max(0, Math.floor((w - head) / 4));
          const d = p0 * 3;
          pixelsRow(data, d, values, s, head, lut, colors[t]!);
          const row = codes[head]!;
          if (codesOf[head] !== my) {
            codeRow(values, s + head, lut, row, 0, full);
            codesOf[head] = my;
          }
          packedRow(words, (d + head * 3) >> 2, row, 0, full, tables[t]!);
          const done = head + full * 4;
          pixelsRow(data, d + done * 3, values, s + done, cols - done, lut, colors[t]!);
        } else if (oc === 4 && LITTLE_ENDIAN) {
          rgbaWordsRow(words, p0, values, s, alpha, my * w, cols, lut, rgbWords[t]!);
        } else if (oc === 3) {
          pixelsRow(data, p0 * 3, values, s, cols, lut, colors[t]!);
        } else {
          rgbaBytesRow(data, p0 * 4, values, s, alpha, my * w, cols, lut, colors[t]!);
        }
        if (dots) blendDotsRow(data, p0 * oc, oc, dots, my, tw, colors[t]!);
        // A tile wider than the map repeats its last column.
        for (let x = cols; x < tw; x++) {
          const e = (p0 + x) * oc;
          data.copyWithin(e, e - oc, e);
        }
      }
    };

    if (a.thresholds) {
      // Each tile row's rows m0 to m1 - 1 in one call; a tile taller than the map repeats its last row.
      for (let r = 0; r < tileRows; r++) {
        const ty = ys[2 * r]!;
        const th = ys[2 * r + 1]!;
        const palettes = colors.slice(r * columns, (r + 1) * columns);
        paintLevels({
          values,
          stride,
          width: w,
          y0: m0,
          y1: m1,
          thresholds: a.thresholds,
          palettes,
          out: data,
          offset: (ty + m0) * W * 3,
          outStride: W * 3,
        });
        if (m1 === h)
          for (let Y = ty + h; Y < ty + th; Y++) data.copyWithin(Y * W * 3, (Y - 1) * W * 3, Y * W * 3);
        abort.throwIfAborted();
      }
      return;
    }
    for (let my = m0; my < m1; my++) {
      // The map row's samples, once for all the tiles it is painted in.
      if (samples) quarterSamples(values, w, h, my, samples, stride);
      for (let r = 0; r < tileRows; r++) {
        const ty = ys[2 * r]!;
        const th = ys[2 * r + 1]!;
        if (th === 0) continue;
        paintRow(ty + my, r, my);
        // The map's last row also paints the rows of a tile taller than the map.
        if (my === h - 1) for (let Y = ty + h; Y < ty + th; Y++) paintRow(Y, r, my);
      }
      if ((my & 63) === 0) abort.throwIfAborted();
    }
    // The gutter rows between tile rows, with the map's last row.
    if (a.gutter && m1 === h) {
      for (let r = 1; r < tileRows; r++) {
        for (let Y = ys[2 * r - 2]! + ys[2 * r - 1]!; Y < ys[2 * r]!; Y++) fillRow(a, a.gutter, Y, 0, W);
      }
    }
  },
);

/** What {@link countBand} gets: a plane of tone values and the histogram to add them to. */
export interface CountArgs {
  /** `w` values a row, rows of `stride`. */
  readonly values: Uint16Array;
  readonly stride: number;
  readonly w: number;
  /** One count per value (shared when there are helper threads): bands add theirs atomically. */
  readonly counts: Int32Array;
}

/**
 * Adds the values of rows `y0` to `y1 - 1` to the histogram: counted in tables of the band's
 * own, then added bin by bin, so any split gives the same counts.
 */
export const countBand = bandKernel(
  import.meta.url,
  'countBand',
  (a: CountArgs, y0: number, y1: number): void => {
    const { values, stride, w, counts } = a;
    const own = new Int32Array(counts.length);
    histogramU16(values, stride, w, y0, y1, own);
    for (let v = 0; v < own.length; v++) if (own[v] !== 0) Atomics.add(counts, v, own[v]!);
  },
);

/** The gutters between tile columns on output row `Y` (a row of a tile row). */
function columnGutters(a: PaintArgs, color: Uint8Array, Y: number): void {
  const { xs } = a;
  for (let i = 1; i < xs.length >> 1; i++) {
    const end = xs[2 * i - 2]! + xs[2 * i - 1]!;
    fillRow(a, color, Y, end, xs[2 * i]! - end);
  }
}

/** Fills `count` pixels of row `Y` from `x0` with one colour: one pixel, then doubling copies. */
function fillRow(a: PaintArgs, color: Uint8Array, Y: number, x0: number, count: number): void {
  if (count <= 0) return;
  const { data, W, oc } = a;
  const start = (Y * W + x0) * oc;
  const len = count * oc;
  data.set(color.subarray(0, oc), start);
  for (let filled = oc; filled < len; filled *= 2)
    data.copyWithin(start + filled, start, start + Math.min(filled, len - filled));
}

/** Blends the dots of map row `my` (those left of `tw`) over a tile row painted from byte `d`. */
function blendDotsRow(
  data: Uint8Array,
  d: number,
  oc: number,
  dots: Dots,
  my: number,
  tw: number,
  colors: Uint8Array,
): void {
  const { x: xs, y: ys, other, cover, count } = dots;
  // The first dot of the row: dots are listed row by row.
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ys[mid]! < my) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < count && ys[i] === my; i++) {
    const x = xs[i]!;
    if (x >= tw) continue;
    const o = d + x * oc;
    const k = other[i]! * 3;
    const f = cover[i]!;
    const g = 256 - f;
    data[o] = (data[o]! * g + colors[k]! * f + 128) >> 8;
    data[o + 1] = (data[o + 1]! * g + colors[k + 1]! * f + 128) >> 8;
    data[o + 2] = (data[o + 2]! * g + colors[k + 2]! * f + 128) >> 8;
  }
}

/**
 * The 12 bytes of every combination of four indices, as three words each, written to `table`
 * from word `at`. Only codes whose indices are all below the palette size occur, so only those
 * are filled.
 */
export function packedTable(colors: Uint8Array, table: Uint32Array, at: number): void {
  const count = colors.length / 3;
  const bytes = new Uint8Array(table.buffer, table.byteOffset + at * 4, PACKED_WORDS * 4);
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

/**
 * A tile's colours as words of three 10-bit fields, `r | g << 10 | b << 20`: four of them add
 * up without carries (4 x 255 < 1024).
 */
function wideTable(colors: Uint8Array): Int32Array {
  const wide = new Int32Array(colors.length / 3);
  for (let k = 0; k < wide.length; k++)
    wide[k] = colors[3 * k]! | (colors[3 * k + 1]! << 10) | (colors[3 * k + 2]! << 20);
  return wide;
}

/**
 * One tile row of a preview: each pixel the mean colour of its four samples of the tone plane
 * (`samples`, see core's quarterSamples), each posterised through `lut`. Where a level boundary
 * runs through a pixel, the pixel takes the two colours in about the share of it each side covers;
 * a real render, whose tiles are several times larger, has the boundary at a finer place and shows
 * that mix once scaled down. Flat areas come out as they would painted from one sample.
 */
function supersampledRow(
  data: Uint8Array,
  d: number,
  oc: number,
  samples: QuarterSampleRows,
  a: number,
  count: number,
  lut: Uint8Array,
  wide: Int32Array,
  alpha: Uint8Array | undefined,
): void {
  const { ul, ur, dl, dr } = samples;
  for (let x = 0; x < count; x++, a++, d += oc) {
    // The four colours' sums, per channel in 10 bits of one word (see wideTable); the samples of
    // the integer tones are sixteenths, rounded to the nearest tone.
    const sum =
      wide[lut[(ul[x]! + 0.5) | 0]!]! +
      wide[lut[(ur[x]! + 0.5) | 0]!]! +
      wide[lut[(dl[x]! + 0.5) | 0]!]! +
      wide[lut[(dr[x]! + 0.5) | 0]!]!;
    data[d] = ((sum & 1023) + 2) >> 2;
    data[d + 1] = (((sum >> 10) & 1023) + 2) >> 2;
    data[d + 2] = ((sum >> 20) + 2) >> 2;
    if (oc === 4) data[d + 3] = alpha ? alpha[a]! : 255;
  }
}
