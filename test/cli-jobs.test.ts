// The operator's job commands as real processes: `submit --wait` on the embedded Postgres (no
// DATABASE_URL: the CLI starts one in its data directory), `jobs`, `migrate`, and a worker that
// hands its running job back on SIGTERM.
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { JobService, createJobQueue } from '@atelier/jobs';
import { LocalStorage } from '@atelier/storage';
import { photo, root, testPluginDir, testRegistry } from './helpers.ts';
import { eventually } from './jobs-harness.ts';

const exec = promisify(execFile);
const cli = path.join(root, 'packages/server/src/cli.ts');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-cli-jobs-'));
  await chmod(dir, 0o755);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function atelier(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [cli, ...args], {
      cwd: dir,
      env: { ...process.env, ATELIER_PLUGIN_DIR: testPluginDir, ATELIER_LOG_LEVEL: 'warn', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('atelier submit and jobs, on the embedded Postgres', () => {
  const env = { DATABASE_URL: '', ATELIER_DATA_DIR: '' };
  beforeAll(() => {
    env.ATELIER_DATA_DIR = path.join(dir, 'data');
    delete (env as Partial<typeof env>).DATABASE_URL;
  });

  it('submits a batch, waits for it, writes the results and reports each job', async () => {
    const { code, stdout, stderr } = await atelier(
      env,
      'submit',
      photo('chelsea.png'),
      photo('rocket.jpg'),
      photo('truncated.jpg'),
      '--style',
      'acme:invert',
      '--wait',
      '--out',
      path.join(dir, 'out'),
      '--json',
    );
    expect(code).toBe(1); // one input is broken
    const report = JSON.parse(stdout) as {
      input: string;
      status?: string;
      jobId?: string;
      error?: { code: string };
    }[];
    expect(report.map((r) => r.status ?? r.error?.code)).toEqual(['succeeded', 'succeeded', 'IMAGE_CORRUPT']);
    expect(stderr).toMatch(/atelier: IMAGE_CORRUPT: .*truncated\.jpg/);
    expect((await readdir(path.join(dir, 'out'))).sort()).toEqual([
      'chelsea.acme-invert.jpg',
      'rocket.acme-invert.jpg',
    ]);
    // The data stays in the data directory between runs: a second submit is served from cache.
    const again = await atelier(
      env,
      'submit',
      photo('chelsea.png'),
      '--style',
      'acme:invert',
      '--wait',
      '--json',
    );
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject([{ status: 'succeeded', fromCache: true }]);

    const list = await atelier(env, 'jobs', 'list', '--json');
    const page = JSON.parse(list.stdout) as { items: { id: string; status: string }[] };
    expect(page.items).toHaveLength(3);
    const shown = await atelier(env, 'jobs', 'show', report[0]!.jobId!);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: report[0]!.jobId, status: 'succeeded' });
    const cancel = await atelier(env, 'jobs', 'cancel', report[0]!.jobId!);
    expect(cancel.code).toBe(1);
    expect(cancel.stderr).toMatch(/^atelier: JOB_NOT_CANCELLABLE: /);
    const missing = await atelier(env, 'jobs', 'show', '00000000-0000-0000-0000-000000000000');
    expect(missing.stderr).toMatch(/^atelier: JOB_NOT_FOUND: /);
    const status = await atelier(env, 'migrate', 'status');
    expect(status.stdout).toMatch(/^0001-initial\t\d{4}-/);
  });

  it('makes the first administrator, lists and disables accounts', async () => {
    const created = await atelier(
      { ...env, ATELIER_PASSWORD: 'a strong admin password' },
      'users',
      'create',
      'boss@example.org',
      '--admin',
    );
    expect(created.stdout).toMatch(/^created admin boss@example.org \(/);
    expect(created.stdout).not.toContain('password:');
    const generated = await atelier(env, 'users', 'create', 'staff@example.org');
    expect(generated.stdout).toMatch(/password: \S{16,}/);
    const taken = await atelier(env, 'users', 'create', 'BOSS@example.org');
    expect(taken.stderr).toMatch(/^atelier: AUTH_EMAIL_TAKEN: /);
    expect((await atelier(env, 'users', 'disable', 'staff@example.org')).stdout).toBe(
      'disabled staff@example.org\n',
    );
    const list = (await atelier(env, 'users', 'list')).stdout;
    expect(list).toMatch(/admin\s+active\s+boss@example.org/);
    expect(list).toMatch(/user\s+disabled\s+staff@example.org/);
  });
});

describe('atelier worker', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(inject('pgAdminUrl'));
  });
  afterAll(() => database.drop());

  it('hands its running job back on SIGTERM; another worker finishes it', { timeout: 90_000 }, async () => {
    const storageDir = path.join(dir, 'storage-worker');
    const env = {
      ...process.env,
      DATABASE_URL: database.url,
      ATELIER_STORAGE_DIR: storageDir,
      ATELIER_PLUGIN_DIR: testPluginDir,
      ATELIER_SHUTDOWN_DEADLINE_MS: '300',
      ATELIER_LOG_LEVEL: 'warn',
    };
    const queue = createJobQueue({ url: database.url });
    await queue.start();
    try {
      const jobs = new JobService({
        db: database.db,
        queue,
        storage: new LocalStorage({ root: storageDir }),
        registry: await testRegistry(),
      });
      const ownerId = await jobs.ensureUser('worker@example.org');
      const image = await jobs.storeImage({
        ownerId,
        bytes: await (await import('node:fs/promises')).readFile(photo('coffee.png')),
      });
      const job = await jobs.submit({
        ownerId,
        imageId: image.id,
        plan: { steps: [{ plugin: 'test:sleep', params: { ms: 4000 } }] },
      });

      const first = spawn(process.execPath, [cli, 'worker'], { env, stdio: 'ignore' });
      await eventually(
        async () => (await jobs.get(job.id)).status === 'running' || undefined,
        30_000,
        'running',
      );
      first.kill('SIGTERM');
      const exitCode = await new Promise<number | null>((resolve) => first.once('exit', resolve));
      expect(exitCode).toBe(0);
      // Not waited for: had the worker let the 4 s job run out past its 300 ms deadline, the job
      // would be `succeeded` here (no clock in this check: the machines are noisy).
      expect(await jobs.get(job.id)).toMatchObject({ status: 'queued', attempts: 0 });

      const second = spawn(process.execPath, [cli, 'worker'], { env, stdio: 'ignore' });
      try {
        const done = await eventually(
          async () => {
            const j = await jobs.get(job.id);
            return j.status === 'succeeded' ? j : undefined;
          },
          60_000,
          'succeeded',
        );
        expect(done.attempts).toBe(1);
      } finally {
        second.kill('SIGTERM');
        await new Promise((resolve) => second.once('exit', resolve));
      }
    } finally {
      await queue.stop();
    }
  });
});
