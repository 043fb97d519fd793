// The cartoon's full-size composition as a band kernel, in a module of its own that imports only
// `@atelier/core/kernels`: the engine's helper threads load it without the SDK.
import {
  InkRows,
  bandKernel,
  bilinearColumns,
  quarterSampleRows,
  quarterSamples,
} from '@atelier/core/kernels';
import type { QuarterSampleRows } from '@atelier/core/kernels';

/** What {@link composeBand} gets: the output, the work-size planes (r, g, b, DoG) and the ink strength. */
export interface ComposeArgs {
  readonly out: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly ww: number;
  readonly wh: number;
  readonly planes: readonly Float32Array[];
  /** Ink strength, 0 to 1; 0 draws no outlines (the DoG plane's values then do not matter). */
  readonly strength: number;
  /**
   * For previews at work size (ctx.previewScale < 1, `width` = `ww`): each pixel's ink is the mean
   * of four samples of the DoG (see {@link inkedPreviewRow}), so an outline narrower than a pixel
   * is drawn lighter, as the real render, inked at its larger size and scaled down, shows it.
   */
  readonly supersampled: boolean;
}

/**
 * Full-size rows `y0` to `y1 - 1`: each depends only on the work-size planes. Bilinear, in single
 * precision, by core's InkRows: each work row is interpolated across once, its four planes
 * interleaved (an output pixel reads two neighbouring runs of memory instead of eight planes),
 * and output rows blend the two around them, inked where the DoG is low.
 */
export const composeBand = bandKernel(
  import.meta.url,
  'composeBand',
  (a: ComposeArgs, y0: number, y1: number, abort): void => {
    const { out, width, height, ww, wh, strength } = a;
    const [r, g, b, d] = a.planes as [Float32Array, Float32Array, Float32Array, Float32Array];
    const ink = inkTable(strength);
    if (a.supersampled && strength > 0 && width === ww && height === wh) {
      const px = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
      const samples = quarterSampleRows(ww);
      for (let y = y0; y < y1; y++) {
        quarterSamples(d, ww, wh, y, samples);
        inkedPreviewRow(px, r, g, b, samples, y * ww, ww, ink, -inkThreshold(strength));
        if ((y & 127) === 0) abort.throwIfAborted();
      }
      return;
    }
    const columns = bilinearColumns(width, ww, width / ww);
    const factorY = height / wh;
    // The widened rows and their inked blend (in the SIMD module's memory where it runs there).
    const rows = new InkRows(width, ink, 0.25, 4096, { ...columns, lowWidth: ww });
    // Without outlines (strength 0) no DoG is below the threshold: the rows are only blended.
    const threshold = strength > 0 ? -inkThreshold(strength) : -Infinity;
    let upper = rows.upper;
    let lower = rows.lower;
    let upperRow = -1;
    let lowerRow = -1;
    for (let y = y0; y < y1; y++) {
      let v = (y + 0.5) / factorY - 0.5;
      if (v < 0) v = 0;
      if (v > wh - 1) v = wh - 1;
      const j0 = Math.floor(v);
      const j1 = Math.min(j0 + 1, wh - 1);
      if (upperRow !== j0) {
        if (lowerRow === j0) {
          const t = upper;
          upper = lower;
          lower = t;
        } else {
          rows.widen(a.planes, j0 * ww, upper);
        }
        upperRow = j0;
        lowerRow = -1;
      }
      if (lowerRow !== j1) {
        if (j1 === j0) lower.set(upper);
        else rows.widen(a.planes, j1 * ww, lower);
        lowerRow = j1;
      }
      const t = v - j0;
      rows.row(upper, lower, out, y * width * 3, t, threshold);
      if ((y & 127) === 0) abort.throwIfAborted();
    }
  },
);

/**
 * A preview's row at work size (pixels `i` to `i + w - 1` of the planes): each pixel's colour, inked
 * by the mean transmission of the DoG's four samples around its centre (`samples`, see core's
 * quarterSamples). The real render inks its bilinear enlargement of the DoG pixel by pixel; scaled
 * down to the preview's size, an outline narrower than a preview pixel is a lighter one.
 */
function inkedPreviewRow(
  px: Uint8ClampedArray,
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  samples: QuarterSampleRows,
  i: number,
  w: number,
  ink: Float32Array,
  threshold: number,
): void {
  const { ul, ur, dl, dr } = samples;
  for (let x = 0, o = i * 3; x < w; x++, i++, o += 3) {
    const e =
      (transmission(ul[x]!, ink, threshold) +
        transmission(ur[x]!, ink, threshold) +
        transmission(dl[x]!, ink, threshold) +
        transmission(dr[x]!, ink, threshold)) *
      0.25;
    px[o] = r[i]! * e;
    px[o + 1] = g[i]! * e;
    px[o + 2] = b[i]! * e;
  }
}

/** Ink transmission of one DoG value, as the full-size composition (core's InkRows) inks a pixel. */
function transmission(d: number, ink: Float32Array, threshold: number): number {
  return d < threshold ? ink[Math.min(2047, Math.max(0, (d + 0.25) * 4096)) | 0]! : 1;
}

/** DoG values above minus this draw no ink. */
function inkThreshold(strength: number): number {
  return 0.003 + 0.02 * (1 - strength);
}

/** DoG value (-0.25..0.25 in 2048 steps) to ink transmission (1 = paper, 0 = black). */
function inkTable(strength: number): Float32Array {
  const t = new Float32Array(2048);
  const threshold = inkThreshold(strength);
  const sharpness = 400;
  for (let i = 0; i < 2048; i++) {
    const d = i / 4096 - 0.25;
    const v = d >= -threshold ? 1 : 1 + Math.tanh(sharpness * (d + threshold));
    t[i] = 1 - (1 - v) * (0.7 + 0.3 * strength);
  }
  return t;
}
