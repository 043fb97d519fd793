// Paid HD for operators (issue 12, docs/payments.md), on the real API with the fake Stripe behind
// the server's real `stripe` SDK: administrators (their own results are free, everyone's payments,
// grant and revoke), the `atelier payments` commands against the same database, the free copies'
// lifecycle (deleted with their job, swept by `atelier gc`), payments off without keys, and
// `atelier serve`'s start-up check of the key.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeCopyKey } from '@atelier/jobs';
import { codeOf, failure, startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';
import { cleanupsAfterAll } from './cleanups.ts';
import { root, testPluginDir } from './helpers.ts';
import {
  FREE_MAX_SIDE,
  auditRows,
  get,
  openCheckout,
  paymentRows,
  renderJob,
  sessionIdOf,
  startPaymentsApi,
  storedOutput,
  unlockOf,
  uploadPhoto,
} from './payments-harness.ts';
import type { ApiJob, User } from './payments-harness.ts';
import { serveEnv, spawnServe } from './serve-process.ts';
import { startFakeStripe } from './stripe/fake-stripe.ts';
import type { FakeStripe } from './stripe/fake-stripe.ts';

const exec = promisify(execFile);
const defer = cleanupsAfterAll();
const FULL = { width: 451, height: 300 };
const STATUSES = ['pending', 'paid', 'failed', 'expired', 'refunded'] as const;

let h: ApiHarness;
let fake: FakeStripe;
let alice: User;
let bob: User;
let admin: User;
let aliceImage: string;
/** Alice's payment ids by status, and Bob's one pending payment. */
const alicePayments: Record<(typeof STATUSES)[number], string> = {
  pending: '',
  paid: '',
  failed: '',
  expired: '',
  refunded: '',
};
let bobPayment: string;

beforeAll(async () => {
  ({ h, fake } = await startPaymentsApi(defer));
  alice = await h.signUp('alice@example.org');
  bob = await h.signUp('bob@example.org');
  admin = await h.signUp('root@example.org');
  await h.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', admin.userId).execute();
  aliceImage = await uploadPhoto(alice);
  // A payment of Alice's in every state, each brought there by Stripe's events.
  for (const status of STATUSES) {
    const job = await renderJob(alice, aliceImage);
    const checkout = await openCheckout(alice, job.id);
    const session = sessionIdOf(checkout.url);
    alicePayments[status] = checkout.payment.id;
    if (status === 'paid' || status === 'refunded') await fake.complete(session);
    if (status === 'refunded') await fake.refund(session);
    if (status === 'expired') await fake.expire(session);
    if (status === 'failed') {
      await fake.complete(session, { async: true });
      await fake.asyncFailed(session);
    }
    expect((await alice.client.payments.get.query({ id: checkout.payment.id })).status).toBe(status);
  }
  const bobJob = await renderJob(bob, await uploadPhoto(bob));
  bobPayment = (await openCheckout(bob, bobJob.id)).payment.id;
});

afterAll(() => {
  expect(fake.unexpected).toEqual([]);
});

describe('administrators', () => {
  it("an administrator's own large result is free: full size from both routes, nothing to pay", async () => {
    const image = await uploadPhoto(admin);
    const job = await renderJob(admin, image);
    expect(job.hd).toEqual({ state: 'free', price: null, standard: FULL });
    const standard = await get(h, `/files/jobs/${job.id}`, admin.token);
    const hd = await get(h, `/files/jobs/${job.id}/hd`, admin.token);
    expect([standard.status, hd.status]).toEqual([200, 200]);
    expect((await sharp(standard.bytes).metadata()).width).toBe(FULL.width);
    expect(hd.bytes.equals(await storedOutput(h, job.id))).toBe(true);
    const since = fake.requests.length;
    expect(await admin.client.payments.createCheckout.mutate({ jobId: job.id })).toEqual({
      status: 'unlocked',
      reason: 'free',
    });
    expect(fake.requests.length).toBe(since);
    expect(await paymentRows(h, job.id)).toEqual([]);
  });

  it("admin.payments lists everyone's payments with the payer's email, by status and by user", async () => {
    const all = await admin.client.admin.payments.query({ limit: 100 });
    expect(all.items.map((p) => [p.id, p.userEmail, p.status]).sort()).toEqual(
      [
        ...STATUSES.map((s) => [alicePayments[s], 'alice@example.org', s]),
        [bobPayment, 'bob@example.org', 'pending'],
      ].sort(),
    );
    expect(all.nextCursor).toBeNull();
    for (const status of STATUSES) {
      const page = await admin.client.admin.payments.query({ status });
      const expected = [alicePayments[status], ...(status === 'pending' ? [bobPayment] : [])];
      expect(page.items.map((p) => p.id).sort(), status).toEqual(expected.sort());
    }
    expect((await admin.client.admin.payments.query({ userId: bob.userId })).items).toMatchObject([
      { id: bobPayment, userId: bob.userId, userEmail: 'bob@example.org', amount: 199, currency: 'usd' },
    ]);
    // A page at a time, newest first.
    const first = await admin.client.admin.payments.query({ limit: 4 });
    const rest = await admin.client.admin.payments.query({ limit: 4, cursor: first.nextCursor });
    expect([...first.items, ...rest.items].map((p) => p.id)).toEqual(all.items.map((p) => p.id));
    expect(all.items[0]!.id).toBe(bobPayment);
  });

  it('grantHd and revokeHd change the state, audited with the administrator as actor', async () => {
    const job = await renderJob(alice, aliceImage);
    expect(await admin.client.admin.grantHd.mutate({ jobId: job.id })).toEqual({
      jobId: job.id,
      unlocked: true,
    });
    expect((await alice.client.jobs.get.query({ id: job.id })).hd?.state).toBe('unlocked');
    expect((await get(h, `/files/jobs/${job.id}/hd`, alice.token)).status).toBe(200);
    expect(await alice.client.payments.createCheckout.mutate({ jobId: job.id })).toEqual({
      status: 'unlocked',
      reason: 'granted',
    });
    expect(await unlockOf(h, job.id)).toMatchObject({ hd_unlock_source: 'grant', hd_payment_id: null });

    expect(await admin.client.admin.revokeHd.mutate({ jobId: job.id })).toEqual({
      jobId: job.id,
      unlocked: false,
    });
    expect((await alice.client.jobs.get.query({ id: job.id })).hd?.state).toBe('locked');
    expect((await get(h, `/files/jobs/${job.id}/hd`, alice.token)).status).toBe(402);
    expect((await auditRows(h, job.id)).map((a) => [a.action, a.actor_id, a.details])).toEqual([
      ['hd.grant', admin.userId, expect.objectContaining({ owner: alice.userId })],
      ['hd.revoke', admin.userId, expect.objectContaining({ owner: alice.userId })],
    ]);
    expect(await failure(admin.client.admin.grantHd.mutate({ jobId: crypto.randomUUID() }))).toMatchObject({
      atelierCode: 'JOB_NOT_FOUND',
    });
  });

  it('a non-administrator gets FORBIDDEN and changes nothing', async () => {
    const job = await renderJob(alice, aliceImage);
    expect(await codeOf(alice.client.admin.payments.query({}))).toBe('FORBIDDEN');
    expect(await codeOf(alice.client.admin.grantHd.mutate({ jobId: job.id }))).toBe('FORBIDDEN');
    expect(await codeOf(bob.client.admin.grantHd.mutate({ jobId: job.id }))).toBe('FORBIDDEN');
    expect(await codeOf(alice.client.admin.revokeHd.mutate({ jobId: job.id }))).toBe('FORBIDDEN');
    expect((await alice.client.jobs.get.query({ id: job.id })).hd?.state).toBe('locked');
    expect(await auditRows(h, job.id)).toEqual([]);
  });
});

async function atelier(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      [path.join(root, 'packages/server/src/cli.ts'), ...args],
      {
        cwd: root,
        env: {
          ...process.env,
          DATABASE_URL: h.database.url,
          ATELIER_STORAGE_DIR: h.core.config.env['ATELIER_STORAGE_DIR'],
          ATELIER_PLUGIN_DIR: testPluginDir,
          ATELIER_THREADS: '1',
          ATELIER_LOG_LEVEL: 'warn',
          // As an operator runs it: with the server's free size (gc keeps copies of that size only).
          ATELIER_FREE_MAX_SIDE: String(FREE_MAX_SIDE),
        },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('atelier payments', () => {
  it('list --json prints every payment, filtered by status and user', async () => {
    const lines = (out: string) =>
      out
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { id: string; status: string; userEmail: string; amount: number });
    const all = await atelier('payments', 'list', '--json');
    expect(all.code, all.stderr).toBe(0);
    expect(
      lines(all.stdout)
        .map((p) => p.id)
        .sort(),
    ).toEqual([...Object.values(alicePayments), bobPayment].sort());
    expect(lines(all.stdout)[0]).toMatchObject({
      id: bobPayment,
      userEmail: 'bob@example.org',
      status: 'pending',
      amount: 199,
      currency: 'usd',
    });
    const paid = await atelier('payments', 'list', '--json', '--status', 'paid');
    expect(lines(paid.stdout).map((p) => [p.id, p.status])).toEqual([[alicePayments.paid, 'paid']]);
    const bobs = await atelier('payments', 'list', '--json', '--user', 'bob@example.org');
    expect(lines(bobs.stdout).map((p) => p.id)).toEqual([bobPayment]);
  });

  it('grant and revoke change the state, audited with no actor and via cli', async () => {
    const job = await renderJob(alice, aliceImage);
    const granted = await atelier('payments', 'grant', job.id);
    expect(granted.code, granted.stderr).toBe(0);
    expect(granted.stdout).toContain(`unlocked the HD result of job ${job.id}`);
    expect((await alice.client.jobs.get.query({ id: job.id })).hd?.state).toBe('unlocked');
    expect((await get(h, `/files/jobs/${job.id}/hd`, alice.token)).status).toBe(200);

    const revoked = await atelier('payments', 'revoke', job.id);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await alice.client.jobs.get.query({ id: job.id })).hd?.state).toBe('locked');
    expect((await get(h, `/files/jobs/${job.id}/hd`, alice.token)).status).toBe(402);
    expect((await auditRows(h, job.id)).map((a) => [a.action, a.actor_id, a.details])).toEqual([
      ['hd.grant', null, { owner: alice.userId, via: 'cli' }],
      ['hd.revoke', null, { owner: alice.userId, via: 'cli' }],
    ]);

    const missing = await atelier('payments', 'grant', crypto.randomUUID());
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^atelier: JOB_NOT_FOUND/m);
  });
});

