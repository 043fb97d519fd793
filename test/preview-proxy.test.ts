// The preview's proxy (packages/core/src/preview-proxy.ts): the photo shrunk by area averaging,
// lossless, so a style analyses it as it analyses the photo (docs/styles.md "The preview's proxy").
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, PluginRegistry, createPlan, loadPluginModule } from '@atelier/core';
import type { AtelierError } from '@atelier/core';
import { PREVIEW_SIZE, previewProxy } from '@atelier/server';
import { photo, pixels, read } from './helpers.ts';

/** A `width` x `height` RGB(A) image whose pixels are `at(x, y)`, as PNG. */
function png(width: number, height: number, channels: 3 | 4, at: (x: number, y: number) => number[]) {
  const data = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set(at(x, y), (y * width + x) * channels);
  return sharp(data, { raw: { width, height, channels } }).png().toBuffer();
}

describe('previewProxy', () => {
  it.each([
    [2048, 1280, 320, 0.25], // a whole multiple of the proxy: 4 x 4 blocks averaged
    [2000, 1250, 320, 0.256], // resampled to 1536 x 960 first, then 3 x 3 blocks
  ])(
    'averages what each proxy pixel covers: a 1 px checkerboard of %i x %i is an even grey',
    async (width, height, proxyHeight, expectedScale) => {
      // Black and white pixels in turn: every proxy pixel covers as much of each.
      const input = await png(width, height, 3, (x, y) => ((x + y) & 1 ? [255, 255, 255] : [0, 0, 0]));
      const { png: out, scale } = await previewProxy(input);
      const proxy = await pixels(out);
      expect([proxy.width, proxy.height, scale]).toEqual([PREVIEW_SIZE, proxyHeight, expectedScale]);
      // 127.5 either way, everywhere.
      expect([...new Set(proxy.data)].every((v) => v === 127 || v === 128)).toBe(true);
    },
  );

  it('has no ringing at an edge: each pixel is the mean of its block, never beyond what it covers', async () => {
    // A vertical step from 40 to 200 at x = 1001, 2048 px wide: proxy pixel 250 covers x = 1000 to
    // 1003, one pixel of 40 and three of 200. A Lanczos shrink (the proxy before) gave
    // 40 38 156 208 198 200 there: an undershoot and an overshoot that a style's edge or
    // threshold reads as detail the photo does not have.
    const input = await png(2048, 1280, 3, (x) => (x < 1001 ? [40, 40, 40] : [200, 200, 200]));
    const proxy = await pixels((await previewProxy(input)).png);
    const row = [...proxy.data.subarray(247 * 3, 254 * 3)].filter((_, i) => i % 3 === 0);
    expect(row).toEqual([40, 40, 40, 160, 200, 200, 200]);
  });

  it('is the mean of the photo over each pixel it covers, within rounding', async () => {
    // evening-glow is 2560 x 1600: a proxy pixel covers exactly 5 x 5 of its pixels.
    const bytes = await read(photo('evening-glow-2560x1600.jpg'));
    const proxy = await pixels((await previewProxy(bytes)).png);
    const full = await pixels(await sharp(bytes).png().toBuffer());
    let worst = 0;
    let total = 0;
    for (let y = 0; y < proxy.height; y++) {
      for (let x = 0; x < proxy.width; x++) {
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let yy = 5 * y; yy < 5 * y + 5; yy++)
            for (let xx = 5 * x; xx < 5 * x + 5; xx++) sum += full.data[(yy * full.width + xx) * 3 + c]!;
          const error = Math.abs(proxy.data[(y * proxy.width + x) * 3 + c]! - sum / 25);
          worst = Math.max(worst, error);
          total += error;
        }
      }
    }
    // A whole multiple (5): averaged from the decoded photo as it is, so to the rounding.
    expect(worst).toBeLessThanOrEqual(0.5);
    expect(total / (proxy.width * proxy.height * 3)).toBeLessThan(0.26);
  });

  it('keeps alpha, averaging colour by coverage: transparent pixels do not darken the edge', async () => {
    // Opaque red and fully transparent black in turn: the mix is red at half coverage.
    const input = await png(1024, 1024, 4, (x) => (x & 1 ? [255, 0, 0, 255] : [0, 0, 0, 0]));
    const proxy = await pixels((await previewProxy(input)).png);
    expect(proxy.channels).toBe(4);
    const [r, g, b, a] = proxy.data.subarray(0, 4);
    expect([r, g, b]).toEqual([255, 0, 0]);
    expect(Math.abs(a! - 128)).toBeLessThanOrEqual(1);
  });

  it('leaves a photo no larger than the proxy as it is, orientation applied', async () => {
    // 300 x 200 stored, EXIF orientation 6 (rotate 90° clockwise to view): 200 x 300 upright.
    const raw = await png(300, 200, 3, (x, y) => [x % 256, y, 7]);
    const input = await sharp(raw).withMetadata({ orientation: 6 }).png().toBuffer();
    const { png: out, scale } = await previewProxy(input);
    const proxy = await pixels(out);
    expect([proxy.width, proxy.height, scale]).toEqual([200, 300, 1]);
    // Upright, the stored top-left pixel (0, 0, 7) is at the top right.
    expect([...proxy.data.subarray((200 - 1) * 3, 200 * 3)]).toEqual([0, 0, 7]);
  });

  it('refuses bytes that are not an image', async () => {
    await expect(previewProxy(new Uint8Array([1, 2, 3, 4]))).rejects.toThrow();
  });
});

