// The part of the SDK that is pure JavaScript: what a plugin running in the sandbox (an isolate
// with no Node APIs, see @atelier/sandbox) gets when it imports '@atelier/core'. Everything here
// must load without Node built-ins, sharp or native addons; the sandbox refuses any such import.
// It mirrors index.ts minus the engine, the loaders, image I/O and the canvas; keep the two in
// step when the SDK grows.
export { z } from 'zod';
export { AtelierError, ERROR_CODES, isAtelierError } from './errors.ts';
export type { ErrorCode, ErrorPayload } from './errors.ts';
export type { Logger } from './logger.ts';
export { silentLogger } from './logger.ts';
export { definePlugin, isRetryableError, retryableError } from './plugin.ts';
export type {
  AnyPlugin,
  ImageSize,
  OutputSizeArgs,
  ParamsSchema,
  PluginContext,
  PluginDefinition,
  PluginKind,
  PluginOutput,
  PluginParams,
  PluginParamsInput,
  ProgressReporter,
  RawImage,
  SharpFactory,
} from './plugin.ts';
export { defaultParams, describeIssues, paramsJsonSchema, parseParams } from './params.ts';
export { hexColor, parseHexColor, sharpColor } from './color-param.ts';
export type { Rgba } from './color-param.ts';
export { GRAVITIES, gravityParam, place, sharpPosition } from './gravity.ts';
export type { Gravity } from './gravity.ts';
export { runPipeline } from './run-pipeline.ts';
export type { RunPipelineOptions } from './run-pipeline.ts';
export { fitLongSide, pixelsAt, previewFullSize } from './work-size.ts';
export { ENGINE_VERSION } from './version.ts';
export { loadCanvas, readImageSize, sniffImageFormat } from './sandbox-natives.ts';
export type { CanvasContext2D, CanvasImage, CanvasLib } from './canvas.ts';
// Bands and the pixel kernels: the same list as the light `@atelier/core/kernels` entry point.
export * from './kernels.ts';
