// One image on several threads: steps that split their rows in bands (runBands) across the
// engine's helper threads give the same bytes as on one thread, fail with coded errors, stop
// when cancelled and never wait for a busy helper.
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Engine, PluginRegistry, loadPluginModule } from '@atelier/core';
import { closeHostSandbox, loadSandboxedModule } from '@atelier/sandbox';
import type { AtelierError } from '@atelier/core';
import { bandEngines, photo, pixels } from './helpers.ts';

let registry: PluginRegistry;
let one: Engine;
let two: Engine;
let input: Uint8Array;

beforeAll(async () => {
  registry = new PluginRegistry();
  await loadPluginModule(registry, import.meta.resolve('@atelier/plugins'), { builtin: true });
  await loadPluginModule(registry, new URL('./fixtures/band-plugins/bands.plugin.ts', import.meta.url).href);
  // Large enough (1.6 megapixels) for every kernel to split its work.
  ({ one, two, input } = await bandEngines(registry));
}, 60_000);
afterAll(async () => {
  await Promise.all([one?.close(), two?.close()]);
  await closeHostSandbox();
});

const render = (engine: Engine, plugin: string, params: Record<string, unknown> = {}) =>
  engine.run(input, engine.plan({ steps: [{ plugin, params }], output: { format: 'png' } }));

