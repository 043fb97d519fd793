// `atelier serve` serves the web app at `/` from ATELIER_WEB_DIR: index.html for the app's routes,
// hashed assets cached for a year, the API where it was. Without a build it still serves the API,
// logs one error naming the build command and answers the app's pages with a 503 page;
// ATELIER_WEB=off leaves `/` to the API's 404.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { cleanupsAfterAll } from './cleanups.ts';
import { serveEnv, spawnServe } from './serve-process.ts';

const INDEX =
  '<!doctype html><html><head><script type="module" src="/assets/index-Bx1y2z.js"></script></head><body><div id="root"></div></body></html>';
let database: TestDatabase;
let dir: string;
const defer = cleanupsAfterAll();
const html = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };

beforeAll(async () => {
  database = await createTestDatabase(inject('pgAdminUrl'));
  defer(() => database.drop());
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-serve-web-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  await mkdir(path.join(dir, 'dist/assets'), { recursive: true });
  await writeFile(path.join(dir, 'dist/index.html'), INDEX);
  await writeFile(path.join(dir, 'dist/assets/index-Bx1y2z.js'), 'console.log(1);');
});

function serve(env: Record<string, string>) {
  return spawnServe({
    cwd: dir,
    env: serveEnv(database, dir, { ATELIER_LOG_LEVEL: 'info', ATELIER_WEB: 'on', ...env }),
    args: ['--no-worker'],
    defer,
  });
}

/** The log lines of `stderr` at error level or above. */
const errorsIn = (stderr: string) =>
  stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { level: number; msg: string })
    .filter((line) => line.level >= 50);

describe('atelier serve and the web app', () => {
  it(
    'serves the build from ATELIER_WEB_DIR (relative to the working directory) beside the API',
    { timeout: 60_000 },
    async () => {
      const server = serve({ ATELIER_WEB_DIR: 'dist' });
      try {
        const url = await server.url;
        expect(server.stdout()).toContain(`Web app on ${url}/`);
        for (const route of ['/', '/studio', '/gallery/abc', '/admin/users']) {
          const res = await fetch(`${url}${route}`, { headers: html });
          expect([route, res.status, await res.text()]).toEqual([route, 200, INDEX]);
          expect(res.headers.get('cache-control')).toBe('no-cache');
          expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
          expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        }
        const asset = await fetch(`${url}/assets/index-Bx1y2z.js`);
        expect([asset.status, asset.headers.get('cache-control')]).toEqual([
          200,
          'public, max-age=31536000, immutable',
        ]);
        expect((await fetch(`${url}/assets/index-gone.js`, { headers: html })).status).toBe(404);
        // The API is where it was, with its own answers and 404s.
        expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ ok: true });
        const styles = await fetch(`${url}/trpc/styles.list`, { headers: html });
        expect(styles.status).toBe(200);
        expect(styles.headers.get('content-type')).toMatch(/^application\/json/);
        const rest404 = await fetch(`${url}/api/nope`, { headers: html });
        expect(rest404.status).toBe(404);
        expect(((await rest404.json()) as { data: { atelierCode: string } }).data.atelierCode).toBe(
          'PROCEDURE_NOT_FOUND',
        );
        expect(rest404.headers.get('content-security-policy')).toBeNull();
        expect(errorsIn(server.stderr())).toEqual([]);
      } finally {
        server.child.kill('SIGTERM');
        await server.exited;
      }
    },
  );

  it(
    'without a build: the API works, one error names the build command, pages answer 503',
    { timeout: 60_000 },
    async () => {
      const server = serve({ ATELIER_WEB_DIR: path.join(dir, 'not-built') });
      try {
        const url = await server.url;
        expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ ok: true, payments: 'off' });
        for (const route of ['/', '/studio']) {
          const res = await fetch(`${url}${route}`, { headers: html });
          expect([route, res.status]).toEqual([route, 503]);
          expect(await res.text()).toContain('pnpm --filter @atelier/web build');
        }
        const errors = errorsIn(server.stderr());
        expect(errors).toHaveLength(1);
        expect(errors[0]!.msg).toContain('The web app is not built');
        expect(errors[0]!.msg).toContain('pnpm --filter @atelier/web build');
      } finally {
        server.child.kill('SIGTERM');
        await server.exited;
      }
    },
  );

  it('with ATELIER_WEB=off serves the API alone', { timeout: 60_000 }, async () => {
    const server = serve({ ATELIER_WEB: 'off', ATELIER_WEB_DIR: 'dist' });
    try {
      const url = await server.url;
      expect(server.stdout()).not.toContain('Web app on');
      expect((await fetch(`${url}/`, { headers: html })).status).toBe(404);
      expect((await fetch(`${url}/studio`, { headers: html })).status).toBe(404);
      expect(errorsIn(server.stderr())).toEqual([]);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});
