// Thin lines at full resolution, for the pencil styles: 1–2 px structures (a kite string, a wire,
// a mast) darker or lighter than what is on both sides of them, found with a bar detector and
// shaped with the soft threshold of XDoG (Winnemöller et al. 2012).

import type { RawImage } from '../plugin.ts';
import { sharedArray } from '../parallel/bands.ts';
import { boxFilter } from './box-filter.ts';
import { lumaPlane } from './color.ts';
import { barLinesSimd } from './simd.ts';

/** The arguments of {@link ThinLines}. */
export interface ThinLinesArgs {
  /** 8-bit luma, `width * height` bytes, at the resolution the lines are drawn at. */
  readonly luma: Uint8Array;
  readonly width: number;
  readonly height: number;
  /**
   * XDoG's ε: below this contrast, relative to the brightness around the line (plus 60 of 255, so
   * deep shadows do not amplify noise), nothing is drawn.
   * @default 0.12
   */
  readonly threshold?: number;
  /**
   * XDoG's φ: how fast a line's strength rises above the threshold, `tanh(φ (contrast - ε))`.
   * @default 8
   */
  readonly sharpness?: number;
  /**
   * How much of each line to keep where lines are dense (from {@link ThinLines.densityGate}); every
   * line is kept in full when omitted. Columns where the gate is 0 are not searched at all.
   */
  readonly gate?: ThinLinesGate | undefined;
  /**
   * Rows already found, by a {@link ThinRowsAhead} over the same luma, gate and tuning
   * (`ahead.rows()`): {@link ThinLines.row} gives those from it instead of searching again.
   */
  readonly ahead?: ThinRows | undefined;
}

/**
 * A coarse plane of factors 0..1 by which {@link ThinLines} scales its lines: sample `(i, j)` is the
 * factor of the `step` x `step` cell of full-size pixels from `(i * step, j * step)`, read
 * bilinearly between the cells' centres.
 * Plain data, shared with helper threads when it was made in a run that has some.
 */
export interface ThinLinesGate {
  readonly plane: Float32Array;
  readonly width: number;
  readonly height: number;
  readonly step: number;
}

/** The arguments of {@link ThinLines.densityGate}. */
export interface DensityGateArgs {
  /** Full-size pixels between samples of the density. @default 4 */
  readonly step?: number;
  /** Radius, in full-size pixels, of the window the density is the mean strength of. @default 24 */
  readonly radius?: number;
  /** Density up to which lines are kept in full. @default 0.1 */
  readonly from?: number;
  /** Density from which no line is drawn. @default 0.25 */
  readonly to?: number;
}

/** Probe distances: 3 px along the axes, 2 px each way (2.8 px) along the diagonals. */
const AXIS = 3;
const DIAGONAL = 2;
const PAD = AXIS;
/** Added to the level around a line before the contrast is taken relative to it, so noise in deep shadows is not amplified. */
const FLOOR = 60;
/** The rows a row's probes read, relative to it. */
const ROWS = [-AXIS, -DIAGONAL, 0, DIAGONAL, AXIS] as const;
/** Width of a padded border strip: PAD columns and PAD of context on each side. */
const EDGE = 3 * PAD;
/** Spans of at least this many columns are searched by {@link barLinesSimd} (with WebAssembly SIMD). */
const SIMD_FROM = 32;

/**
 * Finds thin lines, row by row, in a luma plane: per pixel a dark-line strength and a light-line
 * strength, each 0 (none) to 1 (a clear line).
 *
 * How: for each of four directions (0°, 45°, 90°, 135°), a pixel's bar contrast is how much darker
 * it is than *both* of the two pixels 3 px away on either side (2 px each way along the
 * diagonals); for a light line, how much lighter. A step edge has one side like the pixel itself,
 * so it gives nothing there, unlike a difference of Gaussians, which answers on both sides of every
 * edge; a 1 px line answers at its full contrast on its own pixels, at any angle. A line answers in
 * the directions across it and not along it, and a speck answers in all four, so the strength is
 * the largest contrast less the smallest: a speck drops out. (A line between the four directions,
 * at 30° or 60°, keeps about two thirds: the nearest diagonal probe is 0.7 px off it.) Each side's
 * level is the nearer of the two probes less half their difference, so a line across flat paper
 * counts in full and one through texture, with unlike sides, much less. That
 * contrast, relative to the brightness around the line, goes through XDoG's soft threshold
 * `tanh(φ · max(0, c − ε))`, so faint texture stays blank and clear lines saturate.
 *
 * Cost: nine reads and a table look-up per pixel, no planes of its own beyond two 64 KiB tables;
 * rows are computed on demand so a renderer can draw them straight into its output.
 *
 * @example
 * const lines = new ThinLines({ luma, width, height });
 * const dark = new Float32Array(width);
 * const light = new Float32Array(width);
 * for (let y = 0; y < height; y++) {
 *   lines.row(y, dark, light); // dark[x], light[x]: 0..1
 * }
 */
