import { placeholderPixels } from '../../lib/gallery-search.ts';

/** Decoded placeholders by hash and aspect: the same photo shows in several lists. */
const cache = new Map<string, string | null>();

/**
 * A `data:` URL (PNG, 32 px on the long side) of a BlurHash, decoded at the image's aspect, for a
 * CSS background the browser scales up smoothly; null when the hash does not decode or the browser
 * has no canvas.
 */
export function blurhashDataUrl(hash: string, aspect: number | null | undefined): string | null {
  const key = `${hash}|${aspect ?? ''}`;
  const known = cache.get(key);
  if (known !== undefined) return known;
  let url: string | null = null;
  const decoded = placeholderPixels(hash, aspect);
  if (decoded) {
    const canvas = document.createElement('canvas');
    canvas.width = decoded.width;
    canvas.height = decoded.height;
    const context = canvas.getContext('2d');
    if (context) {
      const image = context.createImageData(decoded.width, decoded.height);
      image.data.set(decoded.pixels);
      context.putImageData(image, 0, 0);
      url = canvas.toDataURL('image/png');
    }
  }
  if (cache.size > 500) cache.clear();
  cache.set(key, url);
  return url;
}
