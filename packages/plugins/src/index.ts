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
  popArt,
  resize,
  rotate,
  sharpen,
  sketch,
  watercolor,
  watermark,
};
