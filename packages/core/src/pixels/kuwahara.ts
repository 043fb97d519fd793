import { bandKernel, bandThreads, isShared, runBands, sharedArray, toShared } from '../parallel/bands.ts';
import { kuwaharaRowsSimd } from './simd.ts';

/** Arguments of {@link kuwaharaFilter}. */
export interface KuwaharaArgs {
  /** Interleaved 8-bit RGB, `width * height * 3` bytes. */
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  /**
   * Sector radius in pixels, 1 to 50. Each of the eight sectors is a `(2r+1)²` square whose
   * centre is `r` pixels from the pixel (`r√2` for the diagonal ones), so the window spans
   * about `4r + 1` pixels.
   */
  readonly radius: number;
  /**
   * How strongly the most uniform sector wins: a sector's weight is `(variance + 1)^-sharpness`.
   * 1 to 2 blends sectors softly (smooth, rounded shapes), 4 and up approaches the classic
   * filter that picks one sector (crisper, but the square sectors start to show). 1 to 8,
   * fractions allowed.
   * @default 4
   */
  readonly sharpness?: number;
  /**
   * Optional stroke directions: unit tangents (along edges) on a grid of `factor`-pixel cells,
   * e.g. a {@link FlowField}. The sector layout is turned to follow the tangent, so dabs are
   * laid along edges and strokes instead of in an axis-aligned grid.
   */
  readonly flow?: {
    readonly tx: Float32Array;
    readonly ty: Float32Array;
    readonly width: number;
    readonly height: number;
    readonly factor: number;
  };
  /**
   * Extra weight of the two sectors straddling the stroke line (ahead and behind along the
   * tangent): `1 + anisotropy` times, the diagonal ones `1 + anisotropy / 4`. Where the image is
   * textured rather than edged this smears paint along the strokes.
   * @default 0
   */
  readonly anisotropy?: number;
  /** Where to write the result (`width * height * 3` bytes, not `data`); allocated when omitted. */
  readonly out?: Uint8Array;
  /** Checked every 32 rows, so a cancelled run stops within a few milliseconds. */
  readonly signal?: AbortSignal;
}

/** Sector variance floor, in squared 8-bit units summed over R, G and B (about JPEG noise). */
const VARIANCE_FLOOR = 1;

/** Floor of a sector weight, so that weights never underflow to 0 in Float32. */
const MIN_WEIGHT = 1e-36;

/** Largest sector radius: 32-bit box sums of squares cannot overflow, offsets fit in 8 bits. */
const MAX_RADIUS = 50;

/**
 * Sector centres in the stroke's frame, in units of the radius: (along, across). Order matters
 * only for the preference weights: along, across, diagonal.
 */
const ALONG = Float64Array.of(1, -1, 0, 0, 1, -1, 1, -1);
const ACROSS = Float64Array.of(0, 0, 1, -1, 1, -1, -1, 1);

/**
 * The generalised Kuwahara filter over eight square sectors: each pixel becomes the mean colour
 * of its neighbourhood's most uniform sectors, weighted by `(variance + 1)^-sharpness` (the smooth
 * weighting of Papari, Petkov and Campisi 2007 instead of a hard minimum, so there is no
 * flicker between equal sectors). Flat areas become flat paint and edges stay sharp, without
 * halos.
 *
 * Why square sectors: their means and variances are box filters, and a box filter costs O(1) per
 * pixel whatever its size, so this runs in constant time per pixel at any radius: all eight
 * sectors read the same box statistics at eight offsets. Box sums are exact 32-bit integers
 * (running sums), streamed row by row: besides `out`, memory is a few dozen rows of statistics,
 * whatever the image size.
 *
 * With a `flow`, the eight sector centres (ahead, behind, both sides and the four diagonals) are
 * turned to the local stroke direction (rounded to whole pixels), an anisotropic Kuwahara filter
 * at the price of the isotropic one. Without, they are the four quadrants and four half-windows.
 * Borders repeat the edge pixels.
 *
 * @returns `out`: interleaved 8-bit RGB.
 *
 * @example
 * const painted = kuwaharaFilter({ data: image.data, width: image.width, height: image.height, radius: 3 });
 */
