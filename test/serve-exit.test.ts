// SIGTERM always ends `atelier serve` and `atelier worker`: when something it loaded (here a plugin's timer) still holds
// the process open after everything was closed, it exits anyway, with its exit code, and logs what
// was still open.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { cleanupsAfterAll } from './cleanups.ts';
import { serveEnv, spawnServe } from './serve-process.ts';

const leakyPlugins = fileURLToPath(new URL('./fixtures/leaky-plugins/', import.meta.url));
let database: TestDatabase;
let dir: string;
const defer = cleanupsAfterAll();

beforeAll(async () => {
  database = await createTestDatabase(inject('pgAdminUrl'));
  defer(() => database.drop());
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-serve-exit-'));
  defer(() => rm(dir, { recursive: true, force: true }));
});

describe('atelier serve on SIGTERM', () => {
  it(
    'exits 0 even when a plugin left a timer running, and logs what held it open',
    { timeout: 60_000 },
    async () => {
      const server = spawnServe({
        cwd: dir,
        env: serveEnv(database, dir, {
          ATELIER_PLUGIN_DIR: leakyPlugins,
          ATELIER_THREADS: '1',
          ATELIER_LOG_LEVEL: 'info',
        }),
        args: ['--no-worker'],
        defer,
      });
      const url = await server.url;
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      server.child.kill('SIGTERM');
      expect(await server.exitedWithin(30_000)).toBe(0);
      expect(server.stderr()).toMatch(/still held the process open/);
      expect(server.stderr()).toMatch(/Timeout/);
    },
  );
});

describe('atelier worker on SIGTERM', () => {
  it(
    'exits 0 even when a plugin left a timer running, and logs what held it open',
    { timeout: 60_000 },
    async () => {
      const worker = spawnServe({
        command: 'worker',
        cwd: dir,
        env: serveEnv(database, dir, {
          ATELIER_PLUGIN_DIR: leakyPlugins,
          ATELIER_THREADS: '1',
          ATELIER_LOG_LEVEL: 'info',
        }),
        defer,
      });
      await worker.waitFor(/worker ready/);
      worker.child.kill('SIGTERM');
      expect(await worker.exitedWithin(30_000)).toBe(0);
      expect(worker.stderr()).toMatch(/still held the process open/);
    },
  );
});
