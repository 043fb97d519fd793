import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { authPlugin } from './auth.plugin.ts';
import type { Caller } from './auth.plugin.ts';
import { metricsPlugin } from './metrics.plugin.ts';

const probe = {
  jobCounts: async () => [
    { status: 'queued', count: 2 },
    { status: 'succeeded', count: 5 },
  ],
  jobDurations: async () => [{ style: 'cartoon', seconds: 12.5 }],
  jobFailures: async () => [{ style: 'sketch', code: 'PLUGIN_FAILED', count: 1 }],
};

async function app(metricsToken?: string) {
  const server = Fastify();
  await server.register(authPlugin, {
    resolve: async (req): Promise<Caller> => {
      const id = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
      return { user: id ? { id, role: id.startsWith('admin') ? 'admin' : 'user' } : null };
    },
  });
  await server.register(metricsPlugin, { probe, metricsToken });
  // A route of another plugin: the latency histogram sees it too.
  await server.register(async (scope) => {
    scope.get('/elsewhere/:id', async () => 'ok');
  });
  return server;
}

describe('metricsPlugin', () => {
  it('refuses anonymous callers (401) and non-administrators (403) with { code, message }', async () => {
    const server = await app('scrape-me');
    const anonymous = await server.inject('/metrics');
    expect([anonymous.statusCode, anonymous.json()]).toEqual([
      401,
      {
        code: 'AUTH_REQUIRED',
        message: 'Metrics are for administrators: sign in as one, or send the metrics bearer token.',
      },
    ]);
    const user = await server.inject({ url: '/metrics', headers: { authorization: 'Bearer bob' } });
    expect([user.statusCode, user.json()]).toEqual([
      403,
      { code: 'FORBIDDEN', message: 'Only administrators can read metrics.' },
    ]);
    const wrongToken = await server.inject({
      url: '/metrics',
      headers: { authorization: 'Bearer scrape-you' },
    });
    expect(wrongToken.statusCode).toBe(403);
  });

  it('serves the job gauges and every route’s latency to administrators and the metrics token', async () => {
    const server = await app('scrape-me');
    await server.inject('/elsewhere/42');
    for (const authorization of ['Bearer admin-1', 'Bearer scrape-me']) {
      const res = await server.inject({ url: '/metrics', headers: { authorization } });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.body).toContain('atelier_queue_jobs{status="queued"} 2');
      expect(res.body).toContain('atelier_queue_jobs{status="succeeded"} 5');
      expect(res.body).toContain('atelier_job_duration_seconds_sum{style="cartoon"} 12.5');
      expect(res.body).toContain('atelier_jobs_failed{style="sketch",code="PLUGIN_FAILED"} 1');
      expect(res.body).toMatch(
        /atelier_http_request_duration_seconds_count\{method="GET",route="\/elsewhere\/:id",status="200"\} 1/,
      );
      expect(res.body).toContain('process_cpu_user_seconds_total');
    }
  });

  it('takes no token when none is configured', async () => {
    const server = await app();
    const res = await server.inject({ url: '/metrics', headers: { authorization: 'Bearer undefined' } });
    expect(res.statusCode).toBe(403);
  });
});
