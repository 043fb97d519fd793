/**
 * Size of a plane shrunk by an integer factor with {@link downsampleBox}: `ceil(size / factor)`.
 */
export function downsampledSize(
  width: number,
  height: number,
  factor: number,
): { width: number; height: number } {
  const f = Math.max(1, Math.floor(factor));
  return { width: Math.ceil(width / f), height: Math.ceil(height / f) };
}

/**
 * Shrinks an interleaved image (or a single plane) by an integer factor, averaging each
 * `factor × factor` block (blocks cut by the right and bottom edges average the pixels they
 * have), and splits the channels into Float32 planes multiplied by `scale`.
 *
 * Averaging is the right prefilter for the smooth maps computed at low resolution (guided filter
 * coefficients, blurred tones); it reads the source once.
 *
 * @param src - `width * height * channels` samples, interleaved.
 * @param factor - integer shrink factor, 1 or more (1 only converts and splits).
 * @param scale - multiplies every sample, e.g. `1 / 255` to get 0..1.
 * @returns one plane per channel, each `ceil(width / factor) * ceil(height / factor)` samples.
 *
 * @example
 * const [r, g, b] = downsampleBox(image.data, image.width, image.height, 3, 4, 1 / 255);
 */
export function downsampleBox(
  src: Uint8Array | Float32Array,
  width: number,
  height: number,
  channels: number,
  factor: number,
  scale = 1,
): Float32Array[] {
  if (src.length < width * height * channels) throw new Error('downsampleBox: source too small');
  const f = Math.max(1, Math.floor(factor));
  const { width: lw, height: lh } = downsampledSize(width, height, f);
  const planes: Float32Array[] = [];
  for (let c = 0; c < channels; c++) planes.push(new Float32Array(lw * lh));
  if (f === 1 && channels === 3) {
    // Only split and scale: one pass, no accumulators.
    const [r, g, b] = planes as [Float32Array, Float32Array, Float32Array];
    for (let y = 0; y < height; y++) splitRow3(src, r, g, b, y * width, width, scale);
    return planes;
  }
  const accs: Float32Array[] = [];
  for (let c = 0; c < channels; c++) accs.push(new Float32Array(width));
  for (let oy = 0; oy < lh; oy++) {
    const y0 = oy * f;
    const y1 = Math.min(height, y0 + f);
    if (channels === 3) sumRows3(src, accs[0]!, accs[1]!, accs[2]!, width, y0, y1);
    else for (let c = 0; c < channels; c++) sumRows(src, accs[c]!, width, channels, c, y0, y1);
    for (let c = 0; c < channels; c++)
      shrinkRow(accs[c]!, planes[c]!, oy * lw, width, lw, f, scale / (y1 - y0));
  }
  return planes;
}

function splitRow3(
  src: Uint8Array | Float32Array,
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  row: number,
  width: number,
  scale: number,
): void {
  for (let x = 0, i = row * 3; x < width; x++, i += 3) {
    r[row + x] = src[i]! * scale;
    g[row + x] = src[i + 1]! * scale;
    b[row + x] = src[i + 2]! * scale;
  }
}

/** Sums of `f` adjacent columns of `acc`, times `s / count`, into `plane` from `orow`. */
function shrinkRow(
  acc: Float32Array,
  plane: Float32Array,
  orow: number,
  width: number,
  lw: number,
  f: number,
  s: number,
): void {
  if (f === 1) {
    for (let x = 0; x < width; x++) plane[orow + x] = acc[x]! * s;
    return;
  }
  const full = Math.floor(width / f);
  if (f === 2) {
    const s2 = s / 2;
    for (let ox = 0, x = 0; ox < full; ox++, x += 2) plane[orow + ox] = (acc[x]! + acc[x + 1]!) * s2;
  } else {
    const sf = s / f;
    for (let ox = 0, x = 0; ox < full; ox++) {
      let sum = 0;
      for (let k = 0; k < f; k++, x++) sum += acc[x]!;
      plane[orow + ox] = sum * sf;
    }
  }
  if (full < lw) {
    let sum = 0;
    for (let x = full * f; x < width; x++) sum += acc[x]!;
    plane[orow + full] = (sum * s) / (width - full * f);
  }
}

