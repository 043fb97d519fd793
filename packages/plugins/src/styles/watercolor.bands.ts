// The watercolour's full-resolution painting as a band kernel, in a module of its own that
// imports only `@atelier/core/kernels`: the engine's helper threads load it without the SDK.
import { BilinearUpsampler, bandKernel } from '@atelier/core/kernels';

/**
 * Floats kept per working pixel: colour (0-2), its x and y slopes (3-8), their size (9), one
 * unused (10), turbulence (11), wetness (12), the nearest palette colours (13-15).
 */
export const STRIDE = 16;
/** Palette colours nearest to each working pixel, kept as the candidates for its full-resolution pixels. */
export const CANDIDATES = 3; // nearestThree
/** How much of the photo's shading inside a wash is kept (0: perfectly flat washes). */
const GRADED = 0.45;
/** exp(-e) for e in [0, 4], in steps of 1 / 64 (linear between them: within 3e-5). */
const EXP_STEPS = 64;
const EXP_TABLE = (() => {
  const t = new Float64Array(4 * EXP_STEPS + 2);
  for (let i = 0; i < t.length; i++) t[i] = Math.exp(-i / EXP_STEPS);
  return t;
})();

/**
 * Writes the size of the slopes (slots 3 to 8, as stored) of working pixels `from` to
 * `from + count - 1` into their slot 9: the Frobenius norm, which bounds how fast any colour
 * difference changes there. The painting uses it to skip the slopes far from every boundary.
 */
export function slopeSizes(field: Float32Array, from: number, count: number): void {
  for (let o = from * STRIDE, end = (from + count) * STRIDE; o < end; o += STRIDE) {
    const sr = field[o + 3]!;
    const sg = field[o + 4]!;
    const sb = field[o + 5]!;
    const tr = field[o + 6]!;
    const tg = field[o + 7]!;
    const tb = field[o + 8]!;
    field[o + 9] = Math.sqrt(sr * sr + sg * sg + sb * sb + tr * tr + tg * tg + tb * tb);
  }
}

/**
 * What {@link paintBand} gets: the output, the working-size field, wobble and palette, textures,
 * constants. Plain data: helper threads get it by structured clone (the large arrays are shared).
 */
export interface PaintArgs {
  readonly out: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly lw: number;
  readonly lh: number;
  readonly factor: number;
  readonly field: Float32Array;
  readonly palette: Float32Array;
  readonly washes: Float32Array;
  readonly whiteOf: Float32Array;
  readonly paper: Float32Array;
  readonly paperSize: number;
  /** Pigment settling per point of the paper (from its heights; averaged like them in a preview). */
  readonly hollow: Float32Array;
  /** ctx.previewScale: a preview reads the paper at the real render's pixel in the middle of each of its own. */
  readonly previewScale: number;
  readonly relief: Float32Array;
  readonly grain: Float32Array;
  readonly grainSize: number;
  /** The wobble displacement at working size, in units of `wobble` pixels. */
  readonly wobbleX: Float32Array;
  readonly wobbleY: Float32Array;
  readonly wobble: number;
  readonly px: number;
  readonly hardWidth: number;
  readonly wetWidth: number;
  readonly rimWidth: number;
  readonly wetBias: number;
  readonly kEdge: number;
  readonly kGran: number;
  readonly kRelief: number;
  readonly kPaper: number;
}

/**
 * Full-resolution rows `y0` to `y1 - 1`: each row depends only on the working-size data, so bands
 * run on any thread in any order with the same result.
 */
