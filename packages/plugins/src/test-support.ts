// Shared by the plugins' tests: real fixture photos as raw pixels, small synthetic images, and the
// checks every built-in plugin must pass. Not exported from the package.
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { loadImage, paramsJsonSchema, runStep } from '@atelier/core';
import type { AnyPlugin, RawImage } from '@atelier/core';

/** The path of a committed photo in test/fixtures/images. */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../../../test/fixtures/images/${name}`, import.meta.url));
}

/**
 * A committed photo from test/fixtures/images as raw pixels: RGB, or with `channels` 1 grey and
 * 4 RGBA (alpha `alpha`, 0 to 1, opaque by default); resized to `width` when given.
 */
export async function photo(
  name: string,
  options: { width?: number; channels?: 1 | 4; alpha?: number } = {},
): Promise<RawImage> {
  const image = await loadImage(fixturePath(name), {
    channels: options.channels ?? 3,
    ...(options.width === undefined ? {} : { width: options.width }),
  });
  if (image.channels === 4 && options.alpha !== undefined) {
    const a = Math.floor(options.alpha * 255); // as sharp.ensureAlpha rounds
    for (let i = 3; i < image.data.length; i += 4) image.data[i] = a;
  }
  return image;
}

/** A light grey (235) RGB image with a square of `grey` over its middle half. */
export function greySquare(w: number, h: number, grey: number): RawImage {
  const data = new Uint8Array(w * h * 3).fill(235);
  for (let y = h / 4; y < (3 * h) / 4; y++) data.fill(grey, (y * w + w / 4) * 3, (y * w + (3 * w) / 4) * 3);
  return { data, width: w, height: h, channels: 3 };
}

/** A flat grey RGB image of `level` with seeded sensor-like noise, uniform in ±`spread`. */
export function noisyGrey(w: number, h: number, level: number, spread: number, seed: number): RawImage {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    seed = (seed * 1103515245 + 12345) >>> 0;
    data.fill(level + ((seed >>> 16) % (2 * spread + 1)) - spread, i * 3, i * 3 + 3);
  }
  return { data, width: w, height: h, channels: 3 };
}

/** Rec. 601 luma of the pixel at (x, y) of an RGB(A) image. */
export function lumaAt(img: RawImage, x: number, y: number): number {
  const o = (y * img.width + x) * img.channels;
  return 0.299 * img.data[o]! + 0.587 * img.data[o + 1]! + 0.114 * img.data[o + 2]!;
}

/** Every parameter has a description and a default; with `bounded`, numbers also have both bounds. */
export function expectDescribedParams(plugin: AnyPlugin, options: { bounded?: boolean } = {}): void {
  const schema = paramsJsonSchema(plugin) as {
    properties: Record<
      string,
      { description?: string; default?: unknown; minimum?: number; maximum?: number }
    >;
  };
  for (const field of Object.values(schema.properties)) {
    expect(field.description).toBeTruthy();
    expect(field.default).toBeDefined();
    if (options.bounded) {
      expect(field.minimum).toBeDefined();
      expect(field.maximum).toBeDefined();
    }
  }
}

/**
 * Runs `plugin` with default parameters twice with `seed` and once with `seed + 1`, and expects
 * the same bytes from the same seed and other bytes from the other. Returns the first output.
 */
export async function expectSeeded(plugin: AnyPlugin, image: RawImage, seed: number): Promise<RawImage> {
  const a = await runStep(plugin, image, {}, { seed });
  const b = await runStep(plugin, image, {}, { seed });
  const c = await runStep(plugin, image, {}, { seed: seed + 1 });
  expect(Buffer.from(a.data).equals(Buffer.from(b.data))).toBe(true);
  expect(Buffer.from(a.data).equals(Buffer.from(c.data))).toBe(false);
  return a;
}

/** One thin line of {@link thinLineChart}: its centre, direction and how it was drawn. */
export interface ChartLine {
  readonly cx: number;
  readonly cy: number;
  /** Degrees, counter-clockwise from the x axis with y pointing down (as the hatching's angle). */
  readonly angle: number;
  /** Drawn width in pixels. */
  readonly width: number;
  readonly tone: 'dark' | 'light';
  /** Length in pixels. */
  readonly length: number;
}

/** Sky blue, the flat region the lines of {@link thinLineChart} cross. */
export const SKY = [135, 190, 230] as const;

/**
 * A flat sky-blue RGB image crossed by thin antialiased line segments, one per angle, width and
 * tone (dark graphite-grey or light near-white), each alone in its own cell of a grid.
 */
export function thinLineChart(
  w: number,
  h: number,
  angles: readonly number[],
  widths: readonly number[],
): { image: RawImage; lines: ChartLine[] } {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) data.set(SKY, i * 3);
  const lines: ChartLine[] = [];
  for (const tone of ['dark', 'light'] as const)
    for (const width of widths)
      for (const angle of angles) lines.push({ cx: 0, cy: 0, angle, width, tone, length: 0 });
  const cols = angles.length;
  const rows = Math.ceil(lines.length / cols);
  const cw = w / cols;
  const ch = h / rows;
  return {
    image: { data, width: w, height: h, channels: 3 },
    lines: lines.map((line, k) => {
      const placed = {
        ...line,
        cx: Math.round(cw * ((k % cols) + 0.5)),
        cy: Math.round(ch * (Math.floor(k / cols) + 0.5)),
        length: Math.min(cw, ch) * 0.8,
      };
      drawLine(data, w, placed, line.tone === 'dark' ? [45, 50, 60] : [250, 250, 245]);
      return placed;
    }),
  };
}

function drawLine(data: Uint8Array, w: number, line: ChartLine, colour: readonly number[]): void {
  const a = (line.angle * Math.PI) / 180;
  const [dx, dy] = [Math.cos(a), -Math.sin(a)];
  const r = line.length / 2 + 2;
  for (let y = Math.floor(line.cy - r); y <= line.cy + r; y++)
    for (let x = Math.floor(line.cx - r); x <= line.cx + r; x++) {
      const along = (x - line.cx) * dx + (y - line.cy) * dy;
      const across = Math.abs(-(x - line.cx) * dy + (y - line.cy) * dx);
      // Antialiased by area: full inside half the width, fading over one pixel.
      const cover = Math.min(1, Math.max(0, line.width / 2 + 0.5 - across));
      if (cover <= 0 || Math.abs(along) > line.length / 2) continue;
      const o = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) data[o + c] = Math.round(data[o + c]! * (1 - cover) + colour[c]! * cover);
    }
}

/**
 * How well a line of {@link thinLineChart} survived in `out`: along the line, in chunks of 24 px
 * (the ends left out), the mean on the line against the mean 4–6 px beside it on both sides, per
 * channel. Returns each chunk's largest absolute difference over the channels (a white line on
 * pale blue differs most in red).
 */
export function lineContrast(out: RawImage, line: ChartLine): number[] {
  const a = (line.angle * Math.PI) / 180;
  const [dx, dy] = [Math.cos(a), -Math.sin(a)];
  const channels = Math.min(3, out.channels);
  const at = (x: number, y: number, c: number): number =>
    out.data[(Math.round(y) * out.width + Math.round(x)) * out.channels + c]!;
  const chunks: number[] = [];
  const half = line.length / 2 - 12;
  for (let t0 = -half; t0 + 24 <= half; t0 += 24) {
    let best = 0;
    for (let c = 0; c < channels; c++) {
      let on = 0;
      let beside = 0;
      for (let t = t0; t < t0 + 24; t++) {
        const x = line.cx + t * dx;
        const y = line.cy + t * dy;
        on += at(x, y, c);
        for (const s of [4, 5, 6, -4, -5, -6]) beside += at(x - s * dy, y + s * dx, c) / 6;
      }
      best = Math.max(best, Math.abs(on - beside) / 24);
    }
    chunks.push(best);
  }
  return chunks;
}