describe('free copies', () => {
  it('deleting a job deletes its free copy with its result; gc sweeps copies whose result is gone', async () => {
    // A result of its own (no other job shares the file).
    const job = await renderJob(alice, aliceImage, 0.25);
    expect((await get(h, `/files/jobs/${job.id}`, alice.token)).status).toBe(200);
    const { output_key: outputKey } = await h.database.db
      .selectFrom('jobs')
      .select('output_key')
      .where('id', '=', job.id)
      .executeTakeFirstOrThrow();
    const copy = freeCopyKey(outputKey!, FREE_MAX_SIDE)!;
    expect(await h.core.storage.head(copy)).toBeDefined();
    await alice.client.jobs.delete.mutate({ id: job.id });
    expect(await h.core.storage.head(outputKey!)).toBeUndefined();
    expect(await h.core.storage.head(copy)).toBeUndefined();

    // gc: a copy whose result is gone goes (of any size), and so does one of a size no longer
    // configured (ATELIER_FREE_MAX_SIDE changed); the current copy of a result that is there stays.
    const kept = await renderJob(alice, aliceImage, 0.5);
    await get(h, `/files/jobs/${kept.id}`, alice.token);
    const { output_key: keptKey } = await h.database.db
      .selectFrom('jobs')
      .select('output_key')
      .where('id', '=', kept.id)
      .executeTakeFirstOrThrow();
    const keptCopy = freeCopyKey(keptKey!, FREE_MAX_SIDE)!;
    const keptOtherSize = freeCopyKey(keptKey!, 512)!;
    const orphan = freeCopyKey('results/ab/cd/gone.png', FREE_MAX_SIDE)!;
    const orphanOtherSize = freeCopyKey('results/ab/cd/gone.png', 1024)!;
    const png = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'red' } })
      .png()
      .toBuffer();
    for (const key of [keptOtherSize, orphan, orphanOtherSize]) await h.core.storage.put(key, png);

    const gc = await atelier('gc', '--older-than', '0');
    expect(gc.code, gc.stderr).toBe(0);
    expect(await h.core.storage.head(orphan)).toBeUndefined();
    expect(await h.core.storage.head(orphanOtherSize)).toBeUndefined();
    expect(await h.core.storage.head(keptCopy)).toBeDefined();
    expect(await h.core.storage.head(keptOtherSize)).toBeUndefined();
    expect(await h.core.storage.head(keptKey!)).toBeDefined();
    // The kept job's standard file still downloads.
    expect((await get(h, `/files/jobs/${kept.id}`, alice.token)).status).toBe(200);
  });
});

