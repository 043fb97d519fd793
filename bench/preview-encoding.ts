// How a preview's encoding changes how well it predicts the result (docs/styles.md "Preview
// encoding"): each style's preview of each photo, encoded as PNG and as JPEG at several qualities,
// against the same full render (a job's result: JPEG at the default quality), scaled down to the
// preview's size with Lanczos as bench/api-bench.ts does; SSIM (ssim.js, mean, RGBA). In process,
// through Engine.run on one thread, with the preview proxy made as the server makes it.
//   node bench/preview-encoding.ts [--styles cartoon,...] [--photos a.jpg,...] [--qualities 82,88,...]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { ssim } from 'ssim.js';
import { Engine, PluginRegistry, loadPluginModule } from '@atelier/core';
import type { OutputFormat } from '@atelier/core';
import { previewProxy } from '@atelier/server';
import { pad } from './stats.ts';

const { values } = parseArgs({
  options: {
    styles: { type: 'string', default: 'cartoon,sketch,color-pencil,oil-painting,watercolor,pop-art' },
    photos: {
      type: 'string',
      default: 'colorful-cups-2560x1600.jpg,evening-glow-2560x1600.jpg,fallen-leaf-2560x1600.jpg',
    },
    qualities: { type: 'string', default: '82,86,88,90,92' },
  },
});
const images = fileURLToPath(new URL('../test/fixtures/images', import.meta.url));
const qualities = values.qualities.split(',').map(Number);

type Rgba = { data: Uint8ClampedArray; width: number; height: number };

async function rgbaOf(bytes: Uint8Array, size?: { width: number; height: number }): Promise<Rgba> {
  let pipeline = sharp(bytes).ensureAlpha();
  if (size) pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', kernel: 'lanczos3' });
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), ...info };
}

const registry = new PluginRegistry();
await loadPluginModule(registry, import.meta.resolve('@atelier/plugins'), { builtin: true });
const engine = new Engine({ registry, threads: 1, bandThreads: 0, limits: { stepTimeoutMs: 120_000 } });
try {
  console.log(
    `SSIM of the preview against the job's result scaled down, by the preview's encoding; kB = the JPEG previews' sizes, smallest to largest`,
  );
  console.log(
    `${'style'.padEnd(14)}${'photo'.padEnd(30)}${pad('PNG', 7)}${qualities.map((q) => pad(`JPEG ${q}`, 9)).join('')}${pad('kB', 12)}`,
  );
  for (const photo of values.photos.split(',')) {
    const bytes = await readFile(path.join(images, photo));
    // The proxy as PreviewService makes it (upright, ≤ 512 px, area-averaged, lossless), decoded once.
    const { png, scale: previewScale } = await previewProxy(bytes);
    const input = await engine.decode(png);
    for (const style of values.styles.split(',')) {
      const steps = [{ plugin: style }];
      const result = await engine.run(bytes, engine.plan({ steps }));
      const full = await rgbaOf(result.data, input.image);
      const scores: string[] = [];
      const sizes: number[] = [];
      const outputs: { format: OutputFormat; quality?: number }[] = [
        { format: 'png' },
        ...qualities.map((quality) => ({ format: 'jpeg' as const, quality })),
      ];
      for (const output of outputs) {
        const preview = await engine.run(input, engine.plan({ steps, output }), { previewScale });
        scores.push(
          pad(ssim(await rgbaOf(preview.data), full).mssim.toFixed(4), output.format === 'png' ? 7 : 9),
        );
        if (output.format === 'jpeg') sizes.push(preview.data.length);
      }
      console.log(
        `${style.padEnd(14)}${photo.padEnd(30)}${scores.join('')}${pad(`${Math.round(Math.min(...sizes) / 1024)}-${Math.round(Math.max(...sizes) / 1024)}`, 12)}`,
      );
    }
  }
} finally {
  await engine.close();
}
