/**
 * Size of a plane shrunk by an integer factor with {@link downsampleBox}: `ceil(size / factor)`.
 */
export function downsampledSize(width: number, height: number, factor: number): { width: number; height: number } {
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
  const acc = new Float64Array(lw * channels);
  for (let oy = 0; oy < lh; oy++) {
    acc.fill(0);
    const y0 = oy * f;
    const y1 = Math.min(height, y0 + f);
    for (let y = y0; y < y1; y++) {
      let i = y * width * channels;
      for (let ox = 0; ox < lw; ox++) {
        const xn = Math.min(width - ox * f, f);
        const base = ox * channels;
        for (let k = 0; k < xn; k++) {
          for (let c = 0; c < channels; c++) acc[base + c]! += src[i + c]!;
          i += channels;
        }
      }
    }
    const rows = y1 - y0;
    const orow = oy * lw;
    for (let ox = 0; ox < lw; ox++) {
      const xn = Math.min(width - ox * f, f);
      const norm = scale / (xn * rows);
      for (let c = 0; c < channels; c++) planes[c]![orow + ox] = acc[ox * channels + c]! * norm;
    }
  }
  return planes;
}

/**
 * Bilinear upsampling of a low-resolution plane, one output row at a time, so full-resolution
 * results can be built in a single streaming pass without a full-size float plane.
 *
 * The low plane is taken to be the full image shrunk by `factor` (pixel centres at
 * `(i + 0.5) * factor - 0.5`), as {@link downsampleBox} makes it. Rows are cheapest asked for in
 * increasing order: each low row is interpolated horizontally once and cached.
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
  readonly #plane: Float32Array;
  readonly #lowWidth: number;
  readonly #lowHeight: number;
  readonly #width: number;
  readonly #height: number;
  readonly #factor: number;
  readonly #x0: Int32Array;
  readonly #x1: Int32Array;
  readonly #fx: Float32Array;
  #rowA: Float32Array;
  #rowB: Float32Array;
  #indexA = -1;
  #indexB = -1;

  constructor(plane: Float32Array, lowWidth: number, lowHeight: number, width: number, height: number, factor: number) {
    if (plane.length < lowWidth * lowHeight) throw new Error('BilinearUpsampler: plane too small');
    if (!(factor > 0)) throw new Error('BilinearUpsampler: factor must be positive');
    this.#plane = plane;
    this.#lowWidth = lowWidth;
    this.#lowHeight = lowHeight;
    this.#width = width;
    this.#height = height;
    this.#factor = factor;
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
    this.#rowA = new Float32Array(width);
    this.#rowB = new Float32Array(width);
  }

  /** Output width and height. */
  get size(): { width: number; height: number } {
    return { width: this.#width, height: this.#height };
  }

  /** Writes row `y` (0 to height - 1) of the upsampled plane into `out` (`width` samples). */
  row(y: number, out: Float32Array): Float32Array {
    let v = (y + 0.5) / this.#factor - 0.5;
    if (v < 0) v = 0;
    if (v > this.#lowHeight - 1) v = this.#lowHeight - 1;
    const j0 = Math.floor(v);
    const j1 = Math.min(j0 + 1, this.#lowHeight - 1);
    const fy = v - j0;
    this.#ensure(j0, j1);
    const a = this.#rowA;
    const b = this.#rowB;
    const w = this.#width;
    if (fy === 0) {
      out.set(a.subarray(0, w));
    } else {
      for (let x = 0; x < w; x++) {
        const p = a[x]!;
        out[x] = p + (b[x]! - p) * fy;
      }
    }
    return out;
  }

  #ensure(j0: number, j1: number): void {
    if (this.#indexA === j0 && this.#indexB === j1) return;
    if (this.#indexB === j0) {
      const t = this.#rowA;
      this.#rowA = this.#rowB;
      this.#rowB = t;
      this.#indexA = j0;
    } else {
      this.#horizontal(j0, this.#rowA);
      this.#indexA = j0;
    }
    if (j1 === j0) {
      this.#rowB.set(this.#rowA);
    } else {
      this.#horizontal(j1, this.#rowB);
    }
    this.#indexB = j1;
  }

  #horizontal(j: number, out: Float32Array): void {
    const plane = this.#plane;
    const base = j * this.#lowWidth;
    const x0 = this.#x0;
    const x1 = this.#x1;
    const fx = this.#fx;
    for (let x = 0, w = this.#width; x < w; x++) {
      const p = plane[base + x0[x]!]!;
      out[x] = p + (plane[base + x1[x]!]! - p) * fx[x]!;
    }
  }
}
