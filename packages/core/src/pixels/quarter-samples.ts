// Four samples per pixel, a quarter pixel from its centre: what a preview needs to draw edges,
// outlines and tone boundaries as the real render, several times larger and scaled down, shows
// them (docs/sdk.md "Previews").

/** One row's four samples per pixel (see {@link quarterSamples}): up-left, up-right, down-left, down-right. */
export interface QuarterSampleRows {
  readonly ul: Float64Array;
  readonly ur: Float64Array;
  readonly dl: Float64Array;
  readonly dr: Float64Array;
}

/** Rows for {@link quarterSamples} of planes `width` pixels wide. */
export function quarterSampleRows(width: number): QuarterSampleRows {
  return {
    ul: new Float64Array(width),
    ur: new Float64Array(width),
    dl: new Float64Array(width),
    dr: new Float64Array(width),
  };
}

/**
 * Row `y` of `plane` (`w` x `h`, rows `stride` apart) sampled a quarter pixel up and left, up and
 * right, down and left, down and right of each pixel's centre, bilinearly (the edge pixels
 * repeated beyond the plane), into `rows` (columns 0 to `w - 1`). A preview that decides each
 * pixel from these four and averages what they draw (a colour, an ink) gives a boundary crossing
 * the pixel its share, as the real render scaled down does; deciding from the centre alone draws
 * every boundary hard and every thin line whole. Integer planes give samples in sixteenths.
 *
 * @example
 * const rows = quarterSampleRows(w);
 * quarterSamples(dog, w, h, y, rows);
 * const ink = (inkOf(rows.ul[x]) + inkOf(rows.ur[x]) + inkOf(rows.dl[x]) + inkOf(rows.dr[x])) / 4;
 */
export function quarterSamples(
  plane: Float32Array | Uint16Array,
  w: number,
  h: number,
  y: number,
  rows: QuarterSampleRows,
  stride = w,
): void {
  if (!Number.isInteger(y) || y < 0 || y >= h) throw new RangeError('quarterSamples: row outside the plane');
  if (rows.ul.length < w || rows.ur.length < w || rows.dl.length < w || rows.dr.length < w)
    throw new RangeError('quarterSamples: rows shorter than the plane');
  const { ul, ur, dl, dr } = rows;
  const up = Math.max(0, y - 1) * stride;
  const row = y * stride;
  const down = Math.min(h - 1, y + 1) * stride;
  const last = w - 1;
  // The plane a quarter pixel above (u) and below (v) the row: previous, current and next column.
  let uPrev = 0.25 * plane[up]! + 0.75 * plane[row]!;
  let vPrev = 0.75 * plane[row]! + 0.25 * plane[down]!;
  let uCur = uPrev;
  let vCur = vPrev;
  for (let x = 0; x < w; x++) {
    const next = x < last ? x + 1 : last;
    const uNext = 0.25 * plane[up + next]! + 0.75 * plane[row + next]!;
    const vNext = 0.75 * plane[row + next]! + 0.25 * plane[down + next]!;
    ul[x] = 0.25 * uPrev + 0.75 * uCur;
    ur[x] = 0.75 * uCur + 0.25 * uNext;
    dl[x] = 0.25 * vPrev + 0.75 * vCur;
    dr[x] = 0.75 * vCur + 0.25 * vNext;
    uPrev = uCur;
    vPrev = vCur;
    uCur = uNext;
    vCur = vNext;
  }
}
