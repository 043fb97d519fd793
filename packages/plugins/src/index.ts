import type { AnyPlugin } from '@atelier/core';
// Each plugin file adds its import here and its entry to `builtinPlugins` below.
import { cartoon } from './styles/cartoon.plugin.ts';
import { colorPencil } from './styles/color-pencil.plugin.ts';
import { oilPainting } from './styles/oil-painting.plugin.ts';
import { popArt } from './styles/pop-art.plugin.ts';
import { sketch } from './styles/sketch.plugin.ts';
import { watercolor } from './styles/watercolor.plugin.ts';
import { blur } from './transforms/blur.plugin.ts';
import { crop } from './transforms/crop.plugin.ts';
import { flip } from './transforms/flip.plugin.ts';
import { grayscale } from './transforms/grayscale.plugin.ts';
import { resize } from './transforms/resize.plugin.ts';
import { rotate } from './transforms/rotate.plugin.ts';
import { sharpen } from './transforms/sharpen.plugin.ts';
import { watermark } from './transforms/watermark.plugin.ts';
import { openaiDescribe, openaiDescribePlugin } from './ai/openai-describe.plugin.ts';
import { openaiImage, openaiImagePlugin } from './ai/openai-image.plugin.ts';

/** The plugins that ship with Atelier, in catalogue order. They use only the public SDK. */
export const builtinPlugins: readonly AnyPlugin[] = [
  // styles
  cartoon,
  sketch,
  colorPencil,
  oilPainting,
  watercolor,
  popArt,
  // transforms
  resize,
  crop,
  rotate,
  flip,
  blur,
  sharpen,
  grayscale,
  watermark,
  // AI providers: they need an administrator's grants (a host and an API key) before they run.
  openaiImage,
  openaiDescribe,
];

/** Each built-in by name, with its literal id and parameter types (clients type `params` per style). */
export {
  blur,
  cartoon,
  colorPencil,
  crop,
  flip,
  grayscale,
  oilPainting,
  openaiDescribe,
  openaiImage,
  popArt,
  resize,
  rotate,
  sharpen,
  sketch,
  watercolor,
  watermark,
};

/** Variants of the AI-provider plugins under another id and host (an OpenAI-compatible provider). */
export { openaiDescribePlugin, openaiImagePlugin };
export { CHAT_MODEL_PRICES, IMAGE_MODEL_PRICES } from './ai/openai-provider.ts';
export type { TokenPrice } from './ai/openai-provider.ts';
