import { normalise } from './normalise.ts';
import { tileableNoise } from './value-noise.ts';

/** Arguments of {@link canvasTexture}. */
export interface CanvasTextureArgs {
  /** Width of one thread in pixels (a thread and its gap); 3 to 5 reads as linen canvas at 2 MP. */
  readonly threadWidth: number;
  /** Threads across the tile (rounded to an even number so the weave repeats). @default 64 */
  readonly threads?: number;
  readonly seed: number;
}

/** A square seamless texture tile. */
export interface TextureTile {
  readonly size: number;
  /** `size * size` heights, mean 0, standard deviation 1. */
  readonly heights: Float32Array;
}

/**
 * A seamless tile of plain-weave canvas relief: warp and weft threads with rounded cross-sections
 * that pass over and under each other, with seeded irregularity in thickness and fibre so the
 * weave does not look machined. Normalised to mean 0 and standard deviation 1; light it with
 * {@link embossPlane}.
 *
 * @example
 * const canvas = canvasTexture({ threadWidth: 4, seed: ctx.seed });
 */
export function canvasTexture(args: CanvasTextureArgs): TextureTile {
  const threads = Math.max(2, 2 * Math.round((args.threads ?? 64) / 2));
  const size = Math.max(threads, Math.round(threads * Math.max(1, args.threadWidth)));
  const perThread = threads / size;
  const lumpy = tileableNoise({
    size,
    periods: [threads / 3, threads * 1.5],
    amplitudes: [0.6, 0.4],
    seed: args.seed,
  });
  const fibre = tileableNoise({
    size,
    periods: [threads * 4],
    amplitudes: [1],
    seed: args.seed ^ 0x3c6ef372,
  });
  const heights = new Float32Array(size * size);
  for (let y = 0; y < size; y++) {
    const v = (y + 0.5) * perThread;
    const j = Math.floor(v);
    const sv = Math.sin(Math.PI * (v - j));
    for (let x = 0; x < size; x++) {
      const u = (x + 0.5) * perThread;
      const i = Math.floor(u);
      const su = Math.sin(Math.PI * (u - i));
      // Warp thread i runs down the tile and is on top where i + j is even; the weft crosses it.
      const overWarp = Math.sin(Math.PI * (v + i));
      const overWeft = -Math.sin(Math.PI * (u + j));
      const k = y * size + x;
      const lump = 0.12 * lumpy[k]!;
      const warp = Math.sqrt(su) * (0.62 + 0.38 * overWarp + lump);
      const weft = Math.sqrt(sv) * (0.62 + 0.38 * overWeft - lump);
      heights[k] = Math.max(warp, weft) + 0.08 * fibre[k]!;
    }
  }
  return { size, heights: normalise(heights) };
}
