import { describe, expect, it } from 'vitest';
import { useTestDatabase } from '../auth/test-support.ts';
import { opsProbeOver } from './test-support.ts';

const t = useTestDatabase();

/** A user, an image and jobs in the given states, straight into the tables. */
async function seedJobs(
  jobs: {
    style: string;
    status: 'queued' | 'succeeded' | 'failed';
    seconds?: number;
    code?: string | null;
    fromCache?: boolean;
  }[],
): Promise<void> {
  const user = await t.db
    .insertInto('users')
    .values({ email: `probe-${Math.random()}@example.org`, display_name: 'Probe' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const image = await t.db
    .insertInto('images')
    .values({
      owner_id: user.id,
      sha256: 'a'.repeat(64),
      bytes: 1,
      width: 1,
      height: 1,
      format: 'png',
      storage_key: 'k',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  const started = new Date('2031-01-01T00:00:00Z');
  await t.db
    .insertInto('jobs')
    .values(
      jobs.map((job, i) => ({
        owner_id: user.id,
        image_id: image.id,
        input_sha256: 'a'.repeat(64),
        plan: JSON.stringify({}),
        plan_hash: `h${i}`,
        style: job.style,
        status: job.status,
        max_attempts: 1,
        error_code: job.code ?? null,
        from_cache: job.fromCache ?? false,
        started_at: started,
        updated_at: started,
        finished_at: job.seconds === undefined ? null : new Date(started.getTime() + job.seconds * 1000),
      })),
    )
    .execute();
}

describe('the ops probe (HealthService and StatsService)', () => {
  it('counts jobs by status, sums processing time by style and counts failures by style and code', async () => {
    const probe = opsProbeOver(t.db);
    expect(await probe.jobCounts()).toEqual([]);
    await seedJobs([
      { style: 'cartoon', status: 'succeeded', seconds: 2 },
      { style: 'cartoon', status: 'succeeded', seconds: 3 },
      { style: 'cartoon', status: 'succeeded', seconds: 100, fromCache: true },
      { style: 'sketch', status: 'queued' },
      { style: 'sketch', status: 'failed', code: 'PLUGIN_FAILED' },
      { style: 'sketch', status: 'failed', code: null },
    ]);
    const byStatus = Object.fromEntries((await probe.jobCounts()).map((r) => [r.status, r.count]));
    expect(byStatus).toEqual({ succeeded: 3, queued: 1, failed: 2 });
    expect(await probe.jobDurations()).toEqual([{ style: 'cartoon', seconds: 5 }]);
    const failures = [...(await probe.jobFailures())].sort((a, b) => a.code.localeCompare(b.code));
    expect(failures).toEqual([
      { style: 'sketch', code: 'PLUGIN_FAILED', count: 1 },
      { style: 'sketch', code: 'unknown', count: 1 },
    ]);
  });

  it('is ready when the database answers and the render queue exists, and says why not otherwise', async () => {
    const asked: string[] = [];
    const probe = opsProbeOver(t.db, async () => {
      asked.push('ping');
    });
    await expect(probe.ready()).resolves.toBeUndefined();
    expect(asked).toEqual(['ping']);
    const down = opsProbeOver(t.db, () => Promise.reject(new Error('queue gone')));
    await expect(down.ready()).rejects.toThrow('queue gone');
  });
});
