import { AtelierError, bandStart, downsampleBox, floatToGrey, runStep } from '@atelier/core';
import type { RawImage } from '@atelier/core';
import { describe, expect, it } from 'vitest';
import {
  expectDescribedParams,
  expectSeeded,
  greySquare,
  lineContrast,
  noisyGrey,
  photo,
  thinLineChart,
} from '../test-support.ts';
import { toGreyBand, toUnitBand } from './sketch.bands.ts';
import { sketch } from './sketch.plugin.ts';

function stats(img: RawImage): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (const v of img.data) {
    s += v;
    s2 += v * v;
  }
  const mean = s / img.data.length;
  return { mean, std: Math.sqrt(s2 / img.data.length - mean * mean) };
}

/** Mean difference (the largest channel's) between a thin line and the paper 4–6 px beside it that reads as a line. */
const MIN_LINE_CONTRAST = 40;

describe('sketch', () => {
  it('declares bounded, described, defaulted parameters', () => {
    expect(sketch.id).toBe('sketch');
    expectDescribedParams(sketch);
    expect(() => sketch.params.parse({ darkness: 2 })).toThrow();
  });

  it('gives grey pixels at the input size, identical for the same seed, different for another', async () => {
    const a = await expectSeeded(sketch, await photo('coffee.png', { width: 600 }), 3);
    expect([a.width, a.height, a.channels]).toEqual([600, 400, 1]);
  });

  it('draws the outline of a shape on white paper', async () => {
    const out = await runStep(sketch, greySquare(320, 200, 150), { hatching: 0 });
    const at = (x: number, y: number) => out.data[y * out.width + x]!;
    // Paper stays white far from the shape; the border gets a pencil line.
    expect(at(20, 20)).toBeGreaterThan(245);
    let darkest = 255;
    for (let x = 70; x < 90; x++) darkest = Math.min(darkest, at(x, 100));
    expect(darkest).toBeLessThan(180);
  });

  it('shades darker tones with more graphite', async () => {
    const w = 300;
    const h = 100;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        data.fill(x < 100 ? 230 : x < 200 ? 130 : 40, (y * w + x) * 3, (y * w + x) * 3 + 3);
    const out = await runStep(sketch, { data, width: w, height: h, channels: 3 }, { darkness: 0 });
    const mean = (x0: number) => {
      let s = 0;
      for (let y = 20; y < 80; y++) for (let x = x0 + 20; x < x0 + 80; x++) s += out.data[y * w + x]!;
      return s / 3600;
    };
    expect(mean(0)).toBeGreaterThan(mean(100) + 15);
    expect(mean(100)).toBeGreaterThan(mean(200) + 15);
  });

  it('does not blow up the noise of a flat grey into scribbles', async () => {
    const out = await runStep(sketch, noisyGrey(300, 200, 200, 6, 11), { hatching: 0 });
    const { mean, std } = stats(out);
    expect(mean).toBeGreaterThan(240);
    expect(std).toBeLessThan(6);
  });

  it('keeps a dark photo from turning into a black sheet', async () => {
    const out = await runStep(sketch, await photo('evening-glow-2560x1600.jpg', { width: 480 }), {});
    const { mean, std } = stats(out);
    expect(mean).toBeGreaterThan(110);
    expect(std).toBeGreaterThan(25);
  });

  it('keeps 1 and 2 px lines, darker or lighter than a flat sky, at every angle to the hatching', async () => {
    const { image, lines } = thinLineChart(1920, 1200, [0, 30, 45, 60, 90, 135], [1, 2]);
    const out = await runStep(sketch, image, {}, { seed: 5 });
    // Along each line, in 24 px chunks: mean luma on the line against 4-6 px beside it.
    for (const line of lines) {
      const chunks = lineContrast(out, line);
      const kept = chunks.filter((c) => c >= MIN_LINE_CONTRAST).length / chunks.length;
      const label = `${line.tone} ${line.width} px line at ${line.angle}°: ${chunks.map((c) => c.toFixed(0)).join(' ')}`;
      expect(kept, label).toBeGreaterThanOrEqual(0.8);
    }
  });

  it('stops when the run is cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      runStep(sketch, greySquare(64, 64, 150), {}, { signal: controller.signal }),
    ).rejects.toBeInstanceOf(AtelierError);
  });

  it('converts the work-size grey as downsampleBox and floatToGrey do, in any split of bands', () => {
    const [w, h] = [37, 23];
    const grey = Uint8Array.from({ length: w * h }, (_, i) => (i * 97) & 255);
    const [unit] = downsampleBox(grey, w, h, 1, 1, 1 / 255) as [Float32Array];
    // A plane with values outside 0..1 and halves, to round and clamp.
    const plane = Float32Array.from(unit, (v, i) => (i % 5 === 0 ? v * 1.3 - 0.1 : v + 0.5 / 255));
    const back = floatToGrey(plane);
    for (const count of [1, 3, 7]) {
      const a = { grey, plane: new Float32Array(w * h), width: w };
      const b = { grey: new Uint8Array(w * h), plane, width: w };
      for (let band = count - 1; band >= 0; band--) {
        const [y0, y1] = [bandStart(band, count, h), bandStart(band + 1, count, h)];
        toUnitBand.run(a, y0, y1, { throwIfAborted() {} });
        toGreyBand.run(b, y0, y1, { throwIfAborted() {} });
      }
      expect(Buffer.from(a.plane.buffer).equals(Buffer.from(unit.buffer))).toBe(true);
      expect(Buffer.from(b.grey).equals(Buffer.from(back))).toBe(true);
    }
  });
});
