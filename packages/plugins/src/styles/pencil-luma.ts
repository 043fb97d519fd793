// The full-size luma the pencil styles (sketch, colour pencil) find thin lines in, written into
// a plane kept between runs: a fresh plane of a large photo costs more in page faults than the
// luma itself (about 2.5 ms per megabyte on the 2-core VM the bench runs on).
import { bandThreads, isShared, sharedArray, ThinLines } from '@atelier/core';
import type { RawImage } from '@atelier/core';

/** Planes up to this many pixels (16 MB) are kept for the next run. */
const KEEP_PIXELS = 1 << 24;

/** The plane the last run gave back; taken while a run uses it, so concurrent runs never share one. */
let spare: Uint8Array | undefined;

/**
 * Thin lines of `image` (see ThinLines.ofImage), their luma shared with the run's threads when
 * it has several; call `release` once the lines are no longer used, so the next run reuses the
 * plane.
 *
 * @example
 * const { lines, release } = thinLinesOf(ctx.image);
 * try {
 *   // ... lines.row(y, dark, light)
 * } finally {
 *   release();
 * }
 */
export function thinLinesOf(image: RawImage): { lines: ThinLines; release: () => void } {
  const n = image.width * image.height;
  // A grey image is its own luma.
  if (image.channels < 3) return { lines: ThinLines.ofImage(image), release: () => {} };
  const shared = bandThreads() > 1;
  const fits = spare !== undefined && spare.length >= n && isShared(spare) === shared;
  const plane = fits ? spare! : sharedArray(Uint8Array, n);
  if (fits) spare = undefined;
  return {
    lines: ThinLines.ofImage(image, { into: plane }),
    release: () => {
      if (plane.length <= KEEP_PIXELS) spare = plane;
    },
  };
}