describe('payments off (no Stripe keys)', () => {
  let off: ApiHarness;
  let bea: User;
  let job: ApiJob;
  beforeAll(async () => {
    off = await startApi({ ATELIER_FREE_MAX_SIDE: '256' });
    defer(() => off.close());
    bea = await off.signUp('bea@example.org');
    job = await renderJob(bea, await uploadPhoto(bea));
  });

  it('says so in /readyz and payments.config', async () => {
    expect((await get(off, '/readyz')).json).toEqual({ ok: true, payments: 'off' });
    expect(await off.client().payments.config.query()).toEqual({
      enabled: false,
      mode: 'off',
      price: null,
      freeMaxSide: 256,
    });
  });

  it('every result is free at full size from both routes; a checkout answers free', async () => {
    expect(job.hd).toEqual({ state: 'free', price: null, standard: { width: 451, height: 300 } });
    const stored = await storedOutput(off, job.id);
    for (const route of [`/files/jobs/${job.id}`, `/files/jobs/${job.id}/hd`]) {
      const answer = await get(off, route, bea.token);
      expect(answer.status, route).toBe(200);
      expect(answer.bytes.equals(stored), route).toBe(true);
    }
    const { url } = await bea.client.jobs.downloadUrl.query({ id: job.id, variant: 'hd' });
    expect((await get(off, url)).status).toBe(200);
    expect(await bea.client.payments.createCheckout.mutate({ jobId: job.id })).toEqual({
      status: 'unlocked',
      reason: 'free',
    });
    expect(await off.database.db.selectFrom('payments').select('id').execute()).toEqual([]);
  });

  it('the webhook answers 404 PAYMENTS_DISABLED, even to a well-signed event', async () => {
    const event = fake.buildEvent('checkout.session.completed', {
      id: 'cs_test_x',
      object: 'checkout.session',
    });
    const payload = JSON.stringify(event);
    const response = await fetch(`${off.url}/webhooks/stripe`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'stripe-signature': fake.sign(payload) },
      body: payload,
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ code: 'PAYMENTS_DISABLED' });
    expect(await off.database.db.selectFrom('stripe_events').select('id').execute()).toEqual([]);
  });
});