export class ThinLines {
  /** The luma plane the lines are found in (the caller's, or the one {@link ThinLines.ofImage} made). */
  readonly luma: Uint8Array;
  readonly #width: number;
  readonly #height: number;
  /** The size of the luma plane, in pixels. */
  get width(): number {
    return this.#width;
  }
  get height(): number {
    return this.#height;
  }
  readonly #tables: StrengthTables;
  /** Five padded rows (edge pixels repeated), for the columns near the left and right borders. */
  readonly #edge = new Uint8Array(ROWS.length * EDGE);
  readonly #scratch = [new Float32Array(EDGE), new Float32Array(EDGE)] as const;
  readonly #edgeHits = new Int32Array(EDGE);
  /**
   * After {@link row}, its first `n` entries (n being what `row` returned) are the columns with any
   * line: a renderer can draw the rest as if there were none, and then these.
   */
  readonly hits: Int32Array;
  readonly #gate: ThinLinesGate | undefined;
  readonly #ahead: ThinRows | undefined;
  /**
   * With a gate: `cellStart[i]` is the first column whose left gate sample (as {@link gated} reads
   * them) is column `i` or beyond (`gate.width + 1` entries, the last `width`), and `zero` a row of
   * flags per gate column: both gate rows around the current row are 0 there.
   */
  readonly #cellStart: Int32Array | undefined;
  readonly #zero: Uint8Array | undefined;
  /** The columns and contrasts {@link barLinesSimd} finds on a row (made on first use). */
  #found: { readonly xs: Int32Array; readonly contrasts: Int32Array } | undefined;
  /** The spans of columns {@link interiorGated} searches on a row (made on first use). */
  #spans: Int32Array | undefined;

