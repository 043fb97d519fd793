// WebAssembly SIMD versions of pixel loops that V8 runs one sample at a time: the module (simd.wat,
// assembled into simd-wasm.ts) works on rows copied into its own memory, 2 (doubles) to 16 (bytes)
// samples an instruction. Every function here gives exactly what its JavaScript twin gives, sample for
// sample (simd.test.ts), and returns false (or uses the twin) where WebAssembly SIMD is missing,
// so callers keep one result on every platform.
import { SIMD_WASM_BASE64 } from './simd-wasm.ts';

/**
 * The part of the WebAssembly JavaScript API used here. Declared here because the SDK's compiler
 * settings have no DOM library (where TypeScript declares `WebAssembly`).
 */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: object };
}

interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

/** The module's exports (see simd.wat for each function's contract). */
interface SimdExports {
  readonly memory: WasmMemory;
  halve_luma(src: number, rowBytes: number, w: number, rows: number, dst: number): void;
  binomial_rows(src: number, dst: number, n: number, rows: number): void;
  binomial_columns(src: number, dst: number, n: number, rows: number, first: number, count: number): void;
  box_rows(src: number, dst: number, n: number, w: number, rows: number, rad: number, pre: number): void;
  box_columns(
    src: number,
    dst: number,
    n: number,
    w: number,
    rows: number,
    first: number,
    count: number,
    rad: number,
    acc: number,
  ): void;
  count_values(src: number, n: number, counts: number, bins: number): number;
  paint_levels(
    src: number,
    stride: number,
    n: number,
    rows: number,
    thr: number,
    count: number,
    pal: number,
    tiles: number,
    out: number,
    outStride: number,
  ): void;
  luma_rgb(src: number, n: number, dst: number): void;
  pencil_lines(near: number, far: number, out: number, w: number, rows: number, weight: number): void;
  ink_rows(
    a: number,
    b: number,
    out: number,
    w: number,
    t: number,
    thr: number,
    ink: number,
    off: number,
    scale: number,
    last: number,
  ): void;
  widen_rows(
    planes: number,
    pitch: number,
    ww: number,
    src: number,
    left: number,
    right: number,
    fx: number,
    dst: number,
    w: number,
  ): void;
  kuwahara_row(
    ring: number,
    base: number,
    delta: number,
    cells: number,
    x0: number,
    x1: number,
    along: number,
    diag: number,
    out: number,
  ): void;
  bar_lines(
    m3: number,
    m2: number,
    c0: number,
    p2: number,
    p3: number,
    spans: number,
    spanCount: number,
    tables: number,
    scratch: number,
    outX: number,
    outC: number,
  ): number;
}

/**
 * About this many bytes of rows are copied in per call of a kernel: chunks stay in the caches, and
 * the module's memory (kept by each thread for good) stays small.
 */
const CHUNK_BYTES = 1 << 19;

const PAGE = 65536;

/** One thread's instance of the module and the views of its memory. */
class Simd {
  readonly #x: SimdExports;
  #u8: Uint8Array;
  #u16: Uint16Array;
  #i32: Int32Array;
  #f32: Float32Array;

  constructor(exports: SimdExports) {
    this.#x = exports;
    this.#u8 = new Uint8Array(exports.memory.buffer);
    this.#u16 = new Uint16Array(exports.memory.buffer);
    this.#i32 = new Int32Array(exports.memory.buffer);
    this.#f32 = new Float32Array(exports.memory.buffer);
  }

  get x(): SimdExports {
    return this.#x;
  }

  /** The memory as bytes, at least `bytes` long (grown when needed). */
  u8(bytes: number): Uint8Array {
    this.#ensure(bytes);
    return this.#u8;
  }

  u16(bytes: number): Uint16Array {
    this.#ensure(bytes);
    return this.#u16;
  }

  i32(bytes: number): Int32Array {
    this.#ensure(bytes);
    return this.#i32;
  }

  f32(bytes: number): Float32Array {
    this.#ensure(bytes);
    return this.#f32;
  }

  #ensure(bytes: number): void {
    const { memory } = this.#x;
    if (memory.buffer.byteLength >= bytes) return;
    memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
    this.#u8 = new Uint8Array(memory.buffer);
    this.#u16 = new Uint16Array(memory.buffer);
    this.#i32 = new Int32Array(memory.buffer);
    this.#f32 = new Float32Array(memory.buffer);
  }
}

