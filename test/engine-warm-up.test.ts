// Engine.warmUp(): each enabled built-in style without capabilities runs as a preview on the
// synthetic warm-up photo, `rounds` times on every engine thread; a style that fails is reported and
// dropped, third-party and capability-holding plugins are left alone, and a signal or close() stops it.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  Engine,
  PluginRegistry,
  WARM_UP_HEIGHT,
  WARM_UP_SCALE,
  WARM_UP_WIDTH,
  loadPluginModule,
  warmUpPixels,
} from '@atelier/core';
import { root } from './helpers.ts';

// Inside the repository, so the plugins resolve zod like installed ones.
const dir = path.join(root, 'test/.tmp', `engine-warm-up-${process.pid}`);
const log = path.join(dir, 'runs.log');

/**
 * A module of styles that append `<plugin> <threadId> <width>x<height> <previewScale>` to the log
 * on each run, so the test sees which thread ran what; and two plugins the warm-up leaves alone
 * though built in: a style that needs the network and a transform.
 */
const STYLES = `import { appendFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { z } from 'zod';
const logged = (id, fail) => ({
  id, name: id, description: 'Logs its runs.', version: '1.0.0', engine: '^1', kind: 'style',
  params: z.object({}),
  apply: ({ image, previewScale }) => {
    appendFileSync(${JSON.stringify(log)}, id + ' ' + threadId + ' ' + image.width + 'x' + image.height + ' ' + previewScale + '\\n');
    if (fail) throw new Error('this style fails on purpose');
    return image;
  },
});
export const plugins = [logged('warm:a'), logged('warm:b'), logged('warm:broken', true)];
export const online = {
  id: 'warm:online', name: 'Online', description: 'Needs the network.', version: '1.0.0', engine: '^1', kind: 'style',
  params: z.object({}),
  capabilities: { network: ['api.example.com'] },
  apply: ({ image }) => { appendFileSync(${JSON.stringify(log)}, 'warm:online\\n'); return image; },
};
export const resize = {
  id: 'warm:resize', name: 'Resize', description: 'Not a style.', version: '1.0.0', engine: '^1', kind: 'transform',
  params: z.object({}),
  apply: ({ image }) => { appendFileSync(${JSON.stringify(log)}, 'warm:resize\\n'); return image; },
};
`;

const THIRD_PARTY = `import { appendFileSync } from 'node:fs';
import { z } from 'zod';
export const other = {
  id: 'acme:other', name: 'Other', description: 'Third-party.', version: '1.0.0', engine: '^1', kind: 'style',
  params: z.object({}),
  apply: ({ image }) => { appendFileSync(${JSON.stringify(log)}, 'acme:other\\n'); return image; },
};
`;

let registry: PluginRegistry;

async function runs(): Promise<string[][]> {
  const text = await readFile(log, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' '));
}

const engines: Engine[] = [];
afterEach(async () => {
  for (const engine of engines.splice(0)) await engine.close();
});

/** An engine with `threads` threads and no band helpers, on an emptied log; closed after the test. */
async function freshEngine(threads: number, plugins: PluginRegistry = registry): Promise<Engine> {
  await rm(log, { force: true });
  const engine = new Engine({ registry: plugins, threads, bandThreads: 0 });
  engines.push(engine);
  return engine;
}

/** Waits (up to 10 s) until `lines()` has logged at least `count` runs. */
async function untilLogged(count: number, lines: () => Promise<string[][]> = runs): Promise<void> {
  for (let i = 0; i < 400 && (await lines()).length < count; i++) await new Promise((r) => setTimeout(r, 25));
}