  constructor(args: ThinLinesArgs) {
    const { luma, width, height } = args;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1)
      throw new Error('ThinLines: width and height must be positive integers');
    if (luma.length < width * height) throw new Error('ThinLines: luma plane too small');
    this.luma = luma;
    this.hits = new Int32Array(width);
    this.#width = width;
    this.#height = height;
    this.#tables = strengthTables(args.threshold ?? 0.12, args.sharpness ?? 8);
    const gate = args.gate;
    if (
      gate &&
      !(
        gate.step >= 1 &&
        gate.width === Math.ceil(width / gate.step) &&
        gate.height === Math.ceil(height / gate.step) &&
        gate.plane.length >= gate.width * gate.height
      )
    )
      throw new Error('ThinLines: the gate was made for another size (see densityGate)');
    this.#gate = gate;
    this.#ahead = args.ahead;
    if (gate) {
      const starts = new Int32Array(gate.width + 1);
      let i = 0;
      for (let x = 0; x < width; x++) {
        const cell = gateCell(x, gate.step, gate.width);
        while (i <= cell) starts[i++] = x;
      }
      while (i <= gate.width) starts[i++] = width;
      this.#cellStart = starts;
      this.#zero = new Uint8Array(gate.width);
    }
  }

  /**
   * Where thin lines are dense, they are texture (the gaps between pebbles, grass, grain), not the
   * strings and wires the layer is for: a gate that keeps lines where few are found around them and
   * fades them out where many are. The density is the mean line strength (the larger of dark and
   * light) in a window of `radius` px, sampled at one pixel of each `step` x `step` cell (a
   * sixteenth of the pixels by default; 3-4 ms at 1920 x 1200 here); a 1 px line
   * across an empty window of the default 49 px scores 0.02, two crossing 2 px lines under 0.1, a
   * gravel beach mostly 0.13 to 0.44. Lines are kept in full up to density `from` and dropped from
   * `to`.
   *
   * @example
   * const lines = ThinLines.ofImage(image);
   * const gated = new ThinLines({ luma: lines.luma, width, height, gate: lines.densityGate() });
   */
  densityGate(args: DensityGateArgs = {}): ThinLinesGate {
    const step = Math.max(1, Math.floor(args.step ?? 4));
    const from = args.from ?? 0.1;
    const to = args.to ?? 0.25;
    if (!(to > from)) throw new Error('ThinLines.densityGate: `to` must be above `from`');
    const w = this.#width;
    const h = this.#height;
    const gw = Math.ceil(w / step);
    const gh = Math.ceil(h / step);
    // One plane for the density, its mean and the gate, in turn: fresh planes cost page faults.
    const density = sharedArray(Float32Array, gw * gh);
    const dark = new Float32Array(w);
    const light = new Float32Array(w);
    const hits = new Int32Array(w);
    for (let j = 0; j < gh && w > 2 * PAD; j++) {
      // One pixel of each step x step cell, at an offset that changes from row to row of cells
      // (every row offset with every column offset, over step x step rows of cells), so a texture
      // of the step's period is not sampled always at the same phase.
      const y = Math.min(h - 1, j * step + (((step >> 1) + j) % step));
      const phase = ((step >> 1) + Math.floor(j / step)) % step;
      const first = PAD + ((((phase - PAD) % step) + step) % step);
      const n = this.#interior(y, first, step, dark, light, hits);
      densityRow(density, j * gw, step, hits, n, dark, light);
    }
    const plane = boxFilter(density, gw, gh, Math.max(1, Math.round((args.radius ?? 24) / step)), density);
    // Row by row: a loop that runs once per render loses its optimised code at each full garbage
    // collection (V8 holds code compiled for a running loop weakly) and starts again interpreted.
    for (let i = 0; i < plane.length; i += gw) gateRow(plane, i, i + gw, from, to);
    return { plane, width: gw, height: gh, step };
  }

  /**
   * Thin lines of an image at its own resolution: the luma of RGB(A) pixels, or the grey channel.
   *
   * @param options.into - a plane of at least `width * height` bytes to compute the luma in
   *   (not used for grey images); {@link luma} is then a view of it. A renderer that keeps one
   *   between images saves the page faults of a fresh full-size plane, which on a virtual
   *   machine can cost more than computing it.
   *
   * @example
   * const lines = ThinLines.ofImage(ctx.image);
   */
  static ofImage(
    image: RawImage,
    options: Pick<ThinLinesArgs, 'threshold' | 'sharpness'> & { readonly into?: Uint8Array | undefined } = {},
  ): ThinLines {
    const { data, width, height, channels } = image;
    const n = width * height;
    const { into, ...tuning } = options;
    const out = into && into.length >= n ? into.subarray(0, n) : new Uint8Array(n);
    const luma =
      channels >= 3
        ? lumaPlane(data, n, channels, out)
        : channels === 1
          ? data
          : greyOf(data, n, out, channels);
    return new ThinLines({ ...tuning, luma, width, height });
  }

  /**
   * Writes row `y`'s dark-line and light-line strengths (0..1) to `dark` and `light`, and the
   * columns where either is above 0 to {@link hits}; returns how many there are.
   */
  row(y: number, dark: Float32Array, light: Float32Array): number {
    const w = this.#width;
    if (dark.length < w || light.length < w) throw new Error('ThinLines: row buffers too small');
    dark.fill(0, 0, w);
    light.fill(0, 0, w);
    const ahead = this.#ahead;
    if (ahead && y < ahead.rows) return storedRow(ahead, y, dark, light, this.hits);
    const n =
      w <= 2 * PAD
        ? 0
        : this.#gate
          ? this.#interiorGated(y, dark, light)
          : this.#interior(y, PAD, 1, dark, light, this.hits);
    // The columns within PAD of a border: the same, on rows padded by repeating the edge pixel.
    const found = this.#borders(y, dark, light, n);
    return this.#gate ? this.#gated(y, dark, light, found) : found;
  }

  /**
   * {@link interior} on the columns where the gate can keep a line: where the four gate samples a
   * pixel's factor is read from are all 0 the factor is 0 and {@link gated} drops whatever the
   * pixel had, so those columns are not searched (in dense texture, the costliest ones: most of
   * their pixels pass barRow's first test). With WebAssembly SIMD all the spans of a row are
   * searched in one call.
   */
  #interiorGated(y: number, dark: Float32Array, light: Float32Array): number {
    const { plane, width: gw } = this.#gate!;
    const { j0, j1 } = gateRows(y, this.#gate!);
    const zero = this.#zero!;
    const starts = this.#cellStart!;
    for (let i = 0; i < gw; i++) zero[i] = plane[j0 * gw + i] === 0 && plane[j1 * gw + i] === 0 ? 1 : 0;
    const end = this.#width - PAD;
    // The spans of columns searched: [spans[2k], spans[2k + 1]), ascending.
    const spans = (this.#spans ??= new Int32Array(2 * gw + 2));
    let m = 0;
    let i = 0;
    while (i < gw) {
      // Skip the cells whose pixels are dropped (both their gate columns are 0), then take the run of the others.
      while (i < gw && zero[i] === 1 && zero[i + 1 < gw ? i + 1 : i] === 1) i++;
      const first = i;
      while (i < gw && !(zero[i] === 1 && zero[i + 1 < gw ? i + 1 : i] === 1)) i++;
      const x0 = Math.max(PAD, starts[first]!);
      const x1 = Math.min(end, starts[i]!);
      if (x1 > x0) {
        spans[2 * m] = x0;
        spans[2 * m + 1] = x1;
        m++;
      }
    }
    if (m === 0) return 0;
    const found = end - PAD >= SIMD_FROM ? this.#simdRow(y, PAD, end, spans, m) : -1;
    if (found >= 0)
      return strengths(
        this.luma,
        this.#row(y, 0),
        PAD,
        this.#found!,
        found,
        this.#tables,
        dark,
        light,
        this.hits,
        0,
      );
    let n = 0;
    for (let k = 0; k < m; k++)
      n = this.#interior(y, spans[2 * k]!, 1, dark, light, this.hits, spans[2 * k + 1], n);
    return n;
  }

  /** The offset in the luma of row `y + dy`, clamped to the plane. */
  #row(y: number, dy: number): number {
    return Math.min(this.#height - 1, Math.max(0, y + dy)) * this.#width;
  }

  /**
   * barLinesSimd on row `y`, columns `x0` to `x1 - 1` (or the spans of them given), into
   * {@link found}; how many it found, or -1 without SIMD.
   */
  #simdRow(y: number, x0: number, x1: number, spans?: Int32Array, spanCount = 0): number {
    const found = (this.#found ??= {
      xs: new Int32Array(this.#width),
      contrasts: new Int32Array(this.#width),
    });
    const rows = [
      this.#row(y, -AXIS),
      this.#row(y, -DIAGONAL),
      this.#row(y, 0),
      this.#row(y, DIAGONAL),
      this.#row(y, AXIS),
    ] as const;
    return barLinesSimd(this.luma, rows, x0, x1, this.#tables, found.xs, found.contrasts, spans, spanCount);
  }

  /**
   * barRow on row `y`, columns `x0`, `x0 + stride`, ... before `x1` (by default up to PAD from the
   * right border; rows clamped at the top and bottom), appending to `hits` from `count` on.
   */
  #interior(
    y: number,
    x0: number,
    stride: number,
    dark: Float32Array,
    light: Float32Array,
    hits: Int32Array,
    x1 = this.#width - PAD,
    count = 0,
  ): number {
    const at = (dy: number): number => this.#row(y, dy);
    // With WebAssembly SIMD, 16 pixels at a time up to the strength tables (most groups of a
    // photo have no pixel that passes barRow's first test).
    const found = stride === 1 && x1 - x0 >= SIMD_FROM ? this.#simdRow(y, x0, x1) : -1;
    if (found >= 0)
      return strengths(this.luma, at(0), x0, this.#found!, found, this.#tables, dark, light, hits, count);
    return barRow(
      this.luma,
      x0,
      x1,
      at(-AXIS),
      at(-DIAGONAL),
      at(0),
      at(DIAGONAL),
      at(AXIS),
      this.#tables,
      dark,
      light,
      hits,
      count,
      stride,
    );
  }

  /** Scales the row's lines by the gate (bilinear in its coarse plane); drops the hits it zeroes. */
  #gated(y: number, dark: Float32Array, light: Float32Array, n: number): number {
    const { plane, width: gw, step } = this.#gate!;
    const { j0, j1, fy } = gateRows(y, this.#gate!);
    const hits = this.hits;
    let kept = 0;
    for (let k = 0; k < n; k++) {
      const x = hits[k]!;
      let u = (x + 0.5) / step - 0.5;
      u = u < 0 ? 0 : u > gw - 1 ? gw - 1 : u;
      const i0 = u | 0;
      const i1 = i0 < gw - 1 ? i0 + 1 : i0;
      const fx = u - i0;
      const top = plane[j0 * gw + i0]! + (plane[j0 * gw + i1]! - plane[j0 * gw + i0]!) * fx;
      const bottom = plane[j1 * gw + i0]! + (plane[j1 * gw + i1]! - plane[j1 * gw + i0]!) * fx;
      const g = top + (bottom - top) * fy;
      if (g <= 0) {
        dark[x] = 0;
        light[x] = 0;
        continue;
      }
      dark[x] = dark[x]! * g;
      light[x] = light[x]! * g;
      hits[kept++] = x;
    }
    return kept;
  }

  #borders(y: number, dark: Float32Array, light: Float32Array, hits: number): number {
    const w = this.#width;
    const h = this.#height;
    const L = this.luma;
    const flat = this.#edge;
    for (const left of [true, false]) {
      // Columns [x0, x0 + count) of the image, copied with PAD pixels of context on each side.
      const x0 = left ? 0 : Math.max(PAD, w - PAD);
      const count = left ? Math.min(PAD, w) : w - x0;
      if (count <= 0) continue;
      ROWS.forEach((dy, k) => {
        const src = Math.min(h - 1, Math.max(0, y + dy)) * w;
        for (let i = 0; i < EDGE; i++)
          flat[k * EDGE + i] = L[src + Math.min(w - 1, Math.max(0, x0 - PAD + i))]!;
      });
      const [d, l] = this.#scratch;
      d.fill(0);
      l.fill(0);
      barRow(
        flat,
        PAD,
        PAD + count,
        0,
        EDGE,
        2 * EDGE,
        3 * EDGE,
        4 * EDGE,
        this.#tables,
        d,
        l,
        this.#edgeHits,
        0,
      );
      for (let i = 0; i < count; i++) {
        dark[x0 + i] = d[PAD + i]!;
        light[x0 + i] = l[PAD + i]!;
        if (d[PAD + i]! + l[PAD + i]! > 0) this.hits[hits++] = x0 + i;
      }
    }
    return hits;
  }
}