export function kuwaharaFilter(args: KuwaharaArgs): Uint8Array {
  const { data, width: w, height: h } = args;
  const n = w * h;
  if (!(w > 0 && h > 0) || data.length < n * 3)
    throw new Error('kuwaharaFilter: data must hold width * height * 3 bytes');
  const r = Math.min(MAX_RADIUS, Math.max(1, Math.floor(args.radius)));
  const sharpness = Math.min(8, Math.max(1, args.sharpness ?? 4));
  const q = Math.floor(sharpness);
  const qf = sharpness - q;
  const out = args.out ?? sharedArray(Uint8Array, n * 3);
  if (out.length < n * 3 || out === data)
    throw new Error('kuwaharaFilter: out must be a separate width * height * 3 buffer');
  const flow = args.flow ?? {
    tx: new Float32Array([1]),
    ty: new Float32Array([0]),
    width: 1,
    height: 1,
    factor: Math.max(w, h),
  };
  const cells = flow.width * flow.height;
  if (flow.tx.length < cells || flow.ty.length < cells)
    throw new Error('kuwaharaFilter: flow planes too small');
  const anisotropy = Math.max(0, args.anisotropy ?? 0);
  // Bands of rows on the run's threads: each recomputes the statistics of its halo (the rows
  // within `reach` of it), exact integers, so every row comes out as in one pass.
  const reach = Math.round(r * Math.SQRT2);
  const parallel = bandThreads() > 1;
  const target = parallel && !isShared(out) ? sharedArray(Uint8Array, n * 3) : out;
  runBands(
    kuwaharaBand,
    {
      data: toShared(data),
      width: w,
      height: h,
      r,
      q,
      qf,
      tx: toShared(flow.tx),
      ty: toShared(flow.ty),
      flowWidth: flow.width,
      flowHeight: flow.height,
      factor: Math.max(1, flow.factor),
      pAlong: 1 + anisotropy,
      pDiag: 1 + anisotropy / 4,
      out: target,
    },
    h,
    // Twelve bands a thread: a band recomputes its halo (reach rows, a few percent of a band),
    // and the thread that finishes first waits for the other's last band, a twelfth of its share.
    {
      minBand: Math.max(64, 8 * reach),
      bandsPerThread: 12,
      ...(args.signal ? { signal: args.signal } : {}),
    },
  );
  if (target !== out) out.set(target.subarray(0, n * 3));
  return out;
}

/** What {@link kuwaharaBand} gets: {@link KuwaharaArgs} resolved to plain data. */
interface KuwaharaBandArgs {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly r: number;
  readonly q: number;
  readonly qf: number;
  readonly tx: Float32Array;
  readonly ty: Float32Array;
  readonly flowWidth: number;
  readonly flowHeight: number;
  readonly factor: number;
  readonly pAlong: number;
  readonly pDiag: number;
  readonly out: Uint8Array;
}

/** Rows `y0` to `y1 - 1` of {@link kuwaharaFilter}. */
export const kuwaharaBand = bandKernel(
  import.meta.url,
  'kuwaharaBand',
  (args: KuwaharaBandArgs, y0: number, y1: number, abort): void => {
    const { data, width: w, height: h, r, q, qf, tx, ty, factor, pAlong, pDiag, out } = args;
    const flowWidth = args.flowWidth;
    const flowHeight = args.flowHeight;

    // No offset is longer than r√2 in x or y.
    const reach = Math.round(r * Math.SQRT2);
    const rowLen = w * 4;
    // Sector terms of the rows y - reach .. y + reach, streamed through a ring of 2S rows in which
    // every row is stored twice (slot and slot + S), so the window is always contiguous and the
    // per-cell `delta` steps work unchanged. Rows above and below the image repeat the edge rows.
    // With WebAssembly SIMD the ring, the offsets and the cells are the kernel module's memory,
    // and the pixels whose sectors all lie inside the image are summed there.
    const S = 2 * reach + 1;
    const simd = kuwaharaRowsSimd(2 * S * rowLen, flowWidth * 8, w);
    const ring = simd?.ring ?? (scratch('ring', 2 * S * rowLen) as Float32Array);
    // Sector offsets for the current row of cells: in x and y, and as a step in the row ring
    // (4 floats per pixel). Rebuilt when the cell row changes.
    const ox = new Int8Array(flowWidth * 8);
    const oy = new Int8Array(flowWidth * 8);
    const delta = simd?.delta ?? new Int32Array(flowWidth * 8);
    let cellRowBuilt = -1;
    const cellCol = simd?.cells ?? new Int32Array(w);
    for (let x = 0; x < w; x++) cellCol[x] = Math.min(flowWidth - 1, Math.floor(x / factor)) * 8;
    // The weights in single precision, as the sums are made.
    const along = Math.fround(pAlong);
    const diag = Math.fround(pDiag);
    // The statistics start at the band's first halo row (row 0 when that is above the image).
    const start = Math.max(0, y0 - reach);
    const rows = new SectorRows(data, w, h, r, q, qf, start);
    const first = new Float32Array(rowLen);
    if (start === 0) rows.next(first, 0);
    let written = y0 - reach - 1;
    const lastX = w - 1;
    const lastY = h - 1;
    for (let y = y0; y < y1; y++) {
      if ((y & 31) === 0) abort.throwIfAborted();
      const want = y + reach;
      while (written < want) {
        written++;
        const at = ((written + reach) % S) * rowLen;
        if (written <= 0) ring.set(first, at);
        else if (written <= lastY) rows.next(ring, at);
        else {
          const previous = ((written - 1 + reach) % S) * rowLen;
          ring.copyWithin(at, previous, previous + rowLen);
        }
        ring.copyWithin(at + S * rowLen, at, at + rowLen);
      }
      const base = ((y % S) + reach) * rowLen;
      const cellRow = Math.min(flowHeight - 1, Math.floor(y / factor));
      if (cellRow !== cellRowBuilt) {
        cellRowBuilt = cellRow;
        sectorOffsets(tx, ty, cellRow * flowWidth, flowWidth, r, rowLen, ox, oy, delta);
      }
      // Inside (every sector within the image) in the kernel; the edges here.
      const inside = simd ? Math.max(0, Math.min(w, lastX - reach + 1) - reach) : 0;
      if (inside > 0) simd!.row(base, reach, reach + inside, along, diag, out, (y * w + reach) * 3);
      pixelsRow(ring, out, cellCol, delta, ox, oy, base, y, w, reach, rowLen, inside, along, diag);
    }
  },
);

