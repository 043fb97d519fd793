import { describe, expect, it } from 'vitest';
import { quarterSampleRows, quarterSamples } from './quarter-samples.ts';

describe('quarterSamples', () => {
  it('samples a quarter pixel from each centre, bilinearly, repeating the edges', () => {
    // A plane that is linear inside: value = 10 x + 100 y.
    const w = 6;
    const h = 4;
    const plane = new Float32Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) plane[y * w + x] = 10 * x + 100 * y;
    const rows = quarterSampleRows(w);
    quarterSamples(plane, w, h, 2, rows);
    // Inside, exactly the plane at (x ± 0.25, 2 ± 0.25).
    for (let x = 1; x < w - 1; x++) {
      expect(rows.ul[x]).toBeCloseTo(10 * (x - 0.25) + 100 * 1.75, 9);
      expect(rows.ur[x]).toBeCloseTo(10 * (x + 0.25) + 100 * 1.75, 9);
      expect(rows.dl[x]).toBeCloseTo(10 * (x - 0.25) + 100 * 2.25, 9);
      expect(rows.dr[x]).toBeCloseTo(10 * (x + 0.25) + 100 * 2.25, 9);
    }
    // Beyond the edges the edge pixels repeat: left of column 0 is column 0, below the last row is it.
    expect(rows.ul[0]).toBeCloseTo(0 + 100 * 1.75, 9);
    expect(rows.ur[w - 1]).toBeCloseTo(10 * (w - 1) + 100 * 1.75, 9);
    quarterSamples(plane, w, h, h - 1, rows);
    expect(rows.dl[2]).toBeCloseTo(10 * 1.75 + 100 * (h - 1), 9);
  });

  it('reads rows `stride` apart, and gives an integer plane in sixteenths', () => {
    const stride = 5;
    const plane = Uint16Array.from([0, 16, 99, 99, 99, 32, 48, 99, 99, 99]);
    const rows = quarterSampleRows(2);
    quarterSamples(plane, 2, 2, 0, rows, stride);
    // Up-left of (0, 0): the top-left pixel alone (edges repeat); down-right: 9/16 of it, 3/16 of
    // each neighbour, 1/16 of the diagonal one.
    expect(rows.ul[0]).toBe(0);
    expect(rows.dr[0]).toBe((9 * 0 + 3 * 16 + 3 * 32 + 1 * 48) / 16);
    expect(rows.dr[1]).toBe((9 * 16 + 3 * 16 + 3 * 48 + 48) / 16);
  });

  it('refuses a row outside the plane or rows too short', () => {
    const plane = new Float32Array(12);
    expect(() => quarterSamples(plane, 4, 3, 3, quarterSampleRows(4))).toThrow(RangeError);
    expect(() => quarterSamples(plane, 4, 3, 0, quarterSampleRows(3))).toThrow(RangeError);
  });
});