/**
 * Rows of a {@link ThinLines} found ahead (see {@link ThinRowsAhead}), as plain data a band
 * kernel can take in its arguments and hand to its own `ThinLines` (`ahead`): rows `0 .. rows - 1`, row `y`'s columns with a line being
 * `xs[starts[y] .. starts[y + 1])` and their strengths `dark` and `light` at the same indices.
 */
export interface ThinRows {
  readonly rows: number;
  readonly starts: Int32Array;
  readonly xs: Int32Array;
  readonly dark: Float32Array;
  readonly light: Float32Array;
}

/**
 * Row `y` of `ahead` (below `ahead.rows`): its strengths into `dark` and `light` (cleared by the
 * caller) at its columns with a line, those columns into `hits`; returns how many there are.
 */
function storedRow(
  ahead: ThinRows,
  y: number,
  dark: Float32Array,
  light: Float32Array,
  hits: Int32Array,
): number {
  const { starts, xs } = ahead;
  const first = starts[y]!;
  const n = starts[y + 1]! - first;
  for (let k = 0; k < n; k++) {
    const x = xs[first + k]!;
    hits[k] = x;
    dark[x] = ahead.dark[first + k]!;
    light[x] = ahead.light[first + k]!;
  }
  return n;
}

/** Rows {@link ThinRowsAhead} finds between two looks at the promise it waits for. */
const AHEAD_CHUNK = 16;

