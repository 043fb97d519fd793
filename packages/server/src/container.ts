// The composition root: the one module that knows which class stands behind each token. Every
// process (`atelier serve`, `atelier worker`, the CLI's commands) opens its root here, at start-up;
// below it, services receive what they need through their constructors and nothing resolves from
// the container.
import path from 'node:path';
import type { DependencyContainer, InjectionToken } from 'tsyringe';
import { silentLogger } from '@atelier/core';
import type { Logger } from '@atelier/core';
import { migrateUp, openDatabase } from '@atelier/db';
import {
  AnalysisWorker,
  GallerySearch,
  JobService,
  PluginStateSync,
  QuotaService,
  RenderWorker,
  SecretsKey,
  createJobQueue,
  loadPluginState,
} from '@atelier/jobs';
import { createStorage, readStorageConfig } from '@atelier/storage';
import { closeHostSandbox } from '@atelier/sandbox';
import { AdminService } from './admin.service.ts';
import { CapabilitiesService } from './capabilities.service.ts';
import { JobEventHub } from './api/job-event-hub.ts';
import { PreviewService } from './api/preview.ts';
import { AccountService, LoginThrottle, SessionService, systemClock } from './auth/index.ts';
import { databaseLocation } from './config.ts';
import type { AtelierConfig } from './config.ts';
import { HealthService } from './health.service.ts';
import { JobUpdatesService } from './job-updates.service.ts';
import { MigrationService } from './migration.service.ts';
import { PaymentsService, createStripeGateway } from './payments/index.ts';
import { PluginPackageSync, syncPluginPackages } from './plugin-package-sync.ts';
import { PluginPackageService } from './plugin-packages.ts';
import { PluginReloader } from './plugin-watcher.ts';
import { createRuntime } from './runtime.ts';
import { StatsService } from './stats.service.ts';
import { Lifecycle, TOKENS, globalContainer, instancePerContainerCachingFactory, resolve } from './tokens.ts';

/** An opened root: its container, and what it started, stopped in reverse order by `close`. */
export interface Root {
  readonly container: DependencyContainer;
  /** Present when the root was opened with `worker: true`. */
  readonly worker: RenderWorker | undefined;
  /** Stops what the root started, in reverse order (the database last). Idempotent. */
  close(): Promise<void>;
}

/** Options of {@link openRoot}. */
export interface RootOptions {
  /** Start a render worker (and an analysis worker) in this process. @default false */
  readonly worker?: boolean;
  /** Register an EventBus (one LISTEN connection for job events; `submit --wait` follows them). @default false */
  readonly events?: boolean;
  /** @default silentLogger */
  readonly logger?: Logger;
  /** libvips threads of the engine. @default config.threads */
  readonly threads?: number;
  /**
   * When it aborts during start-up, what was started is stopped and the promise rejects with its
   * reason (a stage in progress finishes first, except the embedded Postgres's start, which stops).
   */
  readonly signal?: AbortSignal;
  /**
   * Reload the plugins when the plugins folder changes (and, with `config.dev`, when plugin code
   * changes), for long-running processes (`serve`, `worker`). @default false
   */
  readonly reloadPlugins?: boolean;
}

/**
 * Registers every service of the server on `container`, each created once per container that
 * resolves it: a child container that replaces one token (a failing Storage, a fixed Clock) gets
 * its own services built on the replacement, and its parent's stay as they were.
 */
