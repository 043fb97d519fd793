export { AtelierError, ERROR_CODES, isAtelierError } from './errors.ts';
export type { ErrorCode, ErrorPayload } from './errors.ts';
export type { Logger } from './logger.ts';
export { silentLogger } from './logger.ts';
export { definePlugin } from './plugin.ts';
export type {
  AnyPlugin,
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
export { runStep, sharpFromRaw } from './step-runner.ts';
export type { RunStepOptions } from './step-runner.ts';
export { ENGINE_VERSION } from './version.ts';
export * from './pixels/index.ts';
