// zod's `z`, so that a plugin and the engine share one zod (see docs/plugins.md).
export { z } from 'zod';
export { AtelierError, ERROR_CODES, isAtelierError } from './errors.ts';
export type { ErrorCode, ErrorPayload } from './errors.ts';
export type { Logger } from './logger.ts';
export { silentLogger } from './logger.ts';
export { definePlugin, isRetryableError, retryableError } from './plugin.ts';
export type {
  AnyPlugin,
  ParamsSchema,
  PluginContext,
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
export { decodeImage, encodeImage, inspectInput } from './image-io.ts';
export type { InputInfo } from './image-io.ts';
export { Engine } from './engine.ts';
export type { EngineOptions, RunOptions, RunProgress, RunResult } from './engine.ts';
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
export type { RunPipelineOptions } from './run-pipeline.ts';
export { fitLongSide, pixelsAt } from './work-size.ts';
export * from './pixels/index.ts';
