import { describe, expect, it } from 'vitest';
import { deltaE, hexToRgb, rgbToLab } from './colour.ts';
import { palette } from './palette.ts';
import { makePixels } from './test-images.ts';

const NAVY = hexToRgb('#1d3557')!;
const RED = hexToRgb('#e63946')!;
const CREAM = hexToRgb('#f1faee')!;

describe('palette (k-means in CIELAB)', () => {
  it('puts the colour covering most of the image first, with its share', () => {
    // 70% navy, 20% red, 10% cream, in bands.
    const image = makePixels(100, 100, (x) => (x < 70 ? NAVY : x < 90 ? RED : CREAM));
    const found = palette(image);
    expect(found[0]!.hex).toBe('#1d3557');
    expect(found[0]!.weight).toBeCloseTo(0.7, 5);
    expect(found.map((c) => c.hex)).toEqual(['#1d3557', '#e63946', '#f1faee']);
    expect(found.reduce((s, c) => s + c.weight, 0)).toBeCloseTo(1, 12);
    const lab = rgbToLab(...NAVY);
    expect(deltaE(found[0]!, lab)).toBeLessThan(0.01);
  });

  it('a flat image has one colour of weight 1; a gradient has five, weights summing to 1', () => {
    expect(palette(makePixels(16, 16, () => [10, 200, 30]))).toEqual([
      expect.objectContaining({ hex: '#0ac81e', weight: 1 }),
    ]);
    const gradient = palette(makePixels(64, 64, (x, y) => [x * 4, y * 4, 128]));
    expect(gradient).toHaveLength(5);
    expect(gradient.reduce((s, c) => s + c.weight, 0)).toBeCloseTo(1, 12);
    for (let i = 1; i < gradient.length; i++)
      expect(gradient[i]!.weight).toBeLessThanOrEqual(gradient[i - 1]!.weight);
  });

  it('is deterministic', () => {
    const image = makePixels(64, 64, (x, y) => [(x * 7) % 256, (y * 13) % 256, (x * y) % 256]);
    expect(palette(image)).toEqual(palette(image));
  });

  it('refuses pixels whose size does not match (a programmer mistake)', () => {
    expect(() => palette({ data: new Uint8Array(10), width: 2, height: 2 })).toThrow(/expected 2x2x3/);
  });
});
