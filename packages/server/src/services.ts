// A convenience over the composition root (container.ts) for code that wants the job services by
// name: tests, benches, and the CLI's job commands.
import type { DependencyContainer } from 'tsyringe';
import type { Engine, PluginRegistry, Storage } from '@atelier/core';
import type { DatabaseHandle } from '@atelier/db';
import { JobService } from '@atelier/jobs';
import type { JobQueue, RenderWorker } from '@atelier/jobs';
import type { AtelierConfig } from './config.ts';
import { openRoot } from './container.ts';
import type { RootOptions } from './container.ts';
import type { EventBus } from './tokens.ts';
import { TOKENS, resolve } from './tokens.ts';

/** Everything a process that touches jobs needs, wired. Close it when done. */
export interface Services {
  readonly config: AtelierConfig;
  /** The root's container: resolve services, or make a child container to replace one part. */
  readonly container: DependencyContainer;
  readonly database: DatabaseHandle;
  readonly storage: Storage;
  readonly registry: PluginRegistry;
  readonly engine: Engine;
  readonly queue: JobQueue;
  readonly jobs: JobService;
  /** Job events, when the services were opened with `events: true`. */
  readonly events: EventBus | undefined;
  /** Present when the services were opened with `worker: true`. */
  readonly worker: RenderWorker | undefined;
  /** Stops the worker (within the shutdown deadline), the queue, the engine and the database. */
  close(): Promise<void>;
}

/**
 * Opens the process's root ({@link openRoot}: the database, embedded when no DATABASE_URL,
 * migrated; storage, plugins, engine, queue, and a worker when asked) and names its parts.
 */
export async function openServices(config: AtelierConfig, options: RootOptions = {}): Promise<Services> {
  const root = await openRoot(config, options);
  const { container } = root;
  return {
    config,
    container,
    database: resolve(container, TOKENS.Database),
    storage: resolve(container, TOKENS.Storage),
    registry: resolve(container, TOKENS.PluginRegistry),
    engine: resolve(container, TOKENS.Engine),
    queue: resolve(container, TOKENS.JobQueue),
    jobs: container.resolve(JobService),
    events: container.isRegistered(TOKENS.EventBus) ? resolve(container, TOKENS.EventBus) : undefined,
    worker: root.worker,
    close: root.close,
  };
}
