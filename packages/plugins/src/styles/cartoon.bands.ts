// The cartoon's full-size composition as a band kernel, in a module of its own that imports only
// `@atelier/core/kernels`: the engine's helper threads load it without the SDK.
import { BilinearUpsampler, bandKernel } from '@atelier/core/kernels';

/** What {@link composeBand} gets: the output, the work-size planes (r, g, b, DoG) and the ink strength. */
export interface ComposeArgs {
  readonly out: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly ww: number;
  readonly wh: number;
  readonly planes: readonly Float32Array[];
  readonly strength: number;
}

/** Full-size rows `y0` to `y1 - 1`: each depends only on the work-size planes. */
export const composeBand = bandKernel(
  import.meta.url,
  'composeBand',
  (a: ComposeArgs, y0: number, y1: number, abort): void => {
    const { out, width, height, ww, wh, strength } = a;
    const ink = inkTable(strength);
    const up = new BilinearUpsampler(a.planes, ww, wh, width, height, width / ww, height / wh);
    const px = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
    for (let y = y0; y < y1; y++) {
      const t = up.select(y);
      // upper/lower(k): the two low rows of plane k around row y, already widened.
      composeRow(
        px,
        y * width * 3,
        width,
        t,
        up.upper(0),
        up.lower(0),
        up.upper(1),
        up.lower(1),
        up.upper(2),
        up.lower(2),
        up.upper(3),
        up.lower(3),
        ink,
        strength,
      );
      if ((y & 127) === 0) abort.throwIfAborted();
    }
  },
);

function composeRow(
  px: Uint8ClampedArray,
  o: number,
  width: number,
  t: number,
  r0: Float32Array,
  r1: Float32Array,
  g0: Float32Array,
  g1: Float32Array,
  b0: Float32Array,
  b1: Float32Array,
  d0: Float32Array,
  d1: Float32Array,
  ink: Float32Array,
  strength: number,
): void {
  // Most pixels carry no outline (the DoG is above the ink threshold): skip the lookup there,
  // a branch that is taken in long runs and so predicts well.
  const threshold = -inkThreshold(strength);
  for (let x = 0; x < width; x++, o += 3) {
    const d = d0[x]! + (d1[x]! - d0[x]!) * t;
    const rv = r0[x]!;
    const gv = g0[x]!;
    const bv = b0[x]!;
    let r = rv + (r1[x]! - rv) * t;
    let g = gv + (g1[x]! - gv) * t;
    let b = bv + (b1[x]! - bv) * t;
    if (d < threshold) {
      const e = ink[Math.min(2047, Math.max(0, (d + 0.25) * 4096)) | 0]!;
      r *= e;
      g *= e;
      b *= e;
    }
    px[o] = r;
    px[o + 1] = g;
    px[o + 2] = b;
  }
}

/** DoG values above minus this draw no ink. */
function inkThreshold(strength: number): number {
  return 0.003 + 0.02 * (1 - strength);
}

/** DoG value (-0.25..0.25 in 2048 steps) to ink transmission (1 = paper, 0 = black). */
function inkTable(strength: number): Float32Array {
  const t = new Float32Array(2048);
  const threshold = inkThreshold(strength);
  const sharpness = 400;
  for (let i = 0; i < 2048; i++) {
    const d = i / 4096 - 0.25;
    const v = d >= -threshold ? 1 : 1 + Math.tanh(sharpness * (d + threshold));
    t[i] = 1 - (1 - v) * (0.7 + 0.3 * strength);
  }
  return t;
}
