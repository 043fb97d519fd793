// `atelier serve` reads the front door's settings from its environment: ATELIER_PUBLIC_URL,
// ATELIER_TRUST_PROXY, ATELIER_REGISTRATIONS_PER_HOUR, ATELIER_METRICS_TOKEN reach the server it
// starts, and a malformed one stops it with a coded line.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { cleanupsAfterAll } from './cleanups.ts';
import { registerOver, serveEnv, spawnServe } from './serve-process.ts';

const METRICS_TOKEN = 'serve-metrics-token-0123456789ab';
let database: TestDatabase;
let dir: string;
const defer = cleanupsAfterAll();

beforeAll(async () => {
  database = await createTestDatabase(inject('pgAdminUrl'));
  defer(() => database.drop());
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-serve-front-'));
  defer(() => rm(dir, { recursive: true, force: true }));
});

function serve(env: Record<string, string>) {
  return spawnServe({
    cwd: dir,
    env: serveEnv(database, dir, { ATELIER_LOG_LEVEL: 'warn', ...env }),
    args: ['--no-worker'],
    defer,
  });
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
          registerOver(
            url,
            { email, password: 'a good long password', displayName: 'Someone' },
            { 'x-forwarded-for': client },
          );
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
    expect(await server.exited).not.toBe(0);
    expect(server.stderr()).toMatch(/PARAMS_INVALID.*ATELIER_TRUST_PROXY/);
  });
});
