import { randomBytes } from 'node:crypto';
import type { Logger } from '@atelier/core';
import { GallerySearch, QuotaService } from '@atelier/jobs';
import { AdminService } from '../admin.service.ts';
import { CapabilitiesService } from '../capabilities.service.ts';
import { AccountService, LoginThrottle, SessionService } from '../auth/index.ts';
import { HealthService } from '../health.service.ts';
import { JobUpdatesService } from '../job-updates.service.ts';
import { PaymentsService } from '../payments/index.ts';
import { PluginPackageService } from '../plugin-packages.ts';
import type { Services } from '../services.ts';
import { StatsService } from '../stats.service.ts';
import { TOKENS, resolve } from '../tokens.ts';
import type { HttpSettings } from '../tokens.ts';
import type { ApiServices } from './context.ts';
import { JobEventHub } from './job-event-hub.ts';
import { PreviewService } from './preview.ts';

export { buildApp } from './app.ts';
export type { AppOptions } from './app.ts';
export { appRouter } from './router.ts';
export type { AppRouter } from './router.ts';
export type { ApiContext, ApiServices, ContextRequest, ContextResponse } from './context.ts';
export { createContext } from './context.ts';
export type { CreateJobInput } from './jobs.router.ts';
export type { ApiImage, ApiJob } from './views.ts';

/** Options of {@link createApiServices}: the API's HTTP settings. */
export interface ApiServicesOptions {
  allowedOrigins?: readonly string[];
  urlSecret?: Uint8Array;
  /** Overridden by `publicUrl`: Secure exactly when it is https. */
  secureCookies?: boolean;
  /** `ATELIER_PUBLIC_URL`: the Origin check compares with it, cookies are Secure when it is https. */
  publicUrl?: string | undefined;
  /** Accounts one client IP may register per hour. @default 10 */
  registrationsPerHour?: number;
  logger?: Logger;
}

/**
 * The API's part of the composition root: a child container of the process's root with the HTTP
 * settings and the job-event fan-out (one LISTEN connection) registered, and the services the API
 * calls resolved from it. Close it before the root.
 */
export async function createApiServices(
  core: Services,
  options: ApiServicesOptions = {},
): Promise<ApiServices & { close(): Promise<void> }> {
  const publicUrl = options.publicUrl ? new URL(options.publicUrl) : undefined;
  const settings: HttpSettings = {
    allowedOrigins: options.allowedOrigins ?? [],
    urlSecret: options.urlSecret ?? randomBytes(32),
    secureCookies: publicUrl ? publicUrl.protocol === 'https:' : (options.secureCookies ?? true),
    publicOrigin: publicUrl?.origin,
    registrationsPerHour: options.registrationsPerHour ?? 10,
  };
  const container = core.container.createChildContainer();
  container.register(TOKENS.HttpSettings, { useValue: settings });
  const events = new JobEventHub(core.database.url, options.logger);
  await events.start();
  container.register(TOKENS.EventBus, { useValue: events });
  const sessions = container.resolve(SessionService);
  const throttle = container.resolve(LoginThrottle);
  const quotas = container.resolve(QuotaService);
  // Expired sessions, stale throttle entries and quota usage older than its window are swept hourly.
  const sweep = setInterval(() => {
    void sessions.deleteExpired().catch(() => {});
    void throttle.prune().catch(() => {});
    void quotas.prune().catch(() => {});
  }, 3600_000);
  sweep.unref();
  return {
    accounts: container.resolve(AccountService),
    sessions,
    jobs: core.jobs,
    gallery: container.resolve(GallerySearch),
    quotas,
    previews: container.resolve(PreviewService),
    updates: container.resolve(JobUpdatesService),
    admin: container.resolve(AdminService),
    capabilities: container.resolve(CapabilitiesService),
    pluginPackages: container.resolve(PluginPackageService),
    stats: container.resolve(StatsService),
    payments: container.resolve(PaymentsService),
    health: container.resolve(HealthService),
    registry: resolve(container, TOKENS.PluginRegistry),
    storage: resolve(container, TOKENS.Storage),
    limits: core.config.limits,
    uploads: core.config.uploads,
    allowedOrigins: settings.allowedOrigins,
    urlSecret: settings.urlSecret,
    secureCookies: settings.secureCookies,
    publicOrigin: settings.publicOrigin,
    close: async () => {
      clearInterval(sweep);
      await events.close();
    },
  };
}
