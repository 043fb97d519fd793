import { describe, expect, it } from 'vitest';
import { hsvToRgb, linearToSrgb, lumaOfPlanes, lumaPlane, lut8, rgbToHsv, srgbToLinear } from './color.ts';

describe('lumaPlane', () => {
  it('weights R, G and B as Rec. 601 within rounding', () => {
    const rgb = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 10, 200, 30]);
    const out = lumaPlane(rgb, 5);
    const ref = [0.299 * 255, 0.587 * 255, 0.114 * 255, 255, 0.299 * 10 + 0.587 * 200 + 0.114 * 30];
    ref.forEach((v, i) => expect(Math.abs(out[i]! - v)).toBeLessThanOrEqual(1));
  });

  it('gives the same bytes whether or not the planes are word-aligned', () => {
    const bytes = new Uint8Array(3 * 103 + 1);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 97 + 13) & 255;
    const exact = (rgb: Uint8Array, n: number): number[] =>
      Array.from(
        { length: n },
        (_, i) => (rgb[3 * i]! * 77 + rgb[3 * i + 1]! * 150 + rgb[3 * i + 2]! * 29 + 128) >> 8,
      );
    const aligned = bytes.subarray(0, 3 * 103);
    const shifted = bytes.subarray(1);
    expect(Array.from(lumaPlane(aligned, 103))).toEqual(exact(aligned, 103));
    expect(Array.from(lumaPlane(shifted, 103))).toEqual(exact(shifted, 103));
    const out = new Uint8Array(104).subarray(1);
    expect(Array.from(lumaPlane(aligned, 103, 3, out))).toEqual(exact(aligned, 103));
  });

  it('skips extra channels', () => {
    expect(Array.from(lumaPlane(new Uint8Array([255, 255, 255, 0]), 1, 4))).toEqual([255]);
  });

  it('agrees with lumaOfPlanes', () => {
    const y = lumaOfPlanes(new Float32Array([1]), new Float32Array([0.5]), new Float32Array([0]));
    expect(y[0]).toBeCloseTo(0.299 + 0.2935);
  });
});

describe('sRGB transfer', () => {
  it('round-trips', () => {
    for (const v of [0, 0.001, 0.04, 0.2, 0.5, 0.99, 1])
      expect(linearToSrgb(srgbToLinear(v))).toBeCloseTo(v, 6);
    expect(srgbToLinear(0.5)).toBeCloseTo(0.214, 3);
  });
});

describe('lut8', () => {
  it('tabulates a curve, rounded and clamped to 8 bits', () => {
    const inv = lut8((v) => 1 - v);
    expect(inv[0]).toBe(255);
    expect(inv[255]).toBe(0);
    const boost = lut8((v) => v * 2);
    expect(boost[200]).toBe(255);
  });
});

describe('rgbToHsv and hsvToRgb', () => {
  it('give the hexcone hue, saturation and value', () => {
    expect(rgbToHsv(255, 0, 0)).toEqual([0, 1, 1]);
    expect(rgbToHsv(0, 255, 0)).toEqual([120, 1, 1]);
    expect(rgbToHsv(0, 0, 255)).toEqual([240, 1, 1]);
    expect(rgbToHsv(255, 0, 255)).toEqual([300, 1, 1]);
    const [h, s, v] = rgbToHsv(255, 128, 0);
    expect(h).toBeCloseTo(30.1, 1);
    expect([s, v]).toEqual([1, 1]);
    // Greys have no hue and no saturation; black no value.
    expect(rgbToHsv(128, 128, 128)).toEqual([0, 0, 128 / 255]);
    expect(rgbToHsv(0, 0, 0)).toEqual([0, 0, 0]);
  });

  it('hsvToRgb wraps the hue and rounds to 8 bits', () => {
    expect(hsvToRgb(200, 0.5, 1)).toEqual([128, 212, 255]);
    expect(hsvToRgb(-160, 0.5, 1)).toEqual([128, 212, 255]);
    expect(hsvToRgb(560, 0.5, 1)).toEqual([128, 212, 255]);
    expect(hsvToRgb(0, 0, 0.5)).toEqual([128, 128, 128]);
  });

  it('round-trip every colour of a 17-step cube exactly', () => {
    for (let r = 0; r <= 255; r += 15) {
      for (let g = 0; g <= 255; g += 15) {
        for (let b = 0; b <= 255; b += 15) expect(hsvToRgb(...rgbToHsv(r, g, b))).toEqual([r, g, b]);
      }
    }
  });
});
