// Pencil drawing from a photo, as the sketch and colour pencil styles do it: the line field found
// in the smoothed luma, the ink that draws it, and the levels that put the photo's tones on paper.
import type { SharpFactory } from '../plugin.ts';
import { gradientMagnitude } from './gradient.ts';
import { planePercentiles } from './levels.ts';
import { blurGrey } from './native-blur.ts';

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
  /** A free plane of `width * height` samples for the gradient; allocated when omitted. */
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
  const gradient = gradientMagnitude(near, width, height, args.scratch);
  // Written over `near`: it is not needed once the gradient is taken.
  combineLines(near, far, gradient, 0.3 * sigma);
  return { lines: near, surround: far };
}

function combineLines(
  near: Float32Array,
  far: Float32Array,
  gradient: Float32Array,
  gradientWeight: number,
): void {
  for (let i = 0; i < near.length; i++) {
    const f = far[i]!;
    const dog = (f - near[i]!) / (f + 40);
    // Only clear contours: a soft knee drops the faint gradients of shading.
    const edge = (gradientWeight * gradient[i]!) / (near[i]! + 40) - 0.04;
    // A comparison: Math.max on floats costs several times more.
    near[i] = dog > edge ? dog : edge;
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