let instance: Simd | null | undefined;
/** Counts the kernels' calls through {@link simd}: rows kept in the module are valid until it moves. */
let calls = 0;

/**
 * Throws when a kernel has run in this thread since call count `made`: rows kept in the module's
 * memory since then may have been overwritten, or their views detached by its growth.
 */
function checkCurrent(made: number, what: string): void {
  if (calls !== made) throw new Error(`${what}: another kernel has run since the rows were made`);
}
let enabled = readEnabled();

function readEnabled(): boolean {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.['ATELIER_SIMD']?.trim().toLowerCase() !== 'off';
}

function decodeBase64(text: string): Uint8Array {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const value = new Int8Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) value[alphabet.charCodeAt(i)] = i;
  const clean = text.replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    acc = (acc << 6) | value[clean.charCodeAt(i)]!;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 255;
    }
  }
  return out;
}

/**
 * This thread's SIMD kernels, made on first use; undefined where WebAssembly or its SIMD is
 * missing (the module does not validate) or when `ATELIER_SIMD=off`.
 */
function simd(): Simd | undefined {
  calls++;
  if (!enabled) return undefined;
  if (instance !== undefined) return instance ?? undefined;
  instance = null;
  const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (!wasm) return undefined;
  const bytes = decodeBase64(SIMD_WASM_BASE64);
  if (!wasm.validate(bytes)) return undefined;
  // The exports are what simd.wat declares (simd.test.ts calls each one).
  instance = new Simd(new wasm.Instance(new wasm.Module(bytes), {}).exports as SimdExports);
  return instance;
}

/**
 * True when this thread runs the WebAssembly SIMD kernels: the platform has WebAssembly SIMD and
 * `ATELIER_SIMD` is not `off`. Results are the same either way; only the speed differs.
 *
 * @example
 * console.log(simdAvailable() ? 'SIMD kernels' : 'JavaScript kernels');
 */
export function simdAvailable(): boolean {
  return simd() !== undefined;
}

/**
 * Turns the SIMD kernels off (or back on) in the calling thread, whatever `ATELIER_SIMD` says: for
 * tests and benchmarks that compare the two versions (the results are the same). Helper threads
 * of the engine follow `ATELIER_SIMD` only.
 *
 * @example
 * setSimdEnabled(false); // time the JavaScript kernels
 */
export function setSimdEnabled(on: boolean): void {
  enabled = on;
}

/** Rounds up to a multiple of 16 bytes. */
const align = (bytes: number): number => (bytes + 15) & ~15;

/**
 * Output rows `oy0` to `oy1 - 1` of a 2x2 halving of RGB into fixed-point luma (core's halveLuma):
 * output row `oy` from source rows `cy + 2 oy` and the next, pixels from column `cx`, `w` samples
 * into row `oy` of `y` (rows of `stride`). False, having done nothing, without SIMD.
 */
export function halveLumaSimd(
  data: Uint8Array,
  W: number,
  cx: number,
  cy: number,
  w: number,
  oy0: number,
  oy1: number,
  y: Uint16Array,
  stride: number,
): boolean {
  const s = simd();
  if (!s) return false;
  const rowBytes = W * 3;
  const chunk = Math.max(1, Math.floor(CHUNK_BYTES / (2 * rowBytes)));
  const dst = align(2 * chunk * rowBytes);
  const mem = s.u8(dst + chunk * w * 2);
  for (let oy = oy0; oy < oy1; oy += chunk) {
    const rows = Math.min(chunk, oy1 - oy);
    const from = ((cy + 2 * oy) * W + cx) * 3;
    // The last source row is needed only up to the crop's right edge.
    mem.set(data.subarray(from, from + (2 * rows - 1) * rowBytes + w * 6), 0);
    s.x.halve_luma(0, rowBytes, w, rows, dst);
    const out = s.u16(0).subarray(dst >> 1, (dst >> 1) + rows * w);
    if (stride === w) y.set(out, oy * stride);
    else for (let r = 0; r < rows; r++) y.set(out.subarray(r * w, (r + 1) * w), (oy + r) * stride);
  }
  return true;
}

/**
 * Rows `y0` to `y1 - 1` of one pass of gaussianBlurU16 over the plane `src` of `h` rows of `n`
 * samples, into the same rows of `dst`: with `rad` below 0 the 5-tap binomial (every sample of a
 * row), else a box of radius `rad` below 1024 (the first `w` samples of a row; the others are copied). `dst`
 * may be `src` itself for a whole-plane pass (`y0` 0): the rows above each chunk are kept from
 * before they were overwritten. False, having done nothing, without SIMD.
 */
