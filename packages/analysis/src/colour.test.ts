import { describe, expect, it } from 'vitest';
import { deltaE, hexToRgb, labToRgb, rgbToHex, rgbToLab } from './colour.ts';

describe('CIELAB conversion', () => {
  it('gives the reference values of white, black and pure red (D65)', () => {
    const white = rgbToLab(255, 255, 255);
    expect(white.l).toBeCloseTo(100, 2);
    expect(Math.abs(white.a) + Math.abs(white.b)).toBeLessThan(0.01);
    expect(rgbToLab(0, 0, 0).l).toBeCloseTo(0, 5);
    const red = rgbToLab(255, 0, 0);
    expect(red.l).toBeCloseTo(53.24, 1);
    expect(red.a).toBeCloseTo(80.09, 1);
    expect(red.b).toBeCloseTo(67.2, 1);
  });

  it('round-trips every 8-bit grey and a sample of colours exactly', () => {
    for (let v = 0; v < 256; v++) expect(labToRgb(rgbToLab(v, v, v))).toEqual([v, v, v]);
    for (let r = 0; r < 256; r += 15)
      for (let g = 0; g < 256; g += 15)
        for (let b = 0; b < 256; b += 15) expect(labToRgb(rgbToLab(r, g, b))).toEqual([r, g, b]);
  });

  it('parses and prints hex colours, refuses malformed ones', () => {
    expect(hexToRgb('#1d3557')).toEqual([0x1d, 0x35, 0x57]);
    expect(hexToRgb('FFF')).toEqual([255, 255, 255]);
    expect(hexToRgb('#12345')).toBeUndefined();
    expect(hexToRgb('blue')).toBeUndefined();
    expect(rgbToHex(29, 53, 87)).toBe('#1d3557');
  });

  it('measures ΔE: zero for the same colour, large for black and white', () => {
    expect(deltaE(rgbToLab(10, 20, 30), rgbToLab(10, 20, 30))).toBe(0);
    expect(deltaE(rgbToLab(0, 0, 0), rgbToLab(255, 255, 255))).toBeCloseTo(100, 1);
  });
});
