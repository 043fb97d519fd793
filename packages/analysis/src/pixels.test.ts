import { decode } from 'blurhash';
import { describe, expect, it } from 'vitest';
import { blurhashOf } from './blurhash.ts';
import { brightnessOf, lumaOf, resizeRgb } from './pixels.ts';
import { makePixels } from './test-images.ts';

describe('pixels', () => {
  it('luma and brightness: black 0, white 1, BT.709 weights', () => {
    expect(brightnessOf(makePixels(4, 4, () => [0, 0, 0]))).toBe(0);
    expect(brightnessOf(makePixels(4, 4, () => [255, 255, 255]))).toBeCloseTo(1, 6);
    expect(lumaOf(makePixels(1, 1, () => [0, 255, 0]))[0]).toBeCloseTo(0.7152, 4);
  });

  it('resizeRgb averages 2x2 blocks and keeps flat colours exact', () => {
    const checker = makePixels(4, 2, (x) => (x % 2 ? [200, 100, 0] : [0, 100, 200]));
    expect([...resizeRgb(checker, 2, 1).data]).toEqual([100, 100, 100, 100, 100, 100]);
    const flat = resizeRgb(
      makePixels(64, 64, () => [29, 53, 87]),
      32,
      32,
    );
    expect(flat.data.every((v, i) => v === [29, 53, 87][i % 3])).toBe(true);
  });
});

describe('blurhashOf', () => {
  it('encodes 4x3 components (28 characters) that decode to the image colours', () => {
    const hash = blurhashOf(makePixels(32, 32, (x) => (x < 16 ? [230, 57, 70] : [29, 53, 87])));
    expect(hash).toHaveLength(28);
    const rgba = decode(hash, 8, 1);
    // Left is red, right is navy.
    expect(rgba[0]!).toBeGreaterThan(rgba[2]!);
    expect(rgba[7 * 4 + 2]!).toBeGreaterThan(rgba[7 * 4]!);
  });
});
