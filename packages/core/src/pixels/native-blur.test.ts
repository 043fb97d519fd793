import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import type { RawImage } from '../plugin.ts';
import { gaussianBlur } from './gaussian-blur.ts';
import { blurGrey, floatToGrey } from './native-blur.ts';
import { hash32 } from './rng.ts';

const factory = (image?: RawImage) =>
  sharp(image!.data, { raw: { width: image!.width, height: image!.height, channels: image!.channels } });

describe('blurGrey', () => {
  it('matches a JavaScript Gaussian in the interior, in float precision', async () => {
    const w = 64;
    const h = 48;
    const grey = new Uint8Array(w * h).map((_, i) => hash32(i) & 255);
    const native = await blurGrey(factory, grey, w, h, 2);
    const js = gaussianBlur(Float32Array.from(grey), w, h, 2);
    let fractional = 0;
    for (let y = 8; y < h - 8; y++) {
      for (let x = 8; x < w - 8; x++) {
        const i = y * w + x;
        expect(Math.abs(native[i]! - js[i]!)).toBeLessThan(1.5);
        if (Math.abs(native[i]! - Math.round(native[i]!)) > 0.01) fractional++;
      }
    }
    expect(fractional).toBeGreaterThan(100);
  });
});

describe('floatToGrey', () => {
  it('rounds and clamps 0..1 to bytes', () => {
    expect(Array.from(floatToGrey(new Float32Array([-0.5, 0, 0.5, 1, 2])))).toEqual([0, 0, 128, 255, 255]);
  });
});
