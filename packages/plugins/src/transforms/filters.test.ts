import { AtelierError, runStep } from '@atelier/core';
import type { RawImage } from '@atelier/core';
import { describe, expect, it } from 'vitest';
import { photo } from '../test-support.ts';
import { blur } from './blur.plugin.ts';
import { grayscale } from './grayscale.plugin.ts';
import { sharpen } from './sharpen.plugin.ts';

/** The photo with a transparent left half. */
async function halfTransparent(name: string): Promise<RawImage> {
  const image = await photo(name, { channels: 4 });
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width / 2; x++) image.data[(y * image.width + x) * 4 + 3] = 0;
  }
  return image;
}

/** Mean absolute difference between horizontal neighbours, first channel: a measure of detail. */
function detail(img: RawImage): number {
  let sum = 0;
  for (let y = 0; y < img.height; y++) {
    for (let x = 1; x < img.width; x++) {
      const o = (y * img.width + x) * img.channels;
      sum += Math.abs(img.data[o]! - img.data[o - img.channels]!);
    }
  }
  return sum / (img.height * (img.width - 1));
}

const alphaAt = (img: RawImage, x: number, y: number): number =>
  img.data[(y * img.width + x) * img.channels + img.channels - 1]!;

describe('blur', () => {
  it('softens a photo and keeps its size', async () => {
    const image = await photo('coffee.png');
    const out = await runStep(blur, image, { sigma: 3 });
    expect([out.width, out.height, out.channels]).toEqual([600, 400, 3]);
    expect(detail(out)).toBeLessThan(detail(image) * 0.6);
  });

  it('keeps alpha, and grey stays grey', async () => {
    const out = await runStep(blur, await halfTransparent('coffee.png'), { sigma: 2 });
    expect(out.channels).toBe(4);
    expect(alphaAt(out, 10, 10)).toBe(0);
    expect(alphaAt(out, 590, 390)).toBe(255);
    expect((await runStep(blur, await photo('coffee.png', { channels: 1 }), {})).channels).toBe(1);
  });

  it('mirrors the libvips bounds on sigma', async () => {
    const image = await photo('chelsea.png');
    for (const sigma of [0.2, 1001]) {
      const error = await runStep(blur, image, { sigma }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AtelierError);
      expect((error as AtelierError).code).toBe('PARAMS_INVALID');
    }
  });
});

describe('sharpen', () => {
  it('adds detail', async () => {
    const image = await photo('coffee.png');
    const out = await runStep(sharpen, image, { sigma: 1.5, flat: 2, jagged: 4 });
    expect([out.width, out.height, out.channels]).toEqual([600, 400, 3]);
    expect(detail(out)).toBeGreaterThan(detail(image) * 1.1);
  });

  it('keeps alpha and is deterministic', async () => {
    const image = await halfTransparent('chelsea.png');
    const a = await runStep(sharpen, image, {});
    const b = await runStep(sharpen, image, {});
    expect(a.channels).toBe(4);
    expect(alphaAt(a, 0, 0)).toBe(0);
    expect(Buffer.compare(a.data, b.data)).toBe(0);
  });
});

describe('grayscale', () => {
  it('turns RGB into one grey channel close to the luma', async () => {
    const image = await photo('coffee.png');
    const out = await runStep(grayscale, image, {});
    expect([out.width, out.height, out.channels]).toEqual([600, 400, 1]);
    const i = 200 * 600 + 300;
    const [r, g, b] = image.data.subarray(i * 3, i * 3 + 3);
    expect(Math.abs(out.data[i]! - (0.299 * r! + 0.587 * g! + 0.114 * b!))).toBeLessThan(6);
  });

  it('keeps the alpha channel as it was', async () => {
    const image = await halfTransparent('coffee.png');
    const out = await runStep(grayscale, image, {});
    expect(out.channels).toBe(2);
    for (let i = 0; i < 600 * 400; i += 997) expect(out.data[2 * i + 1]).toBe(image.data[4 * i + 3]);
  });

  it('passes grey images through', async () => {
    const grey = await photo('coffee.png', { channels: 1 });
    expect(await runStep(grayscale, grey, {})).toBe(grey);
  });
});
