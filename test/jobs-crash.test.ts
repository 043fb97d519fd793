// Nothing is lost when a worker dies: two worker processes share 1000 jobs while one of them is
// SIGKILLed several times and restarted. Every job must end succeeded exactly once, with one
// output that exists, decodes and is right.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { JobService, createJobQueue, resultKey } from '@atelier/jobs';
import type { JobQueue } from '@atelier/jobs';
import { LocalStorage } from '@atelier/storage';
import { root, testPluginDir, testRegistry } from './helpers.ts';
import { eventually } from './jobs-harness.ts';

const JOBS = Number(process.env['CRASH_JOBS'] ?? 1000);
let database: TestDatabase;
let storageDir: string;
let queue: JobQueue;
const workers = new Set<ChildProcess>();

const env = (): NodeJS.ProcessEnv => ({
  ...process.env,
  DATABASE_URL: database.url,
  ATELIER_STORAGE_DIR: storageDir,
  ATELIER_PLUGIN_DIR: testPluginDir,
  ATELIER_THREADS: '1',
  ATELIER_WORKER_CONCURRENCY: '4',
  ATELIER_JOB_EXPIRE_S: '3',
  ATELIER_JOB_RETRIES: '8',
  ATELIER_JOB_RETRY_DELAY_S: '1',
  ATELIER_QUEUE_SUPERVISE_S: '1',
  ATELIER_LOG_LEVEL: 'warn',
});

function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(root, 'packages/server/src/cli.ts'), 'worker'], {
    env: env(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  workers.add(child);
  child.on('exit', () => workers.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  // Ready once it has registered with the queue (a job can reach it).
  return eventually(
    async () =>
      child.exitCode !== null
        ? Promise.reject(new Error(`worker exited: ${stderr}`))
        : child.pid && (await workerRegistered())
          ? child
          : undefined,
    30_000,
    'worker start',
  );
}

let registeredBefore = 0;
async function workerRegistered(): Promise<boolean> {
  const n = Number(
    (
      await database.db
        .selectFrom('jobs')
        .select(({ fn }) => fn.countAll().as('n'))
        .where('worker_id', 'is not', null)
        .executeTakeFirst()
    )?.n ?? 0,
  );
  return n > registeredBefore || registeredBefore === -1;
}

beforeAll(async () => {
  database = await createTestDatabase(inject('pgAdminUrl'));
  storageDir = await mkdtemp(path.join(tmpdir(), 'atelier-crash-'));
  queue = createJobQueue({
    url: database.url,
    superviseIntervalSeconds: 1,
    policy: { retryLimit: 8, retryDelaySeconds: 1, expireInSeconds: 3 },
  });
  await queue.start();
});

afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await queue.stop();
  await database.drop();
  await rm(storageDir, { recursive: true, force: true });
});

describe('crash safety', () => {
  // acme:invert is a third-party plugin, so every job runs in the sandbox (a fresh isolate per run):
  // 1000 jobs took 160-200 s on a loaded 2-core machine; the limit leaves room for a slower one.
  it(`${JOBS} jobs survive repeated SIGKILLs of a worker`, { timeout: 420_000 }, async () => {
    const storage = new LocalStorage({ root: storageDir });
    const jobs = new JobService({
      db: database.db,
      queue,
      storage,
      registry: await testRegistry(),
      maxAttempts: 9,
    });
    const ownerId = await jobs.ensureUser('crash@example.org');

    // 1000 different small photos (so no job is a cache hit of another).
    const ids: string[] = [];
    const firstPixel = new Map<string, number[]>();
    for (let start = 0; start < JOBS; start += 50) {
      await Promise.all(
        Array.from({ length: Math.min(50, JOBS - start) }, async (_, k) => {
          const i = start + k;
          const colour = { r: i % 256, g: (i * 7) % 256, b: Math.floor(i / 256) * 60 };
          const png = await sharp({ create: { width: 48, height: 32, channels: 3, background: colour } })
            .png()
            .toBuffer();
          const image = await jobs.storeImage({ ownerId, bytes: png });
          const job = await jobs.submit({
            ownerId,
            imageId: image.id,
            plan: { steps: [{ plugin: 'acme:invert' }], output: { format: 'png' } },
          });
          ids[i] = job.id;
          firstPixel.set(job.id, [255 - colour.r, 255 - colour.g, 255 - colour.b]);
        }),
      );
    }

    registeredBefore = -1;
    await Promise.all([startWorker(), startWorker()]);
    const done = async (): Promise<number> => {
      const counts = await database.db
        .selectFrom('jobs')
        .select(['status', ({ fn }) => fn.countAll().as('n')])
        .groupBy('status')
        .execute();
      if (process.env['CRASH_DEBUG']) console.log(new Date().toISOString(), JSON.stringify(counts));
      return Number(counts.find((c) => c.status === 'succeeded')?.n ?? 0);
    };

    // Kill one worker mid-run, three times, restarting it each time.
    for (let kill = 1; kill <= 3; kill++) {
      const target = JOBS * (kill / 5);
      await eventually(async () => (await done()) >= target || undefined, 180_000, `${target} jobs done`);
      const victim = [...workers][0]!;
      victim.kill('SIGKILL');
      await new Promise((r) => victim.once('exit', r));
      await startWorker();
    }

    await eventually(async () => (await done()) === JOBS || undefined, 300_000, 'every job done');
    const rows = await database.db.selectFrom('jobs').selectAll().execute();
    expect(rows).toHaveLength(JOBS);
    const statuses = rows.reduce<Record<string, number>>(
      (acc, r) => ({ ...acc, [r.status]: (acc[r.status] ?? 0) + 1 }),
      {},
    );
    expect(statuses).toEqual({ succeeded: JOBS });
    // Some jobs were interrupted and ran again; none ran to a second output.
    const retried = rows.filter((r) => r.attempts > 1).length;
    const results = await database.db
      .selectFrom('results')
      .select(({ fn }) => fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    expect(Number(results.n)).toBe(JOBS);
    for (const row of rows) {
      expect(row.output_key).toBe(resultKey(row.plan_hash, row.input_sha256, 'png'));
      const { data, info } = await sharp(await storage.get(row.output_key!))
        .raw()
        .toBuffer({ resolveWithObject: true });
      expect([info.width, info.height]).toEqual([48, 32]);
      expect([data[0], data[1], data[2]]).toEqual(firstPixel.get(row.id));
    }
    const files: string[] = [];
    for await (const object of storage.list('results/')) files.push(object.key);
    expect(files).toHaveLength(JOBS);
    console.log(`crash test: ${JOBS} jobs, ${retried} ran more than once after a kill, all succeeded once`);
  });
});
