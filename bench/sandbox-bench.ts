// The sandbox's cost: benign third-party plugins through the real Engine, once registered as a
// worker-thread plugin (imported in-process, run in the engine's threads) and once sandboxed
// (loaded in the sandbox process, run in an isolated-vm isolate there), on the same photos at
// 1920 px. The time is the step's alone (benchStyle: decoding and encoding excluded), the median of
// REPEAT runs after a warm-up, the two interleaved per photo so both see the same machine state.
//   node bench/sandbox-bench.ts REPEAT PHOTO...
// The plugins: bench/sandbox-plugins/pixel-loop.js (one plain JavaScript loop over the pixels) and
// the scaffold's template plugin (packages/create-atelier-plugin/template: libvips through
// ctx.sharp, then a lookup-table loop), rendered as `atelier plugin new` would.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Engine, PluginRegistry, loadPluginModule } from '@atelier/core';
import { closeHostSandbox, loadSandboxedModule } from '@atelier/sandbox';
import { benchStyle } from '@atelier/server';
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

console.log(
  `  ${'plugin'.padEnd(18)}${'photo'.padEnd(30)}${pad('thread', 9)}${pad('sandbox', 9)}${pad('ratio', 7)}`,
);
const worst = new Map<string, number>();
try {
  for (const { id } of modules) {
    for (const photo of photos) {
      const options = { style: id, width: 1920, repeat, params: {} };
      const thread = await benchStyle(threadEngine, photo, options);
      const sandbox = await benchStyle(sandboxEngine, photo, options);
      const ratio = sandbox.medianMs / thread.medianMs;
      worst.set(id, Math.max(worst.get(id) ?? 0, ratio));
      console.log(
        `  ${id.padEnd(18)}${path.basename(photo).padEnd(30)}${pad(thread.medianMs.toFixed(1), 9)}${pad(sandbox.medianMs.toFixed(1), 9)}${pad(ratio.toFixed(2), 7)}`,
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
