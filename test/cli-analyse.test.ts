// `atelier analyse --all` as a real process on real Postgres: back-fills images that have no
// analysis, resumes where a run stopped, records bad files with their code, and exits clearly.
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { JobService, createJobQueue } from '@atelier/jobs';
import { LocalStorage } from '@atelier/storage';
import { photo, root, testPluginDir, testRegistry } from './helpers.ts';

const exec = promisify(execFile);
const cli = path.join(root, 'packages/server/src/cli.ts');
let dir: string;
let t: TestDatabase;
let env: NodeJS.ProcessEnv;
let corruptId: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-cli-analyse-'));
  await chmod(dir, 0o755);
  t = await createTestDatabase(inject('pgAdminUrl'));
  const storageDir = path.join(dir, 'storage');
  env = {
    ...process.env,
    DATABASE_URL: t.url,
    ATELIER_STORAGE_DIR: storageDir,
    ATELIER_PLUGIN_DIR: testPluginDir,
    ATELIER_LOG_LEVEL: 'warn',
  };
  // Five uploads (one whose scan is cut in half: its header passes the upload's checks).
  const queue = createJobQueue({ url: t.url });
  await queue.start();
  try {
    const jobs = new JobService({
      db: t.db,
      queue,
      storage: new LocalStorage({ root: storageDir }),
      registry: await testRegistry(),
    });
    const owner = await jobs.ensureUser('backfill@example.org');
    const rocket = await readFile(photo('rocket.jpg'));
    for (const name of ['rocket.jpg', 'chelsea.png', 'coffee.png', 'astronaut.png'])
      await jobs.storeImage({ ownerId: owner, bytes: await readFile(photo(name)) });
    corruptId = (await jobs.storeImage({ ownerId: owner, bytes: rocket.subarray(0, rocket.length / 2) })).id;
  } finally {
    await queue.stop();
  }
  // As if three were uploaded before the analysis existed: no row at all. The others are pending
  // (their queued jobs are never run here: no worker). The broken file gets the last id, so that
  // the runs below meet it last (they go in id order).
  const others = await t.db
    .selectFrom('images')
    .select('id')
    .where('id', '!=', corruptId)
    .orderBy('id')
    .execute();
  await t.db
    .deleteFrom('image_analysis')
    .where('image_id', 'in', [corruptId, others[0]!.id, others[1]!.id])
    .execute();
  await t.db
    .updateTable('images')
    .set({ id: 'ffffffff-ffff-4fff-bfff-ffffffffffff' })
    .where('id', '=', corruptId)
    .execute();
});
afterAll(async () => {
  await t.drop();
  await rm(dir, { recursive: true, force: true });
});

async function atelier(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [cli, ...args], { cwd: dir, env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const statuses = async (): Promise<Record<string, number>> => {
  const rows = await t.db
    .selectFrom('images')
    .leftJoin('image_analysis', 'image_analysis.image_id', 'images.id')
    .select(['image_analysis.status', 'image_analysis.error_code'])
    .execute();
  const counts: Record<string, number> = {};
  for (const r of rows) {
    const key = r.status === null ? 'none' : r.error_code ? `${r.status}:${r.error_code}` : r.status;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
};

describe('atelier analyse', () => {
  it('refuses to run without --all (usage, exit 2)', async () => {
    const run = await atelier('analyse');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^atelier: USAGE_INVALID: .*--all/m);
  });

  it('back-fills, resumes where a run stopped, records bad files, then has nothing left', async () => {
    expect(await statuses()).toEqual({ none: 3, pending: 2 });

    // A run that stops after two images (as an interrupted one would).
    const first = await atelier('analyse', '--all', '--limit', '2');
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('analysed 2 of 2 image(s); 3 still to do\n');
    // Not a terminal: plain progress lines.
    expect(first.stderr).toContain('analyse: 2/2 images (2 analysed)');
    expect((await statuses())['done']).toBe(2);

    // The next run takes up the three left, not the two done.
    const second = await atelier('analyse', '--all', '--json');
    expect(second.code).toBe(1);
    expect(JSON.parse(second.stdout)).toEqual({
      total: 3,
      done: 2,
      skipped: 0,
      failed: { IMAGE_CORRUPT: 1 },
      errors: {},
    });
    expect(second.stderr).toMatch(/^atelier: IMAGE_CORRUPT: the analysis of 1 image\(s\) failed/m);
    expect(await statuses()).toEqual({ done: 4, 'failed:IMAGE_CORRUPT': 1 });

    // Nothing left: a failure is recorded, not retried unless asked.
    const third = await atelier('analyse', '--all');
    expect(third.code).toBe(0);
    expect(third.stdout).toBe('analysed 0 of 0 image(s); 0 still to do\n');

    const retry = await atelier('analyse', '--all', '--retry-failed', '--json');
    expect(retry.code).toBe(1);
    expect(JSON.parse(retry.stdout)).toMatchObject({ total: 1, done: 0, failed: { IMAGE_CORRUPT: 1 } });
    const analysed = await t.db
      .selectFrom('image_analysis')
      .select(['status', 'analysis_version', 'blurhash', 'attempts'])
      .where('status', '=', 'done')
      .execute();
    expect(analysed).toHaveLength(4);
    for (const row of analysed) {
      expect(row.analysis_version).toBe(1);
      expect(row.blurhash).toEqual(expect.any(String));
      expect(row.attempts).toBe(1);
    }
  });
});
