// The analysis on upload's cost per photo (docs/gallery.md): every fixture photo in
// test/fixtures/images made into a 1920 px JPEG (quality 90, as a phone or an export would upload
// it), then analyseImage (checks, one decode to 64x64, palette, pHash, dHash, BlurHash, EXIF) timed
// RUNS times each after a warm-up. Prints the median and p95 over every run; goal: median <= 30 ms.
//   node bench/analysis-bench.ts [RUNS]
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { analyseImage } from '@atelier/analysis';
import { median, pad } from './stats.ts';

const GOAL_MS = 30;
const runs = Number(process.argv[2] ?? 20);
const images = fileURLToPath(new URL('../test/fixtures/images/', import.meta.url));

const percentile = (xs: readonly number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

const all: number[] = [];
console.log(`${'photo'.padEnd(30)}${pad('size', 11)}${pad('median', 8)}${pad('p95', 8)}`);
for (const name of (await readdir(images)).sort()) {
  if (!/\.(jpe?g|png|webp)$/i.test(name) || name.startsWith('truncated')) continue;
  const upload = await sharp(await readFile(path.join(images, name)))
    .resize(1920, 1920, { fit: 'inside' })
    .jpeg({ quality: 90 })
    .toBuffer();
  const { width, height } = await sharp(upload).metadata();
  await analyseImage(upload); // warm-up
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await analyseImage(upload);
    times.push(performance.now() - start);
  }
  all.push(...times);
  console.log(
    `${name.padEnd(30)}${pad(`${width}x${height}`, 11)}${pad(median(times).toFixed(1), 8)}${pad(percentile(times, 95).toFixed(1), 8)}`,
  );
}
const mid = median(all);
console.log(
  `all ${all.length} runs: median ${mid.toFixed(1)} ms, p95 ${percentile(all, 95).toFixed(1)} ms per photo; goal median <= ${GOAL_MS} ms: ${mid <= GOAL_MS ? 'ok' : 'OVER'}`,
);
