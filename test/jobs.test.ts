// The job system end to end on real Postgres, pg-boss and storage: submit, run, events, the result
// cache, idempotency, cancellation, retries, dead letters, priority and per-plugin limits.
import { sql } from 'kysely';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preparedStatements } from '@atelier/db';
import { JobEventListener, eventOf } from '@atelier/jobs';
import type { JobEvent, JobRecord } from '@atelier/jobs';
import { bad, errorCodeOf, photo, read } from './helpers.ts';
import { eventually, openHarness } from './jobs-harness.ts';
import type { Harness } from './jobs-harness.ts';

let h: Harness;
let imageId: string;

beforeAll(async () => {
  h = await openHarness();
  imageId = (
    await h.jobs.storeImage({
      ownerId: h.ownerId,
      bytes: await read(photo('chelsea.png')),
      originalName: 'chelsea.png',
    })
  ).id;
  await h.startWorker({ concurrency: 3 });
});
afterAll(() => h.close());

const finished = (id: string, timeoutMs = 20_000): Promise<JobRecord> =>
  eventually(
    async () => {
      const job = await h.jobs.get(id);
      return ['succeeded', 'failed', 'cancelled'].includes(job.status) ? job : undefined;
    },
    timeoutMs,
    `job ${id} to finish`,
  );

/** Submits an invert job (another `amount`, another plan: no cache hit) and returns its id. */
const invert = async (amount: number): Promise<string> =>
  (
    await h.jobs.submit({
      ownerId: h.ownerId,
      imageId,
      plan: { steps: [{ plugin: 'acme:invert', params: { amount } }], output: { format: 'png' } },
    })
  ).id;

/** Every job id of the test user, page by page of `limit` through the cursor. */
async function pageThrough(limit: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await h.jobs.list({ ownerId: h.ownerId, limit, ...(cursor ? { cursor } : {}) });
    ids.push(...page.items.map((j) => j.id));
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}

describe('uploads', () => {
  it('store each photo once per owner, content-addressed', async () => {
    const bytes = await read(photo('chelsea.png'));
    const again = await h.jobs.storeImage({ ownerId: h.ownerId, bytes });
    expect(again.id).toBe(imageId);
    expect(again).toMatchObject({ width: 451, height: 300, format: 'png', bytes: bytes.length });
    expect(Buffer.from(await h.storage.get(again.storageKey)).equals(bytes)).toBe(true);
  });

  it('refuse bad files before storing anything', async () => {
    for (const [file, code] of [
      [bad('empty.jpg'), 'IMAGE_EMPTY'],
      [bad('text.jpg'), 'IMAGE_FORMAT_UNSUPPORTED'],
      [bad('bomb-30000x30000.png'), 'IMAGE_TOO_MANY_PIXELS'],
    ] as const) {
      expect(await errorCodeOf(h.jobs.storeImage({ ownerId: h.ownerId, bytes: await read(file) }))).toBe(
        code,
      );
    }
    const images = await h.database.db.selectFrom('images').select('id').execute();
    expect(images).toHaveLength(1);
  });
});