/**
 * The box statistics of every `(2r+1)²` window, one row at a time and in order, already turned
 * into the terms the filter sums: (W, W·R, W·G, W·B) with
 * `W = (variance + floor)^-q · (1 - qf + qf / (variance + floor))`, so the per-pixel loop does no
 * division. Sums are exact integers: horizontal running sums per row, kept in a ring of `2r + 2`
 * rows, and vertical running sums per column; rows beyond the image repeat the edge rows.
 */
class SectorRows {
  readonly #src: Uint8Array;
  readonly #w: number;
  readonly #h: number;
  readonly #r: number;
  readonly #q: number;
  readonly #qf: number;
  readonly #slots: number;
  readonly #sums: Int32Array;
  readonly #sumRow: Int32Array;
  readonly #acc: Int32Array;
  readonly #inv: number;
  #y = 0;

  /** `start`: the first row `next` gives. */
  constructor(src: Uint8Array, w: number, h: number, r: number, q: number, qf: number, start = 0) {
    this.#src = src;
    this.#w = w;
    this.#h = h;
    this.#r = r;
    this.#q = q;
    this.#qf = qf;
    this.#slots = 2 * r + 2;
    this.#sums = scratch('sums', this.#slots * w * 4) as Int32Array;
    this.#sumRow = new Int32Array(this.#slots).fill(-1);
    this.#acc = (scratch('acc', w * 4) as Int32Array).fill(0);
    this.#inv = 1 / ((2 * r + 1) * (2 * r + 1));
    const last = h - 1;
    this.#y = start;
    for (let k = start - r; k <= start + r; k++) {
      const b = this.#rowSums(k < 0 ? 0 : k > last ? last : k);
      for (let i = 0; i < w * 4; i++) this.#acc[i]! += this.#sums[b + i]!;
    }
  }

  /** Writes the terms of the next row (starting at row 0) to `dst` at `offset`. */
  next(dst: Float32Array, offset: number): void {
    const acc = this.#acc;
    const inv = this.#inv;
    const q = this.#q;
    const qf = this.#qf;
    const n = this.#w * 4;
    for (let i = 0; i < n; i += 4) {
      const m0 = acc[i]! * inv;
      const m1 = acc[i + 1]! * inv;
      const m2 = acc[i + 2]! * inv;
      const v = acc[i + 3]! * inv - m0 * m0 - m1 * m1 - m2 * m2;
      const iv = 1 / ((v < 0 ? 0 : v) + VARIANCE_FLOOR);
      let wt = (q === 3 ? iv * iv * iv : q === 4 ? iv * iv * (iv * iv) : power(iv, q)) * (1 - qf + qf * iv);
      if (wt < MIN_WEIGHT) wt = MIN_WEIGHT;
      const o = offset + i;
      dst[o] = wt;
      dst[o + 1] = wt * m0;
      dst[o + 2] = wt * m1;
      dst[o + 3] = wt * m2;
    }
    const y = this.#y++;
    const last = this.#h - 1;
    if (y >= last) return;
    const r = this.#r;
    const add = this.#rowSums(y + r + 1 > last ? last : y + r + 1);
    const sub = this.#rowSums(y - r < 0 ? 0 : y - r);
    const sums = this.#sums;
    for (let i = 0; i < n; i++) acc[i]! += sums[add + i]! - sums[sub + i]!;
  }

