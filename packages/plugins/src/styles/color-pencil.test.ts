import { AtelierError, runStep } from '@atelier/core';
import type { RawImage } from '@atelier/core';
import { describe, expect, it } from 'vitest';
import { expectDescribedParams, lineContrast, photo, thinLineChart } from '../test-support.ts';
import { colorPencil } from './color-pencil.plugin.ts';

/** Mean R, G, B over a rectangle. */
function meanColour(img: RawImage, x0: number, y0: number, w: number, h: number): [number, number, number] {
  const s = [0, 0, 0];
  for (let y = y0; y < y0 + h; y++) {
    for (let x = x0; x < x0 + w; x++)
      for (let c = 0; c < 3; c++) s[c]! += img.data[(y * img.width + x) * 3 + c]!;
  }
  return s.map((v) => v / (w * h)) as [number, number, number];
}

/** Mean difference (the largest channel's) between a thin line and the paper 4–6 px beside it that reads as a line. */
const MIN_LINE_CONTRAST = 40;

describe('color-pencil', () => {
  it('declares bounded, described, defaulted parameters', () => {
    expect(colorPencil.id).toBe('color-pencil');
    expectDescribedParams(colorPencil);
    expect(() => colorPencil.params.parse({ saturation: -1 })).toThrow();
  });

  it('keeps the size, and is deterministic for a seed', async () => {
    const image = await photo('astronaut.png', { width: 512 });
    const a = await runStep(colorPencil, image, {}, { seed: 9 });
    const b = await runStep(colorPencil, image, {}, { seed: 9 });
    expect([a.width, a.height, a.channels]).toEqual([512, 512, 3]);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
  });

  it('gives the same image whatever the thread rendered before (its work planes are reused)', async () => {
    // Two photos of one size share a set of kept work planes: a plane not written whole would
    // carry the other photo into the render.
    const cups = await photo('colorful-cups-2560x1600.jpg', { width: 640 });
    const evening = await photo('evening-glow-2560x1600.jpg', { width: 640 });
    const first = await runStep(colorPencil, cups, {});
    await runStep(colorPencil, evening, { hatching: 1, darkness: 1 });
    const again = await runStep(colorPencil, cups, {});
    expect(Buffer.from(again.data).equals(Buffer.from(first.data))).toBe(true);
  });

  it('keeps hues: a red field stays red, a blue one blue, on light paper', async () => {
    const w = 200;
    const h = 100;
    const data = new Uint8Array(w * h * 3);
    for (let i = 0; i < w * h; i++) data.set(i % w < 100 ? [200, 40, 40] : [40, 60, 190], i * 3);
    const out = await runStep(colorPencil, { data, width: w, height: h, channels: 3 }, {});
    const [r1, g1, b1] = meanColour(out, 20, 20, 60, 60);
    const [r2, , b2] = meanColour(out, 120, 20, 60, 60);
    expect(r1).toBeGreaterThan(g1 + 40);
    expect(r1).toBeGreaterThan(b1 + 40);
    expect(b2).toBeGreaterThan(r2 + 40);
    // Pencil on paper is lighter than the photo's solid colour.
    expect((r1 + g1 + b1) / 3).toBeGreaterThan((200 + 40 + 40) / 3);
  });

  it('gives grey output at saturation 0', async () => {
    const out = await runStep(colorPencil, await photo('coffee.png', { width: 300 }), { saturation: 0 });
    for (let i = 0; i < out.data.length; i += 3 * 97) {
      expect(Math.abs(out.data[i]! - out.data[i + 1]!)).toBeLessThanOrEqual(2);
      expect(Math.abs(out.data[i + 1]! - out.data[i + 2]!)).toBeLessThanOrEqual(2);
    }
  });

  it('keeps a dark photo from turning into a dark sheet', async () => {
    const out = await runStep(colorPencil, await photo('evening-glow-2560x1600.jpg', { width: 480 }), {});
    const [r, g, b] = meanColour(out, 0, 0, out.width, out.height);
    expect((r + g + b) / 3).toBeGreaterThan(100);
  });

  it('keeps 1 and 2 px lines, darker or lighter than a flat sky, at every angle to the hatching', async () => {
    const { image, lines } = thinLineChart(1920, 1200, [0, 30, 45, 60, 90, 135], [1, 2]);
    const out = await runStep(colorPencil, image, {}, { seed: 5 });
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
    const image = { data: new Uint8Array(32 * 32 * 3), width: 32, height: 32, channels: 3 as const };
    await expect(runStep(colorPencil, image, {}, { signal: controller.signal })).rejects.toBeInstanceOf(
      AtelierError,
    );
  });
});