describe('jobs', () => {
  it('run through the queue and publish every change as it happens', async () => {
    const listener = new JobEventListener(h.database.url);
    const events: JobEvent[] = [];
    listener.on('event', (e) => events.push(e));
    await listener.start();
    try {
      const job = await h.jobs.submit({
        ownerId: h.ownerId,
        imageId,
        plan: {
          steps: [{ plugin: 'test:sleep', params: { ms: 300 } }, { plugin: 'acme:invert' }],
          output: { format: 'png' },
        },
      });
      expect(job.status).toBe('queued');
      const done = await finished(job.id);
      expect(done).toMatchObject({
        status: 'succeeded',
        progress: 1,
        attempts: 1,
        fromCache: false,
        error: null,
      });
      expect(done.output).toMatchObject({ width: 451, height: 300, format: 'png' });
      expect(done.timings?.steps?.map((s) => s.plugin)).toEqual(['test:sleep', 'acme:invert']);
      // The engine's per-step CPU time counts the whole process: not stored with a job.
      expect(done.timings?.steps?.map((s) => Object.keys(s).sort())).toEqual([
        ['ms', 'plugin'],
        ['ms', 'plugin'],
      ]);
      const png = await h.storage.get(done.output!.key);
      const meta = await sharp(png).metadata();
      expect([meta.width, meta.height]).toEqual([451, 300]);
      await eventually(
        async () => events.some((e) => e.id === job.id && e.status === 'succeeded'),
        5000,
        'succeeded event',
      );
      const mine = events.filter((e) => e.id === job.id);
      expect(mine.map((e) => e.status)).toEqual(expect.arrayContaining(['queued', 'running', 'succeeded']));
      expect(mine.some((e) => e.status === 'running' && e.progress > 0 && e.progress < 1)).toBe(true);
      // The database's payload (a trigger) and eventOf() describe a row the same way.
      const row = await h.database.db
        .selectFrom('jobs')
        .selectAll()
        .where('id', '=', job.id)
        .executeTakeFirstOrThrow();
      expect(mine.at(-1)).toEqual(eventOf(row));
    } finally {
      await listener.close();
    }
  });

  it('serve an identical plan on an identical input from the cache, at once', async () => {
    const plan = {
      steps: [{ plugin: 'acme:invert', params: { amount: 0.25 } }],
      output: { format: 'webp' as const },
    };
    const first = await finished((await h.jobs.submit({ ownerId: h.ownerId, imageId, plan })).id);
    const second = await h.jobs.submit({ ownerId: h.ownerId, imageId, plan });
    expect(second).toMatchObject({ status: 'succeeded', fromCache: true, attempts: 0 });
    expect(second.output).toEqual(first.output);
    expect(second.id).not.toBe(first.id);
  });

  it('return the same job for the same idempotency key, even when submitted concurrently', async () => {
    const args = {
      ownerId: h.ownerId,
      imageId,
      plan: { steps: [{ plugin: 'acme:invert', params: { amount: 0.5 } }] },
      idempotencyKey: 'order-17',
    };
    const results = await Promise.all([h.jobs.submit(args), h.jobs.submit(args), h.jobs.submit(args)]);
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    const again = await h.jobs.submit(args);
    expect(again.id).toBe(results[0]!.id);
    const rows = await h.database.db
      .selectFrom('jobs')
      .select('id')
      .where('idempotency_key', '=', 'order-17')
      .execute();
    expect(rows).toHaveLength(1);
  });

  it('cancel a running job: its plugin stops and the worker moves on', async () => {
    const job = await h.jobs.submit({
      ownerId: h.ownerId,
      imageId,
      plan: { steps: [{ plugin: 'test:sleep', params: { ms: 60_000 } }] },
    });
    await eventually(async () => (await h.jobs.get(job.id)).status === 'running', 10_000, 'running');
    const started = Date.now();
    const cancelled = await h.jobs.cancel(job.id);
    expect(cancelled.status).toBe('cancelled');
    // The worker's slot frees up: a short job now completes.
    const next = await h.jobs.submit({
      ownerId: h.ownerId,
      imageId,
      plan: { steps: [{ plugin: 'acme:invert', params: { amount: 0.75 } }] },
    });
    expect((await finished(next.id)).status).toBe('succeeded');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect((await h.jobs.get(job.id)).status).toBe('cancelled');
    expect(await errorCodeOf(h.jobs.cancel(job.id))).toBe('JOB_NOT_CANCELLABLE');
  });

  it('fail a job whose plugin throws at its first attempt, and dead-letter it', async () => {
    const job = await h.jobs.submit({
      ownerId: h.ownerId,
      imageId,
      plan: { steps: [{ plugin: 'test:boom' }] },
    });
    const done = await finished(job.id, 30_000);
    // Retrying would throw the same error again: one attempt, not ATELIER_JOB_RETRIES + 1.
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'PLUGIN_FAILED' } });
    expect(done.error?.message).toContain('kaboom');
    await eventually(
      async () => (await h.boss.getQueue('atelier-render-dead'))!.totalCount > 0 || undefined,
      15_000,
      'dead letter',
    );
  });

  it('retry a plugin error marked retryable with backoff, then fail it for good', async () => {
    const job = await h.jobs.submit({
      ownerId: h.ownerId,
      imageId,
      plan: { steps: [{ plugin: 'test:busy' }] },
    });
    const done = await finished(job.id, 30_000);
    expect(done).toMatchObject({ status: 'failed', attempts: 3, error: { code: 'PLUGIN_FAILED' } });
    expect(done.error?.message).toContain('the upstream service is busy');
  });

  it('fail a job with a bad input at once, without retries', async () => {
    // A file that passed the upload check but is damaged in storage.
    const img = await h.jobs.storeImage({ ownerId: h.ownerId, bytes: await read(photo('rocket.jpg')) });
    await h.storage.put(img.storageKey, (await read(photo('rocket.jpg'))).subarray(0, 2000));
    const job = await h.jobs.submit({
      ownerId: h.ownerId,
      imageId: img.id,
      plan: { steps: [{ plugin: 'acme:invert' }] },
    });
    const done = await finished(job.id);
    expect(done).toMatchObject({ status: 'failed', attempts: 1, error: { code: 'IMAGE_CORRUPT' } });
  });

  it('retry a failed job by hand', async () => {
    const job = await h.jobs.submit({
      ownerId: h.ownerId,
      imageId,
      plan: { steps: [{ plugin: 'test:boom' }] },
    });
    await finished(job.id, 30_000);
    const again = await h.jobs.retry(job.id);
    expect(again).toMatchObject({ status: 'queued', attempts: 0, error: null });
    expect((await finished(job.id, 30_000)).status).toBe('failed');
    expect(
      await errorCodeOf(h.jobs.retry((await h.jobs.list({ status: 'succeeded', limit: 1 })).items[0]!.id)),
    ).toBe('JOB_NOT_RETRYABLE');
  });

  it("run pg-boss's statements and the job lookups as prepared statements", async () => {
    // Jobs through this process's worker (here and in earlier tests) make pg-boss's fetch and complete hot.
    const ids = await Promise.all([0.1, 0.2, 0.3, 0.4, 0.6, 0.7].map(invert));
    for (const id of ids) expect((await finished(id)).status).toBe('succeeded');
    const texts = preparedStatements();
    expect(texts.some((text) => /SKIP LOCKED/i.test(text) && text.includes('atelier-render'))).toBe(true);
    expect(texts.some((text) => /json_to_recordset/.test(text) && /UPDATE pgboss\./.test(text))).toBe(true);
    expect(texts).toContain(h.database.db.selectFrom('jobs').selectAll().where('id', '=', 'x').compile().sql);

    // Another process migrates the jobs table while this one runs: the prepared claim (which
    // returns jobs.*) and lookups (select *) no longer fit their rows, and are prepared again.
    await sql`alter table jobs add column migrated_meanwhile int not null default 1`.execute(h.database.db);
    try {
      const again = await Promise.all(
        [0.15, 0.25, 0.35].map(async (amount) => finished(await invert(amount))),
      );
      expect(again.map((job) => [job.status, job.error])).toEqual(Array(3).fill(['succeeded', null]));
    } finally {
      await sql`alter table jobs drop column migrated_meanwhile`.execute(h.database.db);
    }
  });

  it('list with filters and a cursor', async () => {
    const all = (await h.jobs.list({ ownerId: h.ownerId, limit: 200 })).items;
    expect(await pageThrough(2)).toEqual(all.map((j) => j.id));
    const failed = await h.jobs.list({ ownerId: h.ownerId, status: 'failed' });
    expect(failed.items.length).toBeGreaterThan(0);
    expect(failed.items.every((j) => j.status === 'failed')).toBe(true);
    const other = await h.jobs.ensureUser('someone@example.org');
    expect((await h.jobs.list({ ownerId: other })).items).toEqual([]);
    expect(await errorCodeOf(h.jobs.get(all[0]!.id, other))).toBe('JOB_NOT_FOUND');
    expect(await errorCodeOf(h.jobs.get('not-a-uuid'))).toBe('JOB_NOT_FOUND');
  });

  it('page through rows created within one millisecond without skipping any', async () => {
    // Postgres keeps microseconds; a cursor cut to milliseconds skipped such rows.
    await sql`update jobs set created_at = timestamptz '2026-01-01T00:00:00.000Z' + random() * interval '900 microseconds'
      where owner_id = ${h.ownerId}`.execute(h.database.db);
    const all = (await h.jobs.list({ ownerId: h.ownerId, limit: 200 })).items.map((j) => j.id);
    expect(all.length).toBeGreaterThan(10);
    expect(await pageThrough(3)).toEqual(all);
    for (const bad of ['nope', Buffer.from('2026-01-01|x').toString('base64url')])
      expect(await errorCodeOf(h.jobs.list({ ownerId: h.ownerId, cursor: bad }))).toBe('CURSOR_INVALID');
  });
});