export const paintBand = bandKernel(
  import.meta.url,
  'paintBand',
  (a: PaintArgs, y0: number, y1: number, abort): void => {
    const { width, paperSize, grainSize, previewScale } = a;
    // The real render's pixel at the middle of each of this run's (the same in a real render).
    const fullX = (x: number): number => (previewScale < 1 ? Math.floor((x + 0.5) / previewScale) : x);
    const paperCol = new Int32Array(width);
    const grainCol = new Int32Array(width);
    for (let x = 0; x < width; x++) {
      paperCol[x] = fullX(x) % paperSize;
      grainCol[x] = fullX(x) % grainSize;
    }
    // At working size (factor 1: previews, small images) the wobble planes are read as they are;
    // larger images upsample them a row at a time.
    const upW =
      a.factor === 1
        ? undefined
        : new BilinearUpsampler([a.wobbleX, a.wobbleY], a.lw, a.lh, width, a.height, a.factor);
    const rowX = new Float32Array(width);
    const rowY = new Float32Array(width);
    const rows: PaintRows = { ...a, paperCol, grainCol, rowX, rowY };
    for (let y = y0; y < y1; y++) {
      if (upW) {
        upW.row(y, rowX, 0);
        upW.row(y, rowY, 1);
      } else {
        rows.rowX = a.wobbleX.subarray(y * width, (y + 1) * width);
        rows.rowY = a.wobbleY.subarray(y * width, (y + 1) * width);
      }
      const fy = fullX(y);
      paintRow(rows, y, (fy % paperSize) * paperSize, (fy % grainSize) * grainSize);
      if ((y & 63) === 0) abort.throwIfAborted();
    }
  },
);

/** What {@link paintRow} needs: the band's arguments, and the tile columns and wobble of the current row. */
interface PaintRows extends PaintArgs {
  readonly paperCol: Int32Array;
  readonly grainCol: Int32Array;
  /** The wobble displacement of the current row, in units of `wobble` pixels. */
  rowX: Float32Array;
  rowY: Float32Array;
}

/**
 * One full-resolution row: washes, their boundaries and pigment density. A function per row, so
 * V8 optimises it at once instead of entering a long loop on-stack.
 */
