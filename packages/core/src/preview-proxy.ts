// The preview proxy of a photo: what interactive previews run on instead of the photo. Made in an
// engine thread by `Engine.previewProxy` (the averaging is a JavaScript loop over up to 26 MB, 20-50
// ms that would otherwise stall the caller's event loop), or in the calling thread here.
import sharp from 'sharp';

/** A proxy pixel is the mean of up to this many pixels a side of the photo (resampled to a whole multiple). */
export const PREVIEW_PROXY_BLOCK = 5;

/** A preview proxy: the photo at its long side, lossless, and its long side over the photo's. */
export interface PreviewProxy {
  /** PNG, 8-bit, alpha kept. */
  readonly png: Uint8Array;
  /** The proxy's long side over the photo's (1 for a photo no larger). */
  readonly scale: number;
}

/**
 * The preview proxy of an encoded photo: its first frame, oriented, shrunk to ≤ `longSide` px on
 * its long side by area averaging, as a lossless PNG (8-bit, alpha kept), with its long side over
 * the photo's (`scale`, 1 for a photo no larger).
 *
 * Each proxy pixel is the mean of the block of the photo it covers, as the styles' own reductions
 * (`downsampleBox`, `downsampleArea`) make their working images: a style analyses the proxy as it
 * analyses the photo, and a palette or threshold taken from it is the real render's. The photo is
 * first resampled (libvips, Lanczos) to a whole multiple of the proxy's size, up to
 * {@link PREVIEW_PROXY_BLOCK} times (so memory stays bounded for any photo), then averaged in
 * blocks of that many pixels a side, with premultiplied alpha (a transparent pixel's colour does
 * not bleed). Against the Lanczos proxy stored as JPEG (q92) it replaces, the watercolour's preview
 * of evening-glow went from SSIM 0.83 to 0.93 against its full render scaled down, over HTTP
 * (docs/styles.md, "The preview's proxy").
 *
 * Runs in the calling thread; `Engine.previewProxy` runs it in an engine thread, with coded errors.
 *
 * @example
 * const { png, scale } = await makePreviewProxy(await storage.get(key), 512);
 * const result = await engine.run(await engine.decode(png), plan, { previewScale: scale });
 */
export async function makePreviewProxy(bytes: Uint8Array, longSide: number): Promise<PreviewProxy> {
  if (!(Number.isInteger(longSide) && longSide >= 1))
    throw new RangeError(`makePreviewProxy: longSide must be a positive integer, got ${longSide}`);
  const source = sharp(bytes, { page: 0, pages: 1 });
  const { autoOrient } = await source.clone().metadata();
  const long = Math.max(autoOrient.width, autoOrient.height);
  const scale = Math.min(1, longSide / long);
  const w = Math.max(1, Math.round(autoOrient.width * scale));
  const h = Math.max(1, Math.round(autoOrient.height * scale));
  const k = Math.max(1, Math.min(PREVIEW_PROXY_BLOCK, Math.floor(1 / scale)));
  const oriented = source.autoOrient();
  // A photo whose size is a whole multiple of the proxy's is averaged as it is.
  const same = w * k === autoOrient.width && h * k === autoOrient.height;
  const { data, info } = await (same ? oriented : oriented.resize(w * k, h * k, { fit: 'fill' }))
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const c = info.channels;
  const out = k === 1 ? data : averageBlocks(data, w, h, c, k);
  const png = await sharp(out, { raw: { width: w, height: h, channels: c } })
    .png({ compressionLevel: 1 })
    .toBuffer();
  // The long side sets the scale: the short one is rounded to whole pixels.
  return { png, scale: autoOrient.width >= autoOrient.height ? w / autoOrient.width : h / autoOrient.height };
}

/** The mean of each k x k block of a `(w * k) x (h * k)` interleaved image; alpha (2 or 4 channels) premultiplied. */
function averageBlocks(data: Uint8Array, w: number, h: number, c: number, k: number): Buffer {
  const out = Buffer.alloc(w * h * c);
  const alpha = c === 2 || c === 4;
  const colours = alpha ? c - 1 : c;
  const W = w * k;
  // A row of sums per proxy row (at most 255 * 255 * k * k: fits 32 bits for any k up to 256).
  const sums = new Uint32Array(w * c);
  const into = new Int32Array(W);
  for (let x = 0; x < W; x++) into[x] = Math.floor(x / k) * c;
  const n = k * k;
  for (let y = 0; y < h; y++) {
    sums.fill(0);
    for (let i = y * k * W * c, end = i + k * W * c, x = 0; i < end; i += c) {
      const o = into[x]!;
      if (++x === W) x = 0;
      if (alpha) {
        const a = data[i + colours]!;
        for (let ch = 0; ch < colours; ch++) sums[o + ch]! += data[i + ch]! * a;
        sums[o + colours]! += a;
      } else {
        for (let ch = 0; ch < c; ch++) sums[o + ch]! += data[i + ch]!;
      }
    }
    for (let x = 0, o = y * w * c; x < w * c; x += c, o += c) {
      if (alpha) {
        const weight = sums[x + colours]!;
        for (let ch = 0; ch < colours; ch++)
          out[o + ch] = weight > 0 ? Math.round(sums[x + ch]! / weight) : 0;
        out[o + colours] = Math.round(weight / n);
      } else {
        for (let ch = 0; ch < c; ch++) out[o + ch] = Math.round(sums[x + ch]! / n);
      }
    }
  }
  return out;
}
