// Prints the peak RSS (MB) of a process that does what an engine process does for one image:
// built-in plugins registered, one worker thread, one run (decode, style, encode) of STYLE on IMAGE;
// with THREADS (default 1) the image gets THREADS - 1 band helper threads and THREADS libvips threads.
//   node bench/rss-probe.ts IMAGE STYLE [THREADS]
import { readFile } from 'node:fs/promises';
import { Engine, PluginRegistry, loadPluginModule, shareCompileCache } from '@atelier/core';

const [image, style, threadsArg = '1'] = process.argv.slice(2);
if (!image || !style) throw new Error('usage: rss-probe.ts IMAGE STYLE [THREADS]');
const threads = Number(threadsArg);
// As `atelier` does at start-up: the engine's threads read stripped, compiled modules from disk.
shareCompileCache();
const registry = new PluginRegistry();
await loadPluginModule(registry, import.meta.resolve('@atelier/plugins'), { builtin: true });
const engine = new Engine({ registry, threads: 1, bandThreads: threads - 1, sharpConcurrency: threads });
const result = await engine.run(
  await readFile(image),
  engine.plan({ steps: [{ plugin: style }], output: { format: 'jpeg' } }),
);
if (result.bytes === 0) throw new Error('empty result');
await engine.close();
process.stdout.write(`${Math.round(process.resourceUsage().maxRSS / 1024)}\n`);
