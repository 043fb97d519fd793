import { definePlugin, z } from '@atelier/core';

const hexColour = z.string().regex(/^#[0-9a-f]{6}$/i, 'a colour like #1d3557');

function rgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export const duotone = definePlugin({
  id: 'acme:duotone',
  name: 'Duotone',
  description: 'Maps the brightness of the photo onto a gradient between two inks.',
  version: '1.0.0',
  engine: '^1',
  kind: 'style',
  tags: ['colour'],
  params: z.object({
    shadows: hexColour.default('#1d3557').describe('ink for the darkest tones'),
    highlights: hexColour.default('#f1c453').describe('ink for the brightest tones'),
    softness: z
      .number()
      .min(0)
      .max(10)
      .default(1)
      .describe('blur radius (sigma) before toning; 0 keeps every detail'),
  }),
  async apply({ image, params, sharp, signal, progress }) {
    // 1. Native work through the engine's libvips: optional blur, then brightness as one channel.
    let pipeline = sharp(image);
    if (params.softness > 0) pipeline = pipeline.blur(params.softness);
    const grey = await pipeline.greyscale().raw().toBuffer();
    signal.throwIfAborted();

    // 2. A lookup table makes the per-pixel loop a copy.
    const [r0, g0, b0] = rgb(params.shadows);
    const [r1, g1, b1] = rgb(params.highlights);
    const lut = new Uint8Array(256 * 3);
    for (let v = 0; v < 256; v++) {
      const t = v / 255;
      lut[v * 3] = Math.round(r0 + (r1 - r0) * t);
      lut[v * 3 + 1] = Math.round(g0 + (g1 - g0) * t);
      lut[v * 3 + 2] = Math.round(b0 + (b1 - b0) * t);
    }
    const out = new Uint8Array(image.width * image.height * 3);
    for (let y = 0; y < image.height; y++) {
      if (y % 256 === 0) {
        signal.throwIfAborted(); // cancellation is seen even inside a synchronous loop
        progress(y / image.height);
      }
      for (let x = 0, i = y * image.width; x < image.width; x++, i++) {
        const k = grey[i]! * 3;
        out[i * 3] = lut[k]!;
        out[i * 3 + 1] = lut[k + 1]!;
        out[i * 3 + 2] = lut[k + 2]!;
      }
    }
    return { data: out, width: image.width, height: image.height, channels: 3 };
  },
});
