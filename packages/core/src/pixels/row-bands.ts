/** One horizontal band of an image: rows to produce and rows to read. */
export interface RowBand {
  /** First row this band produces. */
  readonly y0: number;
  /** One past the last row this band produces. */
  readonly y1: number;
  /** First row to read: `y0 - halo`, cut to the image. */
  readonly top: number;
  /** One past the last row to read: `y1 + halo`, cut to the image. */
  readonly bottom: number;
}

/** Arguments of {@link rowBands}. */
export interface RowBandsArgs {
  readonly width: number;
  readonly height: number;
  /**
   * Rows of margin each band reads above and below the rows it produces: at least the reach of
   * the filters it runs, so a band's output equals the whole image's output.
   */
  readonly halo: number;
  /**
   * Largest number of pixels a band may read, halo included; bounds the memory of per-band
   * planes. The band height never goes below `align` rows.
   */
  readonly maxPixels: number;
  /**
   * Band starts, band heights and the halo are multiples of this, so grids shrunk by this factor
   * line up in every band.
   * @default 1
   */
  readonly align?: number;
}

/**
 * Splits an image into horizontal bands with overlapping margins, so that a chain of local
 * filters can run band by band with bounded memory and give exactly the whole-image result:
 * run the chain on rows `[top, bottom)` (a zero-copy `subarray` of interleaved pixels), then
 * keep rows `[y0, y1)`. Positions that must not depend on the band (noise, textures) should use
 * absolute rows (`top + y`). An image that fits in `maxPixels` is one band with no margin.
 *
 * @example
 * for (const band of rowBands({ width, height, halo: 24, maxPixels: 2_000_000, align: 2 })) {
 *   const rows = image.data.subarray(band.top * width * 3, band.bottom * width * 3);
 *   const result = filter(rows, width, band.bottom - band.top);
 *   out.set(result.subarray((band.y0 - band.top) * width * 3, (band.y1 - band.top) * width * 3), band.y0 * width * 3);
 * }
 */
export function rowBands(args: RowBandsArgs): RowBand[] {
  const { width, height } = args;
  if (!(width > 0 && height > 0)) throw new Error('rowBands: empty image');
  const align = Math.max(1, Math.floor(args.align ?? 1));
  const halo = Math.ceil(Math.max(0, args.halo) / align) * align;
  const budgetRows = Math.floor(Math.max(0, args.maxPixels) / width);
  if (budgetRows >= height) return [{ y0: 0, y1: height, top: 0, bottom: height }];
  const rows = Math.max(align, Math.floor((budgetRows - 2 * halo) / align) * align);
  const bands: RowBand[] = [];
  for (let y0 = 0; y0 < height; y0 += rows) {
    const y1 = Math.min(height, y0 + rows);
    bands.push({ y0, y1, top: Math.max(0, y0 - halo), bottom: Math.min(height, y1 + halo) });
  }
  return bands;
}