/** Column sums over rows y0..y1-1 of interleaved RGB, one pass over the source. */
function sumRows3(
  src: Uint8Array | Float32Array,
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  width: number,
  y0: number,
  y1: number,
): void {
  let i = y0 * width * 3;
  for (let x = 0; x < width; x++, i += 3) {
    r[x] = src[i]!;
    g[x] = src[i + 1]!;
    b[x] = src[i + 2]!;
  }
  for (let y = y0 + 1; y < y1; y++) {
    i = y * width * 3;
    for (let x = 0; x < width; x++, i += 3) {
      r[x]! += src[i]!;
      g[x]! += src[i + 1]!;
      b[x]! += src[i + 2]!;
    }
  }
}

/** Column sums over rows y0..y1-1 of channel `c`. */
function sumRows(
  src: Uint8Array | Float32Array,
  acc: Float32Array,
  width: number,
  channels: number,
  c: number,
  y0: number,
  y1: number,
): void {
  let i = y0 * width * channels + c;
  for (let x = 0; x < width; x++, i += channels) acc[x] = src[i]!;
  for (let y = y0 + 1; y < y1; y++) {
    i = y * width * channels + c;
    for (let x = 0; x < width; x++, i += channels) acc[x]! += src[i]!;
  }
}

/**
 * Bilinear upsampling of low-resolution planes, one output row at a time, so full-resolution
 * results can be built in a single streaming pass without full-size float planes.
 *
 * Each low plane is taken to be the full image shrunk by `factor` (pixel centres at
 * `(i + 0.5) * factor - 0.5`), as {@link downsampleBox} or an exact resize makes it. Rows are
 * cheapest asked for in increasing order: each low row is interpolated horizontally once and
 * cached, for all planes together.
 *
 * @example
 * const up = new BilinearUpsampler(lowPlane, lowWidth, lowHeight, width, height, 4);
 * const row = new Float32Array(width);
 * for (let y = 0; y < height; y++) {
 *   up.row(y, row);
 *   // ... use row[x]
 * }
 */
export class BilinearUpsampler {
  readonly #planes: readonly Float32Array[];
  readonly #lowWidth: number;
  readonly #lowHeight: number;
  readonly #width: number;
  readonly #height: number;
  readonly #factorY: number;
  readonly #x0: Int32Array;
  readonly #x1: Int32Array;
  readonly #fx: Float32Array;
  #rowsA: Float32Array[];
  #rowsB: Float32Array[];
  #indexA = -1;
  #indexB = -1;

  /**
   * @param planes - one low plane, or several of the same size upsampled together (cheaper than
   *   one upsampler each).
   * @param factor - how many output pixels one low pixel spans horizontally (`width / lowWidth`
   *   for a plane resized to an exact size, the shrink factor for {@link downsampleBox}).
   * @param factorY - the same vertically; defaults to `factor`.
   */
  constructor(
    planes: Float32Array | readonly Float32Array[],
    lowWidth: number,
    lowHeight: number,
    width: number,
    height: number,
    factor: number,
    factorY = factor,
  ) {
    const list = planes instanceof Float32Array ? [planes] : [...planes];
    if (list.length === 0) throw new Error('BilinearUpsampler: no planes');
    for (const p of list) {
      if (p.length < lowWidth * lowHeight) throw new Error('BilinearUpsampler: plane too small');
    }
    if (!(factor > 0) || !(factorY > 0)) throw new Error('BilinearUpsampler: factor must be positive');
    this.#planes = list;
    this.#lowWidth = lowWidth;
    this.#lowHeight = lowHeight;
    this.#width = width;
    this.#height = height;
    this.#factorY = factorY;
    this.#x0 = new Int32Array(width);
    this.#x1 = new Int32Array(width);
    this.#fx = new Float32Array(width);
    for (let x = 0; x < width; x++) {
      let u = (x + 0.5) / factor - 0.5;
      if (u < 0) u = 0;
      if (u > lowWidth - 1) u = lowWidth - 1;
      const i = Math.floor(u);
      this.#x0[x] = i;
      this.#x1[x] = Math.min(i + 1, lowWidth - 1);
      this.#fx[x] = u - i;
    }
    this.#rowsA = list.map(() => new Float32Array(width));
    this.#rowsB = list.map(() => new Float32Array(width));
  }

