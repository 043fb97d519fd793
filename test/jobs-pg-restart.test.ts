// Postgres restarting under running workers: they reconnect and finish the work. This file runs
// its own embedded Postgres (stopping the shared one would disturb other test files).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Engine } from '@atelier/core';
import type { Logger } from '@atelier/core';
import { migrateUp, openDatabase } from '@atelier/db';
import { JobService, RenderWorker, createJobQueue } from '@atelier/jobs';
import type { QueuePolicyOptions, RenderWorkerOptions } from '@atelier/jobs';
import { LocalStorage } from '@atelier/storage';
import { photo, read, testRegistry } from './helpers.ts';
import { eventually } from './jobs-harness.ts';
import { cleanupsAfterAll } from './cleanups.ts';
import { startPrivatePostgres } from './private-postgres.ts';
import type { PrivatePostgres } from './private-postgres.ts';

const defer = cleanupsAfterAll();

/** The job system on a private Postgres: migrated, its queues made, and a worker started. */
async function openJobSystem(
  pg: PrivatePostgres,
  options: {
    readonly threads: number;
    readonly policy: QueuePolicyOptions & { readonly retryLimit: number };
    readonly worker: Omit<RenderWorkerOptions, 'db' | 'queue' | 'storage' | 'engine' | 'url'>;
  },
) {
  const database = await openDatabase({ url: pg.url });
  defer(() => database.close());
  await migrateUp(database.db);

  const storage = new LocalStorage({ root: path.join(pg.dir, 'storage') });
  const registry = await testRegistry();
  const engine = new Engine({ registry, threads: options.threads });
  defer(() => engine.close());
  const queue = createJobQueue({ url: pg.url, superviseIntervalSeconds: 1, policy: options.policy });
  await queue.start();
  defer(() => queue.stop());
  const jobs = new JobService({
    db: database.db,
    queue,
    storage,
    registry,
    maxAttempts: options.policy.retryLimit + 1,
  });
  const worker = new RenderWorker({
    db: database.db,
    queue,
    storage,
    engine,
    url: pg.url,
    ...options.worker,
  });
  await worker.start();
  defer(() => worker.stop(1000));
  return { db: database.db, jobs };
}

describe('Postgres restart', () => {
  it('workers reconnect and finish every job', { timeout: 120_000 }, async () => {
    const pg = await startPrivatePostgres('atelier-restart-', defer);
    const { db, jobs } = await openJobSystem(pg, {
      threads: 2,
      policy: { retryLimit: 10, retryDelaySeconds: 1, retryDelayMaxSeconds: 2, expireInSeconds: 3 },
      worker: { concurrency: 4, pollIntervalSeconds: 0.5 },
    });

    const ownerId = await jobs.ensureUser('restart@example.org');
    const image = await jobs.storeImage({ ownerId, bytes: await read(photo('chelsea.png')) });
    const submitted = [];
    for (let i = 0; i < 40; i++) {
      submitted.push(
        await jobs.submit({
          ownerId,
          imageId: image.id,
          plan: { steps: [{ plugin: 'test:sleep', params: { ms: 150 + i } }] },
        }),
      );
    }
    const succeeded = async (): Promise<number> =>
      Number(
        (
          await db
            .selectFrom('jobs')
            .select(({ fn }) => fn.countAll<string>().as('n'))
            .where('status', '=', 'succeeded')
            .executeTakeFirstOrThrow()
        ).n,
      );
    await eventually(async () => (await succeeded()) >= 8 || undefined, 30_000, 'some jobs done');

    // Postgres goes away mid-run and comes back on the same port two seconds later.
    await pg.stop();
    await new Promise((r) => setTimeout(r, 2000));
    await pg.start();

    await eventually(
      async () => {
        try {
          return (await succeeded()) === submitted.length || undefined;
        } catch {
          return undefined; // the pool reconnects on the next query
        }
      },
      90_000,
      'every job done after the restart',
    );
    const rows = await db.selectFrom('jobs').select(['status', 'output_key']).execute();
    expect(rows.every((r) => r.status === 'succeeded' && r.output_key)).toBe(true);
  });
  it(
    'fails the attempt running during a restart at once, and retries it when Postgres is back',
    { timeout: 120_000 },
    async () => {
      const pg = await startPrivatePostgres('atelier-restart-', defer);
      const failures: Record<string, unknown>[] = [];
      const logger: Logger = {
        debug() {},
        info() {},
        warn(message, fields) {
          if (message === 'job attempt failed') failures.push(fields ?? {});
        },
        error() {},
      };
      const { jobs } = await openJobSystem(pg, {
        threads: 1,
        // The default expiry and heartbeat (900 s, 30 s): neither can be what retries the job here.
        policy: { retryLimit: 2, retryDelaySeconds: 1, retryDelayMaxSeconds: 2 },
        worker: { concurrency: 1, logger },
      });

      const ownerId = await jobs.ensureUser('restart@example.org');
      const image = await jobs.storeImage({ ownerId, bytes: await read(photo('chelsea.png')) });
      // Long enough that it is still running when Postgres comes back: left alone, this attempt
      // would finish and succeed as the first and only one.
      const job = await jobs.submit({
        ownerId,
        imageId: image.id,
        plan: { steps: [{ plugin: 'test:sleep', params: { ms: 8000 } }] },
      });
      await eventually(
        async () => (await jobs.get(job.id)).status === 'running' || undefined,
        30_000,
        'running',
      );

      await pg.stop();
      await new Promise((r) => setTimeout(r, 1000));
      await pg.start();

      const done = await eventually(
        async () => {
          const current = await jobs.get(job.id).catch(() => undefined);
          return current?.status === 'succeeded' || current?.status === 'failed' ? current : undefined;
        },
        90_000,
        'the job finished',
      );
      // The first attempt failed for the lost connection and was recorded; the second succeeded.
      expect(failures).toEqual([{ job: job.id, code: 'DATABASE_UNAVAILABLE', attempt: 1, final: false }]);
      expect(done).toMatchObject({ status: 'succeeded', attempts: 2, error: null });
    },
  );
});
