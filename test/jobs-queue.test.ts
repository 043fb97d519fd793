// The queue's own connections (pg-boss's SQL through its `db` option on a PreparingPool, and its
// LISTEN connection): notifications wake an idle worker, come back after the connection drops,
// and stop() leaves no connection behind.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import { createJobQueue } from '@atelier/jobs';
import { photo, read } from './helpers.ts';
import { eventually, openHarness } from './jobs-harness.ts';
import type { Harness } from './jobs-harness.ts';

let h: Harness;
let imageId: string;
let amount = 0.1;
beforeAll(async () => {
  h = await openHarness();
  imageId = (await h.jobs.storeImage({ ownerId: h.ownerId, bytes: await read(photo('coffee.png')) })).id;
  // Polls a minute apart: a job that starts within seconds was announced by a notification.
  await h.startWorker({ pollIntervalSeconds: 60 });
  // Past the worker's first fetch.
  await new Promise((r) => setTimeout(r, 1000));
});
afterAll(() => h.close());

/** Milliseconds from submitting a job to its start, or a failure after 15 s. */
async function startDelay(): Promise<number> {
  amount += 0.01;
  const started = Date.now();
  const job = await h.jobs.submit({
    ownerId: h.ownerId,
    imageId,
    plan: { steps: [{ plugin: 'acme:invert', params: { amount } }] },
  });
  await eventually(async () => (await h.jobs.get(job.id)).status !== 'queued' || undefined, 15_000, 'start');
  return Date.now() - started;
}

/** The backend pids of this database's queue LISTEN connections. */
async function listeners(): Promise<number[]> {
  const { rows } = await sql<{ pid: number }>`select pid from pg_stat_activity
    where datname = current_database() and application_name = 'atelier-queue' and query ilike 'listen %'`.execute(
    h.database.db,
  );
  return rows.map((row) => row.pid);
}

describe('the job queue', () => {
  it('wakes an idle worker by notification, not by its polling interval', async () => {
    expect(await startDelay()).toBeLessThan(5000);
    expect(await listeners()).toHaveLength(1);
  });

  it('listens again after Postgres drops its notification connection', async () => {
    const [pid] = await listeners();
    await sql`select pg_terminate_backend(${pid}::int)`.execute(h.database.db);
    await eventually(
      async () => {
        const now = await listeners();
        return (now.length === 1 && now[0] !== pid) || undefined;
      },
      15_000,
      'a new LISTEN connection',
    );
    expect(await startDelay()).toBeLessThan(5000);
  });

  it('stop() closes every connection it opened', async () => {
    const t = await createTestDatabase(inject('pgAdminUrl'));
    try {
      const queueConnections = async (): Promise<number> => {
        const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_stat_activity
          where datname = current_database() and application_name = 'atelier-queue'`.execute(t.db);
        return rows[0]!.n;
      };
      const queue = createJobQueue({ url: t.url });
      await queue.start();
      await queue.ping();
      expect(await queueConnections()).toBeGreaterThan(1); // its pool and its LISTEN connection
      expect((await queue.counts()).map((c) => c.name)).toEqual([
        'atelier-render',
        'atelier-render-dead',
        'atelier-analysis',
      ]);
      await queue.stop();
      await queue.stop(); // idempotent
      expect(
        await eventually(async () => ((await queueConnections()) === 0 ? 0 : undefined), 5000, 'closed'),
      ).toBe(0);
      await expect(queue.ping()).rejects.toThrow();
    } finally {
      await t.drop();
    }
  });
});
