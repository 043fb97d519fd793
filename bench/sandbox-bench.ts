// The sandbox's cost: benign third-party plugins through the real Engine, once registered as a
// worker-thread plugin (imported in-process, run in the engine's threads) and once sandboxed
// (loaded in the sandbox process, run in an isolated-vm isolate there), on the same photos at
// 1920 px. The time is the step's alone (the engine's step timing: decoding and encoding excluded),
// the median of REPEAT runs after a warm-up, the two set-ups alternating run by run.
//   node bench/sandbox-bench.ts REPEAT PHOTO...
// The plugins: bench/sandbox-plugins/pixel-loop.js (one plain JavaScript loop over the pixels) and
// the scaffold's template plugin (packages/create-atelier-plugin/template: libvips through
// ctx.sharp, then a lookup-table loop), rendered as `atelier plugin new` would.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Engine, PluginRegistry, loadPluginModule } from '@atelier/core';
import { closeHostSandbox, loadSandboxedModule } from '@atelier/sandbox';
import sharp from 'sharp';
import { pad } from './stats.ts';

const GOAL = 1.5;
const root = fileURLToPath(new URL('..', import.meta.url));
const [repeatArg, ...photos] = process.argv.slice(2);
const repeat = Number(repeatArg);
if (!Number.isInteger(repeat) || repeat < 1 || photos.length === 0) {
  throw new Error('usage: sandbox-bench.ts REPEAT PHOTO...');
}

// The template as `atelier plugin new` fills it in, in a directory of the workspace (so that
// `@atelier/core` resolves as it does for an installed plugin).
const work = path.join(root, 'tmp/sandbox-bench');
await mkdir(work, { recursive: true });
const template = await readFile(
  path.join(root, 'packages/create-atelier-plugin/template/src/index.ts'),
  'utf8',
);
const posterFile = path.join(work, 'poster.ts');
await writeFile(
  posterFile,
  template.replaceAll('{{PLUGIN_ID}}', 'bench:poster').replaceAll('{{PLUGIN_NAME}}', 'Poster'),
);
const modules = [
  { id: 'bench:pixel-loop', url: pathToFileURL(path.join(root, 'bench/sandbox-plugins/pixel-loop.js')).href },
  { id: 'bench:poster', url: pathToFileURL(posterFile).href },
];

const inThreads = new PluginRegistry();
const sandboxed = new PluginRegistry();
for (const { url } of modules) {
  await loadPluginModule(inThreads, url);
  await loadSandboxedModule(sandboxed, url);
}
for (const { id } of modules) {
  if (sandboxed.source(id).sandboxed !== true) throw new Error(`${id} did not load sandboxed`);
  if (inThreads.source(id).sandboxed === true)
    throw new Error(`${id} loaded sandboxed in the thread registry`);
}
// One thread each: the same single core for the plugin in both set-ups.
const threadEngine = new Engine({ registry: inThreads, threads: 1 });
const sandboxEngine = new Engine({ registry: sandboxed, threads: 1 });

/** A photo at 1920 px wide, upright, as lossless PNG (what benchStyle times the engine on). */
async function at1920(photo: string): Promise<Uint8Array> {
  return sharp(await readFile(photo))
    .rotate()
    .resize({ width: 1920, kernel: 'lanczos3' })
    .png({ compressionLevel: 0 })
    .toBuffer();
}
const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const stepMs = async (engine: Engine, bytes: Uint8Array, id: string): Promise<number> => {
  const plan = engine.plan({ steps: [{ plugin: id, params: {} }], output: { format: 'jpeg' } });
  const result = await engine.run(bytes, plan);
  return result.timings.steps[0]?.ms ?? 0;
};

console.log(
  `  ${'plugin'.padEnd(18)}${'photo'.padEnd(30)}${pad('thread', 9)}${pad('sandbox', 9)}${pad('ratio', 7)}`,
);
const worst = new Map<string, number>();
try {
  for (const { id } of modules) {
    for (const photo of photos) {
      const bytes = await at1920(photo);
      // One warm-up each, then the two set-ups alternate run by run, so that both see the same
      // machine (this 2-core VM's noise moves a 30 ms step by half its time from minute to minute).
      await stepMs(threadEngine, bytes, id);
      await stepMs(sandboxEngine, bytes, id);
      const thread: number[] = [];
      const sandbox: number[] = [];
      for (let i = 0; i < repeat; i++) {
        thread.push(await stepMs(threadEngine, bytes, id));
        sandbox.push(await stepMs(sandboxEngine, bytes, id));
      }
      const t = median(thread);
      const b = median(sandbox);
      const ratio = b / t;
      worst.set(id, Math.max(worst.get(id) ?? 0, ratio));
      console.log(
        `  ${id.padEnd(18)}${path.basename(photo).padEnd(30)}${pad(t.toFixed(1), 9)}${pad(b.toFixed(1), 9)}${pad(ratio.toFixed(2), 7)}`,
      );
    }
  }
} finally {
  await Promise.all([threadEngine.close(), sandboxEngine.close()]);
  await closeHostSandbox();
  await rm(work, { recursive: true, force: true });
}
console.log(`\n  Worst ratio per plugin (goal <= ${GOAL.toFixed(2)}):`);
for (const [id, ratio] of worst) {
  console.log(`    ${id.padEnd(18)}${ratio.toFixed(2)} ${ratio <= GOAL ? 'ok' : 'OVER'}`);
}