  /** Offset in `#sums` of the horizontal sums of row `y`, computing them if needed. */
  #rowSums(y: number): number {
    const slot = y % this.#slots;
    const base = slot * this.#w * 4;
    if (this.#sumRow[slot] !== y) {
      this.#sumRow[slot] = y;
      horizontalSums(this.#src, this.#w, y, this.#r, this.#sums, base);
    }
    return base;
  }
}

/** Horizontal window sums of R, G, B, R²+G²+B² for row `y`, written at `dst[base..]`. */
function horizontalSums(
  src: Uint8Array,
  w: number,
  y: number,
  r: number,
  dst: Int32Array,
  base: number,
): void {
  const row = y * w * 3;
  const lastX = w - 1;
  let sr = 0;
  let sg = 0;
  let sb = 0;
  let ss = 0;
  for (let k = -r; k <= r; k++) {
    const i = row + (k < 0 ? 0 : k > lastX ? lastX : k) * 3;
    const a = src[i]!;
    const b = src[i + 1]!;
    const c = src[i + 2]!;
    sr += a;
    sg += b;
    sb += c;
    ss += a * a + b * b + c * c;
  }
  for (let x = 0; x < w; x++) {
    const o = base + x * 4;
    dst[o] = sr;
    dst[o + 1] = sg;
    dst[o + 2] = sb;
    dst[o + 3] = ss;
    const ia = row + (x + r + 1 > lastX ? lastX : x + r + 1) * 3;
    const id = row + (x - r < 0 ? 0 : x - r) * 3;
    const a0 = src[ia]!;
    const a1 = src[ia + 1]!;
    const a2 = src[ia + 2]!;
    const d0 = src[id]!;
    const d1 = src[id + 1]!;
    const d2 = src[id + 2]!;
    sr += a0 - d0;
    sg += a1 - d1;
    sb += a2 - d2;
    ss += a0 * a0 + a1 * a1 + a2 * a2 - d0 * d0 - d1 * d1 - d2 * d2;
  }
}

/** Offsets of the eight sectors for `count` cells starting at cell `first`, turned to the tangents. */
function sectorOffsets(
  tx: Float32Array,
  ty: Float32Array,
  first: number,
  count: number,
  r: number,
  rowLen: number,
  ox: Int8Array,
  oy: Int8Array,
  delta: Int32Array,
): void {
  // Sectors come in opposite pairs (ALONG and ACROSS negated): half the roundings.
  for (let c = 0; c < count; c++) {
    const cx = r * tx[first + c]!;
    const cy = r * ty[first + c]!;
    const o = c * 8;
    for (let k = 0; k < 8; k += 2) {
      const u = ALONG[k]!;
      const v = ACROSS[k]!;
      const dx = Math.round(u * cx - v * cy);
      const dy = Math.round(u * cy + v * cx);
      ox[o + k] = dx;
      oy[o + k] = dy;
      delta[o + k] = dy * rowLen + dx * 4;
      ox[o + k + 1] = -dx;
      oy[o + k + 1] = -dy;
      delta[o + k + 1] = -dy * rowLen - dx * 4;
    }
  }
}

/**
 * Row `y` of {@link kuwaharaBand} in JavaScript, but for the `inside` pixels from `reach` on (the
 * SIMD kernel's): each pixel's eight sectors (at `delta`, or clamped to the image near its left
 * and right edges) summed and divided. A function per row, so V8 optimises it whole (with
 * `sectorSum` inlined, no float boxed) instead of a loop inside the band compiled on stack
 * replacement at every render.
 */