export function blurPassSimd(
  src: Uint16Array,
  dst: Uint16Array,
  n: number,
  w: number,
  h: number,
  y0: number,
  y1: number,
  rad: number,
): boolean {
  const s = simd();
  // Wider boxes than the module's exact division allows (see simd.wat) stay in JavaScript.
  if (!s || rad >= 1024) return false;
  if (src === dst && y0 !== 0) throw new Error('blurPassSimd: in place only from the first row');
  const binomial = rad < 0;
  const halo = binomial ? 2 : rad;
  const rowBytes = n * 2;
  const chunk = Math.max(4, Math.floor(CHUNK_BYTES / rowBytes / 3));
  const rowsMax = chunk + 2 * halo;
  const a = 0;
  const t = align(rowsMax * rowBytes);
  const d = t + align(rowsMax * rowBytes);
  const pre = d + align(chunk * rowBytes);
  const acc = pre + align(4 * (w + 2 * halo + 1));
  s.u8(acc + align(4 * w));
  // Rows lo to held - 1 of the plane are at `a` (as they were) and at `t` (filtered along the
  // row), from their starts: each row is read and filtered along once, and the rows a chunk
  // shares with the next move to the front.
  let lo = Math.max(0, y0 - halo);
  let held = lo;
  for (let c0 = y0; c0 < y1; c0 += chunk) {
    const c1 = Math.min(y1, c0 + chunk);
    const hi = Math.min(h, c1 + halo);
    let mem = s.u16(0);
    if (hi > held) {
      mem.set(src.subarray(held * n, hi * n), (a >> 1) + (held - lo) * n);
      const from = (held - lo) * rowBytes;
      if (binomial) s.x.binomial_rows(a + from, t + from, n, hi - held);
      else s.x.box_rows(a + from, t + from, n, w, hi - held, rad, pre);
    }
    if (binomial) s.x.binomial_columns(t, d, n, hi - lo, c0 - lo, c1 - c0);
    else s.x.box_columns(t, d, n, w, hi - lo, c0 - lo, c1 - c0, rad, acc);
    mem = s.u16(0);
    // Before the chunk's rows are written to the plane: the rows the next chunk needs move to
    // the front (for a pass in place, the only copy left of those above it).
    const keep = Math.max(lo, c1 - halo);
    mem.copyWithin(a >> 1, (a >> 1) + (keep - lo) * n, (a >> 1) + (hi - lo) * n);
    mem.copyWithin(t >> 1, (t >> 1) + (keep - lo) * n, (t >> 1) + (hi - lo) * n);
    dst.set(mem.subarray(d >> 1, (d >> 1) + (c1 - c0) * n), c0 * n);
    lo = keep;
    held = hi;
  }
  return true;
}

/**
 * Adds the first `w` values of rows `y0` to `y1 - 1` of `values` (rows of `stride`) to `counts`,
 * one count per value. A value of `counts.length` or more is a RangeError, and then `counts` is
 * left as it was.
 *
 * @example
 * const counts = new Int32Array(1021);
 * histogramU16(planes.luma, planes.stride, planes.width, 0, planes.height, counts);
 */
export function histogramU16(
  values: Uint16Array,
  stride: number,
  w: number,
  y0: number,
  y1: number,
  counts: Int32Array,
): void {
  const bins = counts.length;
  if (w <= 0 || y1 <= y0) return;
  const s = simd();
  if (!s) {
    // Four tables, each counting every fourth value: in a flat area most values fall in one bin,
    // and with one table each increment would wait for the one before it to be stored.
    const own = new Int32Array(4 * bins);
    for (let y = y0; y < y1; y++) {
      if (!countRow(values, y * stride, y * stride + w, own, bins)) {
        let v = 0;
        for (let i = y * stride; i < y * stride + w; i++) v = Math.max(v, values[i]!);
        throw new RangeError(`histogramU16: value ${v} is not below ${bins}`);
      }
    }
    for (let v = 0; v < bins; v++)
      counts[v]! += own[v]! + own[bins + v]! + own[2 * bins + v]! + own[3 * bins + v]!;
    return;
  }
  const chunk = Math.max(1, Math.floor(CHUNK_BYTES / (w * 2)));
  const tables = align(chunk * w * 2);
  const end = tables + 16 * bins;
  s.i32(end).fill(0, tables >> 2, end >> 2);
  for (let y = y0; y < y1; y += chunk) {
    const rows = Math.min(chunk, y1 - y);
    const mem = s.u16(0);
    if (stride === w) mem.set(values.subarray(y * w, (y + rows) * w), 0);
    else
      for (let r = 0; r < rows; r++) mem.set(values.subarray((y + r) * stride, (y + r) * stride + w), r * w);
    if (s.x.count_values(0, rows * w, tables, bins) !== 0) {
      let v = 0;
      for (let i = 0; i < rows * w; i++) v = Math.max(v, mem[i]!);
      throw new RangeError(`histogramU16: value ${v} is not below ${bins}`);
    }
  }
  const t = s.i32(0);
  const b = tables >> 2;
  for (let v = 0; v < bins; v++)
    counts[v]! += t[b + v]! + t[b + bins + v]! + t[b + 2 * bins + v]! + t[b + 3 * bins + v]!;
}

