import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { AtelierError } from '@atelier/core';
import type { Engine } from '@atelier/core';

export interface BenchOptions {
  readonly style: string;
  readonly width?: number;
  readonly repeat: number;
  /** Untimed runs before the timed ones (V8's optimising tiers and the memory pools settle). @default 1 */
  readonly warmup?: number;
  readonly params: Record<string, unknown>;
}

export interface BenchResult {
  readonly style: string;
  readonly width: number;
  readonly height: number;
  readonly medianMs: number;
  readonly minMs: number;
  /**
   * Median CPU time of the whole process during the step (`StepTiming.cpuMs`): the engine's
   * thread, its band helpers, libvips' threads and V8's collector together. `medianCpuMs /
   * medianMs` is the cores the step kept busy.
   */
  readonly medianCpuMs: number;
  readonly peakRssMb: number;
  /**
   * SHA-256 (hex) of the step's output pixels, decoded from the lossless PNG the runs encode: the
   * same with any number of threads when bands split the work exactly.
   */
  readonly outputHash: string;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Times one plugin on one image the way `apply` runs it: through `engine`, so each run is held to
 * the same step timeout and memory limit, and a plugin that breaks them fails the bench with
 * `PLUGIN_TIMEOUT` or `PLUGIN_OUT_OF_MEMORY` instead of hanging it. The image is resized to `width`
 * (if given) once, losslessly re-encoded, then the step runs `repeat` times after `warmup` untimed runs; the
 * time is the step's alone (decoding and encoding excluded). Peak RSS is the whole process's,
 * the engine's threads included.
 */
export async function benchStyle(engine: Engine, input: string, options: BenchOptions): Promise<BenchResult> {
  const plan = engine.plan({
    steps: [{ plugin: options.style, params: options.params }],
    // Lossless, so that the hash below is the step's own pixels.
    output: { format: 'png' },
  });
  let bytes: Uint8Array;
  try {
    bytes = await readFile(input);
  } catch (error) {
    throw new AtelierError('INPUT_NOT_FOUND', `Cannot read ${input}: ${(error as Error).message}`);
  }
  const info = await engine.inspect(bytes, plan);
  const swap = info.orientation >= 5 && info.orientation <= 8;
  let width = swap ? info.height : info.width;
  let height = swap ? info.width : info.height;
  if (options.width !== undefined && options.width !== width) {
    // Upright first, as the engine's decoder does; PNG at level 0 so the engine decodes it fast.
    const resized = await sharp(bytes)
      .rotate()
      .resize({ width: options.width, kernel: 'lanczos3' })
      .png({ compressionLevel: 0 })
      .toBuffer({ resolveWithObject: true });
    bytes = resized.data;
    ({ width, height } = resized.info);
  }
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let output: Uint8Array | undefined;
  const warmup = options.warmup ?? 1;
  for (let i = 0; i < warmup + options.repeat; i++) {
    const result = await engine.run(bytes, plan);
    if (i >= warmup) {
      times.push(result.timings.steps[0]?.ms ?? 0);
      cpuTimes.push(result.timings.steps[0]?.cpuMs ?? 0);
    }
    output = result.data;
  }
  const pixels = await sharp(output!).raw().toBuffer();
  return {
    style: plan.steps[0]!.plugin,
    width,
    height,
    medianMs: Math.round(median(times) * 10) / 10,
    minMs: Math.round(Math.min(...times) * 10) / 10,
    medianCpuMs: Math.round(median(cpuTimes) * 10) / 10,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    outputHash: createHash('sha256').update(pixels).digest('hex'),
  };
}
