// Postgres restarting under running workers: they reconnect and finish the work. This file runs
// its own embedded Postgres (stopping the shared one would disturb other test files).
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '@atelier/core';
import { ensureDatabase, freePort, migrateUp, openDatabase, startEmbeddedPostgres } from '@atelier/db';
import type { EmbeddedServer } from '@atelier/db';
import { JobService, RenderWorker, createBoss, ensureQueues } from '@atelier/jobs';
import { LocalStorage } from '@atelier/storage';
import { photo, read, testRegistry } from './helpers.ts';
import { eventually } from './jobs-harness.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});

describe('Postgres restart', () => {
  it('workers reconnect and finish every job', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'atelier-restart-'));
    await chmod(dir, 0o755);
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const dataDir = path.join(dir, 'pg');
    const port = await freePort();
    let server: EmbeddedServer = await startEmbeddedPostgres({ dataDir, port });
    cleanups.push(() => server.stop());
    const url = await ensureDatabase(server.adminUrl, 'atelier');
    const database = await openDatabase({ url });
    cleanups.push(() => database.close());
    await migrateUp(database.db as unknown as Kysely<unknown>);

    const storage = new LocalStorage({ root: path.join(dir, 'storage') });
    const registry = await testRegistry();
    const engine = new Engine({ registry, threads: 2 });
    cleanups.push(() => engine.close());
    const boss = createBoss({ url, superviseIntervalSeconds: 1 });
    await boss.start();
    cleanups.push(() => boss.stop({ graceful: false, close: true, timeout: 2000 }));
    await ensureQueues(boss, {
      retryLimit: 10,
      retryDelaySeconds: 1,
      retryDelayMaxSeconds: 2,
      expireInSeconds: 3,
    });
    const jobs = new JobService({ db: database.db, boss, storage, registry, maxAttempts: 11 });
    const worker = new RenderWorker({
      db: database.db,
      boss,
      storage,
      engine,
      url,
      concurrency: 4,
      pollIntervalSeconds: 0.5,
    });
    await worker.start();
    cleanups.push(() => worker.stop(1000));

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
          await database.db
            .selectFrom('jobs')
            .select(({ fn }) => fn.countAll<string>().as('n'))
            .where('status', '=', 'succeeded')
            .executeTakeFirstOrThrow()
        ).n,
      );
    await eventually(async () => (await succeeded()) >= 8 || undefined, 30_000, 'some jobs done');

    // Postgres goes away mid-run and comes back on the same port two seconds later.
    await server.stop();
    await new Promise((r) => setTimeout(r, 2000));
    server = await startEmbeddedPostgres({ dataDir, port });

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
    const rows = await database.db.selectFrom('jobs').select(['status', 'output_key']).execute();
    expect(rows.every((r) => r.status === 'succeeded' && r.output_key)).toBe(true);
  });
});