export function registerServices(container: DependencyContainer): void {
  const once = <T>(token: new (...args: never[]) => T, make: (c: DependencyContainer) => T): void => {
    container.register(token as InjectionToken<T>, { useFactory: instancePerContainerCachingFactory(make) });
  };
  const db = (c: DependencyContainer) => resolve(c, TOKENS.Database).db;
  // Classes built from one options object (the convention of the auth and job services): factories.
  once(SessionService, (c) => new SessionService({ db: db(c), clock: resolve(c, TOKENS.Clock) }));
  once(LoginThrottle, (c) => {
    const http = c.isRegistered(TOKENS.HttpSettings, true) ? resolve(c, TOKENS.HttpSettings) : undefined;
    return new LoginThrottle({
      db: db(c),
      clock: resolve(c, TOKENS.Clock),
      ...(http ? { registration: { maxAttempts: http.registrationsPerHour, windowMs: 3600_000 } } : {}),
    });
  });
  once(
    AccountService,
    (c) =>
      new AccountService({
        db: db(c),
        sessions: resolve(c, SessionService),
        throttle: resolve(c, LoginThrottle),
        clock: resolve(c, TOKENS.Clock),
      }),
  );
  once(GallerySearch, (c) => new GallerySearch(db(c)));
  once(QuotaService, (c) => new QuotaService({ db: db(c), defaults: resolve(c, TOKENS.Config).quotas }));
  once(JobService, (c) => {
    const config = resolve(c, TOKENS.Config);
    return new JobService({
      db: db(c),
      queue: resolve(c, TOKENS.JobQueue),
      storage: resolve(c, TOKENS.Storage),
      registry: resolve(c, TOKENS.PluginRegistry),
      limits: config.limits,
      maxAttempts: config.queue.retryLimit + 1,
      logger: resolve(c, TOKENS.Logger),
      freeMaxSide: config.payments.freeMaxSide,
      resultCache: !config.dev,
      ...(config.secretsKey === undefined ? {} : { secretsKey: SecretsKey.parse(config.secretsKey) }),
    });
  });
  once(
    PreviewService,
    (c) =>
      new PreviewService({
        engine: resolve(c, TOKENS.Engine),
        storage: resolve(c, TOKENS.Storage),
        jobs: resolve(c, JobService),
        quotas: resolve(c, QuotaService),
      }),
  );
  once(PaymentsService, (c) => {
    const { payments } = resolve(c, TOKENS.Config);
    return new PaymentsService({
      db: db(c),
      // The CLI's database-only root has none: `atelier payments` lists and grants, sends no files.
      storage: c.isRegistered(TOKENS.Storage, true) ? resolve(c, TOKENS.Storage) : undefined,
      config: payments,
      gateway:
        payments.secretKey && payments.webhookSecret
          ? createStripeGateway({
              secretKey: payments.secretKey,
              webhookSecret: payments.webhookSecret,
              apiUrl: payments.apiUrl,
            })
          : undefined,
      logger: resolve(c, TOKENS.Logger),
    });
  });
  once(
    PluginPackageService,
    (c) =>
      new PluginPackageService({
        db: db(c),
        config: resolve(c, TOKENS.Config),
        logger: resolve(c, TOKENS.Logger),
      }),
  );
  // The server's own services declare their tokens (tokens.ts's injectable()).
  const scoped = { lifecycle: Lifecycle.ContainerScoped };
  container.register(AdminService, AdminService, scoped);
  container.register(CapabilitiesService, CapabilitiesService, scoped);
  container.register(StatsService, StatsService, scoped);
  container.register(HealthService, HealthService, scoped);
  container.register(JobUpdatesService, JobUpdatesService, scoped);
  container.register(MigrationService, MigrationService, scoped);
}

/** A container with the configuration, the clock, the logger and every service registered. */
function newContainer(config: AtelierConfig, logger: Logger): DependencyContainer {
  const container = globalContainer.createChildContainer();
  container.register(TOKENS.Config, { useValue: config });
  container.register(TOKENS.Clock, { useValue: systemClock });
  container.register(TOKENS.Logger, { useValue: logger });
  registerServices(container);
  return container;
}

/** Close functions, run once, in reverse order; a failure is logged and the rest still run. */
function closers(logger: Logger): { add(close: () => Promise<void>): void; closeAll(): Promise<void> } {
  const list: (() => Promise<void>)[] = [];
  let closing: Promise<void> | undefined;
  return {
    add: (close) => void list.push(close),
    closeAll: () =>
      (closing ??= (async () => {
        for (const close of list.reverse())
          await close().catch((error: unknown) => logger.warn('close failed', { error: String(error) }));
      })()),
  };
}

/**
 * The root of a command that needs only the database (`atelier users`, `atelier migrate`):
 * Postgres (embedded when there is no DATABASE_URL), migrated unless `migrate` is false. Accounts,
 * migrations and the other services that need no queue, storage or plugins resolve from it.
 */
export async function openDatabaseRoot(
  config: AtelierConfig,
  options: { readonly migrate?: boolean; readonly logger?: Logger } = {},
): Promise<Root> {
  const logger = options.logger ?? silentLogger;
  const database = await openDatabase({ ...databaseLocation(config), logger });
  try {
    if (options.migrate ?? true) await migrateUp(database.db);
  } catch (error) {
    await database.close();
    throw error;
  }
  const container = newContainer(config, logger);
  container.register(TOKENS.Database, { useValue: database });
  return { container, worker: undefined, close: () => database.close() };
}

/**
 * The root of every process that touches jobs (`atelier serve`, `worker`, `submit`, `jobs`, `gc`):
 * opens the database (embedded when no DATABASE_URL) and migrates it, then storage, the plugins and
 * the engine, the plugin-state sync, the queue and, with `worker`, a render worker.
 */
