import type { AnyPlugin } from '@atelier/core';
// Each plugin file adds its import here and its entry to `builtinPlugins` below.

/** The plugins that ship with Atelier, in catalogue order. They use only the public SDK. */
export const builtinPlugins: readonly AnyPlugin[] = [
  // styles
  // transforms
];