const nextTurn =
  typeof setImmediate === 'function'
    ? () => new Promise<void>((resolve) => setImmediate(resolve))
    : () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * Finds the rows of a {@link ThinLines}, from the top, while the step's thread would otherwise
 * wait: for libvips to resize or blur on its own threads, say. A renderer that draws the lines
 * row by row later makes its `ThinLines` with the rows found (`ahead: rows()`), whose `row` gives
 * those from them and searches the others; each row is the same either way, so the image is too.
 *
 * Only the columns with a line are stored (a few percent of a photo's pixels; in gravel or grass,
 * before the density gate drops them, up to a sixth).
 *
 * @example
 * const ahead = new ThinRowsAhead(new ThinLines({ luma, width, height, gate }));
 * await ahead.fillWhile(blurred, ctx.signal); // returns once `blurred` settles
 * runBands(composeBand, { ...args, ahead: ahead.rows() }, height);
 * // in the kernel: new ThinLines({ luma, width, height, gate, ahead: a.ahead }).row(y, dark, light)
 */
export class ThinRowsAhead {
  readonly #lines: ThinLines;
  readonly #width: number;
  readonly #height: number;
  readonly #starts: Int32Array;
  #xs: Int32Array;
  #dark: Float32Array;
  #light: Float32Array;
  #count = 0;
  #done = 0;
  readonly #rowDark: Float32Array;
  readonly #rowLight: Float32Array;

  constructor(lines: ThinLines) {
    const { width, height } = lines;
    this.#lines = lines;
    this.#width = width;
    this.#height = height;
    this.#starts = new Int32Array(height + 1);
    const capacity = Math.min(width * height, Math.max(4096, width * 8));
    this.#xs = new Int32Array(capacity);
    this.#dark = new Float32Array(capacity);
    this.#light = new Float32Array(capacity);
    this.#rowDark = new Float32Array(width);
    this.#rowLight = new Float32Array(width);
  }