export async function openRoot(config: AtelierConfig, options: RootOptions = {}): Promise<Root> {
  const logger = options.logger ?? silentLogger;
  const { signal } = options;
  const container = newContainer(config, logger);
  logger.info('start-up: opening the database');
  const database = await openDatabase({ ...databaseLocation(config), logger, ...(signal ? { signal } : {}) });
  const started = closers(logger);
  started.add(() => database.close());
  try {
    signal?.throwIfAborted();
    logger.info('start-up: migrating the database');
    await migrateUp(database.db);
    container.register(TOKENS.Database, { useValue: database });
    const storage = createStorage(
      readStorageConfig(
        {
          ...config.env,
          ATELIER_STORAGE_DIR: config.env['ATELIER_STORAGE_DIR'] ?? path.join(config.dataDir, 'storage'),
        },
        config.root,
      ),
    );
    // A crash mid-write leaves temporary files that no reader sees; clear old ones at start-up.
    if ('sweepTempFiles' in storage) await storage.sweepTempFiles();
    container.register(TOKENS.Storage, { useValue: storage });
    signal?.throwIfAborted();
    // The cluster's plugin packages (Postgres) into this process's plugins folder, before it loads.
    logger.info('start-up: syncing the plugin packages');
    const synced = await syncPluginPackages({ db: database.db, config, logger }).catch((error: unknown) => {
      logger.warn('could not sync the plugin packages; loading the plugins folder as it is', {
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    });
    logger.info('start-up: loading the plugins');
    const { registry, engine } = await createRuntime(config, {
      logger,
      // The sync loaded the folder's modules to check them, before and after it changed them: a
      // plain import would get the ones cached before (another version under the same path).
      ...(synced && synced.installed.length + synced.removed.length > 0 ? { revision: Date.now() } : {}),
      ...(options.threads === undefined ? {} : { threads: options.threads }),
    });
    started.add(() => engine.close());
    // This process's sandbox (plugin descriptions, outputSize); the engine's threads own theirs.
    started.add(() => closeHostSandbox());
    container.register(TOKENS.PluginRegistry, { useValue: registry });
    container.register(TOKENS.Engine, { useValue: engine });
    // Administrators' plugin settings (enabled, defaults) apply here within moments of a change.
    let packageSync: PluginPackageSync | undefined;
    const pluginState = new PluginStateSync({ db: database.db, registry, url: database.url, logger });
    await pluginState.start();
    started.add(() => pluginState.close());
    if (options.reloadPlugins) {
      const reloader = new PluginReloader({
        config,
        registry,
        engine,
        logger,
        // A plugin new to this process gets the state an administrator stored for it before it swaps in.
        prepare: (fresh) => loadPluginState({ db: database.db, registry: fresh, logger }),
      });
      await reloader.start();
      started.add(() => reloader.close());
      // Installs, upgrades and uninstalls on the cluster reach this process's folder and registry.
      packageSync = new PluginPackageSync({
        db: database.db,
        url: database.url,
        config,
        registry,
        reload: (reason) => reloader.reload(reason),
        logger,
      });
      await packageSync.start();
      const sync = packageSync;
      started.add(() => sync.close());
    }
    signal?.throwIfAborted();
    logger.info('start-up: starting the queue');
    const queue = createJobQueue({
      url: database.url,
      superviseIntervalSeconds: config.queue.superviseIntervalSeconds,
      policy: {
        retryLimit: config.queue.retryLimit,
        retryDelaySeconds: config.queue.retryDelaySeconds,
        expireInSeconds: config.queue.expireInSeconds,
      },
      logger,
    });
    await queue.start();
    started.add(() => queue.stop());
    container.register(TOKENS.JobQueue, { useValue: queue });
    if (options.events) {
      const events = new JobEventHub(database.url, logger);
      await events.start();
      started.add(() => events.close());
      container.register(TOKENS.EventBus, { useValue: events });
    }
    let worker: RenderWorker | undefined;
    if (options.worker) {
      signal?.throwIfAborted();
      logger.info('start-up: starting the worker');
      worker = new RenderWorker({
        db: database.db,
        queue,
        storage,
        engine,
        url: database.url,
        pluginConcurrency: config.worker.pluginConcurrency,
        ...(config.worker.concurrency === undefined ? {} : { concurrency: config.worker.concurrency }),
        logger,
        resultCache: !config.dev,
        ...(config.secretsKey === undefined ? {} : { secretsKey: SecretsKey.parse(config.secretsKey) }),
        ...(packageSync ? { preparePlan: (plan) => packageSync.preparePlan(plan) } : {}),
      });
      await worker.start();
      const running = worker;
      started.add(() => running.stop(config.worker.shutdownDeadlineMs));
      // The analysis on upload (docs/gallery.md) runs wherever render jobs run.
      const analysis = new AnalysisWorker({ db: database.db, queue, storage, limits: config.limits, logger });
      await analysis.start();
      started.add(() => analysis.stop(config.worker.shutdownDeadlineMs));
    }
    signal?.throwIfAborted();
    return { container, worker, close: started.closeAll };
  } catch (error) {
    await started.closeAll();
    throw error;
  }
}
