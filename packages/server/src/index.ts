export { readConfig } from './config.ts';
export type { AtelierConfig } from './config.ts';
export { createRegistry, createRuntime } from './runtime.ts';
export { parseSetOptions } from './cli-args.ts';
export { applyFiles, planFromOptions, writeFileAtomic } from './cli-apply.ts';
export type { ApplyOptions, ApplyReport } from './cli-apply.ts';
export { benchStyle } from './cli-bench.ts';
export { MALLOC_TUNABLES, glibcVersion, mallocAdvice } from './malloc.ts';
export { HEAP_FLAGS, heapAdvice } from './v8-heap.ts';
export type { BenchOptions, BenchResult } from './cli-bench.ts';
export { buildProgram, main } from './cli.ts';
export type { AppRouter, ApiImage, ApiJob, CreateJobInput } from './api/index.ts';
export { openServices } from './services.ts';
export type { Services } from './services.ts';
export { buildApp, createApiServices } from './api/index.ts';
export { PREVIEW_SIZE, previewProxy } from './api/preview.ts';
export { createLogger } from './logger.ts';
export { openDatabaseRoot, openRoot, registerServices } from './container.ts';
export type { Root, RootOptions } from './container.ts';
export { openRuntimeRoot } from './runtime.ts';
export { TOKENS, injectable, resolve } from './tokens.ts';
export type { EventBus, HttpSettings, InterfaceToken, Token } from './tokens.ts';
export { AdminService } from './admin.service.ts';
export type { Actor, AdminUser, AuditEntry, JobCounts, PluginUsage } from './admin.service.ts';
export { StatsService } from './stats.service.ts';
export type { Stats } from './stats.service.ts';
export { HealthService } from './health.service.ts';
export { JobUpdatesService } from './job-updates.service.ts';
export { MigrationService } from './migration.service.ts';
export {
  PLUGIN_PACKAGE_MAX_BYTES,
  PluginPackageService,
  fetchFromRegistry,
  integrityOf,
  matchesIntegrity,
  npmRegistryUrl,
  readTarballManifest,
} from './plugin-packages.ts';
export type {
  PluginInstallResult,
  PluginPackageInfo,
  PluginPackageServiceOptions,
  PluginPackageVia,
  PluginUninstallResult,
  TarballManifest,
} from './plugin-packages.ts';
export { PluginPackageSync, syncPluginPackages } from './plugin-package-sync.ts';
export type { PluginPackageSyncOptions, PluginSyncSummary } from './plugin-package-sync.ts';