describe('bands across threads', () => {
  it.each(['oil-painting', 'watercolor', 'cartoon', 'sketch', 'color-pencil', 'pop-art'])(
    '%s gives the same bytes with a band helper as on one thread',
    async (style) => {
      const [alone, helped] = await Promise.all([render(one, style), render(two, style)]);
      expect(Buffer.from(helped.data).equals(Buffer.from(alone.data))).toBe(true);
    },
    60_000,
  );

  // Pop art paints in bands of map rows, each into every tile row: gutters between tile rows,
  // tiles a row taller than the map, odd grids, halftone, hue-rotate and a see-through gutter.
  it.each([
    { columns: 3, rows: 3, gutter: 1, palette: 'neon' },
    { columns: 2, rows: 3, gutter: 0.7, halftone: true, dotSize: 3 },
    { columns: 4, rows: 1, palette: 'hue-rotate' },
    { columns: 1, rows: 4, gutter: 2, gutterColor: '#00000000', palette: 'pastel' },
  ])(
    'pop-art %o gives the same bytes with a band helper as on one thread',
    async (params) => {
      const [alone, helped] = await Promise.all([
        render(one, 'pop-art', params),
        render(two, 'pop-art', params),
      ]);
      expect(Buffer.from(helped.data).equals(Buffer.from(alone.data))).toBe(true);
    },
    60_000,
  );

  it.each(['cartoon', 'sketch', 'color-pencil', 'pop-art'])(
    '%s gives the same preview (512 px, previewScale 0.2) with a band helper as on one thread',
    async (style) => {
      const small = await sharp(input).resize({ width: 512 }).png({ compressionLevel: 0 }).toBuffer();
      const plan = (engine: Engine) => engine.plan({ steps: [{ plugin: style }], output: { format: 'png' } });
      const [alone, helped] = await Promise.all([
        one.run(small, plan(one), { previewScale: 0.2 }),
        two.run(small, plan(two), { previewScale: 0.2 }),
      ]);
      expect(Buffer.from(helped.data).equals(Buffer.from(alone.data))).toBe(true);
      // And not the real render's pixels at that size: the preview paths ran.
      const real = await one.run(small, plan(one));
      expect(Buffer.from(real.data).equals(Buffer.from(alone.data))).toBe(false);
    },
    60_000,
  );

  it("reuses a style's output memory in later runs zero-filled: nothing of an earlier image shows through", async () => {
    for (const engine of [one, two]) {
      // Twice, so that the second half-writer gets a buffer the pool kept (4 are kept at most).
      for (let round = 0; round < 2; round++) {
        const full = await pixels((await render(engine, 'test:output-fill', { value: 255 })).data);
        expect(full.data.every((v) => v === 255)).toBe(true);
        const half = await pixels((await render(engine, 'test:output-half')).data);
        const middle = Math.floor(half.height / 2) * half.width * half.channels;
        expect(half.data.subarray(0, middle).every((v) => v === 100)).toBe(true);
        expect(half.data.subarray(middle).every((v) => v === 0)).toBe(true);
      }
      // The built-in styles give the same bytes on a reused output (and, with a helper, a reused
      // shared copy of the input) as on new ones.
      for (const style of ['pop-art', 'watercolor']) {
        const [first, second] = [await render(engine, style), await render(engine, style)];
        expect(Buffer.from(second.data).equals(Buffer.from(first.data))).toBe(true);
      }
    }
  }, 60_000);

  it('a band kernel that throws in a helper thread fails the run with PLUGIN_FAILED, naming the kernel', async () => {
    const error = (await render(two, 'test:band-throws').catch((e: unknown) => e)) as AtelierError;
    expect(error).toMatchObject({ code: 'PLUGIN_FAILED' });
    expect(error.message).toContain('band boom in a helper');
    expect(error.message).toContain('"throwInHelper" failed in a helper thread');
    expect(error.details).toMatchObject({ kernel: 'throwInHelper', thread: 'helper' });
    // The helper is still there for the next run.
    expect((await render(two, 'cartoon')).width).toBe(1600);
  }, 60_000);

  it('cancelling a run stops its bands in every thread', async () => {
    const channel = `test-bands-${randomUUID()}`;
    const seen = new BroadcastChannel(channel);
    let bands = 0;
    seen.onmessage = () => bands++;
    const controller = new AbortController();
    // 2000 bands of 20 ms: 20 s of work on two threads, cancelled at its first progress.
    const run = two.run(
      input,
      two.plan({ steps: [{ plugin: 'test:band-slow', params: { channel, bands: 2000, ms: 20 } }] }),
      {
        signal: controller.signal,
        onProgress: (event) => {
          if (event.stage === 'step' && event.fraction > 0.05) controller.abort();
        },
      },
    );
    const error = (await run.catch((e: unknown) => e)) as AtelierError;
    expect(error.code).toBe('ABORTED');
    // Both threads got the abort: the helper takes no more bands, and is free for the next run.
    const done = bands;
    expect((await render(two, 'test:band-slow', { channel, bands: 4, ms: 0 })).width).toBe(1600);
    seen.close();
    expect(done).toBeLessThan(2000);
  }, 60_000);

  it('a cancelled call of runBands ends only after the helper has left its band: nothing writes after it', async () => {
    const channel = `test-bands-${randomUUID()}`;
    const seen = new BroadcastChannel(channel);
    const bands: number[] = [];
    let ended = 0;
    const controller = new AbortController();
    seen.onmessage = (event: unknown) => {
      const data = (event as { data: { started?: number; at?: number; ended?: number } }).data;
      // Cancelled while the helper sleeps in its band.
      if (data.started !== undefined) controller.abort();
      if (data.at !== undefined) bands.push(data.at);
      if (data.ended !== undefined) ended = data.ended;
    };
    // The caller's bands end at once; the helper's first one sleeps 150 ms (less than the
    // engine's grace period of 250 ms, after which the thread would be replaced).
    const run = two.run(
      input,
      two.plan({ steps: [{ plugin: 'test:band-late', params: { channel, ms: 150 } }] }),
      { signal: controller.signal },
    );
    const error = (await run.catch((e: unknown) => e)) as AtelierError;
    expect(error.code).toBe('ABORTED');
    await vi.waitFor(() => expect(ended).toBeGreaterThan(0), { timeout: 5000 });
    // The helper's band finished before the call ended (it waited for it), not after.
    await vi.waitFor(() => expect(bands.length).toBeGreaterThan(0), { timeout: 5000 });
    seen.close();
    expect(Math.max(...bands)).toBeLessThanOrEqual(ended);
  }, 60_000);

  it('a run whose helper is busy with another run does its bands itself', async () => {
    const channel = `test-bands-${randomUUID()}`;
    // The helper is kept busy by the slow run; the cartoon run must not wait for it.
    const slow = render(two, 'test:band-slow', { channel, bands: 100, ms: 20 });
    const [cartoon, alone] = await Promise.all([render(two, 'cartoon'), render(one, 'cartoon')]);
    expect(Buffer.from(cartoon.data).equals(Buffer.from(alone.data))).toBe(true);
    expect((await slow).width).toBe(1600);
  }, 60_000);

  it('the styles with band kernels run sandboxed too (no helpers, no shared memory there), with the same bytes', async () => {
    const sandboxed = new PluginRegistry();
    for (const style of ['oil-painting', 'watercolor', 'cartoon']) {
      const url = new URL(`../packages/plugins/src/styles/${style}.plugin.ts`, import.meta.url).href;
      await loadSandboxedModule(sandboxed, url);
    }
    const engine = new Engine({ registry: sandboxed, threads: 1, bandThreads: 1 });
    try {
      const small = await readFile(photo('chelsea.png'));
      for (const style of ['oil-painting', 'watercolor', 'cartoon']) {
        const plan = (e: Engine) => e.plan({ steps: [{ plugin: style }], output: { format: 'png' } });
        const [inSandbox, inThread] = await Promise.all([
          engine.run(small, plan(engine)),
          two.run(small, plan(two)),
        ]);
        expect(Buffer.from(inSandbox.data).equals(Buffer.from(inThread.data))).toBe(true);
      }
    } finally {
      await engine.close();
    }
  }, 120_000);
});
