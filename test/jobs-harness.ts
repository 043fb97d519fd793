// Wires the job system for a test file: its own database on the test run's Postgres, local
// storage in a temporary directory, the test plugins, a real engine and real pg-boss queues.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PgBoss } from 'pg-boss';
import { inject } from 'vitest';
import { Engine } from '@atelier/core';
import type { PluginRegistry } from '@atelier/core';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { JobService, RenderWorker, createJobQueue } from '@atelier/jobs';
import type { JobQueue, QueuePolicyOptions, RenderWorkerOptions } from '@atelier/jobs';
import { bossOf } from '@atelier/jobs/testing';
import { LocalStorage } from '@atelier/storage';
import { testRegistry } from './helpers.ts';

export interface Harness {
  readonly database: TestDatabase;
  readonly storage: LocalStorage;
  readonly storageDir: string;
  readonly registry: PluginRegistry;
  readonly engine: Engine;
  readonly queue: JobQueue;
  /** The queue's pg-boss, for tests that drive it by hand. */
  readonly boss: PgBoss;
  readonly jobs: JobService;
  readonly ownerId: string;
  startWorker(options?: Partial<RenderWorkerOptions>): Promise<RenderWorker>;
  close(): Promise<void>;
}

export async function openHarness(policy: QueuePolicyOptions = {}): Promise<Harness> {
  const database = await createTestDatabase(inject('pgAdminUrl'));
  const storageDir = await mkdtemp(path.join(tmpdir(), 'atelier-jobs-'));
  const storage = new LocalStorage({ root: storageDir });
  const registry = await testRegistry();
  const engine = new Engine({ registry, threads: 2, limits: { stepTimeoutMs: 30_000 } });
  const queue = createJobQueue({
    url: database.url,
    superviseIntervalSeconds: 1,
    policy: { retryLimit: 2, retryDelaySeconds: 1, retryDelayMaxSeconds: 2, ...policy },
  });
  await queue.start();
  const jobs = new JobService({
    db: database.db,
    queue,
    storage,
    registry,
    maxAttempts: (policy.retryLimit ?? 2) + 1,
  });
  const ownerId = await jobs.ensureUser('owner@example.org');
  const workers: RenderWorker[] = [];
  return {
    database,
    storage,
    storageDir,
    registry,
    engine,
    queue,
    boss: bossOf(queue),
    jobs,
    ownerId,
    async startWorker(options = {}) {
      const worker = new RenderWorker({
        db: database.db,
        queue,
        storage,
        engine,
        url: database.url,
        progressIntervalMs: 20,
        pollIntervalSeconds: 0.5,
        ...options,
      });
      await worker.start();
      workers.push(worker);
      return worker;
    },
    async close() {
      for (const worker of workers) await worker.stop(2000);
      await queue.stop();
      await engine.close();
      await database.drop();
      await rm(storageDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
