// Misbehaving plugins fail their own runs with coded errors while other runs complete.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '@atelier/core';
import type { AtelierError } from '@atelier/core';
import { photo, read, testRegistry } from './helpers.ts';

let engine: Engine;
let input: Buffer;

beforeAll(async () => {
  engine = new Engine({
    registry: await testRegistry(),
    threads: 2,
    limits: { stepTimeoutMs: 1500, maxMemoryMb: 300 },
  });
  input = await read(photo('chelsea.png'));
});
afterAll(() => engine.close());

const failure = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'succeeded',
    (error: AtelierError) => error.code,
  );

const invert = () => engine.run(input, engine.plan({ steps: [{ plugin: 'acme:invert' }] }));

describe('isolation', () => {
  it('a plugin that throws fails with PLUGIN_FAILED and its message', async () => {
    const error = await engine
      .run(input, engine.plan({ steps: [{ plugin: 'test:boom' }] }))
      .catch((e: AtelierError) => e);
    expect(error).toMatchObject({ code: 'PLUGIN_FAILED', details: { plugin: 'test:boom' } });
    expect((error as AtelierError).message).toContain('kaboom');
  });

  it('an endless loop times out while other runs complete', async () => {
    const spin = failure(engine.run(input, engine.plan({ steps: [{ plugin: 'test:spin' }] })));
    const others = await Promise.all([invert(), invert(), invert()]);
    expect(others.every((r) => r.width === 451)).toBe(true);
    expect(await spin).toBe('PLUGIN_TIMEOUT');
    expect((await invert()).width).toBe(451); // the pool replaced the thread
  });

  it('unbounded buffer allocation is stopped with PLUGIN_OUT_OF_MEMORY, the process survives', async () => {
    const rssBefore = process.memoryUsage().rss;
    // A step time limit well past the memory budget's reach: this test is about memory, and a
    // loaded machine must not turn it into a timeout.
    const plan = engine.plan({ steps: [{ plugin: 'test:hog' }], limits: { stepTimeoutMs: 60_000 } });
    const hog = failure(engine.run(input, plan));
    const other = invert();
    expect(await hog).toBe('PLUGIN_OUT_OF_MEMORY');
    expect((await other).width).toBe(451);
    // The hog was stopped near its 300 MB budget, far from exhausting the machine.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(1500 * 1024 * 1024);
  });

  it('unbounded heap growth is stopped with PLUGIN_OUT_OF_MEMORY', async () => {
    const plan = engine.plan({ steps: [{ plugin: 'test:heap-hog' }], limits: { stepTimeoutMs: 60_000 } });
    expect(await failure(engine.run(input, plan))).toBe('PLUGIN_OUT_OF_MEMORY');
    expect((await invert()).width).toBe(451);
  });

  it('cancellation stops a running plugin promptly with ABORTED', async () => {
    for (const plugin of ['test:polite-spin', 'test:spin']) {
      const controller = new AbortController();
      const started = performance.now();
      const run = failure(
        engine.run(input, engine.plan({ steps: [{ plugin }], limits: { stepTimeoutMs: 60_000 } }), {
          signal: controller.signal,
        }),
      );
      setTimeout(() => controller.abort(), 100);
      expect(await run).toBe('ABORTED');
      // Cooperative plugins stop at once, others lose their thread after the grace period.
      expect(performance.now() - started).toBeLessThan(5000);
    }
  });

  it('cancellation before start never runs the plan', async () => {
    const controller = new AbortController();
    controller.abort();
    expect(
      await failure(
        engine.run(input, engine.plan({ steps: [{ plugin: 'acme:invert' }] }), { signal: controller.signal }),
      ),
    ).toBe('ABORTED');
  });

  it('reports progress and timings', async () => {
    const events: number[] = [];
    const result = await engine.run(input, engine.plan({ steps: [{ plugin: 'acme:invert' }] }), {
      onProgress: (e) => events.push(e.fraction),
    });
    expect(events.length).toBeGreaterThanOrEqual(3);
    expect(events).toEqual([...events].sort((a, b) => a - b));
    expect(result.timings.steps.map((s) => s.plugin)).toEqual(['acme:invert']);
    expect(result.timings.totalMs).toBeGreaterThan(0);
  });

  it("times each step's CPU as well as its wall-clock time", async () => {
    // test:work computes until its thread has used 150 ms of CPU; test:sleep waits 300 ms and
    // uses next to none. The CPU time is the whole process's, so it is at least the thread's; an
    // engine of its own, its one thread started by a first run, so that no other thread of this
    // file's engine (a replacement for a timed-out one, say) works meanwhile.
    const own = new Engine({ registry: await testRegistry(), threads: 1 });
    try {
      await own.run(input, own.plan({ steps: [{ plugin: 'acme:invert' }] }));
      const result = await own.run(
        input,
        own.plan({
          steps: [
            { plugin: 'test:work', params: { ms: 150 } },
            { plugin: 'test:sleep', params: { ms: 300 } },
          ],
        }),
      );
      const [work, sleep] = result.timings.steps;
      expect(work).toMatchObject({ plugin: 'test:work' });
      expect(work!.cpuMs).toBeGreaterThanOrEqual(150);
      expect(sleep).toMatchObject({ plugin: 'test:sleep' });
      expect(sleep!.ms).toBeGreaterThanOrEqual(300);
      expect(sleep!.cpuMs).toBeGreaterThanOrEqual(0);
      expect(sleep!.cpuMs).toBeLessThan(sleep!.ms / 2);
    } finally {
      await own.close();
    }
  });

  it('a disabled plugin cannot run', async () => {
    const plan = engine.plan({ steps: [{ plugin: 'acme:invert' }] });
    engine.registry.disable('acme:invert');
    try {
      expect(await failure(engine.run(input, plan))).toBe('PLUGIN_DISABLED');
    } finally {
      engine.registry.enable('acme:invert');
    }
  });
});