/** Counts values `start` to `end - 1` of `y` in the four tables in `own`; false at a value past `bins`. */
function countRow(y: Uint16Array, start: number, end: number, own: Int32Array, bins: number): boolean {
  const b2 = 2 * bins;
  const b3 = 3 * bins;
  let i = start;
  for (const last = end - 3; i < last; i += 4) {
    const a = y[i]!;
    const b = y[i + 1]!;
    const c = y[i + 2]!;
    const d = y[i + 3]!;
    if (a >= bins || b >= bins || c >= bins || d >= bins) return false;
    own[a]!++;
    own[bins + b]!++;
    own[b2 + c]!++;
    own[b3 + d]!++;
  }
  for (; i < end; i++) {
    const a = y[i]!;
    if (a >= bins) return false;
    own[a]!++;
  }
  return true;
}

/** What {@link paintLevels} paints. */
export interface PaintLevelsArgs {
  /** Tones, `width` of them a row in rows of `stride`. */
  readonly values: Uint16Array;
  readonly stride: number;
  readonly width: number;
  /** The rows to paint: `y0` to `y1 - 1`. */
  readonly y0: number;
  readonly y1: number;
  /**
   * Where each level starts, whole numbers 0 to 65535, usually ascending: a tone's level is how
   * many of these it reaches (so `thresholds.length + 1` levels, at most 16).
   */
  readonly thresholds: ArrayLike<number>;
  /**
   * One palette per tile, RGB bytes by level (at least `3 * (thresholds.length + 1)` bytes):
   * each row is painted once per tile, the tiles side by side, `width` pixels each.
   */
  readonly palettes: readonly Uint8Array[];
  /** RGB output: row `y` starts at byte `offset + (y - y0) * outStride`. */
  readonly out: Uint8Array;
  readonly offset: number;
  readonly outStride: number;
}

/**
 * Flat RGB painting of posterised tones: each tone becomes its level's colour, in as many palettes
 * (tiles, side by side on each output row) as there are. With WebAssembly SIMD 16 pixels an
 * instruction sequence; the same bytes without.
 *
 * @example
 * // Two tiles of a three-level poster, each row of the map painted twice across.
 * paintLevels({ values: luma, stride, width: w, y0: 0, y1: h, thresholds: [340, 680],
 *   palettes: [warm, cold], out, offset: 0, outStride: 2 * w * 3 });
 */
