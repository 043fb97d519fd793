import type { RawImage } from '@atelier/core';
import type { Sharp } from 'sharp';

/**
 * Runs a sharp pipeline over raw pixels and returns raw pixels with the input's channel layout.
 *
 * sharp treats 1- and 2-channel raw input as greyscale but writes 3- or 4-channel sRGB, and some
 * operations add an alpha channel (a transparent background). This keeps grey images grey
 * (luma, which is exact for R = G = B) unless `keepColour` is set, and keeps alpha whenever the
 * input had it or the operation made some.
 */
export async function runPipeline(
  input: RawImage,
  pipeline: Sharp,
  options: { keepColour?: boolean } = {},
): Promise<RawImage> {
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const out: RawImage = {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
    channels: info.channels as RawImage['channels'],
  };
  const inputGrey = input.channels <= 2;
  if (!inputGrey || out.channels <= 2 || options.keepColour === true) return out;
  return toGrey(out);
}

/** RGB(A) to grey(+alpha) by BT.601 luma with weights summing to 256. */
export function toGrey(image: RawImage): RawImage {
  const { data, width, height, channels } = image;
  if (channels <= 2) return image;
  const alpha = channels === 4;
  const oc = alpha ? 2 : 1;
  const n = width * height;
  const out = new Uint8Array(n * oc);
  for (let i = 0, s = 0, o = 0; i < n; i++, s += channels, o += oc) {
    out[o] = (77 * data[s]! + 150 * data[s + 1]! + 29 * data[s + 2]! + 128) >> 8;
    if (alpha) out[o + 1] = data[s + 3]!;
  }
  return { data: out, width, height, channels: alpha ? 2 : 1 };
}