beforeAll(async () => {
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'styles.js'), STYLES);
  await writeFile(path.join(dir, 'third-party.js'), THIRD_PARTY);
  registry = new PluginRegistry();
  await loadPluginModule(registry, pathToFileURL(path.join(dir, 'styles.js')).href, { builtin: true });
  // A third-party style: left alone, as the built-in one with a capability and the transform.
  await loadPluginModule(registry, pathToFileURL(path.join(dir, 'third-party.js')).href);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Engine.warmUp', () => {
  it('runs every built-in style as a preview, round after round, on every thread', async () => {
    const engine = await freshEngine(2);
    const report = await engine.warmUp({ rounds: 3 });
    expect(report.styles).toEqual(['warm:a', 'warm:b', 'warm:broken']);
    expect(report.stopped).toBe(false);
    expect(report.failed).toEqual([
      expect.objectContaining({ plugin: 'warm:broken', message: expect.stringContaining('on purpose') }),
    ]);
    // Two styles x 3 rounds x 2 threads; the broken one once per thread, then dropped.
    expect(report.runs).toBe(12);
    const lines = await runs();
    expect(lines.filter(([id]) => id === 'warm:broken')).toHaveLength(2);
    for (const id of ['warm:a', 'warm:b']) {
      const mine = lines.filter(([p]) => p === id);
      expect(mine).toHaveLength(6);
      // Both threads, three runs each, on the proxy-sized photo at a preview's scale.
      const byThread = Map.groupBy(mine, ([, thread]) => thread);
      expect([...byThread.values()].map((l) => l.length)).toEqual([3, 3]);
      for (const [, , size, scale] of mine) {
        expect(size).toBe(`${WARM_UP_WIDTH}x${WARM_UP_HEIGHT}`);
        expect(Number(scale)).toBeCloseTo(WARM_UP_SCALE, 6);
      }
    }
    expect(lines.some(([id]) => id === 'warm:online' || id === 'warm:resize' || id === 'acme:other')).toBe(
      false,
    );
  });

  it('warms the fresh threads of restartThreads() again, until its signal fires', async () => {
    const engine = await freshEngine(2);
    const controller = new AbortController();
    await engine.warmUp({ rounds: 2, signal: controller.signal });
    const first = new Set((await runs()).map(([, thread]) => thread));
    expect(first.size).toBe(2);
    await engine.restartThreads();
    // In the background: wait until the new threads have run both styles twice each.
    const fresh = async (): Promise<string[][]> =>
      (await runs()).filter(([id, thread]) => id !== 'warm:broken' && !first.has(thread!));
    await untilLogged(8, fresh);
    const again = await fresh();
    // Two rounds of one run per thread at a time (which thread takes which is the pool's
    // choice; the first test checks the spread).
    expect(again).toHaveLength(8);
    for (const id of ['warm:a', 'warm:b']) expect(again.filter(([p]) => p === id)).toHaveLength(4);
    // Once the signal has fired, fresh threads are left cold.
    controller.abort();
    await new Promise((r) => setTimeout(r, 100));
    const before = (await runs()).length;
    await engine.restartThreads();
    await new Promise((r) => setTimeout(r, 300));
    expect((await runs()).length).toBe(before);
  });

  it('gives way to a later warm-up, so that reloads in quick succession leave one running', async () => {
    const engine = await freshEngine(1);
    const long = engine.warmUp({ rounds: 1000 });
    await untilLogged(4);
    const short = await engine.warmUp({ rounds: 1 });
    expect(short).toMatchObject({ stopped: false, runs: 2 });
    const report = await long;
    expect(report.stopped).toBe(true);
    expect(report.runs).toBeLessThan(2 * 1000);
  });

  it('leaves third-party styles alone', async () => {
    const third = new PluginRegistry();
    await loadPluginModule(third, pathToFileURL(path.join(dir, 'third-party.js')).href);
    const engine = await freshEngine(1, third);
    const report = await engine.warmUp({ rounds: 2 });
    expect(report).toMatchObject({ styles: [], runs: 0, failed: [], stopped: false });
    expect(await runs()).toEqual([]);
  });

  it('stops between runs when its signal fires or the engine closes, without rejecting', async () => {
    const engine = await freshEngine(1);
    const before = await engine.warmUp({ rounds: 5, signal: AbortSignal.abort() });
    expect(before).toMatchObject({ runs: 0, stopped: true });
    expect(await runs()).toEqual([]);
    const controller = new AbortController();
    const warming = engine.warmUp({ rounds: 1000, signal: controller.signal });
    // Let it run a few, then stop it.
    await untilLogged(4);
    controller.abort();
    const report = await warming;
    expect(report.stopped).toBe(true);
    expect(report.runs).toBeGreaterThanOrEqual(2);
    expect(report.runs).toBeLessThan(2 * 1000);
    const done = (await runs()).length;
    await new Promise((r) => setTimeout(r, 200));
    expect((await runs()).length).toBe(done);
    const closing = engine.warmUp({ rounds: 1000 });
    await untilLogged(done + 2);
    await engine.close();
    await expect(closing).resolves.toMatchObject({ stopped: true });
  });
});

describe('the warm-up photo', () => {
  it('is the same every time, with flat sky, texture and a dark and a light thin line', () => {
    const a = warmUpPixels();
    expect(a.length).toBe(WARM_UP_WIDTH * WARM_UP_HEIGHT * 3);
    expect(Buffer.from(warmUpPixels()).equals(Buffer.from(a))).toBe(true);
    const luma = (x: number, y: number): number => {
      const o = (y * WARM_UP_WIDTH + x) * 3;
      return 0.299 * a[o]! + 0.587 * a[o + 1]! + 0.114 * a[o + 2]!;
    };
    // Down column 40 of the sky: one pixel far darker than the sky around it, one far lighter.
    const column = Array.from({ length: 150 }, (_, y) => luma(40, y));
    const darkest = column.indexOf(Math.min(...column));
    const lightest = column.indexOf(Math.max(...column));
    expect(luma(40, darkest - 3) - luma(40, darkest)).toBeGreaterThan(80);
    expect(luma(40, lightest) - luma(40, lightest + 3)).toBeGreaterThan(40);
  });
});
