import { writeFileSync } from 'node:fs';
import { it } from 'vitest';
import { startApi } from './api-harness.ts';

it('probe', async () => {
  const h = await startApi();
  const out: string[] = [];
  const paths = ['/', '/nope', '/studio', '/assets/x.js', '/api/nope', '/api', '/trpc/nope', '/trpc', '/files/nope', '/files/images/abc', '/docs/nope', '/healthz/x', '/metrics/x', '/openapi.json/x', '/docs', '/docs/'];
  for (const p of paths) for (const accept of ['text/html,application/xhtml+xml', 'application/json']) for (const method of ['GET', 'POST', 'HEAD']) {
    const res = await fetch(h.url + p, { method, headers: { accept }, redirect: 'manual' });
    const body = (await res.text()).replace(/[0-9a-f-]{36}/g, 'ID').slice(0, 300);
    out.push(`${method} ${p} [${accept}] -> ${res.status} ${res.headers.get('content-type')} ${res.headers.get('location') ?? ''} ${body}`);
  }
  writeFileSync(process.env['PROBE_OUT'] ?? '/tmp/probe/out.txt', out.join('\n') + '\n');
  await h.close();
});