describe('scheduling', () => {
  let s: Harness;
  beforeAll(async () => {
    s = await openHarness();
  });
  afterAll(() => s.close());

  it('cancel a queued job before any worker takes it', async () => {
    const img = await s.jobs.storeImage({ ownerId: s.ownerId, bytes: await read(photo('coffee.png')) });
    const job = await s.jobs.submit({
      ownerId: s.ownerId,
      imageId: img.id,
      plan: { steps: [{ plugin: 'acme:invert' }] },
    });
    await s.jobs.cancel(job.id);
    const worker = await s.startWorker({ concurrency: 1 });
    await new Promise((r) => setTimeout(r, 500));
    await worker.stop();
    expect(await s.jobs.get(job.id)).toMatchObject({ status: 'cancelled', attempts: 0 });
  });

  let calls = 0;
  const sleepJobs = async (priorities: number[]) => {
    const base = 300 + 50 * calls++; // distinct params each call: no cache hits
    const img = await s.jobs.storeImage({ ownerId: s.ownerId, bytes: await read(photo('astronaut.png')) });
    return Promise.all(
      priorities.map((priority, i) =>
        s.jobs.submit({
          ownerId: s.ownerId,
          imageId: img.id,
          plan: { steps: [{ plugin: 'test:sleep', params: { ms: base + i + priority * 10 } }] },
          priority,
        }),
      ),
    );
  };
  const allSucceeded = (jobs: JobRecord[]) =>
    Promise.all(
      jobs.map((j) =>
        eventually(async () => {
          const r = await s.jobs.get(j.id);
          return r.status === 'succeeded' ? r : undefined;
        }, 20_000),
      ),
    );

  it('run higher priority first', async () => {
    const [high, ...low] = await sleepJobs([10, 0, 0, 0, 0]);
    const worker = await s.startWorker({ concurrency: 1 });
    const done = await allSucceeded([high!, ...low]);
    await worker.stop();
    const starts = done.map((j) => j.startedAt!.getTime());
    // The worker takes two jobs at a time; the high-priority one is in the first pair.
    expect(starts[0]).toBeLessThanOrEqual(Math.min(...starts.slice(1)) + 50);
  });

  it('hold each plugin to its concurrency limit across workers', async () => {
    const jobs = await sleepJobs([0, 0, 0, 0]);
    // Two workers allowed 3 jobs at once each, but only one test:sleep at a time across both.
    await Promise.all([
      s.startWorker({ concurrency: 3, pluginConcurrency: { 'test:sleep': 1 } }),
      s.startWorker({ concurrency: 3, pluginConcurrency: { 'test:sleep': 1 } }),
    ]);
    const done = await allSucceeded(jobs);
    expect(done.every((j) => !j.fromCache)).toBe(true);
    const spans = done.map((j) => [j.startedAt!.getTime(), j.finishedAt!.getTime()] as const);
    for (let i = 0; i < spans.length; i++) {
      for (let k = i + 1; k < spans.length; k++) {
        const [a0, a1] = spans[i]!;
        const [b0, b1] = spans[k]!;
        expect(a1 <= b0 + 5 || b1 <= a0 + 5, 'two test:sleep jobs overlapped').toBe(true);
      }
    }
  });
});

