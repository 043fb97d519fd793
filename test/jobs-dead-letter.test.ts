// The dead-letter queue drains as fast as the render queue. A job whose worker died on its last
// attempt reads `running` until its dead-letter copy is handled, so a backlog of copies (after a
// crash of a busy worker) must not drain a few per polling interval.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_QUEUE, RENDER_QUEUE } from '@atelier/jobs';
import { photo, read } from './helpers.ts';
import { eventually, openHarness } from './jobs-harness.ts';
import type { Harness } from './jobs-harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await openHarness({ retryLimit: 0 });
});
afterAll(() => h.close());

describe('the dead-letter queue', () => {
  it('stop() takes the worker off both of its queues (no other worker runs yet)', async () => {
    const worker = await h.startWorker();
    const polling = (): string[] =>
      h.boss
        .getWipData()
        .filter((w) => w.state !== 'stopped')
        .map((w) => w.name);
    expect(new Set(polling())).toEqual(new Set([RENDER_QUEUE, DEAD_LETTER_QUEUE]));
    await worker.stop(1000);
    // offWork(…, { wait: false }) stops them in the background.
    await eventually(async () => polling().length === 0 || undefined, 10_000, 'no worker polling').catch(
      () => {},
    );
    expect(polling()).toEqual([]);
  });

  it(
    'handles a backlog of copies in one go, not a batch per polling interval',
    { timeout: 120_000 },
    async () => {
      const COPIES = 60;
      const image = await h.jobs.storeImage({ ownerId: h.ownerId, bytes: await read(photo('chelsea.png')) });
      const ids: string[] = [];
      for (let i = 0; i < COPIES; i++) {
        const job = await h.jobs.submit({
          ownerId: h.ownerId,
          imageId: image.id,
          plan: { steps: [{ plugin: 'acme:invert', params: { amount: 0.5 + i / 1000 } }] },
        });
        ids.push(job.id);
      }
      // A worker claims them all and dies on their last (only) attempt: the rows read `running`,
      // and the queue gives up on its entries, which puts a copy of each on the dead-letter queue.
      const taken = await h.boss.fetch(RENDER_QUEUE, { batchSize: COPIES });
      expect(taken).toHaveLength(COPIES);
      await h.database.db
        .updateTable('jobs')
        .set({ status: 'running', attempts: 1, worker_id: 'dead-worker' })
        .where('id', 'in', ids)
        .execute();
      await h.boss.fail(
        RENDER_QUEUE,
        taken.map((job) => job.id),
        { code: 'PLUGIN_TIMEOUT', message: 'The worker running this job stopped answering.' },
      );

      // A worker whose polls are a minute apart: everything it handles within the first 25 s
      // (before pg-boss's 30 s fallback poll, and long before its own next poll) came from its
      // first fetch and the fetches that follow a full batch at once.
      await h.startWorker({ pollIntervalSeconds: 60 });
      const failed = async (): Promise<number> =>
        (
          await h.database.db
            .selectFrom('jobs')
            .select('id')
            .where('id', 'in', ids)
            .where('status', '=', 'failed')
            .execute()
        ).length;
      let handled = 0;
      await eventually(
        async () => {
          handled = await failed();
          return handled === COPIES || undefined;
        },
        25_000,
        'every copy handled before a second poll',
      ).catch(() => {});
      expect(handled).toBe(COPIES);
      const rows = await h.database.db
        .selectFrom('jobs')
        .select(['status', 'error_code', 'finished_at'])
        .where('id', 'in', ids)
        .execute();
      expect(
        rows.every((r) => r.status === 'failed' && r.error_code === 'PLUGIN_TIMEOUT' && r.finished_at),
      ).toBe(true);
    },
  );
});
