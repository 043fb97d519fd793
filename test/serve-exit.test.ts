// SIGTERM always ends `atelier serve` and `atelier worker`: when something it loaded (here a plugin's timer) still holds
// the process open after everything was closed, it exits anyway, with its exit code, and logs what
// was still open.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { cleanupsAfterAll } from './cleanups.ts';
import { root } from './helpers.ts';
import { spawnServe } from './serve-process.ts';

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
        env: {
          ...process.env,
          DATABASE_URL: database.url,
          ATELIER_STORAGE_DIR: path.join(dir, 'storage'),
          ATELIER_PLUGIN_DIR: leakyPlugins,
          ATELIER_THREADS: '1',
          PORT: '0',
          ATELIER_LOG_LEVEL: 'info',
        },
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
      const child = spawn(process.execPath, [path.join(root, 'packages/server/src/cli.ts'), 'worker'], {
        cwd: dir,
        env: {
          ...process.env,
          DATABASE_URL: database.url,
          ATELIER_STORAGE_DIR: path.join(dir, 'storage'),
          ATELIER_PLUGIN_DIR: leakyPlugins,
          ATELIER_THREADS: '1',
          ATELIER_LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      defer(async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGKILL');
        await exited;
      });
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (/worker ready/.test(stderr)) resolve();
        });
        void exited.then((code) => reject(new Error(`worker exited ${code}: ${stderr}`)));
      });
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000, 'still running'))]);
      expect(code).toBe(0);
      expect(stderr).toMatch(/still held the process open/);
    },
  );
});