  /** Output width and height. */
  get size(): { width: number; height: number } {
    return { width: this.#width, height: this.#height };
  }

  /** Writes row `y` (0 to height - 1) of plane `plane` (default the first) into `out` (`width` samples). */
  row(y: number, out: Float32Array, plane = 0): Float32Array {
    const fy = this.select(y);
    lerpRow(this.#rowsA[plane]!, this.#rowsB[plane]!, out, this.#width, fy);
    return out;
  }

  /**
   * Prepares row `y` without writing it: afterwards {@link upper} and {@link lower} hold the two
   * horizontally interpolated low rows around it, and the row is
   * `upper(k)[x] + (lower(k)[x] - upper(k)[x]) * weight` with the returned weight. Lets a hot
   * loop fuse the vertical interpolation with its own work instead of storing and reloading rows.
   */
  select(y: number): number {
    let v = (y + 0.5) / this.#factorY - 0.5;
    if (v < 0) v = 0;
    if (v > this.#lowHeight - 1) v = this.#lowHeight - 1;
    const j0 = Math.floor(v);
    const j1 = Math.min(j0 + 1, this.#lowHeight - 1);
    this.#ensure(j0, j1);
    return v - j0;
  }

  /** Plane `plane`'s upper low row of the last {@link select}, interpolated to the output width. */
  upper(plane = 0): Float32Array {
    return this.#rowsA[plane]!;
  }

  /** Plane `plane`'s lower low row of the last {@link select}, interpolated to the output width. */
  lower(plane = 0): Float32Array {
    return this.#rowsB[plane]!;
  }

  #ensure(j0: number, j1: number): void {
    if (this.#indexA === j0 && this.#indexB === j1) return;
    if (this.#indexB === j0) {
      const t = this.#rowsA;
      this.#rowsA = this.#rowsB;
      this.#rowsB = t;
    } else {
      this.#horizontal(j0, this.#rowsA);
    }
    this.#indexA = j0;
    if (j1 === j0) {
      for (let k = 0; k < this.#planes.length; k++) this.#rowsB[k]!.set(this.#rowsA[k]!);
    } else {
      this.#horizontal(j1, this.#rowsB);
    }
    this.#indexB = j1;
  }

  #horizontal(j: number, rows: Float32Array[]): void {
    const planes = this.#planes;
    const base = j * this.#lowWidth;
    let k = 0;
    // Planes in fours share the index and weight loads.
    for (; k + 4 <= planes.length; k += 4) {
      interpolateRow4(
        planes[k]!,
        planes[k + 1]!,
        planes[k + 2]!,
        planes[k + 3]!,
        base,
        this.#x0,
        this.#x1,
        this.#fx,
        rows[k]!,
        rows[k + 1]!,
        rows[k + 2]!,
        rows[k + 3]!,
        this.#width,
      );
    }
    for (; k < planes.length; k++) {
      interpolateRow(planes[k]!, base, this.#x0, this.#x1, this.#fx, rows[k]!, this.#width);
    }
  }
}

function lerpRow(a: Float32Array, b: Float32Array, out: Float32Array, w: number, t: number): void {
  for (let x = 0; x < w; x++) {
    const p = a[x]!;
    out[x] = p + (b[x]! - p) * t;
  }
}

function interpolateRow(
  plane: Float32Array,
  base: number,
  x0: Int32Array,
  x1: Int32Array,
  fx: Float32Array,
  out: Float32Array,
  w: number,
): void {
  for (let x = 0; x < w; x++) {
    const p = plane[base + x0[x]!]!;
    out[x] = p + (plane[base + x1[x]!]! - p) * fx[x]!;
  }
}

function interpolateRow4(
  p0: Float32Array,
  p1: Float32Array,
  p2: Float32Array,
  p3: Float32Array,
  base: number,
  x0: Int32Array,
  x1: Int32Array,
  fx: Float32Array,
  o0: Float32Array,
  o1: Float32Array,
  o2: Float32Array,
  o3: Float32Array,
  w: number,
): void {
  for (let x = 0; x < w; x++) {
    const i = base + x0[x]!;
    const j = base + x1[x]!;
    const f = fx[x]!;
    const a0 = p0[i]!;
    const a1 = p1[i]!;
    const a2 = p2[i]!;
    const a3 = p3[i]!;
    o0[x] = a0 + (p0[j]! - a0) * f;
    o1[x] = a1 + (p1[j]! - a1) * f;
    o2[x] = a2 + (p2[j]! - a2) * f;
    o3[x] = a3 + (p3[j]! - a3) * f;
  }
}
