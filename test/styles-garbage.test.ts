// The built-in styles' per-pixel loops make no garbage: a render's JavaScript allocations stay
// small once the process is warm. Heap allocations in a per-pixel loop mean V8 runs it in a tier
// that boxes floats (every intermediate a heap number), and the thread that renders spends time
// boxing and collecting them. Cartoon and colour pencil made 12.5 and 14-18 MB of it per 1920 px
// render until 2026-12-05 (Math.fround as a built-in call in V8's Maglev tier, and long loops in
// band kernels compiled only on stack replacement); see docs/styles.md "Issue 16, ninth session of
// 2026-12-05".
import { Session } from 'node:inspector/promises';
import { describe, expect, it } from 'vitest';
import { loadImage, runStep } from '@atelier/core';
import type { AnyPlugin, RawImage } from '@atelier/core';
import { builtinPlugins } from '@atelier/plugins';
import { photo } from './helpers.ts';

/**
 * Per 1920x1200 render; the styles measured 0.2 to 3.2 MB after 10 renders, cartoon and colour
 * pencil 12.5 and 14-17.5 MB before the change, even after 14.
 */
const MAX_MB_PER_RUN = 5;
/**
 * Renders before measuring: V8 moves some styles' loops to its optimising tier only after
 * several (oil painting made 4-7 MB of garbage per render after 5 and under 1 MB after 14).
 */
const WARMUP = 10;
const RUNS = 3;

/** Bytes of JavaScript objects allocated (collected or not) over `runs` renders, sampled by V8. */
async function allocatedBytes(plugin: AnyPlugin, image: RawImage, runs: number): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    for (let i = 0; i < runs; i++) await runStep(plugin, image, {});
    const { profile } = await session.post('HeapProfiler.stopSampling');
    // Each node of the call tree holds what was allocated in its own frame.
    let bytes = 0;
    const nodes = [profile.head];
    for (let node = nodes.pop(); node; node = nodes.pop()) {
      bytes += node.selfSize;
      nodes.push(...node.children);
    }
    return bytes;
  } finally {
    session.disconnect();
  }
}

describe('garbage made by the styles', () => {
  const styles = ['cartoon', 'sketch', 'color-pencil', 'oil-painting', 'watercolor', 'pop-art'];
  it.each(styles)('%s allocates little JavaScript memory per 1920 px render once warm', async (id) => {
    const plugin = builtinPlugins.find((p) => p.id === id)!;
    const image = await loadImage(photo('colorful-cups-2560x1600.jpg'), { channels: 3, width: 1920 });
    for (let i = 0; i < WARMUP; i++) await runStep(plugin, image, {});
    const mb = (await allocatedBytes(plugin, image, RUNS)) / RUNS / 2 ** 20;
    expect(mb, `${id}: ${mb.toFixed(2)} MB of JavaScript objects per render`).toBeLessThan(MAX_MB_PER_RUN);
  });
});
