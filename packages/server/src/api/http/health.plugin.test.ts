import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { createKysely } from '@atelier/db';
import { useTestDatabase } from '../../auth/test-support.ts';
import type { Kysely } from 'kysely';
import type { Database } from '@atelier/db';
import { opsProbeOver } from '../test-support.ts';
import { healthPlugin } from './health.plugin.ts';

const t = useTestDatabase();
// Nothing listens on port 1: every query fails to connect.
const unreachable = createKysely('postgres://atelier:secret@127.0.0.1:1/atelier', 1);
afterAll(() => unreachable.db.destroy());

async function appWith(probe: { db: Kysely<Database>; ping: () => Promise<void> }) {
  const app = Fastify();
  await app.register(healthPlugin, { probe: opsProbeOver(probe.db, probe.ping) });
  return app;
}

describe('healthPlugin', () => {
  it('answers /healthz always and /readyz when Postgres answers and the queue exists', async () => {
    const app = await appWith({ db: t.db, ping: async () => {} });
    expect((await app.inject('/healthz')).json()).toEqual({ ok: true });
    const ready = await app.inject('/readyz');
    expect([ready.statusCode, ready.json()]).toEqual([200, { ok: true }]);
  });

  it('answers 503 DATABASE_UNAVAILABLE without the address when Postgres does not answer', async () => {
    const app = await appWith({ db: unreachable.db, ping: async () => {} });
    const res = await app.inject('/readyz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ ok: false, code: 'DATABASE_UNAVAILABLE' });
    expect(res.body).not.toMatch(/127\.0\.0\.1|:1\b|secret/);
  });

  it('answers 503 INTERNAL pointing at the log for any other failure', async () => {
    const app = await appWith({
      db: t.db,
      ping: () => Promise.reject(new Error('no such table')),
    });
    const res = await app.inject('/readyz');
    expect([res.statusCode, res.json()]).toEqual([
      503,
      { ok: false, code: 'INTERNAL', error: 'Not ready; see the server log.' },
    ]);
  });
});
