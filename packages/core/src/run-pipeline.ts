import type { Sharp } from 'sharp';
import { lumaPlane } from './pixels/color.ts';
import type { RawImage } from './plugin.ts';
import { pipelineSignal, untilAborted } from './pipeline-signal.ts';

/** The options of {@link runPipeline}. */
export interface RunPipelineOptions {
  /**
   * Return colour from a grey input when the pipeline made colour (a coloured background or
   * watermark); otherwise a grey input gives a grey output.
   * @default false
   */
  readonly keepColour?: boolean;
}

/**
 * Runs a sharp pipeline over raw pixels and returns raw pixels with the input's channel layout.
 *
 * sharp treats 1- and 2-channel raw input as greyscale but writes 3- or 4-channel sRGB, and some
 * operations add an alpha channel (a transparent background). This keeps grey images grey
 * (luma, which is exact for R = G = B) unless `keepColour` is set, and keeps alpha whenever the
 * input had it or the operation made some. Use it instead of returning the pipeline from
 * `apply` when a grey photo must stay grey, or when you need the pixels back.
 *
 * @example
 * apply({ image, params, sharp }) {
 *   return runPipeline(image, sharp().blur(params.sigma));
 * }
 */
export async function runPipeline(
  input: RawImage,
  pipeline: Sharp,
  options: RunPipelineOptions = {},
): Promise<RawImage> {
  // A pipeline made by ctx.sharp answers its step's cancel at once (libvips cannot be stopped).
  const rendering = pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  const signal = pipelineSignal(pipeline);
  const { data, info } = await (signal ? untilAborted(rendering, signal) : rendering);
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

/** RGB(A) to grey(+alpha) by Rec. 601 luma ({@link lumaPlane}). */
function toGrey(image: RawImage): RawImage {
  const { data, width, height, channels } = image;
  const n = width * height;
  const grey = lumaPlane(data, n, channels);
  if (channels === 3) return { data: grey, width, height, channels: 1 };
  const out = new Uint8Array(n * 2);
  for (let i = 0, s = 3, o = 0; i < n; i++, s += 4, o += 2) {
    out[o] = grey[i]!;
    out[o + 1] = data[s]!;
  }
  return { data: out, width, height, channels: 2 };
}