export function paintLevels(args: PaintLevelsArgs): void {
  const { values, stride, width: w, y0, y1, thresholds, palettes, out, offset, outStride } = args;
  const count = thresholds.length;
  if (count > 15) throw new RangeError(`paintLevels: at most 16 levels, got ${count + 1}`);
  for (let t = 0; t < count; t++) {
    const v = thresholds[t]!;
    if (!(Number.isInteger(v) && v >= 0 && v <= 65535))
      throw new RangeError(`paintLevels: a threshold must be a whole number from 0 to 65535, got ${v}`);
  }
  for (const p of palettes) {
    if (p.length < 3 * (count + 1)) throw new RangeError(`paintLevels: a palette needs ${count + 1} colours`);
  }
  const rowBytes = palettes.length * w * 3;
  if (rowBytes > outStride && y1 - y0 > 1)
    throw new RangeError('paintLevels: the tiles are wider than outStride');
  if (y1 <= y0 || w <= 0 || palettes.length === 0) return;
  if (offset + (y1 - y0 - 1) * outStride + rowBytes > out.length)
    throw new RangeError('paintLevels: out is too small');
  const s = simd();
  if (!s) {
    for (let y = y0; y < y1; y++) {
      let o = offset + (y - y0) * outStride;
      for (const p of palettes) {
        for (let i = y * stride, end = i + w; i < end; i++, o += 3) {
          const v = values[i]!;
          let k = 0;
          for (let t = 0; t < count; t++) if (v >= thresholds[t]!) k++;
          out[o] = p[3 * k]!;
          out[o + 1] = p[3 * k + 1]!;
          out[o + 2] = p[3 * k + 2]!;
        }
      }
    }
    return;
  }
  // Layout: thresholds (32 bytes), palettes (48 bytes each), a chunk of tone rows, then the
  // painted rows.
  const pal = 32;
  const src = align(pal + 48 * palettes.length);
  const chunk = Math.max(1, Math.floor(CHUNK_BYTES / rowBytes));
  const dst = src + align(chunk * w * 2);
  const mem = s.u8(dst + chunk * rowBytes);
  const u16 = s.u16(0);
  for (let t = 0; t < count; t++) u16[t] = thresholds[t]!;
  palettes.forEach((p, t) => mem.set(p.subarray(0, 3 * (count + 1)), pal + 48 * t));
  for (let y = y0; y < y1; y += chunk) {
    const rows = Math.min(chunk, y1 - y);
    if (stride === w) u16.set(values.subarray(y * w, (y + rows) * w), src >> 1);
    else
      for (let r = 0; r < rows; r++)
        u16.set(values.subarray((y + r) * stride, (y + r) * stride + w), (src >> 1) + r * w);
    s.x.paint_levels(src, w, w, rows, 0, count, pal, palettes.length, dst, rowBytes);
    const o = offset + (y - y0) * outStride;
    if (outStride === rowBytes) out.set(mem.subarray(dst, dst + rows * rowBytes), o);
    else
      for (let r = 0; r < rows; r++)
        out.set(mem.subarray(dst + r * rowBytes, dst + (r + 1) * rowBytes), o + r * outStride);
  }
}

/** The tables {@link barLinesSimd} tests with (thin-lines.ts's StrengthTables). */
export interface BarTables {
  readonly darkFrom: Int16Array;
  readonly lightFrom: Int16Array;
  /** Per 16 levels of the pixel (level >> 4): the least darkFrom - level, then the least level - lightFrom (0-255). */
  readonly bounds: Uint8Array;
}

/**
 * thin-lines.ts's barRow on columns `x0` to `x1 - 1` of a row of `luma`, 16 pixels at a time, up
 * to its strength tables: `rows` are the offsets in `luma` of rows y - 3, y - 2, y, y + 2 and
 * y + 3 (row y's columns x0 - 3 to x1 + 2 and the others' x0 - 2 to x1 + 1 must exist). For
 * each pixel that passes barRow's first test with a dark or light contrast above 0 (as barRow
 * computes them), writes its column less `x0` to `xs` and (dark << 16) | light to `contrasts`
 * (both at least `x1 - x0` long), ascending; returns how many. With `spans`, only the columns in
 * the first `spanCount` spans `[spans[2k], spans[2k + 1])` (ascending, within x0 to x1) are
 * searched, as barRow called on each span in turn. -1, having done nothing, without SIMD.
 */