describe('atelier serve checks the Stripe key at start-up', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'atelier-payments-serve-'));
    defer(() => rm(dir, { recursive: true, force: true }));
  });

  it('a key Stripe refuses stops it with PAYMENTS_CONFIG_INVALID', { timeout: 60_000 }, async () => {
    const stripe = await startFakeStripe({ secretKey: 'sk_test_theKeyStripeKnows01' });
    defer(() => stripe.close());
    const server = spawnServe({
      cwd: dir,
      env: serveEnv(h.database, dir, {
        STRIPE_SECRET_KEY: 'sk_test_aKeyStripeRefuses02',
        STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
        ATELIER_STRIPE_API_URL: stripe.origin,
        ATELIER_THREADS: '1',
      }),
      args: ['--no-worker'],
      defer,
    });
    const code = await server.exited;
    expect(code).not.toBe(0);
    expect(server.stdout() + server.stderr()).toMatch(
      /PAYMENTS_CONFIG_INVALID: STRIPE_SECRET_KEY was refused by Stripe/,
    );
    expect(server.stdout()).not.toMatch(/Atelier API on/);
    // It asked, with the key it was given.
    expect(stripe.requests).toMatchObject([
      {
        method: 'GET',
        path: '/v1/checkout/sessions',
        authorization: 'Bearer sk_test_aKeyStripeRefuses02',
        status: 401,
      },
    ]);
    expect(stripe.unexpected).toEqual([]);
  });

  it('a key Stripe accepts starts it in test mode', { timeout: 60_000 }, async () => {
    const stripe = await startFakeStripe();
    defer(() => stripe.close());
    const server = spawnServe({
      cwd: dir,
      env: serveEnv(h.database, dir, {
        STRIPE_SECRET_KEY: stripe.secretKey,
        STRIPE_WEBHOOK_SECRET: stripe.webhookSecret,
        ATELIER_STRIPE_API_URL: stripe.origin,
        ATELIER_THREADS: '1',
      }),
      args: ['--no-worker'],
      defer,
    });
    const url = await server.url;
    expect(server.stdout()).toMatch(
      /Payments on \(Stripe test mode\); webhook endpoint .*\/webhooks\/stripe/,
    );
    expect((await get({ url }, '/readyz')).json).toEqual({ ok: true, payments: 'test' });
    expect(stripe.requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ['GET', '/v1/checkout/sessions', 200],
    ]);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it(
    'STRIPE_SECRET_KEY without STRIPE_WEBHOOK_SECRET stops it with PAYMENTS_CONFIG_INVALID',
    { timeout: 60_000 },
    async () => {
      const server = spawnServe({
        cwd: dir,
        env: serveEnv(h.database, dir, { STRIPE_SECRET_KEY: 'sk_test_noWebhookSecret03' }),
        args: ['--no-worker'],
        defer,
      });
      expect(await server.exited).not.toBe(0);
      expect(server.stderr()).toMatch(
        /PAYMENTS_CONFIG_INVALID: STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not/,
      );
    },
  );
});
