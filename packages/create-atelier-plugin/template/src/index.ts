// A screen-print poster look. The photo's tones are cut into a few flat bands of
// one ink on warm paper, from a deep shade of the ink through the ink itself to the paper.
// Everything here comes from @atelier/core, the SDK: the same one Atelier's built-in styles use.
import { definePlugin, hexColor, parseHexColor, runPipeline, z } from '@atelier/core';

/** The paper the ink is printed on. */
const PAPER = { r: 246, g: 241, b: 231 };
/** What the ink is mixed with for the deepest band. */
const SHADOW = { r: 22, g: 20, b: 28 };

interface Rgb {
  readonly r: number;
  readonly g: number;
  readonly b: number;
}

/** The colour `t` of the way from `a` to `b`. */
function mix(a: Rgb, b: Rgb, t: number): Rgb {
  const at = (x: number, y: number): number => Math.round(x + (y - x) * t);
  return { r: at(a.r, b.r), g: at(a.g, b.g), b: at(a.b, b.b) };
}

export const plugin = definePlugin({
  id: '{{PLUGIN_ID}}',
  name: '{{PLUGIN_NAME}}',
  description: 'Screen-print poster: the photo in a few flat bands of one ink on warm paper.',
  version: '0.1.0',
  engine: '^1',
  kind: 'style',
  tags: ['poster', 'colour'],
  params: z.object({
    ink: hexColor('The ink colour').default('#e4572e'),
    levels: z.number().int().min(2).max(8).default(4).describe('How many flat tone bands, 2 to 8'),
  }),
  async apply({ image, params, sharp, signal, progress }) {
    // 1. Native work through the engine's libvips: a blur scaled to the photo so the bands get
    //    clean edges instead of noise, brightness as one channel, stretched to the full range.
    //    runPipeline (not a bare toBuffer) lets a cancelled run stop without waiting for libvips.
    const sigma = Math.max(0.5, Math.max(image.width, image.height) / 1200);
    const { data: grey } = await runPipeline(image, sharp(image).blur(sigma).greyscale().normalise());
    signal.throwIfAborted();

    // 2. One lookup table from brightness to its band's colour, so the pixel loop is a copy.
    //    The bands run from a deep shade of the ink (not black) through the ink to the paper.
    const ink = parseHexColor(params.ink);
    const deep = mix(SHADOW, ink, 0.3);
    const lut = new Uint8Array(256 * 3);
    for (let v = 0; v < 256; v++) {
      const band = Math.min(params.levels - 1, Math.floor((v * params.levels) / 256));
      const t = band / (params.levels - 1); // 0: the darkest band, 1: the paper
      const colour = t < 0.5 ? mix(deep, ink, t * 2) : mix(ink, PAPER, t * 2 - 1);
      lut.set([colour.r, colour.g, colour.b], v * 3);
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

export default plugin;