export function barLinesSimd(
  luma: Uint8Array,
  rows: readonly [number, number, number, number, number],
  x0: number,
  x1: number,
  tables: BarTables,
  xs: Int32Array,
  contrasts: Int32Array,
  spans?: Int32Array,
  spanCount = 0,
): number {
  const s = simd();
  if (!s) return -1;
  const n = x1 - x0;
  if (n <= 0) return 0;
  const count = spans ? spanCount : 1;
  if (spans) {
    for (let k = 0; k < count; k++) {
      const first = spans[2 * k]!;
      const end = spans[2 * k + 1]!;
      if (!(first >= x0 && end <= x1 && first <= end && (k === 0 || first >= spans[2 * k - 1]!)))
        throw new RangeError('barLinesSimd: the spans must be ascending and within x0 to x1');
    }
  }
  const [m3, m2, c0, p2, p3] = rows;
  if (x0 < 3 || Math.max(m3, m2, c0, p2, p3) + x1 + 3 > luma.length || xs.length < n || contrasts.length < n)
    throw new RangeError('barLinesSimd: rows, columns or buffers out of range');
  // Layout: darkFrom, lightFrom and the bounds (1056 bytes), a group's lanes (96), then the five
  // rows, column x0 of each 16 bytes in (room for the columns read before it and the loads past
  // its end), the spans, then the columns and contrasts found.
  const scratch = 1056;
  const rowsAt = 1152;
  const span = align(n + 40);
  const spansAt = rowsAt + 5 * span;
  const xsAt = spansAt + 8 * count;
  const csAt = xsAt + 4 * n;
  const mem = s.u8(csAt + 4 * n);
  const i32 = s.i32(0);
  if (spans) for (let k = 0; k < 2 * count; k++) i32[(spansAt >> 2) + k] = spans[k]! - x0;
  else {
    i32[spansAt >> 2] = 0;
    i32[(spansAt >> 2) + 1] = n;
  }
  mem.set(new Uint8Array(tables.darkFrom.buffer, tables.darkFrom.byteOffset, 512), 0);
  mem.set(new Uint8Array(tables.lightFrom.buffer, tables.lightFrom.byteOffset, 512), 512);
  mem.set(tables.bounds.subarray(0, 32), 1024);
  const before = [0, 2, 3, 2, 0] as const;
  const after = [0, 2, 3, 2, 0] as const;
  for (let k = 0; k < 5; k++) {
    const row = rows[k]!;
    mem.set(luma.subarray(row + x0 - before[k]!, row + x1 + after[k]!), rowsAt + k * span + 16 - before[k]!);
  }
  const at = (k: number): number => rowsAt + k * span + 16;
  const found = s.x.bar_lines(at(0), at(1), at(2), at(3), at(4), spansAt, count, 0, scratch, xsAt, csAt);
  xs.set(i32.subarray(xsAt >> 2, (xsAt >> 2) + found));
  contrasts.set(i32.subarray(csAt >> 2, (csAt >> 2) + found));
  return found;
}

/**
 * Rec. 601 luma of the first `pixels` interleaved RGB pixels of `rgb` into `out` (color.ts's
 * lumaPlane, byte for byte), 16 pixels at a time. False, having done nothing, without SIMD.
 */
export function lumaRgbSimd(rgb: Uint8Array, pixels: number, out: Uint8Array): boolean {
  const s = simd();
  if (!s) return false;
  if (rgb.length < pixels * 3 || out.length < pixels) throw new RangeError('lumaRgbSimd: buffers too small');
  const chunk = Math.floor(CHUNK_BYTES / 48) * 16;
  const dst = align(chunk * 3 + 48);
  const mem = s.u8(dst + chunk + 16);
  for (let i = 0; i < pixels; i += chunk) {
    const n = Math.min(chunk, pixels - i);
    mem.set(rgb.subarray(i * 3, (i + n) * 3), 0);
    s.x.luma_rgb(0, n, dst);
    out.set(mem.subarray(dst, dst + n), i);
  }
  return true;
}

/**
 * Rows `y0` to `y1 - 1` of pencil-lines.ts's line field into `lines` (planes of `width` x
 * `height`), as its lineRows computes them, sample for sample: the Sobel magnitude of `near`
 * (rows clamped at the top and bottom, edge pixels repeated) and the larger of the DoG
 * `(far - near) / (far + 40)` and `weight * gradient / (near + 40) - 0.04`. Two pixels an
 * instruction, in doubles. False, having done nothing, without SIMD.
 */
export function pencilLinesSimd(
  near: Float32Array,
  far: Float32Array,
  lines: Float32Array,
  width: number,
  height: number,
  y0: number,
  y1: number,
  weight: number,
): boolean {
  const s = simd();
  if (!s) return false;
  const n = width * height;
  if (near.length < n || far.length < n || lines.length < n || y0 < 0 || y1 > height)
    throw new RangeError('pencilLinesSimd: planes or rows out of range');
  if (y1 <= y0 || width <= 0) return true;
  // Rows of width + 2 samples, pixel x at index x + 1: the near rows of a chunk with the rows above
  // and below, then its far rows, then its output rows.
  const pitch = width + 2;
  const rowBytes = pitch * 4;
  const chunk = Math.max(1, Math.floor(CHUNK_BYTES / (3 * rowBytes)));
  const farAt = align((chunk + 2) * rowBytes);
  const outAt = farAt + align(chunk * rowBytes);
  const f32 = s.f32(outAt + chunk * rowBytes + 16);
  for (let y = y0; y < y1; y += chunk) {
    const rows = Math.min(chunk, y1 - y);
    for (let k = -1; k <= rows; k++) {
      const src = Math.min(height - 1, Math.max(0, y + k)) * width;
      const at = (k + 1) * pitch;
      f32.set(near.subarray(src, src + width), at + 1);
      f32[at] = near[src]!;
      f32[at + width + 1] = near[src + width - 1]!;
    }
    for (let k = 0; k < rows; k++)
      f32.set(far.subarray((y + k) * width, (y + k + 1) * width), (farAt >> 2) + k * pitch + 1);
    s.x.pencil_lines(0, farAt, outAt, width, rows, weight);
    for (let k = 0; k < rows; k++) {
      const at = (outAt >> 2) + k * pitch + 1;
      lines.set(f32.subarray(at, at + width), (y + k) * width);
    }
  }
  return true;
}

