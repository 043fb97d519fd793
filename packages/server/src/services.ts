// The composition root of the database-backed services: Postgres (external or embedded),
// migrations, storage, pg-boss queues, the job service and, when asked, a worker.
import path from 'node:path';
import type { Engine, Logger, PluginRegistry, Storage } from '@atelier/core';
import { silentLogger } from '@atelier/core';
import { migrateUp, openDatabase } from '@atelier/db';
import type { DatabaseHandle } from '@atelier/db';
import { JobService, PluginStateSync, RenderWorker, createJobQueue } from '@atelier/jobs';
import type { JobQueue } from '@atelier/jobs';
import { createStorage, readStorageConfig } from '@atelier/storage';
import { databaseLocation } from './config.ts';
import type { AtelierConfig } from './config.ts';
import { createRuntime } from './runtime.ts';

/** Everything a process that touches jobs needs, wired. Close it when done. */
export interface Services {
  readonly config: AtelierConfig;
  readonly database: DatabaseHandle;
  readonly storage: Storage;
  readonly registry: PluginRegistry;
  readonly engine: Engine;
  readonly queue: JobQueue;
  readonly jobs: JobService;
  /** Present when the services were opened with `worker: true`. */
  readonly worker: RenderWorker | undefined;
  /** Stops the worker (within the shutdown deadline), the queue, the engine and the database. */
  close(): Promise<void>;
}

/**
 * Opens the database (embedded when no DATABASE_URL), migrates it, and wires every service. When
 * `signal` aborts during start-up, what was started is stopped and the promise rejects with its
 * reason (a stage in progress finishes first, except the embedded Postgres's start, which stops).
 */
export async function openServices(
  config: AtelierConfig,
  options: { worker?: boolean; logger?: Logger; threads?: number; signal?: AbortSignal } = {},
): Promise<Services> {
  const logger = options.logger ?? silentLogger;
  const { signal } = options;
  logger.info('start-up: opening the database');
  const database = await openDatabase({ ...databaseLocation(config), logger, ...(signal ? { signal } : {}) });
  const closers: (() => Promise<void>)[] = [() => database.close()];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse())
      await close().catch((error: unknown) => logger.warn('close failed', { error: String(error) }));
  };
  try {
    signal?.throwIfAborted();
    logger.info('start-up: migrating the database');
    await migrateUp(database.db);
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
    signal?.throwIfAborted();
    logger.info('start-up: loading the plugins');
    const { registry, engine } = await createRuntime(config, {
      logger,
      ...(options.threads === undefined ? {} : { threads: options.threads }),
    });
    closers.push(() => engine.close());
    // Administrators' plugin settings (enabled, defaults) apply here within moments of a change.
    const pluginState = new PluginStateSync({ db: database.db, registry, url: database.url, logger });
    await pluginState.start();
    closers.push(() => pluginState.close());
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
    closers.push(() => queue.stop());
    const jobs = new JobService({
      db: database.db,
      queue,
      storage,
      registry,
      limits: config.limits,
      maxAttempts: config.queue.retryLimit + 1,
      logger,
    });
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
      });
      await worker.start();
      const started = worker;
      closers.push(() => started.stop(config.worker.shutdownDeadlineMs));
    }
    signal?.throwIfAborted();
    return { config, database, storage, registry, engine, queue, jobs, worker, close: closeAll };
  } catch (error) {
    await closeAll();
    throw error;
  }
}
