// Prints the peak RSS (MB) of this whole process after one engine run of a style on an image:
//   node bench/rss-probe.ts IMAGE STYLE
import { readFile } from 'node:fs/promises';
import { createRuntime, readConfig } from '@atelier/server';

const [image, style] = process.argv.slice(2);
if (!image || !style) throw new Error('usage: rss-probe.ts IMAGE STYLE');
const { engine } = await createRuntime(readConfig(), { threads: 1 });
const result = await engine.run(
  await readFile(image),
  engine.plan({ steps: [{ plugin: style }], output: { format: 'jpeg' } }),
);
if (result.bytes === 0) throw new Error('empty result');
await engine.close();
process.stdout.write(`${Math.round(process.resourceUsage().maxRSS / 1024)}\n`);
