export {
  JOB_CANCEL_CHANNEL,
  JOB_EVENTS_CHANNEL,
  JobEventListener,
  PLUGIN_STATE_CHANNEL,
  PLUGIN_PACKAGES_CHANNEL,
  publishCancel,
  publishJobEvent,
} from './events.ts';
export type { JobEvent } from './events.ts';
export { PluginStateSync, loadPluginState, savePluginState } from './plugin-state.ts';
export { JobService, eventOf } from './job-service.ts';
export type { JobServiceOptions, ListJobs, StoredImage, SubmitJob } from './job-service.ts';
export { ANALYSIS_QUEUE, DEAD_LETTER_QUEUE, RENDER_QUEUE, createJobQueue } from './queue.ts';
export type {
  AnalysisPayload,
  JobQueue,
  JobQueueOptions,
  QueueCounts,
  QueuePolicyOptions,
  RenderPayload,
} from './queue.ts';
export { AnalysisService, PENDING_ANALYSIS } from './image-analysis.ts';
export type { AnalysisOutcome, AnalysisServiceOptions, ImageAnalysisRecord } from './image-analysis.ts';
export { AnalysisWorker } from './analysis-worker.ts';
export type { AnalysisWorkerOptions } from './analysis-worker.ts';
export {
  TERMINAL_STATUSES,
  freeCopyKey,
  freeCopySource,
  originalKey,
  resultKey,
  toAnnotationRecord,
  toImageRecord,
  toJobRecord,
} from './records.ts';
export type { ImageAnnotationRecord, ImageRecord, JobRecord } from './records.ts';
export { RenderWorker } from './render-worker.ts';
export type { RenderWorkerOptions } from './render-worker.ts';
export { DEFAULT_QUOTAS, QuotaService, usageCost } from './quotas.ts';
export type { QuotaCharge, QuotaLimits, QuotaOverrides, QuotaStatus, QuotaUsage } from './quotas.ts';
export {
  MAX_SECRET_BYTES,
  SecretsKey,
  checkGrant,
  checkPlanGrants,
  deleteSecret,
  listGrants,
  listSecrets,
  loadPlanGrants,
  saveGrant,
  saveSecret,
} from './plugin-grants.ts';
export type { PluginGrantRecord, SecretInfo } from './plugin-grants.ts';
export {
  COLOUR_CELL,
  DEFAULT_COLOUR_TOLERANCE,
  DEFAULT_SIMILAR_THRESHOLD,
  DUPLICATE_THRESHOLD,
  GallerySearch,
  MAX_COLOUR_TOLERANCE,
  MAX_SEARCH_COLOURS,
  MAX_SIMILAR_THRESHOLD,
  MAX_TAGS,
  MAX_TAG_LENGTH,
  MAX_TITLE_LENGTH,
  SIMILAR_FIRST_ROUND,
  bandNeighbours,
  colourCell,
  colourCellsWithin,
} from './gallery-search.ts';
export type {
  ColourHit,
  DuplicateReport,
  GalleryFilters,
  SearchPage,
  SimilarHit,
  TextHit,
} from './gallery-search.ts';
