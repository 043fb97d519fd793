import sharp from 'sharp';
import { AtelierError, blurGrey, runStep } from '@atelier/core';
import type { RawImage } from '@atelier/core';
import { describe, expect, it } from 'vitest';
import { expectDescribedParams, greySquare, lumaAt, noisyGrey, photo } from '../test-support.ts';
import { cartoon } from './cartoon.plugin.ts';
import { blurGreySync, quantiseTable, shadeAndOutline, takeWorkPlanes } from './cartoon.work.ts';
import type { RunBands } from './cartoon.work.ts';

describe('cartoon', () => {
  it('declares bounded, described, defaulted parameters', () => {
    expect(cartoon.id).toBe('cartoon');
    expectDescribedParams(cartoon);
    expect(() => cartoon.params.parse({ levels: 1 })).toThrow();
    expect(() => cartoon.params.parse({ levels: 4.5 })).toThrow();
  });

  it('keeps the size, and the same input gives the same bytes', async () => {
    const image = await photo('chelsea.png', { width: 451 });
    const a = await runStep(cartoon, image, {});
    const b = await runStep(cartoon, image, {});
    expect([a.width, a.height, a.channels]).toEqual([451, 300, 3]);
    expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
  });

  it('outlines a shape in dark ink and leaves flat areas flat', async () => {
    const image = greySquare(240, 160, 60);
    const out = await runStep(cartoon, image, {});
    // Just outside the square's left edge (dark side is inside) there is ink; somewhere along
    // the border a pixel is much darker than the square's own grey.
    let darkest = 255;
    for (let x = 55; x < 65; x++) darkest = Math.min(darkest, lumaAt(out, x, 80));
    expect(darkest).toBeLessThan(40);
    // Far from the edges, both areas keep their tone.
    expect(Math.abs(lumaAt(out, 20, 20) - 235)).toBeLessThan(20);
    expect(Math.abs(lumaAt(out, 120, 80) - 60)).toBeLessThan(20);
  });

  it('draws no outlines when edgeStrength is 0', async () => {
    const out = await runStep(cartoon, greySquare(240, 160, 60), { edgeStrength: 0 });
    for (let x = 50; x < 70; x++) expect(lumaAt(out, x, 80)).toBeGreaterThan(45);
  });

  it('does not turn sensor noise on a flat grey into speckles', async () => {
    const w = 300;
    const h = 200;
    const out = await runStep(cartoon, noisyGrey(w, h, 120, 6, 7), {});
    let dark = 0;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (lumaAt(out, x, y) < 90) dark++;
    expect(dark / (w * h)).toBeLessThan(0.002);
  });

  it('keeps a dark photo readable: shadows are not crushed to black', async () => {
    const out = await runStep(cartoon, await photo('evening-glow-2560x1600.jpg', { width: 480 }), {});
    let sum = 0;
    let black = 0;
    for (let y = 0; y < out.height; y++) {
      for (let x = 0; x < out.width; x++) {
        const v = lumaAt(out, x, y);
        sum += v;
        if (v < 8) black++;
      }
    }
    expect(sum / (out.width * out.height)).toBeGreaterThan(50);
    expect(black / (out.width * out.height)).toBeLessThan(0.1);
  });

  it('works on tiny, grey and RGBA images', async () => {
    const tiny = await runStep(
      cartoon,
      { data: new Uint8Array(3 * 2 * 3).fill(90), width: 3, height: 2, channels: 3 },
      {},
    );
    expect([tiny.width, tiny.height]).toEqual([3, 2]);
    const grey = await runStep(
      cartoon,
      { data: new Uint8Array(64 * 48).fill(100), width: 64, height: 48, channels: 1 },
      {},
    );
    expect(grey.channels).toBe(3);
    const rgba = await runStep(
      cartoon,
      { data: new Uint8Array(64 * 48 * 4).fill(200), width: 64, height: 48, channels: 4 },
      {},
    );
    expect(rgba.channels).toBe(4);
  });

  it('stops when the run is cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      runStep(cartoon, greySquare(64, 64, 60), {}, { signal: controller.signal }),
    ).rejects.toBeInstanceOf(AtelierError);
  });

  it('blurs for its outlines exactly as blurGrey does through sharp', async () => {
    const factory = (image?: RawImage) =>
      sharp(image!.data, { raw: { width: image!.width, height: image!.height, channels: image!.channels } });
    // Odd sizes, so that both edges are repeated; sigmas from the thinnest outline to the widest.
    const w = 61;
    const h = 37;
    const grey = noisyGrey(w, h, 128, 60, 3).data.filter((_, i) => i % 3 === 0);
    for (const sigma of [0.2, 0.35, 0.51, 1.1, 1.68, 3.5]) {
      const native = await blurGrey(factory, grey, w, h, sigma);
      const ours = blurGreySync(grey, w, h, sigma, new Float32Array(w * h), new Float32Array(w * h));
      expect(Buffer.from(ours.buffer).equals(Buffer.from(native.buffer, native.byteOffset, w * h * 4))).toBe(
        true,
      );
    }
  });

  it('shades and outlines the same bytes whatever the bands, in any order', () => {
    // Bands of 1, 3, 5, ... units, the last first.
    const oddReversed: RunBands = (kernel, args, size) => {
      const starts = [0];
      for (let n = 1; starts.at(-1)! < size; n += 2) starts.push(Math.min(size, starts.at(-1)! + n));
      for (let i = starts.length - 2; i >= 0; i--)
        kernel.run(args, starts[i]!, starts[i + 1]!, { throwIfAborted() {} });
    };
    const w = 203;
    const h = 117;
    let seed = 5;
    const noise = Array.from(
      { length: w * h },
      () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 2 ** 24,
    );
    // The thin outlines' path, the half-size blur's, no outlines.
    for (const sigma of [0.7, 1.4, 3.5, 0]) {
      const results = [undefined, oddReversed].map((run) => {
        const planes = takeWorkPlanes(w, h, false);
        for (let i = 0; i < w * h; i++) {
          const square = i % w > 60 && i % w < 140 && i / w > 30 && i / w < 90 ? 0.5 : 0;
          planes.r[i] = 0.2 + square + 0.3 * noise[i]!;
          planes.g[i] = 0.3 + square * 0.5 + 0.1 * noise[(i * 7) % (w * h)]!;
          planes.b[i] = 0.6 - square * 0.4 + 0.2 * noise[(i * 13) % (w * h)]!;
        }
        shadeAndOutline(planes, { quant: quantiseTable(6), saturation: 1.2, sigma, ...(run ? { run } : {}) });
        return Buffer.concat(
          [planes.r, planes.g, planes.b, planes.dog, planes.grey].map((p) =>
            Buffer.from(p.buffer, p.byteOffset, p.byteLength),
          ),
        );
      });
      expect(results[1]!.equals(results[0]!)).toBe(true);
    }
  });
});
