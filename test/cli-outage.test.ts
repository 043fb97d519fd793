// `atelier submit` when Postgres goes away halfway through a batch: one coded line, the jobs
// already queued listed, no stack trace, and those jobs still there once Postgres is back. The
// file runs its own embedded Postgres (stopping the shared one would disturb other test files).
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createKysely, migrateUp } from '@atelier/db';
import { photo, root, testPluginDir } from './helpers.ts';
import { eventually } from './jobs-harness.ts';
import { cleanupsAfterAll } from './cleanups.ts';
import { startPrivatePostgres } from './private-postgres.ts';

const exec = promisify(execFile);
const defer = cleanupsAfterAll();

describe('atelier submit during a Postgres outage', () => {
  it('prints a coded line and lists the jobs it queued', { timeout: 120_000 }, async () => {
    const pg = await startPrivatePostgres('atelier-cli-outage-', defer);
    const { dir, url } = pg;
    const { db } = createKysely(url, 2);
    defer(() => db.destroy());
    await migrateUp(db);
    const queuedIds = async (): Promise<string[]> =>
      (await db.selectFrom('jobs').select('id').where('status', '=', 'queued').execute())
        .map((r) => r.id)
        .sort();

    // The third input is a FIFO: the CLI blocks reading it after queueing the first two, which
    // is when Postgres goes away; then it gets its bytes and tries to store them.
    const fifo = path.join(dir, 'third.png');
    await exec('mkfifo', [fifo]);
    const inputs = [photo('chelsea.png'), photo('rocket.jpg'), fifo, photo('chelsea.png')];
    const run = exec(
      process.execPath,
      [path.join(root, 'packages/server/src/cli.ts'), 'submit', ...inputs, '--style', 'acme:invert'],
      {
        cwd: dir,
        env: {
          ...process.env,
          DATABASE_URL: url,
          ATELIER_DATA_DIR: path.join(dir, 'data'),
          ATELIER_PLUGIN_DIR: testPluginDir,
          ATELIER_LOG_LEVEL: 'warn',
        },
      },
    ).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    await eventually(
      async () => ((await queuedIds()).length === 2 ? true : undefined),
      60_000,
      'two jobs queued',
    );
    await pg.stop();
    await writeFile(fifo, await readFile(photo('chelsea.png')));
    const { code, stdout, stderr } = await run;

    expect(code).toBe(1);
    expect(stderr).not.toMatch(/^\s+at /m); // no stack trace
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^atelier: DATABASE_UNAVAILABLE: .*2 of 4 job\(s\) were queued/);
    expect(lines[0]).toContain(`not submitted: ${fifo}, ${photo('chelsea.png')}`);
    const listed = stdout
      .trim()
      .split('\n')
      .map((line) => line.split('\t'));
    expect(listed.map(([, status, input]) => [status, input])).toEqual([
      ['queued', photo('chelsea.png')],
      ['queued', photo('rocket.jpg')],
    ]);

    // The jobs it listed are in the database once Postgres is back.
    await pg.start();
    const ids = await eventually(() => queuedIds().catch(() => undefined), 30_000, 'Postgres back');
    expect(ids).toEqual(listed.map(([id]) => id).sort());
  });
});