  /** Finds the next `count` rows (fewer at the bottom). */
  find(count: number): void {
    const end = Math.min(this.#height, this.#done + count);
    const hits = this.#lines.hits;
    for (let y = this.#done; y < end; y++) {
      const n = this.#lines.row(y, this.#rowDark, this.#rowLight);
      if (this.#count + n > this.#xs.length) this.#grow(this.#count + n);
      storeRow(hits, n, this.#rowDark, this.#rowLight, this.#xs, this.#dark, this.#light, this.#count);
      this.#count += n;
      this.#starts[y + 1] = this.#count;
    }
    this.#done = end;
  }

  /**
   * Finds rows, {@link AHEAD_CHUNK} at a time with a turn of the event loop between, until
   * `pending` settles (or every row is found, or `signal` aborts); never rejects.
   */
  async fillWhile(pending: Promise<unknown>, signal?: AbortSignal): Promise<void> {
    let settled = false;
    pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    // A promise that has settled already says so in this microtask.
    await Promise.resolve();
    while (!settled && this.#done < this.#height && !signal?.aborted) {
      this.find(AHEAD_CHUNK);
      await nextTurn();
    }
  }

  /** The rows found so far. */
  rows(): ThinRows {
    const n = this.#count;
    return {
      rows: this.#done,
      starts: this.#starts.subarray(0, this.#done + 1),
      xs: this.#xs.subarray(0, n),
      dark: this.#dark.subarray(0, n),
      light: this.#light.subarray(0, n),
    };
  }

  #grow(needed: number): void {
    const capacity = Math.min(this.#width * this.#height, Math.max(needed, this.#xs.length * 2));
    const n = this.#count;
    const xs = new Int32Array(capacity);
    const dark = new Float32Array(capacity);
    const light = new Float32Array(capacity);
    xs.set(this.#xs.subarray(0, n));
    dark.set(this.#dark.subarray(0, n));
    light.set(this.#light.subarray(0, n));
    this.#xs = xs;
    this.#dark = dark;
    this.#light = light;
  }
}

function storeRow(
  hits: Int32Array,
  n: number,
  rowDark: Float32Array,
  rowLight: Float32Array,
  xs: Int32Array,
  dark: Float32Array,
  light: Float32Array,
  at: number,
): void {
  for (let k = 0; k < n; k++, at++) {
    const x = hits[k]!;
    xs[at] = x;
    dark[at] = rowDark[x]!;
    light[at] = rowLight[x]!;
  }
}

/**
 * Whole planes of {@link ThinLines}: dark-line and light-line strength per pixel, 0..255.
 *
 * @example
 * const { dark, light } = thinLines({ luma, width, height });
 */
export function thinLines(args: ThinLinesArgs): { dark: Uint8Array; light: Uint8Array } {
  const { width, height } = args;
  const lines = new ThinLines(args);
  const dark = new Uint8Array(width * height);
  const light = new Uint8Array(width * height);
  const rowDark = new Float32Array(width);
  const rowLight = new Float32Array(width);
  for (let y = 0; y < height; y++) {
    lines.row(y, rowDark, rowLight);
    toBytes(rowDark, dark, y * width, width);
    toBytes(rowLight, light, y * width, width);
  }
  return { dark, light };
}

/** The gate rows row `y` reads its factors between, and its weight between them. */
function gateRows(y: number, gate: ThinLinesGate): { j0: number; j1: number; fy: number } {
  const gh = gate.height;
  let v = (y + 0.5) / gate.step - 0.5;
  v = v < 0 ? 0 : v > gh - 1 ? gh - 1 : v;
  const j0 = v | 0;
  return { j0, j1: j0 < gh - 1 ? j0 + 1 : j0, fy: v - j0 };
}

/** The left gate column column `x` reads its factor from (its right one is the next, if any). */
function gateCell(x: number, step: number, gw: number): number {
  let u = (x + 0.5) / step - 0.5;
  u = u < 0 ? 0 : u > gw - 1 ? gw - 1 : u;
  return u | 0;
}

function greyOf(data: Uint8Array, n: number, out: Uint8Array, channels: number): Uint8Array {
  for (let i = 0; i < n; i++) out[i] = data[i * channels]!;
  return out;
}

function toBytes(src: Float32Array, dst: Uint8Array, at: number, n: number): void {
  for (let x = 0; x < n; x++) dst[at + x] = Math.round(src[x]! * 255);
}

/**
 * Bar contrasts of one row, columns [x0, x1), appending the columns with a line to `hits` from
 * `count` on; returns the new count. Writes `dark` and `light` at those columns only (the caller
 * clears the row). `m3`..`p3` are the offsets of rows y-3, y-2, y, y+2, y+3 in `L`; the columns
 * x0 - 3 .. x1 + 3 must exist.
 *
 * Minima and maxima are branch-free (`b + ((a - b) & ((a - b) >> 31))`): in grain and foliage
 * the comparisons go either way at random, and mispredicted branches cost more than the sums.
 */
function barRow(
  L: Uint8Array,
  x0: number,
  x1: number,
  m3: number,
  m2: number,
  c0: number,
  p2: number,
  p3: number,
  { dark: darkLut, light: lightLut, darkFrom, lightFrom }: StrengthTables,
  dark: Float32Array,
  light: Float32Array,
  hits: Int32Array,
  count: number,
  stride = 1,
): number {
  let n = count;
  for (let x = x0; x < x1; x += stride) {
    const c = L[c0 + x]!;
    // Every line 1-2 px wide, at any angle, is crossed by the horizontal or the vertical probe
    // pair (3 px along an axis is at least 2.1 px across the line): where both probes of neither
    // pair are darker or lighter than the pixel by the least contrast the threshold lets through,
    // which is most of a photo, there is no line.
    const a1 = L[c0 + x - AXIS]!;
    const b1 = L[c0 + x + AXIS]!;
    const a2 = L[m3 + x]!;
    const b2 = L[p3 + x]!;
    const d1 = a1 - b1;
    const d2 = a2 - b2;
    const n1 = b1 + (d1 & (d1 >> 31));
    const n2 = b2 + (d2 & (d2 >> 31));
    const x1_ = a1 - (d1 & (d1 >> 31));
    const x2_ = a2 - (d2 & (d2 >> 31));
    // The larger of the pairs' minima must reach darkFrom, or the smaller of their maxima lightFrom.
    const e = n1 - n2;
    const f = x1_ - x2_;
    if (n1 - (e & (e >> 31)) < darkFrom[c]! && x2_ + (f & (f >> 31)) > lightFrom[c]!) continue;
    // Per pair, the level on both sides: the nearer one to the pixel, less half their difference,
    // so a line across flat paper counts in full and one in texture (unlike sides) much less.
    const h1 = (x1_ - n1) >> 1;
    const h2 = (x2_ - n2) >> 1;
    const lo1 = n1 - h1;
    const hi1 = x1_ + h1;
    const lo2 = n2 - h2;
    const hi2 = x2_ + h2;
    const a3 = L[m2 + x - DIAGONAL]!;
    const b3 = L[p2 + x + DIAGONAL]!;
    const a4 = L[m2 + x + DIAGONAL]!;
    const b4 = L[p2 + x - DIAGONAL]!;
    const d3 = a3 - b3;
    const d4 = a4 - b4;
    const m3v = d3 & (d3 >> 31);
    const m4v = d4 & (d4 >> 31);
    const n3 = b3 + m3v;
    const n4 = b4 + m4v;
    const h3 = (a3 - m3v - n3) >> 1;
    const h4 = (a4 - m4v - n4) >> 1;
    const lo3 = n3 - h3;
    const lo4 = n4 - h4;
    const hi3 = a3 - m3v + h3;
    const hi4 = a4 - m4v + h4;
    // Dark line: darker than both sides in some direction, less what it is in all of them (a
    // speck). Likewise lighter for a light line.
    const g12 = lo1 - lo2;
    const g34 = lo3 - lo4;
    const min12 = lo2 + (g12 & (g12 >> 31));
    const min34 = lo4 + (g34 & (g34 >> 31));
    const max12 = lo1 - (g12 & (g12 >> 31));
    const max34 = lo3 - (g34 & (g34 >> 31));
    const gm = min12 - min34;
    const gx = max12 - max34;
    const loMin = min34 + (gm & (gm >> 31));
    const loMax = max12 - (gx & (gx >> 31));
    const k12 = hi1 - hi2;
    const k34 = hi3 - hi4;
    const kmin12 = hi2 + (k12 & (k12 >> 31));
    const kmin34 = hi4 + (k34 & (k34 >> 31));
    const kmax12 = hi1 - (k12 & (k12 >> 31));
    const kmax34 = hi3 - (k34 & (k34 >> 31));
    const km = kmin12 - kmin34;
    const kx = kmax12 - kmax34;
    const hiMin = kmin34 + (km & (km >> 31));
    const hiMax = kmax12 - (kx & (kx >> 31));
    // dv = loMax - max(loMin, c); lv = min(hiMax, c) - hiMin.
    const u = loMin - c;
    const v = hiMax - c;
    const dv = loMax - (loMin - (u & (u >> 31)));
    const lv = c + (v & (v >> 31)) - hiMin;
    // Tables indexed by contrast and the pixel's own level (see strengthTables); a contrast of 0
    // or below has no strength (index 0 .. 255 of the tables is 0, and negatives are masked there).
    const ds = darkLut[((dv & ~(dv >> 31)) << 8) | c]!;
    const ls = lightLut[((lv & ~(lv >> 31)) << 8) | c]!;
    if (ds + ls > 0) {
      dark[x] = ds * (1 / 255);
      light[x] = ls * (1 / 255);
      hits[n++] = x;
    }
  }
  return n;
}

/**
 * The rest of {@link barRow} for the columns {@link barLinesSimd} found on a row (`x0 + xs[k]`,
 * k below `nx`): their strengths from the contrasts, written and appended to `hits` as barRow does.
 */
function strengths(
  L: Uint8Array,
  c0: number,
  x0: number,
  found: { readonly xs: Int32Array; readonly contrasts: Int32Array },
  nx: number,
  { dark: darkLut, light: lightLut }: StrengthTables,
  dark: Float32Array,
  light: Float32Array,
  hits: Int32Array,
  count: number,
): number {
  const { xs, contrasts } = found;
  let n = count;
  for (let k = 0; k < nx; k++) {
    const x = x0 + xs[k]!;
    const c = L[c0 + x]!;
    const contrast = contrasts[k]!;
    const ds = darkLut[((contrast >>> 16) << 8) | c]!;
    const ls = lightLut[((contrast & 0xffff) << 8) | c]!;
    if (ds + ls > 0) {
      dark[x] = ds * (1 / 255);
      light[x] = ls * (1 / 255);
      hits[n++] = x;
    }
  }
  return n;
}

interface StrengthTables {
  /** Dark-line strength, 0..255, at `(contrast << 8) | own level`. */
  readonly dark: Uint8Array;
  /** Light-line strength, likewise. */
  readonly light: Uint8Array;
  /** Per own level, the darkest level both sides must reach for any dark-line strength (up to 256). */
  readonly darkFrom: Int16Array;
  /** Per own level, the lightest level both sides must reach for any light-line strength (down to -1). */
  readonly lightFrom: Int16Array;
  /**
   * For {@link barLinesSimd}, per 16 own levels (level >> 4): the least of darkFrom - level, then
   * (from byte 16) the least of level - lightFrom, each at most 255.
   */
  readonly bounds: Uint8Array;
}

const tableCache = new Map<string, StrengthTables>();

/**
 * Strength per (contrast, own level): XDoG's `tanh(φ · max(0, contrast / (around + 40) − ε))`,
 * where `around` is the level on both sides plus FLOOR: own + contrast for a dark line, own − contrast for a
 * light one. 64 KiB a table, so both stay in cache.
 */
function strengthTables(threshold: number, sharpness: number): StrengthTables {
  const key = `${threshold}:${sharpness}`;
  const cached = tableCache.get(key);
  if (cached) return cached;
  const dark = new Uint8Array(65536);
  const light = new Uint8Array(65536);
  const darkFrom = new Int16Array(256).fill(256);
  const lightFrom = new Int16Array(256).fill(-1);
  for (let own = 0; own < 256; own++) {
    for (let contrast = 255; contrast >= 1; contrast--) {
      const i = (contrast << 8) | own;
      dark[i] = Math.round(
        255 *
          Math.tanh(sharpness * Math.max(0, contrast / (Math.min(255, own + contrast) + FLOOR) - threshold)),
      );
      light[i] = Math.round(
        255 *
          Math.tanh(sharpness * Math.max(0, contrast / (Math.max(0, own - contrast) + FLOOR) - threshold)),
      );
      if (dark[i]! > 0) darkFrom[own] = own + contrast;
      if (light[i]! > 0) lightFrom[own] = own - contrast;
    }
  }
  const bounds = new Uint8Array(32).fill(255);
  for (let own = 0; own < 256; own++) {
    const k = own >> 4;
    bounds[k] = Math.min(bounds[k]!, darkFrom[own]! - own);
    bounds[16 + k] = Math.min(bounds[16 + k]!, own - lightFrom[own]!);
  }
  const tables = { dark, light, darkFrom, lightFrom, bounds };
  if (tableCache.size > 8) tableCache.clear();
  tableCache.set(key, tables);
  return tables;
}

/** One row of cells of {@link ThinLines.densityGate}'s density (from `at`): the strongest line of each hit pixel. */
function densityRow(
  density: Float32Array,
  at: number,
  step: number,
  hits: Int32Array,
  n: number,
  dark: Float32Array,
  light: Float32Array,
): void {
  for (let k = 0; k < n; k++) {
    const x = hits[k]!;
    density[at + ((x / step) | 0)] = Math.max(dark[x]!, light[x]!);
  }
}

/** Cells `i0` to `i1 - 1` of the mean density, in place, to how much of the lines to keep. */
function gateRow(plane: Float32Array, i0: number, i1: number, from: number, to: number): void {
  for (let i = i0; i < i1; i++) {
    const g = (to - plane[i]!) / (to - from);
    plane[i] = g < 0 ? 0 : g > 1 ? 1 : g;
  }
}