/** Two rows kept in the module's memory and their blend into RGB bytes (see {@link inkRowsSimd}). */
export interface InkRowsSimd {
  /** Rows of `width` pixels of interleaved f32 (r, g, b, d), in the module's memory. */
  readonly upper: Float32Array;
  readonly lower: Float32Array;
  /**
   * Pixels of `a + (b - a) t` in single precision (rows `a` and `b`: `upper` and `lower`, either
   * way round), each whose d is below `threshold` times its `ink` entry, into `out` from byte `o`
   * as ink-rows.ts's inkRow stores them.
   */
  row(a: Float32Array, b: Float32Array, out: Uint8Array, o: number, t: number, threshold: number): void;
  /**
   * Low row `base` (an offset into each plane) of the four `planes` (r, g, b, d) widened into
   * `target` (`upper` or `lower`) as ink-rows.ts's widenRow does, through the columns given to
   * {@link inkRowsSimd}.
   */
  widen(planes: readonly Float32Array[], base: number, target: Float32Array): void;
}

/** A low row's placement across the output (ink-rows.ts's InkColumns). */
export interface InkColumnsSimd {
  readonly lowWidth: number;
  readonly x0: Int32Array;
  readonly x1: Int32Array;
  readonly fx: Float32Array;
}

/**
 * ink-rows.ts's two rows in this thread's module, for {@link InkRowsSimd.row}: the `upper` and
 * `lower` it returns are views of the module's memory, filled by the caller (or by `widen`, with
 * `columns`) and read there in place. They hold until another kernel of this module runs in the
 * thread (it may use or grow the same memory): `row` and `widen` then throw. Undefined without
 * SIMD.
 */
export function inkRowsSimd(
  width: number,
  ink: Float32Array,
  offset: number,
  scale: number,
  columns?: InkColumnsSimd,
): InkRowsSimd | undefined {
  const s = simd();
  if (!s) return undefined;
  if (!(Number.isInteger(width) && width > 0) || ink.length === 0)
    throw new RangeError('inkRowsSimd: width must be a positive integer and the table not empty');
  const lowWidth = columns?.lowWidth ?? 0;
  if (columns && (columns.x0.length < width || columns.x1.length < width || columns.fx.length < width))
    throw new RangeError('inkRowsSimd: columns shorter than the row');
  if (columns)
    for (let x = 0; x < width; x++)
      if (!(
        columns.x0[x]! >= 0 &&
        columns.x0[x]! < lowWidth &&
        columns.x1[x]! >= 0 &&
        columns.x1[x]! < lowWidth
      ))
        throw new RangeError(`inkRowsSimd: column ${x} reads outside the low row`);
  const rowBytes = width * 16;
  const upperAt = align(ink.length * 4);
  const lowerAt = upperAt + rowBytes;
  const outAt = lowerAt + rowBytes;
  // With columns: the low row's four planes (each with 12 bytes the interleaving may read past
  // it), the same interleaved (and 48 bytes it may write past them), then the columns.
  const pitch = align(lowWidth * 4 + 12);
  const planesAt = outAt + align(width * 3 + 1);
  const srcAt = planesAt + 4 * pitch;
  const leftAt = srcAt + align(lowWidth * 16 + 48);
  const rightAt = leftAt + align(width * 4);
  const fxAt = rightAt + align(width * 4);
  const f32 = s.f32(columns ? fxAt + width * 4 : planesAt);
  f32.set(ink, 0);
  const { buffer } = f32;
  if (columns) {
    const i32 = new Int32Array(buffer);
    i32.set(columns.x0.subarray(0, width), leftAt >> 2);
    i32.set(columns.x1.subarray(0, width), rightAt >> 2);
    f32.set(columns.fx.subarray(0, width), fxAt >> 2);
  }
  const made = calls;
  const upper = new Float32Array(buffer, upperAt, width * 4);
  const lower = new Float32Array(buffer, lowerAt, width * 4);
  const bytes = new Uint8Array(buffer, outAt, width * 3);
  const last = ink.length - 1;
  const check = (rows: readonly Float32Array[]): void => {
    checkCurrent(made, 'inkRowsSimd');
    for (const r of rows)
      if (r !== upper && r !== lower)
        throw new RangeError('inkRowsSimd: rows must be the upper and lower it made');
  };
  return {
    upper,
    lower,
    row(a, b, out, o, t, threshold) {
      check([a, b]);
      if (o < 0 || o + width * 3 > out.length) throw new RangeError('inkRowsSimd: output out of range');
      s.x.ink_rows(a.byteOffset, b.byteOffset, outAt, width, t, threshold, 0, offset, scale, last);
      out.set(bytes, o);
    },
    widen(planes, base, target) {
      check([target]);
      if (!columns) throw new Error('inkRowsSimd: made without columns');
      if (planes.length !== 4 || base < 0 || planes.some((p) => p.length < base + lowWidth))
        throw new RangeError('inkRowsSimd: four planes holding the low row');
      for (let c = 0; c < 4; c++)
        f32.set(planes[c]!.subarray(base, base + lowWidth), (planesAt + c * pitch) >> 2);
      s.x.widen_rows(planesAt, pitch, lowWidth, srcAt, leftAt, rightAt, fxAt, target.byteOffset, width);
    },
  };
}

