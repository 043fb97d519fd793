// The line field of a pencil style's preview (sketch, colour pencil), inked as the real render
// scaled down shows it: the real render enlarges its work-size line field to the photo's size
// (bilinearly) and inks each pixel through core's `inkTable`; a line narrower than a preview pixel
// then covers part of the pixels the preview shrinks to, and reads lighter. A preview composes at
// its work size, one field sample per pixel, so such a line came out as dark as a wide one.
import { bandThreads, isShared, quarterSampleRows, quarterSamples, sharedArray } from '@atelier/core';

/** Entries of core's `inkTable`, indexed by `field * 2048` (clamped to 0..1023). */
const INK_STEPS = 1024;

/** Preview planes up to this many samples (4 MB) are kept for the next preview. */
const KEEP_SAMPLES = 1 << 20;

/** The plane the last preview gave back; taken while a run uses it, so concurrent runs never share one. */
let spare: Float32Array | undefined;

/**
 * The line field for a preview: for each pixel, the field value whose ink is the mean ink of the
 * field's four samples around its centre (core's quarterSamples). Styles read it as they read `field`, through the same `ink` table (non-increasing, as
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
  // Below this field value the ink is the paper's: a pixel whose four samples are all below it
  // has no line near.
  const paper = ink[0]!;
  let knee = 1;
  while (knee < INK_STEPS && ink[knee] === paper) knee++;
  const flat = knee / 2048;
  const { values, darkest, scale } = inverseInk(ink);
  const top = INK_STEPS - 1;
  const samples = quarterSampleRows(w);
  const { ul, ur, dl, dr } = samples;
  for (let y = 0; y < h; y++) {
    quarterSamples(field, w, h, y, samples);
    for (let x = 0, i = y * w; x < w; x++, i++) {
      if (ul[x]! < flat && ur[x]! < flat && dl[x]! < flat && dr[x]! < flat) {
        out[i] = 0;
        continue;
      }
      // The four samples' ink, looked up as the styles do (times 2048, clamped to the table).
      const a = ul[x]! * 2048;
      const b = ur[x]! * 2048;
      const c = dl[x]! * 2048;
      const d = dr[x]! * 2048;
      const mean =
        (ink[a > 0 ? (a < top ? a | 0 : top) : 0]! +
          ink[b > 0 ? (b < top ? b | 0 : top) : 0]! +
          ink[c > 0 ? (c < top ? c | 0 : top) : 0]! +
          ink[d > 0 ? (d < top ? d | 0 : top) : 0]!) *
        0.25;
      const k = (mean - darkest) * scale + 0.5;
      out[i] = values[k > 0 ? (k < INVERSE_STEPS - 1 ? k | 0 : INVERSE_STEPS - 1) : 0]!;
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
