import { describe, expect, it } from 'vitest';
import { EMPTY_EXIF, exifSummary } from './exif-summary.ts';

describe('exifSummary', () => {
  it('gives nulls for no block, a short block and a damaged one (never throws)', () => {
    expect(exifSummary(undefined)).toEqual(EMPTY_EXIF);
    expect(exifSummary(new Uint8Array(3), 3)).toEqual({ ...EMPTY_EXIF, orientation: 3 });
    expect(exifSummary(new TextEncoder().encode('Exif\0\0MM\0*garbage-garbage'))).toEqual(EMPTY_EXIF);
  });

  it('ignores an orientation outside 1..8', () => {
    expect(exifSummary(undefined, 9).orientation).toBeNull();
  });
});
