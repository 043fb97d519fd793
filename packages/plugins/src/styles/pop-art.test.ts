import { AtelierError, runStep, setSimdEnabled, simdAvailable } from '@atelier/core';
import type { PluginParams, PluginParamsInput, RawImage } from '@atelier/core';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { noisyGrey, photo } from '../test-support.ts';
import { popArt } from './pop-art.plugin.ts';

/** The distinct colours in a rectangle of an RGB(A) image, as 0xRRGGBB numbers. */
function colours(img: RawImage, x0 = 0, y0 = 0, w = img.width, h = img.height): Set<number> {
  const set = new Set<number>();
  for (let y = y0; y < y0 + h; y++) {
    for (let x = x0; x < x0 + w; x++) {
      const o = (y * img.width + x) * img.channels;
      set.add((img.data[o]! << 16) | (img.data[o + 1]! << 8) | img.data[o + 2]!);
    }
  }
  return set;
}

describe('pop-art', () => {
  it('keeps the size and paints a 2x2 grid of four flat tones per tile', async () => {
    const image = await photo('colorful-cups-2560x1600.jpg', { width: 640 });
    const out = await runStep(popArt, image, {});
    expect([out.width, out.height, out.channels]).toEqual([640, 400, 3]);
    const tiles = [
      colours(out, 0, 0, 320, 200),
      colours(out, 320, 0, 320, 200),
      colours(out, 0, 200, 320, 200),
      colours(out, 320, 200, 320, 200),
    ];
    for (const tile of tiles) expect(tile.size).toBe(4);
    // Each tile has its own palette.
    expect(new Set(tiles.flatMap((t) => [...t])).size).toBe(16);
  });

  it('uses every level on a dark photo and on a grey one', async () => {
    for (const image of [
      await photo('evening-glow-2560x1600.jpg', { width: 480 }),
      await photo('rocket.jpg', { channels: 1 }),
    ]) {
      const out = await runStep(popArt, image, { columns: 1, rows: 1, levels: 5 });
      expect(out.channels).toBe(3);
      const counts = new Map<number, number>();
      for (let i = 0; i < out.data.length; i += 3) {
        const c = (out.data[i]! << 16) | (out.data[i + 1]! << 8) | out.data[i + 2]!;
        counts.set(c, (counts.get(c) ?? 0) + 1);
      }
      expect(counts.size).toBe(5);
      // Every tone covers a real share of the picture, not a few stray pixels.
      for (const n of counts.values()) expect(n / (out.width * out.height)).toBeGreaterThan(0.03);
    }
  });

  it('does not blow noise up into blotches on a flat grey image', async () => {
    const w = 200;
    const h = 120;
    const out = await runStep(popArt, noisyGrey(w, h, 128, 2, 1), { columns: 1, rows: 1 });
    const counts = new Map<number, number>();
    for (let i = 0; i < out.data.length; i += 3)
      counts.set(out.data[i]!, (counts.get(out.data[i]!) ?? 0) + 1);
    const dominant = Math.max(...counts.values());
    expect(dominant / (w * h)).toBeGreaterThan(0.9);
  });

  it('tiles alpha with the picture and draws gutters', async () => {
    const image = await photo('astronaut.png', { channels: 4, width: 200 });
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width / 2; x++) image.data[(y * image.width + x) * 4 + 3] = 0;
    }
    const out = await runStep(popArt, image, { gutter: 2, gutterColor: '#00ff0080' });
    expect(out.channels).toBe(4);
    const alpha = (x: number, y: number): number => out.data[(y * out.width + x) * 4 + 3]!;
    // Each tile is the whole picture at half size: transparent on its own left half.
    expect(alpha(10, 10)).toBe(0);
    expect(alpha(90, 10)).toBe(255);
    expect(alpha(110, 150)).toBe(0);
    expect(alpha(190, 150)).toBe(255);
    // Gutter of 2 % of 200 = 4 pixels in the middle.
    const mid = ((out.height >> 2) * out.width + 99) * 4;
    expect([...out.data.subarray(mid, mid + 4)]).toEqual([0, 255, 0, 128]);
  });

  it('gives an opaque photo alpha when the gutter is see-through', async () => {
    const image = await photo('chelsea.png', { width: 200 });
    const out = await runStep(popArt, image, { gutter: 4, gutterColor: '#00000000', halftone: true });
    expect(out.channels).toBe(4);
    const alpha = (x: number, y: number): number => out.data[(y * out.width + x) * 4 + 3]!;
    expect(alpha(100, 10)).toBe(0);
    expect(alpha(10, 10)).toBe(255);
    expect(alpha(150, 120)).toBe(255);
  });

  it('renders every palette, halftone and odd grids deterministically', async () => {
    const image = await photo('coffee.png');
    for (const params of [
      { palette: 'lichtenstein', halftone: true },
      { palette: 'hue-rotate' },
      { palette: 'hue-rotate', halftone: true, dotSize: 3 },
      { palette: 'neon', columns: 3, rows: 3, gutter: 1 },
      { palette: 'pastel', columns: 4, rows: 1, levels: 8, smoothing: 2 },
      { columns: 1, rows: 3, levels: 2, smoothing: 0 },
    ]) {
      const a = await runStep(popArt, image, params);
      const b = await runStep(popArt, image, params);
      expect([a.width, a.height, a.channels]).toEqual([600, 400, 3]);
      expect(Buffer.compare(a.data, b.data)).toBe(0);
    }
  });

  it('halftone dots mix only neighbouring tones', async () => {
    const image = await photo('chelsea.png');
    const flat = await runStep(popArt, image, { columns: 1, rows: 1 });
    const dotted = await runStep(popArt, image, { columns: 1, rows: 1, halftone: true });
    expect(colours(flat).size).toBe(4);
    expect(colours(dotted).size).toBeGreaterThan(4);
    let differ = 0;
    for (let i = 0; i < flat.data.length; i += 3) if (flat.data[i] !== dotted.data[i]) differ++;
    expect(differ / (flat.data.length / 3)).toBeLessThan(0.5);
  });

  it('in a preview, mixes the two colours where a level boundary crosses a pixel, and only there', async () => {
    // A slanted grey ramp: bands of flat tone whose boundaries cross pixels at every offset.
    const w = 240;
    const h = 40;
    const ramp: RawImage = { data: new Uint8Array(w * h * 3), width: w, height: h, channels: 3 };
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        ramp.data.fill(
          Math.floor(((x + 0.37 * y) * 255) / (w + 0.37 * h)),
          (y * w + x) * 3,
          (y * w + x + 1) * 3,
        );
    const params = { columns: 1, rows: 1, levels: 4, smoothing: 0 };
    const full = await runStep(popArt, ramp, params);
    const preview = await runStep(popArt, ramp, params, { previewScale: 0.25 });
    const palette = [...colours(full)];
    expect(palette).toHaveLength(4);
    const rgb = (c: number): number[] => [c >> 16, (c >> 8) & 255, c & 255];
    // Every preview colour is i/4 of one palette colour and the rest of another (i = 0..4).
    const mixes = new Set<number>();
    for (const a of palette)
      for (const b of palette)
        for (let i = 0; i <= 4; i++) {
          const [ca, cb] = [rgb(a), rgb(b)];
          const m = ca.map((v, k) => (i * v + (4 - i) * cb[k]! + 2) >> 2);
          mixes.add((m[0]! << 16) | (m[1]! << 8) | m[2]!);
        }
    const seen = colours(preview);
    for (const c of seen) expect(mixes.has(c)).toBe(true);
    expect(seen.size).toBeGreaterThan(4);
    // Mixed pixels only next to a boundary of the full render.
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        if (palette.includes([...colours(preview, x, y, 1, 1)][0]!)) continue;
        const [x0, y0] = [Math.max(0, x - 1), Math.max(0, y - 1)];
        expect(colours(full, x0, y0, Math.min(w, x + 2) - x0, Math.min(h, y + 2) - y0).size).toBeGreaterThan(
          1,
        );
      }
    // With alpha, the preview keeps the picture's.
    const rgba: RawImage = { data: new Uint8Array(w * h * 4), width: w, height: h, channels: 4 };
    for (let i = 0; i < w * h; i++) {
      rgba.data.set(ramp.data.subarray(i * 3, i * 3 + 3), i * 4);
      rgba.data[i * 4 + 3] = 128;
    }
    const clear = await runStep(popArt, rgba, params, { previewScale: 0.25 });
    expect(clear.channels).toBe(4);
    for (let i = 0; i < w * h; i++) expect(clear.data[i * 4 + 3]).toBe(128);
    expect(colours(clear)).toEqual(seen);
  });

  it('paints the same bytes with the WebAssembly SIMD kernels as without', async () => {
    expect(simdAvailable()).toBe(true);
    const image = await photo('fallen-leaf-2560x1600.jpg', { width: 1280 });
    // The default grid (SIMD halving, blur, histogram and painting), more levels than a vector of
    // palette holds, a grid whose tiles differ in width (painted by the JavaScript loops), a
    // tile one row taller than the map's (its last row repeated).
    const odd = await photo('fallen-leaf-2560x1600.jpg', { width: 641 });
    const cases: [RawImage, PluginParamsInput<typeof popArt>][] = [
      [image, {}],
      [image, { levels: 8, columns: 4, rows: 3, palette: 'neon' }],
      [odd, { columns: 3 }],
      [{ ...image, height: 799, data: image.data.subarray(0, 1280 * 799 * 3) }, { rows: 2 }],
    ];
    for (const [img, params] of cases) {
      try {
        const simd = await runStep(popArt, img, params);
        setSimdEnabled(false);
        const js = await runStep(popArt, img, params);
        expect(Buffer.compare(simd.data, js.data), JSON.stringify(params)).toBe(0);
      } finally {
        setSimdEnabled(true);
      }
    }
  });

  it('gives the same image whatever the alignment of the input buffer', async () => {
    const image = await photo('colorful-cups-2560x1600.jpg', { width: 400 });
    const shifted = new Uint8Array(image.data.length + 1).subarray(1);
    shifted.set(image.data);
    const a = await runStep(popArt, image, {});
    const b = await runStep(popArt, { ...image, data: shifted }, {});
    expect(Buffer.compare(a.data, b.data)).toBe(0);
  });

  it('handles sizes that do not divide into the grid, down to one pixel', async () => {
    const image = await photo('chelsea.png', { width: 101 });
    const out = await runStep(popArt, image, { columns: 3, rows: 4 });
    expect([out.width, out.height]).toEqual([image.width, image.height]);
    for (const [w, h] of [
      [1, 1],
      [3, 2],
      [7, 5],
    ] as const) {
      const tiny = await runStep(
        popArt,
        { data: new Uint8Array(w * h * 3).fill(90), width: w, height: h, channels: 3 },
        { columns: 4, rows: 4 },
      );
      expect([tiny.width, tiny.height]).toEqual([w, h]);
    }
  });

  it('rejects out-of-range parameters', async () => {
    const image = await photo('chelsea.png');
    for (const params of [
      { columns: 5 },
      { levels: 1 },
      { palette: 'sepia' },
      { gutterColor: 'red' },
      { dotSize: 0 },
    ]) {
      const error = await runStep(popArt, image, params).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AtelierError);
      expect((error as AtelierError).code).toBe('PARAMS_INVALID');
    }
  });

  it('stops at the next stage when the run is cancelled', async () => {
    const image = await photo('coffee.png');
    const controller = new AbortController();
    const reported: number[] = [];
    const progress = (fraction: number): void => {
      reported.push(fraction);
      controller.abort();
    };
    const error = await runStep(popArt, image, {}, { signal: controller.signal, progress }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AtelierError);
    expect((error as AtelierError).code).toBe('ABORTED');
    // Aborted at the first report: no tile was painted after it.
    expect(reported).toEqual([0.4]);
  });

  it('types its parameters for callers', () => {
    expectTypeOf<PluginParamsInput<typeof popArt>>().toEqualTypeOf<{
      columns?: number;
      rows?: number;
      levels?: number;
      palette?: 'warhol' | 'lichtenstein' | 'neon' | 'pastel' | 'hue-rotate';
      smoothing?: number;
      halftone?: boolean;
      dotSize?: number;
      gutter?: number;
      gutterColor?: string;
    }>();
    expectTypeOf<PluginParams<typeof popArt>['palette']>().toEqualTypeOf<
      'warhol' | 'lichtenstein' | 'neon' | 'pastel' | 'hue-rotate'
    >();
  });
});
