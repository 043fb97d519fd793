// Sandbox vs worker thread: the scaffold template's plugin (libvips through ctx.sharp plus a JS
// loop) and a plain JavaScript pixel loop, each run by the real Engine in-process (worker thread)
// and sandboxed (isolate in a sandbox process), on a 1920x1281 photo. Median of 5 runs after one
// warm-up, interleaved so both paths see the same machine load.
//   node bench/sandbox-overhead.ts
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { Engine, PluginRegistry, loadPluginModule } from '@atelier/core';
import { closeHostSandbox, loadSandboxedModule } from '@atelier/sandbox';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = path.join(root, 'test', '.tmp', `sandbox-bench-${process.pid}`);
await mkdir(dir, { recursive: true });
const template = await readFile(
  path.join(root, 'packages/create-atelier-plugin/template/src/index.ts'),
  'utf8',
);
const scaffoldFile = path.join(dir, 'poster.ts');
await writeFile(
  scaffoldFile,
  template.replaceAll('{{PLUGIN_ID}}', 'bench:poster').replaceAll('{{PLUGIN_NAME}}', 'Poster'),
);
const loopFile = path.join(dir, 'loop.js');
await writeFile(
  loopFile,
  `import { definePlugin, z } from '@atelier/core';
export default definePlugin({
  id: 'bench:loop', name: 'Loop', description: 'A plain JavaScript pixel loop.', version: '1.0.0', engine: '^1', kind: 'style',
  params: z.object({ amount: z.number().min(0).max(1).default(0.8) }),
  apply({ image, params }) {
    const src = image.data;
    const out = new Uint8Array(src.length);
    for (let i = 0; i < out.length; i++) { const v = src[i]; out[i] = v + (255 - 2 * v) * params.amount; }
    return { data: out, width: image.width, height: image.height, channels: image.channels };
  },
});
`,
);
const photo = await sharp(
  fileURLToPath(new URL('../test/fixtures/images/rocket.jpg', import.meta.url)).replace(
    '/test/fixtures/images/',
    '/test/fixtures/images/',
  ),
)
  .resize(1920)
  .jpeg({ quality: 90 })
  .toBuffer()
  .catch(() =>
    sharp('/work/shared/fixtures/images/rocket.jpg').resize(1920).jpeg({ quality: 90 }).toBuffer(),
  );
const meta = await sharp(photo).metadata();

const inProcess = new PluginRegistry();
const sandboxed = new PluginRegistry();
for (const file of [scaffoldFile, loopFile]) {
  await loadPluginModule(inProcess, pathToFileURL(file).href);
  await loadSandboxedModule(sandboxed, pathToFileURL(file).href);
}
const engines = {
  thread: new Engine({ registry: inProcess, threads: 1 }),
  sandbox: new Engine({ registry: sandboxed, threads: 1 }),
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`input ${meta.width}x${meta.height}`);
for (const plugin of ['bench:poster', 'bench:loop']) {
  const times: Record<string, { step: number[]; total: number[] }> = {
    thread: { step: [], total: [] },
    sandbox: { step: [], total: [] },
  };
  for (let i = 0; i < 6; i++) {
    for (const [name, engine] of Object.entries(engines)) {
      const plan = engine.plan({ steps: [{ plugin }], output: { format: 'png' } });
      const result = await engine.run(photo, plan);
      if (i === 0) continue; // warm-up: module load, isolate start
      times[name]!.step.push(result.timings.steps[0]!.ms);
      times[name]!.total.push(result.timings.totalMs);
    }
  }
  const t = median(times['thread']!.step);
  const s = median(times['sandbox']!.step);
  console.log(
    `${plugin}: step ${t.toFixed(1)} ms (thread) vs ${s.toFixed(1)} ms (sandbox) = ${(s / t).toFixed(2)}x; ` +
      `run ${median(times['thread']!.total).toFixed(1)} vs ${median(times['sandbox']!.total).toFixed(1)} ms`,
  );
}
await Promise.all(Object.values(engines).map((e) => e.close()));
await closeHostSandbox();
await rm(dir, { recursive: true, force: true });
