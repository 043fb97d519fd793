import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { AtelierError, decodeImage, inspectInput, parseParams, runStep, DEFAULT_LIMITS } from '@atelier/core';
import type { PluginRegistry, RawImage } from '@atelier/core';

export interface BenchOptions {
  readonly style: string;
  readonly width?: number;
  readonly repeat: number;
  readonly threads: number;
  readonly params: Record<string, unknown>;
}

export interface BenchResult {
  readonly style: string;
  readonly width: number;
  readonly height: number;
  readonly medianMs: number;
  readonly minMs: number;
  readonly peakRssMb: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Times one plugin on one image in this thread, the way the engine's workers run it: the image
 * is decoded (and resized to `width` if given) once, then the step runs `repeat` times after a
 * warm-up. libvips is limited to `threads` threads. Peak RSS is the whole process's.
 */
export async function benchStyle(
  registry: PluginRegistry,
  input: string,
  options: BenchOptions,
): Promise<BenchResult> {
  const plugin = registry.get(options.style);
  const params = parseParams(plugin, options.params);
  sharp.concurrency(options.threads);
  sharp.cache(false);
  let bytes: Buffer;
  try {
    bytes = await readFile(input);
  } catch (error) {
    throw new AtelierError('INPUT_NOT_FOUND', `Cannot read ${input}: ${(error as Error).message}`);
  }
  const limits = DEFAULT_LIMITS;
  let image: RawImage = await decodeImage(bytes, await inspectInput(bytes, limits), limits);
  if (options.width !== undefined && options.width !== image.width) {
    const { data, info } = await sharp(image.data, {
      raw: { width: image.width, height: image.height, channels: image.channels },
    })
      .resize({ width: options.width, kernel: 'lanczos3' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    image = { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };
  }
  const times: number[] = [];
  for (let i = 0; i <= options.repeat; i++) {
    const t0 = performance.now();
    await runStep(plugin, image, params, { parsed: true, seed: 1 });
    if (i > 0) times.push(performance.now() - t0);
  }
  return {
    style: plugin.id,
    width: image.width,
    height: image.height,
    medianMs: Math.round(median(times) * 10) / 10,
    minMs: Math.round(Math.min(...times) * 10) / 10,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}
