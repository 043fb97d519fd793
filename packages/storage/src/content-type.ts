import { CONTENT_TYPES } from '@atelier/core';

/** The content type both stores record when `put` is given none. */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

// Printable ASCII without leading space: what an HTTP header value can carry unchanged.
const CONTENT_TYPE = /^[\x21-\x7e][\x20-\x7e]{0,254}$/;

/**
 * The content type to store for a `put`: the given one, or {@link DEFAULT_CONTENT_TYPE}. A value
 * that could not travel as an HTTP header is a programmer mistake and throws a plain `TypeError`.
 */
export function contentTypeFor(options: { readonly contentType?: string } | undefined): string {
  const contentType = options?.contentType ?? DEFAULT_CONTENT_TYPE;
  if (typeof contentType !== 'string' || !CONTENT_TYPE.test(contentType)) {
    throw new TypeError(`Invalid content type ${JSON.stringify(contentType)}`);
  }
  return contentType;
}

/** Content types that a key's extension implies (lower case, after the last dot of its last segment). */
export const IMPLIED_CONTENT_TYPES: Readonly<Record<string, string>> = {
  ...CONTENT_TYPES,
  jpg: CONTENT_TYPES.jpeg,
  tif: CONTENT_TYPES.tiff,
};

/** The content type `key`'s extension implies (`results/…/x.jpg` → `image/jpeg`), if any. */
export function impliedContentType(key: string): string | undefined {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot <= 0 ? undefined : IMPLIED_CONTENT_TYPES[name.slice(dot + 1).toLowerCase()];
}
