import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isAtelierError } from '@atelier/core';
import { assertValidKey, assertValidPrefix, contentKey, isValidKey } from './keys.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isAtelierError(error) ? error.code : 'not an AtelierError';
  }
  return undefined;
}

describe('contentKey', () => {
  const sha = createHash('sha256').update('hello').digest('hex');

  it('fans the hash out over two folder levels under the kind', () => {
    expect(contentKey(sha, 'originals')).toBe(`originals/2c/f2/${sha}`);
    expect(contentKey(sha, 'results')).toBe(`results/2c/f2/${sha}`);
    expect(contentKey(sha.toUpperCase(), 'thumbs')).toBe(`thumbs/2c/f2/${sha}`);
    expect(isValidKey(contentKey(sha, 'originals'))).toBe(true);
  });

  it('rejects anything but a SHA-256 and a single-segment kind', () => {
    for (const bad of ['', sha.slice(1), `${sha}0`, `${sha.slice(1)}g`, '../../../../etc/passwd']) {
      expect(codeOf(() => contentKey(bad, 'originals'))).toBe('STORAGE_KEY_INVALID');
    }
    for (const kind of ['', 'a/b', '..', '.hidden', 'with space']) {
      expect(codeOf(() => contentKey(sha, kind))).toBe('STORAGE_KEY_INVALID');
    }
  });
});

describe('key rules', () => {
  it('says why a key is invalid', () => {
    const messageOf = (key: string) => {
      try {
        assertValidKey(key);
      } catch (error) {
        return (error as Error).message;
      }
      return 'valid';
    };
    expect(messageOf('a//b')).toMatch(/empty segment/);
    expect(messageOf('a/../b')).toMatch(/"\.\." segments/);
    expect(messageOf('/a')).toMatch(/absolute/);
    expect(messageOf('a/.b')).toMatch(/may not start with "\."/);
    expect(messageOf('a b')).toMatch(/character " " is not allowed/);
    expect(messageOf('a.b/c_d-e/F9')).toBe('valid');
  });

  it('accepts prefixes that end mid-segment or after a slash', () => {
    for (const prefix of ['', 'a', 'a/', 'a/b', 'a/b.', 'a/.', 'originals/ab/']) {
      expect(
        codeOf(() => assertValidPrefix(prefix)),
        prefix,
      ).toBeUndefined();
    }
    for (const prefix of ['/', '//', 'a//', '../', './', 'a/../', 'a b', '.x/']) {
      expect(
        codeOf(() => assertValidPrefix(prefix)),
        prefix,
      ).toBe('STORAGE_KEY_INVALID');
    }
  });
});