function pixelsRow(
  ring: Float32Array,
  out: Uint8Array,
  cellCol: Int32Array,
  delta: Int32Array,
  ox: Int8Array,
  oy: Int8Array,
  base: number,
  y: number,
  w: number,
  reach: number,
  rowLen: number,
  inside: number,
  along: number,
  diag: number,
): void {
  const lastX = w - 1;
  for (let x = 0; x < w; x++) {
    if (inside > 0 && x === reach) x += inside;
    if (x >= w) break;
    const c = cellCol[x]!;
    const p = base + x * 4;
    let i0: number, i1: number, i2: number, i3: number, i4: number, i5: number, i6: number, i7: number;
    if (x >= reach && x <= lastX - reach) {
      i0 = p + delta[c]!;
      i1 = p + delta[c + 1]!;
      i2 = p + delta[c + 2]!;
      i3 = p + delta[c + 3]!;
      i4 = p + delta[c + 4]!;
      i5 = p + delta[c + 5]!;
      i6 = p + delta[c + 6]!;
      i7 = p + delta[c + 7]!;
    } else {
      i0 = clampedX(base, x, ox[c]!, oy[c]!, lastX, rowLen);
      i1 = clampedX(base, x, ox[c + 1]!, oy[c + 1]!, lastX, rowLen);
      i2 = clampedX(base, x, ox[c + 2]!, oy[c + 2]!, lastX, rowLen);
      i3 = clampedX(base, x, ox[c + 3]!, oy[c + 3]!, lastX, rowLen);
      i4 = clampedX(base, x, ox[c + 4]!, oy[c + 4]!, lastX, rowLen);
      i5 = clampedX(base, x, ox[c + 5]!, oy[c + 5]!, lastX, rowLen);
      i6 = clampedX(base, x, ox[c + 6]!, oy[c + 6]!, lastX, rowLen);
      i7 = clampedX(base, x, ox[c + 7]!, oy[c + 7]!, lastX, rowLen);
    }
    // The eight sectors, unrolled by hand (a helper writing to an accumulator array is ~40%
    // slower), summed by preference class first: along, across, diagonal; in single
    // precision, as the SIMD kernel sums the four terms of a sector in one instruction.
    const sw = sectorSum(ring, i0, i1, i2, i3, i4, i5, i6, i7, along, diag);
    const ar = sectorSum(ring, i0 + 1, i1 + 1, i2 + 1, i3 + 1, i4 + 1, i5 + 1, i6 + 1, i7 + 1, along, diag);
    const ag = sectorSum(ring, i0 + 2, i1 + 2, i2 + 2, i3 + 2, i4 + 2, i5 + 2, i6 + 2, i7 + 2, along, diag);
    const ab = sectorSum(ring, i0 + 3, i1 + 3, i2 + 3, i3 + 3, i4 + 3, i5 + 3, i6 + 3, i7 + 3, along, diag);
    const o = (y * w + x) * 3;
    const s = Math.fround(1 / sw);
    out[o] = Math.fround(Math.fround(ar * s) + 0.5);
    out[o + 1] = Math.fround(Math.fround(ag * s) + 0.5);
    out[o + 2] = Math.fround(Math.fround(ab * s) + 0.5);
  }
}

/**
 * `along (s0 + s1) + (s2 + s3) + diag (s4 + s5 + s6 + s7)` of the ring's samples at `i0` to `i7`,
 * each step rounded to single precision (as the SIMD kernel computes it).
 */
function sectorSum(
  ring: Float32Array,
  i0: number,
  i1: number,
  i2: number,
  i3: number,
  i4: number,
  i5: number,
  i6: number,
  i7: number,
  along: number,
  diag: number,
): number {
  const f = Math.fround;
  const first = f(f(along * f(ring[i0]! + ring[i1]!)) + f(ring[i2]! + ring[i3]!));
  return f(first + f(diag * f(f(f(ring[i4]! + ring[i5]!) + ring[i6]!) + ring[i7]!)));
}

/** Index in the ring of pixel (x + dx, y + dy), with x + dx clamped to the image. */
function clampedX(base: number, x: number, dx: number, dy: number, lastX: number, rowLen: number): number {
  let sx = x + dx;
  sx = sx < 0 ? 0 : sx > lastX ? lastX : sx;
  return base + dy * rowLen + sx * 4;
}

/**
 * This thread's scratch arrays, kept between bands and calls: a large image's bands would
 * otherwise each leave megabytes of statistics rows behind for the garbage collector. Every
 * element is written before it is read (`acc` is cleared by its user).
 */
const scratches = new Map<string, Float32Array | Int32Array>();

function scratch(kind: 'ring' | 'sums' | 'acc', length: number): Float32Array | Int32Array {
  let array = scratches.get(kind);
  if (!array || array.length < length) {
    array = kind === 'ring' ? new Float32Array(length) : new Int32Array(length);
    scratches.set(kind, array);
  }
  return array.length === length ? array : array.subarray(0, length);
}

/** `base^exponent` for a small positive integer exponent. */
function power(base: number, exponent: number): number {
  let p = base;
  for (let e = 1; e < exponent; e++) p *= base;
  return p;
}