describe('deletion', () => {
  it('remove an image, its jobs and their files; collect orphans', async () => {
    const img = await h.jobs.storeImage({ ownerId: h.ownerId, bytes: await read(bad('alpha.png')) });
    const job = await finished(
      (
        await h.jobs.submit({
          ownerId: h.ownerId,
          imageId: img.id,
          plan: { steps: [{ plugin: 'acme:invert' }], output: { format: 'png' } },
        })
      ).id,
    );
    const outputKey = job.output!.key;
    expect(await h.storage.head(outputKey)).toBeDefined();
    await h.jobs.deleteImage(img.id);
    expect(await h.storage.head(outputKey)).toBeUndefined();
    expect(await h.storage.head(img.storageKey)).toBeUndefined();
    expect(await errorCodeOf(h.jobs.get(job.id))).toBe('JOB_NOT_FOUND');
    // A file no row refers to (a crash between write and insert) is collected once old enough.
    await h.storage.put('originals/ff/ff/orphan', new Uint8Array([1, 2, 3]));
    expect(await h.jobs.collectOrphans(60_000)).toEqual([]);
    expect(await h.jobs.collectOrphans(0)).toEqual(['originals/ff/ff/orphan']);
    expect(await h.storage.head(imageStorageKeyOf(await h.jobs.getImage(imageId)))).toBeDefined();
  });
});

function imageStorageKeyOf(image: { storageKey: string }): string {
  return image.storageKey;
}
