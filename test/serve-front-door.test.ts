// `atelier serve` reads the front door's settings from its environment: ATELIER_PUBLIC_URL,
// ATELIER_TRUST_PROXY, ATELIER_REGISTRATIONS_PER_HOUR, ATELIER_METRICS_TOKEN reach the server it
// starts, and a malformed one stops it with a coded line.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { root } from './helpers.ts';

const METRICS_TOKEN = 'serve-metrics-token-0123456789ab';
let database: TestDatabase;
let dir: string;
/** Every server started, so that a failed test leaves none running. */
const children: ChildProcess[] = [];

beforeAll(async () => {
  database = await createTestDatabase(inject('pgAdminUrl'));
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-serve-front-'));
});
afterAll(async () => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

function serve(env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    [path.join(root, 'packages/server/src/cli.ts'), 'serve', '--no-worker'],
    {
      cwd: dir,
      env: {
        ...process.env,
        DATABASE_URL: database.url,
        ATELIER_STORAGE_DIR: path.join(dir, 'storage'),
        PORT: '0',
        ATELIER_LOG_LEVEL: 'warn',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const match = /Atelier API on (http:\/\/\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  return { child, url, exited, stderr: () => stderr };
}

describe('atelier serve behind a proxy', () => {
  it(
    'takes its public URL, trusted proxy, registration limit and metrics token from the environment',
    {
      timeout: 60_000,
    },
    async () => {
      const server = serve({
        ATELIER_PUBLIC_URL: 'https://atelier.example.org',
        ATELIER_TRUST_PROXY: '127.0.0.1',
        ATELIER_REGISTRATIONS_PER_HOUR: '1',
        ATELIER_METRICS_TOKEN: METRICS_TOKEN,
      });
      try {
        const url = await server.url;
        const register = (email: string, client: string) =>
          fetch(`${url}/trpc/auth.register`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
            body: JSON.stringify({ email, password: 'a good long password', displayName: 'Someone' }),
          });
        const first = await register('one@example.org', '203.0.113.1');
        expect(first.status).toBe(200);
        expect(first.headers.get('set-cookie')).toMatch(/;\s*Secure/i);
        expect((await register('two@example.org', '203.0.113.1')).status).toBe(429);
        expect((await register('three@example.org', '203.0.113.2')).status).toBe(200);
        expect((await fetch(`${url}/metrics`)).status).toBe(401);
        const scrape = await fetch(`${url}/metrics`, {
          headers: { authorization: `Bearer ${METRICS_TOKEN}` },
        });
        expect(scrape.status).toBe(200);
        expect(await scrape.text()).toContain('atelier_http_request_duration_seconds');
      } finally {
        server.child.kill('SIGTERM');
        expect(await server.exited).toBe(0);
      }
    },
  );

  it('refuses a malformed ATELIER_TRUST_PROXY with a coded line', { timeout: 30_000 }, async () => {
    const server = serve({ ATELIER_TRUST_PROXY: 'the load balancer' });
    server.url.catch(() => {});
    expect(await server.exited).not.toBe(0);
    expect(server.stderr()).toMatch(/PARAMS_INVALID.*ATELIER_TRUST_PROXY/);
  });
});
