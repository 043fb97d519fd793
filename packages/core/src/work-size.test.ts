import { describe, expect, it } from 'vitest';
import { capabilityAccess } from './capabilities.ts';
import type { PluginContext, RawImage } from './plugin.ts';
import { SeededRandom } from './pixels/rng.ts';
import { silentLogger } from './logger.ts';
import { sharpFromRaw } from './step-runner.ts';
import { fitLongSide, pixelsAt, previewFullSize } from './work-size.ts';

function context(image: RawImage): PluginContext<object> {
  const rng = new SeededRandom(1);
  return {
    image,
    params: {},
    signal: new AbortController().signal,
    progress: () => {},
    logger: silentLogger,
    seed: 1,
    previewScale: 1,
    sharp: (other) => sharpFromRaw(other ?? image),
    // Not used by the functions under test.
    decode: () => Promise.reject(new Error('decode is not used here')),
    reportCost: () => {},
    annotate: () => {},
    ...capabilityAccess({ plugin: 'test', capabilities: undefined, grants: undefined }),
    random: () => rng.next(),
  };
}

describe('previewFullSize', () => {
  it("is the image's own size in a real render and the photo's in a preview", () => {
    expect(previewFullSize({ width: 600, height: 400 }, 1)).toEqual({ width: 600, height: 400 });
    expect(previewFullSize({ width: 512, height: 320 }, 0.2)).toEqual({ width: 2560, height: 1600 });
    // 4032x3024 previewed at 512x384: the short side rounds back to the photo's.
    expect(previewFullSize({ width: 512, height: 384 }, 512 / 4032)).toEqual({ width: 4032, height: 3024 });
  });
});

describe('fitLongSide', () => {
  it('shrinks the long side to the limit, never enlarges, never below one pixel', () => {
    expect(fitLongSide(4000, 3000, 1200)).toEqual({ width: 1200, height: 900 });
    expect(fitLongSide(3000, 4000, 1200)).toEqual({ width: 900, height: 1200 });
    expect(fitLongSide(800, 600, 1200)).toEqual({ width: 800, height: 600 });
    expect(fitLongSide(5000, 2, 100)).toEqual({ width: 100, height: 1 });
  });
});

describe('pixelsAt', () => {
  it("returns the step's own pixels at its size and resized ones otherwise", async () => {
    const data = new Uint8Array(8 * 4 * 3);
    for (let i = 0; i < data.length; i += 3) data.set([200, 100, 50], i);
    const image: RawImage = { data, width: 8, height: 4, channels: 3 };
    expect(await pixelsAt(context(image), { width: 8, height: 4 })).toBe(data);
    const small = await pixelsAt(context(image), { width: 4, height: 2 });
    expect(small.length).toBe(4 * 2 * 3);
    expect([...small.subarray(0, 3)]).toEqual([200, 100, 50]);
  });
});
