// The line field of a pencil style's preview (sketch, colour pencil), inked as the real render
// scaled down shows it: the real render enlarges its work-size line field to the photo's size
// (bilinearly) and inks each pixel through core's `inkTable`; a line narrower than a preview pixel
// then covers part of the pixels the preview shrinks to, and reads lighter. A preview composes at
// its work size, one field sample per pixel, so such a line came out as dark as a wide one.
import { bandThreads, isShared, sharedArray } from '@atelier/core';

/** Entries of core's `inkTable`, indexed by `field * 2048` (clamped to 0..1023). */
const INK_STEPS = 1024;

/** Preview planes up to this many samples (4 MB) are kept for the next preview. */
const KEEP_SAMPLES = 1 << 20;

/** The plane the last preview gave back; taken while a run uses it, so concurrent runs never share one. */
let spare: Float32Array | undefined;

/**
 * The line field for a preview: for each pixel, the field value whose ink is the mean ink of four
 * samples of `field` a quarter pixel up or down and left or right of its centre (bilinear, edges
 * repeated). Styles read it as they read `field`, through the same `ink` table (non-increasing, as
 * core's `inkTable` makes it), so their composition is unchanged. Where the four samples' ink is
 * the paper's (no line near), the value is 0. The plane is shared with the run's helper threads
 * when it has some, and kept for the next preview once `release` is called (after the last read).
 *
 * @example
 * const preview = previewLineField(field, ww, wh, ink);
 * try {
 *   runBands(shadeBand, { ...args, field: preview.field }, height, { signal });
 * } finally {
 *   preview.release();
 * }
 */
export function previewLineField(
  field: Float32Array,
  w: number,
  h: number,
  ink: Float32Array,
): { field: Float32Array; release: () => void } {
  if (ink.length < INK_STEPS) throw new Error('previewLineField: ink table too short');
  const n = w * h;
  if (field.length < n) throw new Error('previewLineField: field smaller than w * h');
  const shared = bandThreads() > 1;
  const fits = spare !== undefined && spare.length >= n && isShared(spare) === shared;
  const out = fits ? spare!.subarray(0, n) : sharedArray(Float32Array, n);
  const kept = fits ? spare! : out;
  if (fits) spare = undefined;
  // Field values (times 2048, as the table is indexed) below `flat` ink as paper: where all six
  // values a pixel's samples lie between are below it, so are the samples.
  const paper = ink[0]!;
  let flat = 1;
  while (flat < INK_STEPS && ink[flat] === paper) flat++;
  const { values, darkest, scale } = inverseInk(ink);
  const top = INK_STEPS - 1;
  const last = w - 1;
  for (let y = 0; y < h; y++) {
    const up = Math.max(0, y - 1) * w;
    const row = y * w;
    const down = Math.min(h - 1, y + 1) * w;
    // The field times 2048 a quarter pixel above (u) and below (v) the row: previous, current and
    // next column.
    let uPrev = 512 * field[up]! + 1536 * field[row]!;
    let vPrev = 1536 * field[row]! + 512 * field[down]!;
    let uCur = uPrev;
    let vCur = vPrev;
    for (let x = 0; x < w; x++) {
      const next = x < last ? x + 1 : last;
      const uNext = 512 * field[up + next]! + 1536 * field[row + next]!;
      const vNext = 1536 * field[row + next]! + 512 * field[down + next]!;
      if (uPrev < flat && uCur < flat && uNext < flat && vPrev < flat && vCur < flat && vNext < flat) {
        out[row + x] = 0;
      } else {
        // The four samples' ink, looked up as the styles do (clamped to the table).
        const a = 0.25 * uPrev + 0.75 * uCur;
        const b = 0.75 * uCur + 0.25 * uNext;
        const c = 0.25 * vPrev + 0.75 * vCur;
        const d = 0.75 * vCur + 0.25 * vNext;
        const mean =
          (ink[a > 0 ? (a < top ? a | 0 : top) : 0]! +
            ink[b > 0 ? (b < top ? b | 0 : top) : 0]! +
            ink[c > 0 ? (c < top ? c | 0 : top) : 0]! +
            ink[d > 0 ? (d < top ? d | 0 : top) : 0]!) *
          0.25;
        const k = (mean - darkest) * scale + 0.5;
        out[row + x] = values[k > 0 ? (k < INVERSE_STEPS - 1 ? k | 0 : INVERSE_STEPS - 1) : 0]!;
      }
      uPrev = uCur;
      vPrev = vCur;
      uCur = uNext;
      vCur = vNext;
    }
  }
  return {
    field: out,
    release: () => {
      if (kept.length <= KEEP_SAMPLES) spare = kept;
    },
  };
}

/** Steps of the inverse table between the darkest and the lightest ink. */
const INVERSE_STEPS = 4096;

/**
 * For a non-increasing ink table: the field value (the middle of its table entry) whose ink is the
 * table's nearest, for {@link INVERSE_STEPS} inks from the darkest (`values[0]`) to the lightest,
 * made in one sweep; ink `e` is at `(e - darkest) * scale`.
 */
function inverseInk(ink: Float32Array): { values: Float32Array; darkest: number; scale: number } {
  const darkest = ink[INK_STEPS - 1]!;
  const range = ink[0]! - darkest;
  const values = new Float32Array(INVERSE_STEPS);
  if (!(range > 0)) return { values, darkest, scale: 0 };
  let i = INK_STEPS - 1;
  for (let k = 0; k < INVERSE_STEPS; k++) {
    const e = darkest + (range * k) / (INVERSE_STEPS - 1);
    // The last entry (from the dark end) whose ink is at most e; then the nearer of it and the
    // entry before it.
    while (i > 0 && ink[i - 1]! <= e) i--;
    const j = i > 0 && ink[i - 1]! - e < e - ink[i]! ? i - 1 : i;
    values[k] = (j + 0.5) / 2048;
  }
  return { values, darkest, scale: (INVERSE_STEPS - 1) / range };
}
