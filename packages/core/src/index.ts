// The published SDK: everything a plugin needs, and the engine that runs plugins. Plugin authors
// import only from here (docs/sdk.md lists every export); so do Atelier's own plugins.
// sharp's declarations (the SharpFactory type) name Node's Buffer and streams: @types/node is a
// dependency of this package, so a plugin project type-checks without installing it.
/// <reference types="node" preserve="true" />
/**
 * zod 4, the engine's own copy: a plugin's parameter schema must come from the zod that the
 * engine validates and converts to JSON Schema with, so write `import { definePlugin, z } from
 * '@atelier/core'` rather than depending on zod yourself.
 */
export { z } from 'zod';
export { AtelierError, ERROR_CODES, isAtelierError } from './errors.ts';
export type { ErrorCode, ErrorPayload } from './errors.ts';
export type { Logger } from './logger.ts';
export { silentLogger } from './logger.ts';
export { definePlugin, isRetryableError, retryableError } from './plugin.ts';
export {
  DEFAULT_FETCH_MAX_BYTES,
  DEFAULT_FETCH_TIMEOUT_MS,
  MAX_FETCH_REDIRECTS,
  MAX_FETCH_TIMEOUT_MS,
  NETWORK_HOST_PATTERN,
  SECRET_NAME_PATTERN,
  capabilitiesProblem,
  capabilityAccess,
  forbiddenAddressReason,
  hostFetch,
  hostMatches,
  missingGrants,
  networkHostProblem,
  notGrantedError,
  redactSecrets,
} from './capabilities.ts';
export type {
  CapabilityAccess,
  HostFetchInit,
  HostFetchOptions,
  HostFormFile,
  HostResponse,
  PluginCapabilities,
  PluginGrants,
} from './capabilities.ts';
export type {
  AnyPlugin,
  ParamsSchema,
  PluginAnnotation,
  PluginContext,
  PluginCost,
  PluginDefinition,
  PluginKind,
  PluginOutput,
  PluginParams,
  PluginParamsInput,
  ImageSize,
  OutputSizeArgs,
  ProgressReporter,
  RawImage,
  SharpFactory,
} from './plugin.ts';
export { defaultParams, describeIssues, paramsJsonSchema, parseParams } from './params.ts';
export { runStep, sharpFromRaw } from './step-runner.ts';
export type { RunStepOptions } from './step-runner.ts';
export { PLUGIN_ID_PATTERN, PluginRegistry, validatePlugin } from './registry.ts';
export type {
  PluginInfo,
  PluginLoadFailure,
  PluginRegistryChange,
  PluginRegistryListener,
  PluginReplaceSummary,
  PluginSource,
} from './registry.ts';
export {
  importPluginModule,
  loadPluginDirectory,
  loadPluginModule,
  resolvePluginPackage,
} from './plugin-loader.ts';
export type { PluginLoadOptions } from './plugin-loader.ts';
export {
  CONTENT_TYPES,
  DEFAULT_LIMITS,
  DEFAULT_QUALITY,
  INPUT_FORMATS,
  OUTPUT_EXTENSIONS,
  OUTPUT_FORMATS,
  canonicalJson,
  checkOutputSize,
  createPlan,
  outputPixelLimit,
  parsePlan,
  planHash,
  planRequestSchema,
  planSchema,
  stepSeed,
} from './plan.ts';
export type {
  InputFormat,
  OutputFormat,
  Plan,
  PlanLimits,
  PlanOutput,
  PlanRequest,
  PlanStep,
} from './plan.ts';
export {
  decodeImage,
  encodeImage,
  inspectInput,
  loadImage,
  readImageSize,
  sniffImageFormat,
} from './image-io.ts';
export type { EncodeOptions, InputInfo, LoadImageOptions } from './image-io.ts';
export { Engine, runCosts } from './engine.ts';
export { shareCompileCache } from './compile-cache.ts';
export {
  MAX_CAPTION_CHARS,
  MAX_COST_DETAIL_CHARS,
  MAX_COSTS_PER_STEP,
  MAX_TAG_CHARS,
  MAX_TAGS,
  checkAnnotation,
  checkCost,
} from './plugin-reports.ts';
export type { StepAnnotation, StepCost } from './plugin-reports.ts';
export type { DecodedInput, EngineOptions, RunOptions, RunProgress, RunResult } from './engine.ts';
export { PREVIEW_PROXY_BLOCK, makePreviewProxy } from './preview-proxy.ts';
export type { PreviewProxy } from './preview-proxy.ts';
export { WARM_UP_HEIGHT, WARM_UP_SCALE, WARM_UP_WIDTH, warmUpPixels } from './warm-up.ts';
export type { WarmUpOptions, WarmUpReport } from './warm-up.ts';
export type { StepTiming } from './engine-protocol.ts';
export type { Storage, StoredObject, StoredStream } from './storage.ts';
export { ENGINE_VERSION } from './version.ts';
// Helpers for plugin authors: parameter types, placement, sharp pipelines and working sizes.
// The built-in plugins use exactly these.
export { hexColor, parseHexColor, sharpColor } from './color-param.ts';
export type { Rgba } from './color-param.ts';
export { GRAVITIES, gravityParam, place, sharpPosition } from './gravity.ts';
export type { Gravity } from './gravity.ts';
export { runPipeline } from './run-pipeline.ts';
export { loadCanvas } from './canvas.ts';
export type { CanvasContext2D, CanvasImage, CanvasLib } from './canvas.ts';
/** sharp's types, for plugins that build pipelines with the context's `sharp()` (no sharp dependency needed). */
export type { OverlayOptions, Sharp } from 'sharp';
export type { RunPipelineOptions } from './run-pipeline.ts';
export { fitLongSide, pixelsAt, previewFullSize } from './work-size.ts';
// Bands and the pixel kernels: the same list as the light `@atelier/core/kernels` entry point.
export * from './kernels.ts';
