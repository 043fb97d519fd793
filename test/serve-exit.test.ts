// SIGTERM always ends `atelier serve` and `atelier worker`. A third-party plugin whose module starts
// a timer used to hold the process open (the stop guard exits anyway and logs what was open); now
// such a plugin runs in the sandbox, which has no timers: it is refused at load with a coded error,
// and neither it nor its sandbox process keeps the server from exiting 0.
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
    'exits 0 on SIGTERM; a plugin that starts a timer at load is refused by the sandbox',
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
      expect(server.stderr()).toMatch(/PLUGIN_LOAD_FAILED.*leaky\.plugin\.ts.*setInterval is not defined/);
      expect(server.stderr()).not.toMatch(/still held the process open/);
    },
  );
});

describe('atelier worker on SIGTERM', () => {
  it(
    'exits 0 on SIGTERM; a plugin that starts a timer at load is refused by the sandbox',
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
      expect(worker.stderr()).toMatch(/PLUGIN_LOAD_FAILED.*leaky\.plugin\.ts.*setInterval is not defined/);
      expect(worker.stderr()).not.toMatch(/still held the process open/);
    },
  );
});
