import { describe, expect, it } from 'vitest';
import { setBandRunner } from '../parallel/bands.ts';
import { backwardsRunner } from '../parallel/test-support.ts';
import { flowField } from './structure-tensor.ts';

/** Grey stripes whose brightness varies along the unit direction (gx, gy). */
function stripes(w: number, h: number, gx: number, gy: number, period = 9): Uint8Array {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = 128 + 100 * Math.sin((2 * Math.PI * (x * gx + y * gy)) / period);
      data.fill(Math.round(v), (y * w + x) * 3, (y * w + x) * 3 + 3);
    }
  }
  return data;
}

/** Mean tangent angle (doubled-angle average, so 0 and π agree) over the inner cells. */
function meanAngle(f: ReturnType<typeof flowField>): number {
  let c = 0;
  let s = 0;
  for (let y = 3; y < f.height - 3; y++) {
    for (let x = 3; x < f.width - 3; x++) {
      const a = f.angle[y * f.width + x]!;
      c += Math.cos(2 * a);
      s += Math.sin(2 * a);
    }
  }
  const a = Math.atan2(s, c) / 2;
  return a < 0 ? a + Math.PI : a;
}

describe('flowField', () => {
  it('runs along stripes, at right angles to the gradient', () => {
    // Brightness varies along x: the stripes (and the tangent) are vertical.
    const w = 64;
    const h = 48;
    const f = flowField({ data: stripes(w, h, 1, 0), width: w, height: h, sigma: 3 });
    expect(f.width).toBe(32);
    expect(f.height).toBe(24);
    const i = 12 * f.width + 16;
    expect(Math.abs(f.ty[i]!)).toBeGreaterThan(0.99);
    expect(f.tx[i]! ** 2 + f.ty[i]! ** 2).toBeCloseTo(1, 5);
    expect(f.coherence[i]!).toBeGreaterThan(0.9);
  });

  it('finds an oblique direction', () => {
    const w = 96;
    const h = 96;
    const g = 0.5; // gradient at 0.5 rad: tangent at 0.5 + π/2
    const f = flowField({ data: stripes(w, h, Math.cos(g), Math.sin(g), 11), width: w, height: h, sigma: 4 });
    expect(meanAngle(f)).toBeCloseTo(g + Math.PI / 2, 1);
  });

  it('follows the fallback direction where the image is flat, and the image where it is not', () => {
    const w = 40;
    const h = 40;
    const flat = new Uint8Array(w * h * 3).fill(90);
    const f = flowField({
      data: flat,
      width: w,
      height: h,
      sigma: 3,
      fallback: { angle: 0.7, strength: 1e-4 },
    });
    expect(meanAngle(f)).toBeCloseTo(0.7, 3);
    const striped = flowField({
      data: stripes(w, h, 1, 0),
      width: w,
      height: h,
      sigma: 3,
      fallback: { angle: 0.7, strength: 1e-4 },
    });
    expect(meanAngle(striped)).toBeCloseTo(Math.PI / 2, 1);
  });

  it('gives the same field for a band with enough margin as for the whole image', () => {
    const w = 50;
    const h = 80;
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++)
      data[i] = (Math.sin(i * 0.013) * 40 + ((i * 2654435761) >>> 24) / 4 + 100) | 0;
    const whole = flowField({ data, width: w, height: h, sigma: 3, factor: 2 });
    const top = 20; // a multiple of the factor
    const rows = 40;
    const band = flowField({
      data: data.subarray(top * w * 3, (top + rows) * w * 3),
      width: w,
      height: rows,
      sigma: 3,
      factor: 2,
    });
    // Margin: 3 sigma + 3 cells of 2 px = 15 px, so rows 20 + 15 .. 60 - 15 agree.
    for (let cy = (top + 16) / 2; cy < (top + rows - 16) / 2; cy++) {
      for (let cx = 0; cx < whole.width; cx++) {
        const a = whole.angle[cy * whole.width + cx]!;
        const b = band.angle[(cy - top / 2) * band.width + cx]!;
        expect(b).toBeCloseTo(a, 4);
      }
    }
  });

  it('gives the same field in bands (rows, and columns for the vertical passes), in any order', () => {
    // Over a megapixel, so every pass runs in bands.
    const w = 1210;
    const h = 870;
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < data.length; i++)
      data[i] = (Math.sin(i * 0.0007) * 60 + ((i * 2654435761) >>> 24) / 3 + 60) | 0;
    const factor = 3;
    const angle = new Float32Array(Math.ceil(w / factor) * Math.ceil(h / factor));
    for (let i = 0; i < angle.length; i++) angle[i] = (i % 97) / 31;
    const args = { data, width: w, height: h, factor, sigma: 7, fallback: { angle, strength: 1e-3 } };
    const bytes = (f: ReturnType<typeof flowField>): Buffer =>
      Buffer.concat(
        [f.tx, f.ty, f.angle, f.coherence].map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)),
      );
    const alone = bytes(flowField(args));
    for (const threads of [2, 3]) {
      const previous = setBandRunner(backwardsRunner(threads));
      try {
        expect(bytes(flowField(args)).equals(alone)).toBe(true);
      } finally {
        setBandRunner(previous);
      }
    }
  });
});
