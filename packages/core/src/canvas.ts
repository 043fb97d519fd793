// 2D drawing for plugins (text, shapes, images composed at an angle): @napi-rs/canvas, Skia's
// canvas API, lent by the SDK. It is about 20 MB of native code once loaded, so it loads with the
// first plugin that asks for it, not in every worker thread that imports the plugins.
import type * as CanvasModule from '@napi-rs/canvas';

/** The @napi-rs/canvas module: `createCanvas`, `loadImage`, `GlobalFonts`, ... */
export type CanvasLib = typeof CanvasModule;
/** A canvas' 2D context (the browser's `CanvasRenderingContext2D`, as Skia implements it). */
export type CanvasContext2D = CanvasModule.SKRSContext2D;
/** An image decoded by {@link CanvasLib.loadImage}, ready for `drawImage`. */
export type CanvasImage = CanvasModule.Image;

let loaded: Promise<CanvasLib> | undefined;

/**
 * Loads @napi-rs/canvas, the engine's copy, once per thread. Use it instead of depending on a
 * canvas package yourself: the plugin then runs on the library and version the engine was
 * tested with, and a process holds one copy of the native code, not one per plugin.
 *
 * @example
 * import { loadCanvas } from '@atelier/core';
 *
 * const { createCanvas } = await loadCanvas();
 * const ctx = createCanvas(400, 100).getContext('2d');
 * ctx.font = 'bold 48px sans-serif';
 * ctx.fillText('Hello', 10, 60);
 * const rgba = ctx.getImageData(0, 0, 400, 100).data; // unpremultiplied RGBA bytes
 */
export function loadCanvas(): Promise<CanvasLib> {
  loaded ??= import('@napi-rs/canvas');
  return loaded;
}