function paintRow(rows: PaintRows, y: number, paperRow: number, grainRow: number): void {
  const { out, width, lw, lh, factor, field, palette, washes, whiteOf, paper, hollow, relief, grain } = rows;
  const { paperCol, grainCol, rowX, rowY, wobble, px, hardWidth, wetWidth, rimWidth, wetBias } = rows;
  const { kEdge, kGran, kRelief, kPaper } = rows;
  const kTurb = 0.22;
  const invRim = 1 / rimWidth;
  const invSoft = 1 / (10 * px);
  const inv = 1 / factor;
  const maxU = lw - 1;
  const maxV = lh - 1;
  // Each cell's three candidates differ from each other when the palette has three colours.
  const distinct = palette.length >= 3 * CANDIDATES;
  // Beyond this distance from a boundary (full-resolution pixels) a pixel has neither a blend
  // (the widest edge) nor a rim (e ≥ 4), with a margin for rounding.
  const farAway = Math.max(hardWidth, wetWidth, 4 * rimWidth) * 1.001;
  let o = y * width * 3;
  for (let x = 0; x < width; x++, o += 3) {
    let u = (x + rowX[x]! * wobble + 0.5) * inv - 0.5;
    let v = (y + rowY[x]! * wobble + 0.5) * inv - 0.5;
    u = u < 0 ? 0 : u > maxU ? maxU : u;
    v = v < 0 ? 0 : v > maxV ? maxV : v;
    const ix = u | 0;
    const iy = v | 0;
    const fx = u - ix;
    const fy = v - iy;
    const i00 = (iy * lw + ix) * STRIDE;
    const i01 = i00 + (ix < maxU ? STRIDE : 0);
    const i10 = i00 + (iy < maxV ? lw * STRIDE : 0);
    const i11 = i10 + (i01 - i00);
    const w00 = (1 - fx) * (1 - fy);
    const w01 = fx * (1 - fy);
    const w10 = (1 - fx) * fy;
    const w11 = fx * fy;
    const r = field[i00 + 0]! * w00 + field[i01 + 0]! * w01 + field[i10 + 0]! * w10 + field[i11 + 0]! * w11;
    const g = field[i00 + 1]! * w00 + field[i01 + 1]! * w01 + field[i10 + 1]! * w10 + field[i11 + 1]! * w11;
    const b = field[i00 + 2]! * w00 + field[i01 + 2]! * w01 + field[i10 + 2]! * w10 + field[i11 + 2]! * w11;

    // Nearest and second-nearest wash colours, among the candidates of two opposite corners:
    // first the three of one corner (distinct when the palette has three colours or more).
    let d1 = 1e9;
    let d2 = 1e9;
    let n1 = -1;
    let n2 = -1;
    let j = 0;
    if (distinct) {
      const qa = field[i00 + 13]! | 0;
      const qb = field[i00 + 14]! | 0;
      const qc = field[i00 + 15]! | 0;
      let er = r - palette[qa]!;
      let eg = g - palette[qa + 1]!;
      let eb = b - palette[qa + 2]!;
      const da = er * er + eg * eg + eb * eb;
      er = r - palette[qb]!;
      eg = g - palette[qb + 1]!;
      eb = b - palette[qb + 2]!;
      const db = er * er + eg * eg + eb * eb;
      er = r - palette[qc]!;
      eg = g - palette[qc + 1]!;
      eb = b - palette[qc + 2]!;
      const dc = er * er + eg * eg + eb * eb;
      if (db < da) {
        d1 = db;
        n1 = qb;
        d2 = da;
        n2 = qa;
      } else {
        d1 = da;
        n1 = qa;
        d2 = db;
        n2 = qb;
      }
      if (dc < d1) {
        d2 = d1;
        n2 = n1;
        d1 = dc;
        n1 = qc;
      } else if (dc < d2) {
        d2 = dc;
        n2 = qc;
      }
      j = CANDIDATES;
    }
    // Then the other corner's, unless they are the same (the same cell of the colour grid, as
    // is usual), skipping those already taken.
    const corners =
      field[i11 + 13] === field[i00 + 13] &&
      field[i11 + 14] === field[i00 + 14] &&
      field[i11 + 15] === field[i00 + 15]
        ? CANDIDATES
        : 2 * CANDIDATES;
    for (; j < corners; j++) {
      const q = field[(j < CANDIDATES ? i00 + 13 : i11 + 13 - CANDIDATES) + j]! | 0;
      if (q === n1 || q === n2) continue;
      const er = r - palette[q]!;
      const eg = g - palette[q + 1]!;
      const eb = b - palette[q + 2]!;
      const d = er * er + eg * eg + eb * eb;
      if (d < d1) {
        d2 = d1;
        n2 = n1;
        d1 = d;
        n1 = q;
      } else if (d < d2) {
        d2 = d;
        n2 = q;
      }
    }
    if (n2 < 0) n2 = n1; // a one-colour palette
    const ar = palette[n1]! - palette[n2]!;
    const ag = palette[n1 + 1]! - palette[n2 + 1]!;
    const ab = palette[n1 + 2]! - palette[n2 + 2]!;
    const step = ar * ar + ag * ag + ab * ab;
    // Far from the boundary between them the pixel is all wash n1, without a rim: the gap's
    // slope |(A - B) . dS| is at most |A - B| times the slopes' size (slot 9, interpolated: a
    // bound, as the norm is convex), so the gap alone can tell, without the slopes.
    const slopes =
      field[i00 + 9]! * w00 + field[i01 + 9]! * w01 + field[i10 + 9]! * w10 + field[i11 + 9]! * w11;
    const gap = (d2 - d1) * factor - farAway * 1e-6;
    let t = 1;
    let rim = 0;
    if (!(gap > 0 && gap * gap >= 4 * farAway * farAway * slopes * slopes * step)) {
      // Distance to the boundary, in full-resolution pixels: the gap d2 - d1 is linear in the
      // colour, its slope is 2 (A - B) . dS.
      const gx =
        ar * (field[i00 + 3]! * w00 + field[i01 + 3]! * w01 + field[i10 + 3]! * w10 + field[i11 + 3]! * w11) +
        ag * (field[i00 + 4]! * w00 + field[i01 + 4]! * w01 + field[i10 + 4]! * w10 + field[i11 + 4]! * w11) +
        ab * (field[i00 + 5]! * w00 + field[i01 + 5]! * w01 + field[i10 + 5]! * w10 + field[i11 + 5]! * w11);
      const gy =
        ar * (field[i00 + 6]! * w00 + field[i01 + 6]! * w01 + field[i10 + 6]! * w10 + field[i11 + 6]! * w11) +
        ag * (field[i00 + 7]! * w00 + field[i01 + 7]! * w01 + field[i10 + 7]! * w10 + field[i11 + 7]! * w11) +
        ab * (field[i00 + 8]! * w00 + field[i01 + 8]! * w01 + field[i10 + 8]! * w10 + field[i11 + 8]! * w11);
      const perSlope = factor / (2 * Math.sqrt(gx * gx + gy * gy) + 1e-6);
      const dist = (d2 - d1) * perSlope;
      // How far the photo takes to go from one wash colour to the other: short at an edge in
      // the photo (a hard edge), long where it only shades (a soft, wet-in-wet blend).
      const span = step * perSlope;
      let wet =
        field[i00 + 12]! * w00 +
        field[i01 + 12]! * w01 +
        field[i10 + 12]! * w10 +
        field[i11 + 12]! * w11 -
        wetBias;
      wet = wet < 0 ? 0 : wet > 0.35 ? 1 : wet / 0.35;
      let soft = (span - 2 * px) * invSoft;
      soft = soft < 0 ? 0 : soft > 1 ? 1 : soft;
      if (wet > soft) soft = wet;
      const edgeWidth = hardWidth + (wetWidth - hardWidth) * soft;
      t = 0.5 + dist / (2 * edgeWidth);
      t = t > 1 ? 1 : t * t * (3 - 2 * t);
      // Pigment pooled at hard edges, as strong as the step between the washes.
      const e = dist * invRim;
      if (e < 4) {
        const contrast = step > 0.09 ? 1 : Math.sqrt(step / 0.09);
        const k = e * EXP_STEPS;
        const ki = k | 0;
        const e0 = EXP_TABLE[ki]!;
        rim = (e0 + (EXP_TABLE[ki + 1]! - e0) * (k - ki)) * (1 - soft) * contrast;
      }
    }
    const cr0 = washes[n2]! + (washes[n1]! - washes[n2]!) * t;
    const cg0 = washes[n2 + 1]! + (washes[n1 + 1]! - washes[n2 + 1]!) * t;
    const cb0 = washes[n2 + 2]! + (washes[n1 + 2]! - washes[n2 + 2]!) * t;
    // Graded washes: some of the photo's shading inside a wash, none on white paper.
    const paint = (1 - (whiteOf[n2]! + (whiteOf[n1]! - whiteOf[n2]!) * t)) * GRADED;
    const pr0 = palette[n2]! + ar * t;
    const pg0 = palette[n2 + 1]! + ag * t;
    const pb0 = palette[n2 + 2]! + ab * t;
    const cr = cr0 + (r - pr0) * paint;
    const cg = cg0 + (g - pg0) * paint;
    const cb = cb0 + (b - pb0) * paint;

    // Pigment density: pooled at hard edges (the rim), uneven (turbulence), settled into the
    // paper's hollows (granulation).
    const pi = paperRow + paperCol[x]!;
    const h = paper[pi]!;
    const gr = grain[grainRow + grainCol[x]!]!;
    const dens =
      kEdge * rim +
      kTurb *
        (field[i00 + 11]! * w00 + field[i01 + 11]! * w01 + field[i10 + 11]! * w10 + field[i11 + 11]! * w11) +
      kGran * hollow[pi]! * (0.6 + 0.4 * gr) -
      kPaper * h;
    const light = 255 * (1 + kRelief * relief[pi]!);
    out[o] = pigmentTone(cr, dens, light);
    out[o + 1] = pigmentTone(cg, dens, light);
    out[o + 2] = pigmentTone(cb, dens, light);
  }
}

/** Bousseau's pigment density model for one channel (0..1), density offset `d - 1`, times `light`. */
function pigmentTone(c: number, dens: number, light: number): number {
  const cc = c < 0 ? 0 : c > 1 ? 1 : c;
  const v = (cc - (cc - cc * cc) * dens) * light;
  return v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
}