describe('Engine.previewProxy', () => {
  let engine: Engine;
  beforeAll(() => {
    engine = new Engine({ registry: new PluginRegistry(), threads: 1, limits: { maxInputBytes: 4_000_000 } });
  });
  afterAll(() => engine.close());

  it("makes in an engine thread the very proxy previewProxy makes in the caller's", async () => {
    for (const name of ['evening-glow-2560x1600.jpg', 'chelsea.png']) {
      const bytes = await read(photo(name));
      const here = await previewProxy(bytes);
      const there = await engine.previewProxy(bytes, PREVIEW_SIZE);
      expect(there.scale).toBe(here.scale);
      const [a, b] = [await pixels(here.png), await pixels(there.png)];
      expect([b.width, b.height, b.channels]).toEqual([a.width, a.height, a.channels]);
      expect(Buffer.from(b.data).equals(Buffer.from(a.data))).toBe(true);
    }
    // Another long side, as asked.
    const small = await engine.previewProxy(await read(photo('chelsea.png')), 100);
    expect(Math.max((await pixels(small.png)).width, (await pixels(small.png)).height)).toBe(100);
  });

  it('answers bad input with the codes a run gives it, and a closed engine with ENGINE_CLOSED', async () => {
    const codeOf = (p: Promise<unknown>): Promise<string | undefined> =>
      p.then(
        () => undefined,
        (error: unknown) => (error as AtelierError).code,
      );
    expect(await codeOf(engine.previewProxy(new Uint8Array([1, 2, 3, 4])))).toBe('IMAGE_FORMAT_UNSUPPORTED');
    expect(await codeOf(engine.previewProxy(new Uint8Array()))).toBe('IMAGE_EMPTY');
    // Over this engine's limits, from the header (volna is 4.6 MB).
    expect(await codeOf(engine.previewProxy(await read(photo('volna-5120x2880.jpg'))))).toBe(
      'IMAGE_TOO_LARGE',
    );
    // A header that reads, pixels that do not (half a JPEG): libvips fails in the engine's thread.
    const half = (await read(photo('rocket.jpg'))).subarray(0, 56_000);
    const corrupt = await engine.previewProxy(half).catch((error: unknown) => error as AtelierError);
    expect(corrupt).toMatchObject({ code: 'IMAGE_CORRUPT', message: /cannot be decoded for a preview/ });
    await expect(engine.previewProxy(await read(photo('chelsea.png')), 0)).rejects.toThrow(RangeError);
    const closed = new Engine({ registry: new PluginRegistry(), threads: 1 });
    await closed.close();
    expect(await codeOf(closed.previewProxy(await read(photo('chelsea.png'))))).toBe('ENGINE_CLOSED');
  });
});

describe("a preview's encoding", () => {
  let engine: Engine;
  let registry: PluginRegistry;
  beforeAll(async () => {
    registry = new PluginRegistry();
    await loadPluginModule(registry, import.meta.resolve('@atelier/plugins'), { builtin: true });
    engine = new Engine({ registry, threads: 1, bandThreads: 0 });
  });
  afterAll(() => engine.close());

  it('is a JPEG of the same pixels as a run that is not a preview, encoded for time (no Huffman optimisation: more bytes)', async () => {
    const input = await engine.decode(await read(photo('chelsea.png')));
    // A flip ignores previewScale: a preview has the pixels of a job.
    const plan = createPlan(registry, {
      steps: [{ plugin: 'flip' }],
      output: { format: 'jpeg', quality: 90 },
    });
    const job = await engine.run(input, plan);
    const preview = await engine.run(input, plan, { previewScale: 0.25 });
    const [a, b] = [await pixels(job.data), await pixels(preview.data)];
    expect([b.width, b.height]).toEqual([a.width, a.height]);
    expect(Buffer.from(b.data).equals(Buffer.from(a.data))).toBe(true);
    expect(preview.bytes).toBeGreaterThan(job.bytes * 1.02);
  });
});