/** kuwahara.ts's ring of sector terms and offsets in the module's memory (see {@link kuwaharaRowsSimd}). */
export interface KuwaharaRowsSimd {
  /** The ring of sector terms (f32), `ringLength` floats. */
  readonly ring: Float32Array;
  /** The sector offsets of the current row of cells, `deltaLength` (i32, in floats of the ring). */
  readonly delta: Int32Array;
  /** Per pixel of a row, its cell's first offset in `delta` (i32). */
  readonly cells: Int32Array;
  /**
   * Pixels `x0` to `x1 - 1` of the row whose terms start at float `base` of the ring, as
   * kuwahara.ts's kuwaharaBand computes them with sectorSum (every sector inside the image), as
   * RGB bytes into `out` from byte `o`.
   */
  row(base: number, x0: number, x1: number, along: number, diag: number, out: Uint8Array, o: number): void;
}

/**
 * kuwahara.ts's ring, sector offsets and cells of a band in this thread's module, read there in
 * place by {@link KuwaharaRowsSimd.row}: views of the module's memory that hold until another
 * kernel of it runs in the thread (`row` then throws). Undefined without SIMD.
 */
export function kuwaharaRowsSimd(
  ringLength: number,
  deltaLength: number,
  width: number,
): KuwaharaRowsSimd | undefined {
  const s = simd();
  if (!s) return undefined;
  for (const n of [ringLength, deltaLength, width])
    if (!(Number.isInteger(n) && n > 0))
      throw new RangeError('kuwaharaRowsSimd: sizes must be positive integers');
  const deltaAt = align(ringLength * 4);
  const cellsAt = deltaAt + align(deltaLength * 4);
  const outAt = cellsAt + align(width * 4);
  const f32 = s.f32(outAt + align(width * 3 + 1));
  const { buffer } = f32;
  const made = calls;
  const ring = new Float32Array(buffer, 0, ringLength);
  const delta = new Int32Array(buffer, deltaAt, deltaLength);
  const cells = new Int32Array(buffer, cellsAt, width);
  const bytes = new Uint8Array(buffer, outAt, width * 3);
  return {
    ring,
    delta,
    cells,
    row(base, x0, x1, along, diag, out, o) {
      checkCurrent(made, 'kuwaharaRowsSimd');
      if (x1 <= x0) return;
      if (x0 < 0 || x1 > width || o < 0 || o + (x1 - x0) * 3 > out.length)
        throw new RangeError('kuwaharaRowsSimd: pixels or output out of range');
      s.x.kuwahara_row(0, base, deltaAt, cellsAt, x0, x1, along, diag, outAt);
      out.set(bytes.subarray(0, (x1 - x0) * 3), o);
    },
  };
}
