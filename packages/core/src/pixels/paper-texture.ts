import { normalise } from './normalise.ts';
import { tileableNoise } from './value-noise.ts';

/** Arguments of {@link paperTexture}. */
export interface PaperTextureArgs {
  /** Tile side in pixels; 256 or more hides the repeat. */
  readonly size: number;
  /** Size of the finest bumps (the "tooth" of the paper), in pixels; 2 to 4 looks like cold-pressed paper at 2 MP. */
  readonly grain: number;
  readonly seed: number;
}

/**
 * A seamless tile of watercolour-paper relief: fine tooth, a middle octave that clumps it, and a
 * broad, faint undulation (fractal value noise whose periods divide the tile), normalised to mean 0
 * and standard deviation 1. Use the heights for pigment pooling (paint collects in the hollows,
 * negative values) and {@link embossPlane} of them for the lit surface.
 *
 * @returns `size * size` heights.
 *
 * @example
 * const paper = paperTexture({ size: 384, grain: 2.5, seed: ctx.seed });
 * const h = paper[(y % 384) * 384 + (x % 384)];
 */
export function paperTexture(args: PaperTextureArgs): Float32Array {
  const size = Math.max(8, Math.round(args.size));
  const grain = Math.max(0.5, args.grain);
  const tooth = Math.max(1, size / grain);
  const tile = tileableNoise({
    size,
    periods: [tooth, tooth / 2.3, tooth / 6, tooth / 20],
    amplitudes: [0.55, 0.4, 0.25, 0.15],
    seed: args.seed,
  });
  // Slightly flatten the tops (pressed paper) and deepen the pits.
  for (let i = 0; i < tile.length; i++) {
    const v = tile[i]!;
    tile[i] = v - 0.35 * v * Math.abs(v);
  }
  return normalise(tile);
}
