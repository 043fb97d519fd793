// A preview's proxy (the photo area-averaged to 512 px, docs/styles.md "The preview's proxy"),
// made in the caller's thread (`previewProxy`, as styles.preview did until 2026-12-06) and in an
// engine thread (`Engine.previewProxy`, as it does now), alternating, on each photo: the time to
// make it, and the longest the caller's event loop was held meanwhile (monitorEventLoopDelay at
// 1 ms resolution), which on an API server is how long every other request waits.
//   node bench/preview-proxy-bench.ts [repeat] photo...
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Engine, PluginRegistry } from '@atelier/core';
import { PREVIEW_SIZE, previewProxy } from '@atelier/server';
import { median, pad } from './stats.ts';

const [repeatArg, ...photos] = process.argv.slice(2);
const repeat = Number(repeatArg ?? 5);
const engine = new Engine({ registry: new PluginRegistry(), threads: 1, bandThreads: 0 });

async function timed(make: () => Promise<unknown>): Promise<{ ms: number; heldMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const started = performance.now();
  await make();
  const ms = performance.now() - started;
  delay.disable();
  // The histogram's values include the 1 ms resolution itself.
  return { ms, heldMs: Math.max(0, delay.max / 1e6 - 1) };
}

try {
  console.log(
    `  ${'photo'.padEnd(30)}${pad('caller ms', 11)}${pad('held ms', 9)}${pad('engine ms', 11)}${pad('held ms', 9)}`,
  );
  for (const photo of photos) {
    const bytes = await readFile(photo);
    const here: { ms: number; heldMs: number }[] = [];
    const there: { ms: number; heldMs: number }[] = [];
    // One untimed run of each first: the first proxy of a process or thread compiles the code.
    for (let i = -1; i < repeat; i++) {
      const a = await timed(() => previewProxy(bytes));
      const b = await timed(() => engine.previewProxy(bytes, PREVIEW_SIZE));
      if (i < 0) continue;
      here.push(a);
      there.push(b);
    }
    const m = (runs: { ms: number; heldMs: number }[], key: 'ms' | 'heldMs'): string =>
      median(runs.map((r) => r[key])).toFixed(1);
    console.log(
      `  ${path.basename(photo).padEnd(30)}${pad(m(here, 'ms'), 11)}${pad(m(here, 'heldMs'), 9)}` +
        `${pad(m(there, 'ms'), 11)}${pad(m(there, 'heldMs'), 9)}`,
    );
  }
  console.log(
    `  (medians of ${repeat} alternating runs; held = the longest the calling thread's event loop could not run, in excess of 1 ms)`,
  );
} finally {
  await engine.close();
}
