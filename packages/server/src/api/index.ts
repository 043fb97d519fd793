import { randomBytes } from 'node:crypto';
import type { Logger } from '@atelier/core';
import { QuotaService } from '@atelier/jobs';
import { AccountService, LoginThrottle, SessionService } from '../auth/index.ts';
import type { Services } from '../services.ts';
import type { ApiServices } from './context.ts';
import { JobEventHub } from './job-event-hub.ts';
import { PreviewService } from './preview.ts';

export { buildApp } from './app.ts';
export type { AppOptions } from './app.ts';
export { appRouter } from './router.ts';
export type { AppRouter } from './router.ts';
export type { ApiContext, ApiServices } from './context.ts';
export type { CreateJobInput } from './jobs.router.ts';
export type { ApiImage, ApiJob } from './views.ts';

/** Wires the API's own services on top of the job services. */
export async function createApiServices(
  core: Services,
  options: {
    allowedOrigins?: readonly string[];
    urlSecret?: Uint8Array;
    /** Overridden by `publicUrl`: Secure exactly when it is https. */
    secureCookies?: boolean;
    /** `ATELIER_PUBLIC_URL`: the Origin check compares with it, cookies are Secure when it is https. */
    publicUrl?: string | undefined;
    /** Accounts one client IP may register per hour. @default 10 */
    registrationsPerHour?: number;
    logger?: Logger;
  } = {},
): Promise<ApiServices & { close(): Promise<void> }> {
  const db = core.database.db;
  const publicUrl = options.publicUrl ? new URL(options.publicUrl) : undefined;
  const sessions = new SessionService({ db });
  const throttle = new LoginThrottle({
    db,
    registration: { maxAttempts: options.registrationsPerHour ?? 10, windowMs: 3600_000 },
  });
  const accounts = new AccountService({ db, sessions, throttle });
  const events = new JobEventHub(core.database.url, options.logger);
  await events.start();
  const quotas = new QuotaService({ db, defaults: core.config.quotas });
  const previews = new PreviewService({
    engine: core.engine,
    storage: core.storage,
    jobs: core.jobs,
    quotas,
  });
  // Expired sessions, stale throttle entries and quota usage older than its window are swept hourly.
  const sweep = setInterval(() => {
    void sessions.deleteExpired().catch(() => {});
    void throttle.prune().catch(() => {});
    void quotas.prune().catch(() => {});
  }, 3600_000);
  sweep.unref();
  return {
    core,
    accounts,
    sessions,
    events,
    previews,
    quotas,
    allowedOrigins: options.allowedOrigins ?? [],
    urlSecret: options.urlSecret ?? randomBytes(32),
    secureCookies: publicUrl ? publicUrl.protocol === 'https:' : (options.secureCookies ?? true),
    publicOrigin: publicUrl?.origin,
    close: async () => {
      clearInterval(sweep);
      await events.close();
    },
  };
}
