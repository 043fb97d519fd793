import { AtelierError } from '@atelier/core';

/** Longest key, in characters; S3's own limit is 1,024 bytes and keys are ASCII. */
export const MAX_KEY_LENGTH = 1024;

/**
 * Longest segment, in characters. Filesystems allow 255 bytes per name; the local store adds a
 * short prefix for its sidecar files (`.meta.<name>`), so segments stay well below that.
 */
export const MAX_SEGMENT_LENGTH = 200;

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const PREFIX_TAIL = /^[A-Za-z0-9._-]*$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

function invalid(key: unknown, reason: string): AtelierError {
  return new AtelierError('STORAGE_KEY_INVALID', `Invalid storage key ${JSON.stringify(key)}: ${reason}`, {
    details: { key: typeof key === 'string' ? key : String(key), reason },
  });
}

function checkSegment(key: string, segment: string): void {
  if (segment === '') throw invalid(key, 'empty segment (leading, trailing or double "/")');
  if (segment === '.' || segment === '..') throw invalid(key, `"${segment}" segments are not allowed`);
  if (segment.length > MAX_SEGMENT_LENGTH) {
    throw invalid(key, `a segment is longer than ${MAX_SEGMENT_LENGTH} characters`);
  }
  if (segment.startsWith('.')) throw invalid(key, 'a segment may not start with "." (reserved)');
  if (!SEGMENT.test(segment)) {
    const bad = [...segment].find((c) => !/[A-Za-z0-9._-]/.test(c)) ?? '?';
    throw invalid(key, `character ${JSON.stringify(bad)} is not allowed`);
  }
}

/**
 * Throws `STORAGE_KEY_INVALID` unless `key` is a valid storage key: `/`-separated segments of
 * `[A-Za-z0-9._-]`, no empty segments, no leading `/`, no `.` or `..` segments, at most
 * {@link MAX_KEY_LENGTH} characters. Segments may not start with `.`: both backends accept exactly
 * the same keys, and the local store keeps its temp and sidecar files under dot-names, where no
 * key can reach them.
 *
 * @example
 * assertValidKey('originals/ab/cd/abcd…'); // fine
 * assertValidKey('../etc/passwd'); // throws STORAGE_KEY_INVALID
 */
export function assertValidKey(key: string): void {
  if (typeof key !== 'string') throw invalid(key, 'not a string');
  if (key === '') throw invalid(key, 'empty');
  if (key.length > MAX_KEY_LENGTH) throw invalid(key, `longer than ${MAX_KEY_LENGTH} characters`);
  if (key.startsWith('/')) throw invalid(key, 'absolute (starts with "/")');
  for (const segment of key.split('/')) checkSegment(key, segment);
}

/** True when `name` is a valid single key segment (see {@link assertValidKey}). */
export function isValidSegment(name: string): boolean {
  return name.length <= MAX_SEGMENT_LENGTH && SEGMENT.test(name);
}

/** True when `key` is a valid storage key (see {@link assertValidKey}). */
export function isValidKey(key: string): boolean {
  return key !== '' && key.length <= MAX_KEY_LENGTH && key.split('/').every(isValidSegment);
}

/**
 * Throws `STORAGE_KEY_INVALID` unless `prefix` could begin a valid key: `''`, whole valid segments
 * each followed by `/`, then optionally the start of one more segment (`originals/ab` matches
 * `originals/ab/…` and `originals/abc`).
 */
export function assertValidPrefix(prefix: string): void {
  if (typeof prefix !== 'string') throw invalid(prefix, 'not a string');
  if (prefix.length > MAX_KEY_LENGTH) throw invalid(prefix, `longer than ${MAX_KEY_LENGTH} characters`);
  if (prefix.startsWith('/')) throw invalid(prefix, 'absolute (starts with "/")');
  const segments = prefix.split('/');
  const tail = segments.pop() ?? '';
  for (const segment of segments) checkSegment(prefix, segment);
  if (!PREFIX_TAIL.test(tail)) {
    const bad = [...tail].find((c) => !/[A-Za-z0-9._-]/.test(c)) ?? '?';
    throw invalid(prefix, `character ${JSON.stringify(bad)} is not allowed`);
  }
}

/**
 * The key of content-addressed bytes: `<kind>/<h0h1>/<h2h3>/<sha256>`, where `sha256` is the
 * lowercase hex SHA-256 of the bytes, e.g. `originals/ab/cd/abcd0123…`. The two fan-out levels
 * keep directories small on the local store (at most 256 entries per level, then the objects
 * whose hash shares the first four hex digits) and make key ranges easy to list or shard.
 * Equal bytes always get the same key, so writing the same content twice is harmless and a
 * stored object never needs to be overwritten with different bytes.
 *
 * Throws `STORAGE_KEY_INVALID` when `sha256` is not 64 hex digits (upper case is accepted and
 * lowered) or `kind` is not a single valid key segment.
 *
 * @param sha256 hex SHA-256 of the content
 * @param kind the top-level folder: `originals` for uploads, `results` for rendered images, or
 *   another single segment
 * @example
 * const sha = createHash('sha256').update(bytes).digest('hex');
 * await storage.put(contentKey(sha, 'originals'), bytes, { contentType: 'image/jpeg' });
 */
export function contentKey(sha256: string, kind: ContentKind): string {
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) {
    throw invalid(sha256, 'a content key needs a SHA-256 of 64 hex digits');
  }
  if (typeof kind !== 'string' || kind.includes('/')) throw invalid(kind, 'kind must be a single segment');
  checkSegment(kind, kind);
  const hash = sha256.toLowerCase();
  return `${kind}/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`;
}

/**
 * The top-level folder of a content-addressed key. `originals` and `results` are the ones
 * Atelier uses; any other single key segment works too.
 */
// `string & {}` keeps editor completion for the named kinds while allowing others.
export type ContentKind = 'originals' | 'results' | (string & {});
