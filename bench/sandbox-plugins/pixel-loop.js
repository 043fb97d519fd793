// A benign third-party style as a plugin author might write it without the SDK's kernels: one
// plain JavaScript loop over every pixel (a warm sepia tone with a soft vignette), for the
// sandbox bench (bench/sandbox-bench.ts).
import { definePlugin, z } from '@atelier/core';

export default definePlugin({
  id: 'bench:pixel-loop',
  name: 'Sepia vignette',
  description: 'A warm sepia tone with a soft vignette, computed pixel by pixel.',
  version: '1.0.0',
  engine: '^1',
  kind: 'style',
  params: z.object({ strength: z.number().min(0).max(1).default(0.8) }),
  apply({ image, params }) {
    const { width, height, data } = image;
    const out = new Uint8Array(width * height * 3);
    const cx = width / 2;
    const cy = height / 2;
    const reach = cx * cx + cy * cy;
    const s = params.strength;
    for (let y = 0; y < height; y++) {
      const dy = (y - cy) * (y - cy);
      for (let x = 0, i = y * width * 3; x < width; x++, i += 3) {
        const r = data[i];
        const g = data[i + 1];
        const b = data[i + 2];
        const fall = 1 - (0.6 * ((x - cx) * (x - cx) + dy)) / reach;
        const tr = (r * (1 - 0.607 * s) + g * 0.769 * s + b * 0.189 * s) * fall;
        const tg = (r * 0.349 * s + g * (1 - 0.314 * s) + b * 0.168 * s) * fall;
        const tb = (r * 0.272 * s + g * 0.534 * s + b * (1 - 0.869 * s)) * fall;
        out[i] = tr > 255 ? 255 : tr;
        out[i + 1] = tg > 255 ? 255 : tg;
        out[i + 2] = tb > 255 ? 255 : tb;
      }
    }
    return { data: out, width, height, channels: 3 };
  },
});
