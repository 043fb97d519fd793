// Pencil drawing from a photo, as the sketch and colour pencil styles do it: the line field found
// in the smoothed luma, the ink that draws it, and the levels that put the photo's tones on paper.
import { bandKernel, bandThreads, isShared, runBands, sharedArray, toShared } from '../parallel/bands.ts';
import type { SharpFactory } from '../plugin.ts';
import { sobelRow } from './gradient.ts';
import { planePercentiles } from './levels.ts';
import { blurGrey } from './native-blur.ts';
import { pencilLinesSimd } from './simd.ts';

/** The arguments of {@link pencilLines}. */
export interface PencilLinesArgs {
  /** The plugin's `ctx.sharp`, for the native blurs. */
  readonly sharp: SharpFactory;
  /** The smoothed luma as 8-bit grey, `width * height` bytes; read by libvips until the promise settles. */
  readonly grey: Uint8Array;
  readonly width: number;
  readonly height: number;
  /** The styles' `lineSoftness`: 0 draws thin crisp lines, 1 broad soft ones. */
  readonly softness: number;
  /** Work pixels per 1000 pixels of long side: line widths scale with it. */
  readonly unit: number;
  readonly signal: AbortSignal;
  /**
   * A free plane of `width * height` samples the lines are written to (and returned as `lines`);
   * allocated when omitted, or when it is not shared and the run has helper threads.
   */
  readonly scratch?: Float32Array | undefined;
}

/**
 * Pencil line strength per pixel (0 none, about 0.5 strong), relative to the local brightness so
 * dark and light areas draw alike: the larger of a difference of Gaussians (dark lines and the
 * dark side of edges) and the gradient magnitude (the contour itself, whichever side is darker).
 *
 * @returns `lines`, and `surround`: the luma blurred at the DoG's outer scale (0..255).
 *
 * @example
 * const { lines } = await pencilLines({ sharp: ctx.sharp, grey, width, height, softness: 0.3, unit, signal });
 */
export async function pencilLines(
  args: PencilLinesArgs,
): Promise<{ lines: Float32Array; surround: Float32Array }> {
  const { sharp, grey, width, height, signal } = args;
  const sigma = (0.5 + 1.2 * args.softness) * args.unit;
  // Both blurs at once: each runs on a libvips thread of its own, and the caller's thread is free
  // for other work until they are done.
  const [near, far] = await Promise.all([
    blurGrey(sharp, grey, width, height, sigma),
    blurGrey(sharp, grey, width, height, sigma * 2.5),
  ]);
  signal.throwIfAborted();
  // Into the scratch plane when it is shared (or the run has one thread): the rows of `near` around
  // a band's rows are read by the next band, so the lines cannot be written over it.
  const scratch = args.scratch;
  const lines =
    scratch && scratch.length >= width * height && (isShared(scratch) || bandThreads() <= 1)
      ? scratch
      : sharedArray(Float32Array, width * height);
  const rows: LineRowsArgs = {
    near: toShared(near),
    far: toShared(far),
    lines,
    width,
    height,
    gradientWeight: 0.3 * sigma,
  };
  runBands(lineRows, rows, height, { signal, minBand: 16 });
  return { lines, surround: rows.far };
}

/** What {@link lineRows} gets: the two blurs, the plane it writes, and the gradient's weight. */
interface LineRowsArgs {
  readonly near: Float32Array;
  readonly far: Float32Array;
  readonly lines: Float32Array;
  readonly width: number;
  readonly height: number;
  readonly gradientWeight: number;
}

/**
 * Rows `y0` to `y1 - 1` of the line field: per row the Sobel gradient of `near` (as core's
 * gradientMagnitude, to the bit) and the larger of the DoG and the gradient. Reads `near` one row
 * beyond the band: any split gives the same bytes.
 */
export const lineRows = bandKernel(
  import.meta.url,
  'lineRows',
  (a: LineRowsArgs, y0: number, y1: number): void => {
    const { near, far, lines, width, height, gradientWeight } = a;
    // With WebAssembly SIMD, two pixels at a time (the same samples).
    if (pencilLinesSimd(near, far, lines, width, height, y0, y1, gradientWeight)) return;
    const gradient = new Float32Array(width);
    for (let y = y0; y < y1; y++) {
      const up = (y > 0 ? y - 1 : 0) * width;
      const down = (y < height - 1 ? y + 1 : y) * width;
      sobelRow(near, gradient, 0, up, y * width, down, width);
      combineRow(near, far, gradient, lines, y * width, width, gradientWeight);
    }
  },
);

function combineRow(
  near: Float32Array,
  far: Float32Array,
  gradient: Float32Array,
  lines: Float32Array,
  row: number,
  width: number,
  gradientWeight: number,
): void {
  for (let x = 0; x < width; x++) {
    const i = row + x;
    const f = far[i]!;
    const n = near[i]!;
    const dog = (f - n) / (f + 40);
    // Only clear contours: a soft knee drops the faint gradients of shading.
    const edge = (gradientWeight * gradient[x]!) / (n + 40) - 0.04;
    // A comparison: Math.max on floats costs several times more.
    lines[i] = dog > edge ? dog : edge;
  }
}

/**
 * Line strength (0..0.5 in 1024 steps, read as `ink[min(1023, line * 2048) | 0]`) to ink
 * transmission: 1 is bare paper, `1 - max` the darkest line. `darkness` (0..1) also steepens the
 * curve, so faint lines show up more.
 *
 * @example
 * const ink = inkTable(0.5, 0.9);
 * const transmission = ink[Math.min(1023, (lines[i]! * 2048) | 0)]!; // multiply the paper by it
 */
export function inkTable(darkness: number, max: number): Float32Array {
  const t = new Float32Array(1024);
  const gain = 8 + 16 * darkness;
  for (let i = 0; i < 1024; i++) {
    // Soft knee: faint differences vanish, strong ones saturate at `max`.
    const l = Math.max(0, gain * (i / 2048) - 0.04);
    t[i] = 1 - max * Math.tanh(l);
  }
  return t;
}

/**
 * Where a photo's tones go on paper, as fractions of 0..1 brightness: a tone `v` becomes
 * `clamp((v - black) / range) ** key`.
 */
export interface PaperLevels {
  /** The black point: the 1 % point, stretched partway, so dark photos still read as dark. */
  readonly black: number;
  /** From the black point to the white point (the 99 % point, stretched likewise); at least 0.05. */
  readonly range: number;
  /**
   * Lifts (or lowers) the median halfway to a light grey, so a night shot becomes a drawing with
   * deep shadows rather than a sheet of graphite.
   */
  readonly key: number;
}

/**
 * The {@link PaperLevels} of a plane.
 *
 * @param scale - multiplies the plane's values to 0..255 (as for `planePercentiles`).
 *
 * @example
 * const { black, range, key } = paperLevels(luma, 255); // luma in 0..1
 * const tone = Math.min(1, Math.max(0, (v - black) / range)) ** key;
 */
export function paperLevels(plane: Float32Array, scale: number): PaperLevels {
  const [lo, median, hi] = planePercentiles(plane, scale, [0.01, 0.5, 0.99], 3) as [number, number, number];
  const black = (0.6 * lo) / 255;
  const white = 1 - (0.6 * (255 - hi)) / 255;
  const range = Math.max(0.05, white - black);
  const mid = Math.min(0.95, Math.max(0.05, (median / 255 - black) / range));
  return { black, range, key: Math.log(0.5 * mid + 0.5 * 0.6) / Math.log(mid) };
}
