import sharp from 'sharp';

/** Options of {@link Engine.warmUp}. */
export interface WarmUpOptions {
  /**
   * Runs of each style on each thread. A style's first run in a thread loads its module and runs
   * in V8's interpreter (200-400 ms for a preview); by the eighth or so its loops are compiled
   * and a preview takes its steady time. @default 10
   */
  readonly rounds?: number;
  /** Stops the warm-up between runs (the run in progress finishes). */
  readonly signal?: AbortSignal;
}

/** What {@link Engine.warmUp} did. */
export interface WarmUpReport {
  /** The styles warmed, by id. */
  readonly styles: readonly string[];
  /** Runs that finished, over all styles and threads. */
  readonly runs: number;
  /** Styles whose run failed (each is then left out of the rounds after), with the error's code. */
  readonly failed: readonly { readonly plugin: string; readonly code: string; readonly message: string }[];
  /** True when `signal`, the engine's closing or a later warm-up stopped it before the last round. */
  readonly stopped: boolean;
  readonly ms: number;
}

/** Size of the warm-up image: a preview's proxy (long side 512). */
export const WARM_UP_WIDTH = 512;
export const WARM_UP_HEIGHT = 320;
/** The preview scale the warm-up runs at: a 2560 px photo's proxy. */
export const WARM_UP_SCALE = WARM_UP_WIDTH / 2560;

/**
 * A small synthetic photo for the warm-up, the same every time: a sky with a gradient, a sun, a
 * hill with a grainy texture, a house with two windows, a tree, and two thin lines across the sky (one
 * dark, one light), so each style meets flat areas, soft gradients, hard edges, texture and thin
 * lines: the branches its hot loops take on real photos.
 */
export function warmUpPixels(width = WARM_UP_WIDTH, height = WARM_UP_HEIGHT): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let seed = 0x2545f491;
  const noise = (): number => {
    // xorshift32: deterministic grain in -8..8.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return ((seed >>> 0) % 17) - 8;
  };
  const horizon = Math.round(height * 0.62);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 3;
      let r: number;
      let g: number;
      let b: number;
      const hill = horizon - 30 * Math.sin((x / width) * Math.PI * 1.5);
      if (y < hill) {
        // Sky: deep blue at the top to pale near the horizon.
        const t = y / hill;
        r = 70 + 120 * t;
        g = 120 + 100 * t;
        b = 200 + 40 * t;
        const dx = x - width * 0.8;
        const dy = y - height * 0.2;
        if (dx * dx + dy * dy < (height * 0.08) ** 2) [r, g, b] = [255, 220, 120];
      } else {
        // Hill: green with a coarse texture and grain.
        const tex = 20 * Math.sin(x * 0.21) * Math.cos(y * 0.17);
        r = 60 + tex;
        g = 120 + tex + (y - hill) * 0.3;
        b = 50 + tex / 2;
      }
      // A house: a wall, a darker roof, two windows.
      const hx = x - width * 0.18;
      const hy = y - height * 0.45;
      if (hx >= 0 && hx < width * 0.2 && hy >= 0 && hy < height * 0.25) {
        [r, g, b] = [200, 170, 140];
        const wx = Math.floor((hx / (width * 0.2)) * 4);
        const wy = Math.floor((hy / (height * 0.25)) * 3);
        if (wy === 1 && wx % 2 === 0 && hx % (width * 0.05) > width * 0.01) [r, g, b] = [40, 50, 70];
      } else if (
        hx >= -10 &&
        hx < width * 0.2 + 10 &&
        hy < 0 &&
        hy > -height * 0.1 + Math.abs(hx - width * 0.1) * 0.4
      ) {
        [r, g, b] = [120, 40, 35];
      }
      // A tree: a trunk and a round crown.
      const tx = x - width * 0.62;
      const ty = y - height * 0.4;
      if (Math.abs(tx) < 4 && ty > 0 && ty < height * 0.25) [r, g, b] = [80, 55, 30];
      if (tx * tx + ty * ty < (height * 0.12) ** 2) [r, g, b] = [30 + tex8(x, y), 90 + tex8(x, y), 35];
      // Thin lines across the sky: a dark wire and a light kite string.
      if (y < hill) {
        if (Math.abs(y - (height * 0.12 + x * 0.18)) < 0.7) [r, g, b] = [35, 35, 40];
        if (Math.abs(y - (height * 0.5 - x * 0.55)) < 0.7) [r, g, b] = [245, 245, 240];
      }
      const n = noise();
      data[o] = clamp(r + n);
      data[o + 1] = clamp(g + n);
      data[o + 2] = clamp(b + n);
    }
  }
  return data;
}

function tex8(x: number, y: number): number {
  return ((x * 7 + y * 13) % 9) * 3;
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** {@link warmUpPixels} as a PNG, what {@link Engine.decode} takes. */
export async function warmUpPng(): Promise<Buffer> {
  return sharp(warmUpPixels(), { raw: { width: WARM_UP_WIDTH, height: WARM_UP_HEIGHT, channels: 3 } })
    .png({ compressionLevel: 1 })
    .toBuffer();
}
