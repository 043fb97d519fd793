import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { isAtelierError } from './errors.ts';
import { definePlugin } from './plugin.ts';
import type { RawImage } from './plugin.ts';
import { runPipeline } from './run-pipeline.ts';
import { runStep, sharpFromRaw } from './step-runner.ts';

function flat(channels: RawImage['channels'], value: number[]): RawImage {
  const data = new Uint8Array(4 * 3 * channels);
  for (let i = 0; i < data.length; i += channels) data.set(value, i);
  return { data, width: 4, height: 3, channels };
}

describe('runPipeline', () => {
  it('returns what the pipeline makes for a colour input', async () => {
    const image = flat(3, [200, 100, 50]);
    const out = await runPipeline(image, sharpFromRaw(image).flop());
    expect([out.width, out.height, out.channels]).toEqual([4, 3, 3]);
    expect([...out.data.subarray(0, 3)]).toEqual([200, 100, 50]);
  });

  it('keeps a grey input grey, and its alpha', async () => {
    const grey = flat(1, [90]);
    const out = await runPipeline(grey, sharpFromRaw(grey).flip());
    expect([out.channels, out.data[0]]).toEqual([1, 90]);
    const greyAlpha = flat(2, [90, 128]);
    const withAlpha = await runPipeline(greyAlpha, sharpFromRaw(greyAlpha).flip());
    expect([withAlpha.channels, withAlpha.data[0], withAlpha.data[1]]).toEqual([2, 90, 128]);
  });

  it('keeps alpha a pipeline adds, and colour when asked to', async () => {
    const grey = flat(1, [90]);
    const padded = sharpFromRaw(grey).extend({ top: 1, background: { r: 255, g: 0, b: 0, alpha: 0 } });
    const out = await runPipeline(grey, padded);
    expect([out.height, out.channels]).toEqual([4, 2]);
    expect([out.data[1], out.data[out.data.length - 1]]).toEqual([0, 255]);
    // A pipeline that makes colour from a grey input (here simply a red image): grey by Rec. 601
    // luma, unless colour is asked for.
    const red = sharpFromRaw(flat(3, [255, 0, 0]));
    const asGrey = await runPipeline(grey, red.clone());
    expect([asGrey.channels, asGrey.data[0]]).toEqual([1, 77]);
    const coloured = await runPipeline(grey, red.clone(), { keepColour: true });
    expect([coloured.channels, ...coloured.data.subarray(0, 3)]).toEqual([3, 255, 0, 0]);
  });
});

describe('runPipeline in a step', () => {
  it('answers a cancel at once while libvips is still working on a pipeline from ctx.sharp', async () => {
    const size = 2000;
    const image: RawImage = {
      data: new Uint8Array(size * size * 3).fill(128),
      width: size,
      height: size,
      channels: 3,
    };
    const slow = (): Promise<RawImage> => runPipeline(image, sharpFromRaw(image).blur(60));
    const t0 = performance.now();
    await slow();
    const blurMs = performance.now() - t0;

    const plugin = definePlugin({
      id: 'test:slow-blur',
      name: 'Slow blur',
      description: 'A large Gaussian blur.',
      version: '1.0.0',
      engine: '^1',
      kind: 'transform',
      params: z.object({}),
      apply: ({ image: input, sharp }) => runPipeline(input, sharp().blur(60)),
    });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 10);
    const started = performance.now();
    const error: unknown = await runStep(plugin, image, {}, { signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    expect(isAtelierError(error) && error.code).toBe('ABORTED');
    // Without waiting for the blur (which took blurMs uncancelled).
    expect(performance.now() - started).toBeLessThan(Math.max(60, blurMs / 2));
  });

  it('hands the step signal to any copy of the SDK (a plugin package may bring its own)', async () => {
    // Another copy's pipelineSignal reads the same registry-wide symbol; a module-local map would
    // leave that copy's runPipeline unable to answer a cancel.
    let seen: unknown;
    const controller = new AbortController();
    const plugin = definePlugin({
      id: 'test:signal-carrier',
      name: 'Signal carrier',
      description: 'Looks at what ctx.sharp attaches to its pipeline.',
      version: '1.0.0',
      engine: '^1',
      kind: 'transform',
      params: z.object({}),
      apply: ({ image: input, sharp }) => {
        const pipeline = sharp();
        seen = Reflect.get(pipeline, Symbol.for('atelier.pipelineSignal'));
        return runPipeline(input, pipeline);
      },
    });
    await runStep(plugin, flat(3, [1, 2, 3]), {}, { signal: controller.signal });
    expect(seen).toBe(controller.signal);
  });
});
