// Paid HD end to end (issue 12, docs/payments.md): the real API on a test database with a worker,
// real photos rendered by a real job, real HTTP, and the server's real `stripe` SDK talking to the
// fake Stripe API. This file: the free and HD files, checkout (one session, what Stripe is sent,
// Stripe failing, a new attempt after expiry), paying, refunds, and another user. The webhook's
// defences are in test/payments-webhooks.test.ts; administrators, the CLI and the free copies'
// lifecycle in test/payments-operators.test.ts.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeCopyKey } from '@atelier/jobs';
import { codeOf, failure, storedKeys } from './api-harness.ts';
import { eventually } from './jobs-harness.ts';
import type { ApiHarness } from './api-harness.ts';
import { cleanupsAfterAll } from './cleanups.ts';
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
import type { FakeStripe, RecordedRequest } from './stripe/fake-stripe.ts';

const defer = cleanupsAfterAll();
const PRICE = { amount: 199, currency: 'usd' };
// chelsea.png is 451×300; fitted inside 256 px it is 256×170.
const FULL = { width: 451, height: 300 };
const STANDARD = { width: FREE_MAX_SIDE, height: 170 };

let h: ApiHarness;
let fake: FakeStripe;
let alice: User;
let bob: User;
let admin: User;
let aliceImage: string;

beforeAll(async () => {
  ({ h, fake } = await startPaymentsApi(defer));
  alice = await h.signUp('alice@example.org');
  bob = await h.signUp('bob@example.org');
  admin = await h.signUp('root@example.org');
  await h.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', admin.userId).execute();
  aliceImage = await uploadPhoto(alice);
});

afterAll(() => {
  // The server called only the endpoints the fake implements.
  expect(fake.unexpected).toEqual([]);
});

const sessionPosts = (since: number): RecordedRequest[] =>
  fake.requests.slice(since).filter((r) => r.method === 'POST' && r.path === '/v1/checkout/sessions');
const sessionsOfJob = (jobId: string) => fake.sessions().filter((s) => s.metadata?.['job_id'] === jobId);

describe('before payment: the standard file is free, the HD file is locked', () => {
  let job: ApiJob;
  beforeAll(async () => {
    job = await renderJob(alice, aliceImage);
  });

  it('the job view says locked, with the price and the standard size', async () => {
    expect(job.output).toMatchObject({ ...FULL, format: 'png' });
    expect(job.hd).toEqual({ state: 'locked', price: PRICE, standard: STANDARD });
    const listed = await alice.client.jobs.list.query({});
    expect(listed.items.find((j) => j.id === job.id)?.hd).toEqual(job.hd);
  });

  it('/files/jobs/:id is a copy of the result fitted inside the free size, stored under free/', async () => {
    const first = await get(h, `/files/jobs/${job.id}`, alice.token);
    expect(first.status).toBe(200);
    expect(first.type).toBe('image/png');
    const meta = await sharp(first.bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', STANDARD.width, STANDARD.height]);
    expect(Math.max(meta.width, meta.height)).toBe(FREE_MAX_SIDE);
    // The same picture as the result, downscaled: compare with sharp's own downscale of it.
    const expected = await sharp(await storedOutput(h, job.id))
      .resize(STANDARD.width, STANDARD.height, { fit: 'fill' })
      .raw()
      .toBuffer();
    const actual = await sharp(first.bytes).raw().toBuffer();
    expect(actual.length).toBe(expected.length);
    let diff = 0;
    for (let i = 0; i < actual.length; i++) diff += Math.abs(actual[i]! - expected[i]!);
    expect(diff / actual.length).toBeLessThan(3);

    const row = await h.database.db
      .selectFrom('jobs')
      .select('output_key')
      .where('id', '=', job.id)
      .executeTakeFirstOrThrow();
    expect(await storedKeys(h, 'free/')).toContain(freeCopyKey(row.output_key!, FREE_MAX_SIDE));
    // Made once: a second download sends the stored copy.
    expect((await get(h, `/files/jobs/${job.id}`, alice.token)).bytes.equals(first.bytes)).toBe(true);
  });

  it('/files/jobs/:id/hd answers 402 PAYMENT_REQUIRED with the price', async () => {
    const hd = await get(h, `/files/jobs/${job.id}/hd`, alice.token);
    expect(hd.status).toBe(402);
    expect(hd.json).toMatchObject({ code: 'PAYMENT_REQUIRED', details: { jobId: job.id, price: PRICE } });
    expect(hd.json?.['message']).toMatch(/\$1\.99/);
  });

  it("jobs.downloadUrl signs the standard file, and refuses variant 'hd' with PAYMENT_REQUIRED", async () => {
    const error = await failure(alice.client.jobs.downloadUrl.query({ id: job.id, variant: 'hd' }));
    expect(error).toMatchObject({
      httpStatus: 402,
      atelierCode: 'PAYMENT_REQUIRED',
      details: { jobId: job.id, price: PRICE },
    });
    const { url } = await alice.client.jobs.downloadUrl.query({ id: job.id });
    expect(url).toMatch(new RegExp(`^/files/jobs/${job.id}\\?`));
    const signed = await get(h, url);
    expect(signed.status).toBe(200);
    expect((await sharp(signed.bytes).metadata()).width).toBe(STANDARD.width);
  });

  it('payments.config says paid HD, test mode, the price and the free size; /readyz says test', async () => {
    expect(await h.client().payments.config.query()).toEqual({
      enabled: true,
      mode: 'test',
      price: PRICE,
      freeMaxSide: FREE_MAX_SIDE,
    });
    expect((await get(h, '/readyz')).json).toEqual({ ok: true, payments: 'test' });
  });
});

describe('checkout: one session per job, made as Stripe expects', () => {
  for (const calls of [2, 5]) {
    it(`${calls} concurrent createCheckout calls make one session and one pending row, the same URL to all`, async () => {
      const job = await renderJob(alice, aliceImage);
      const since = fake.requests.length;
      const answers = await Promise.all(
        Array.from({ length: calls }, () => alice.client.payments.createCheckout.mutate({ jobId: job.id })),
      );
      const urls = new Set(answers.map((a) => (a.status === 'open' ? a.url : a.status)));
      expect(urls.size).toBe(1);
      const [url] = [...urls];
      expect(url).toMatch(new RegExp(`^${fake.origin}/c/pay/cs_test_`));

      // One session at Stripe, however many requests reached it.
      const sessions = sessionsOfJob(job.id);
      expect(sessions.map((s) => s.url)).toEqual([url]);
      const posts = sessionPosts(since);
      expect(posts.length).toBeGreaterThanOrEqual(1);
      const rows = await paymentRows(h, job.id);
      expect(rows).toHaveLength(1);
      const [row] = rows;
      expect(row).toMatchObject({
        status: 'pending',
        attempt: 1,
        amount: 199,
        currency: 'usd',
        user_id: alice.userId,
        stripe_session_id: sessions[0]!.id,
        checkout_url: url,
        idempotency_key: `atelier-hd-${alice.userId}-${job.id}-1`,
      });
      for (const answer of answers)
        expect(answer).toMatchObject({
          status: 'open',
          payment: {
            id: row!.id,
            jobId: job.id,
            status: 'pending',
            amount: 199,
            currency: 'usd',
            checkoutUrl: url,
          },
        });

      // What every request to Stripe carried: the key, the idempotency key, a form body.
      const metadata = { payment_id: row!.id, job_id: job.id, user_id: alice.userId };
      for (const post of posts) {
        expect(post).toMatchObject({
          authorization: `Bearer ${fake.secretKey}`,
          idempotencyKey: `atelier-hd-${alice.userId}-${job.id}-1`,
          contentType: 'application/x-www-form-urlencoded',
          status: 200,
        });
        expect(post.body).toMatchObject({
          mode: 'payment',
          line_items: [
            {
              quantity: '1',
              price_data: { currency: 'usd', unit_amount: '199', product_data: { name: expect.any(String) } },
            },
          ],
          success_url: `${h.url}/gallery/${job.id}?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
          cancel_url: `${h.url}/gallery/${job.id}?checkout=cancelled`,
          client_reference_id: row!.id,
          metadata,
          payment_intent_data: { metadata },
        });
      }

      // Coming back later: the same page, without asking Stripe again.
      const after = fake.requests.length;
      const again = await alice.client.payments.createCheckout.mutate({ jobId: job.id });
      expect(again).toMatchObject({ status: 'open', url, payment: { id: row!.id } });
      expect(sessionPosts(after)).toEqual([]);
    });
  }

  it('Stripe failing answers PAYMENT_PROVIDER_FAILED (503); the retry is the same row, key and session', async () => {
    const job = await renderJob(alice, aliceImage);
    const since = fake.requests.length;
    // The SDK retries a 500 twice itself: three failures make the call fail.
    fake.failNext({ status: 500 }, 3);
    const error = await failure(alice.client.payments.createCheckout.mutate({ jobId: job.id }));
    expect(error).toMatchObject({ httpStatus: 503, atelierCode: 'PAYMENT_PROVIDER_FAILED' });
    const [pending] = await paymentRows(h, job.id);
    expect(pending).toMatchObject({ status: 'pending', stripe_session_id: null, checkout_url: null });
    expect(sessionPosts(since).map((r) => r.status)).toEqual([500, 500, 500]);

    const retry = await openCheckout(alice, job.id);
    expect(retry.payment.id).toBe(pending!.id);
    const posts = sessionPosts(since);
    expect(posts.map((r) => r.status)).toEqual([500, 500, 500, 200]);
    expect(new Set(posts.map((r) => r.idempotencyKey))).toEqual(
      new Set([`atelier-hd-${alice.userId}-${job.id}-1`]),
    );
    expect(sessionsOfJob(job.id)).toHaveLength(1);
    expect(await paymentRows(h, job.id)).toMatchObject([
      { id: pending!.id, status: 'pending', stripe_session_id: sessionIdOf(retry.url) },
    ]);
  });

  it('after Stripe expires the session, a new checkout is attempt 2 with a new session; the old row stays expired', async () => {
    const job = await renderJob(alice, aliceImage);
    const first = await openCheckout(alice, job.id);
    const expired = await fake.expire(sessionIdOf(first.url));
    expect(expired).toMatchObject({ status: 200, body: { received: true, outcome: 'expired' } });
    expect(await alice.client.payments.get.query({ id: first.payment.id })).toMatchObject({
      status: 'expired',
      checkoutUrl: null,
      settledAt: expect.any(String),
    });
    expect((await alice.client.jobs.get.query({ id: job.id })).hd?.state).toBe('locked');

    const since = fake.requests.length;
    const second = await openCheckout(alice, job.id);
    expect(second.url).not.toBe(first.url);
    expect(second.payment.id).not.toBe(first.payment.id);
    expect(sessionPosts(since).map((r) => r.idempotencyKey)).toEqual([
      `atelier-hd-${alice.userId}-${job.id}-2`,
    ]);
    expect(await paymentRows(h, job.id)).toMatchObject([
      { id: first.payment.id, attempt: 1, status: 'expired', stripe_session_id: sessionIdOf(first.url) },
      { id: second.payment.id, attempt: 2, status: 'pending', stripe_session_id: sessionIdOf(second.url) },
    ]);
  });

  it('an unknown job is JOB_NOT_FOUND, and nothing is asked of Stripe', async () => {
    const since = fake.requests.length;
    expect(
      (await failure(alice.client.payments.createCheckout.mutate({ jobId: crypto.randomUUID() })))
        .atelierCode,
    ).toBe('JOB_NOT_FOUND');
    expect(fake.requests.length).toBe(since);
  });
});

describe('pay → webhook → HD', () => {
  let job: ApiJob;
  let paymentId: string;

  it('the completed event unlocks: HD downloads at full size, the payment is paid, the unlock audited', async () => {
    job = await renderJob(alice, aliceImage);
    const checkout = await openCheckout(alice, job.id);
    paymentId = checkout.payment.id;
    // Not before the event: the return URL proves nothing.
    expect((await get(h, `/files/jobs/${job.id}/hd`, alice.token)).status).toBe(402);

    const delivery = await fake.complete(sessionIdOf(checkout.url));
    expect(delivery).toMatchObject({ status: 200, body: { received: true, outcome: 'unlocked' } });

    const view = await alice.client.jobs.get.query({ id: job.id });
    expect(view.hd).toEqual({ state: 'unlocked', price: null, standard: STANDARD });
    const hd = await get(h, `/files/jobs/${job.id}/hd`, alice.token);
    expect(hd.status).toBe(200);
    expect(hd.type).toBe('image/png');
    expect(hd.bytes.equals(await storedOutput(h, job.id))).toBe(true);
    const meta = await sharp(hd.bytes).metadata();
    expect([meta.width, meta.height]).toEqual([FULL.width, FULL.height]);
    // The standard file stays the standard size.
    expect((await sharp((await get(h, `/files/jobs/${job.id}`, alice.token)).bytes).metadata()).width).toBe(
      STANDARD.width,
    );
    // A signed HD URL works too, without a session.
    const { url } = await alice.client.jobs.downloadUrl.query({ id: job.id, variant: 'hd' });
    expect(url).toMatch(new RegExp(`^/files/jobs/${job.id}/hd\\?`));
    const signed = await get(h, url);
    expect(signed.status).toBe(200);
    expect(signed.bytes.equals(hd.bytes)).toBe(true);

    const payment = await alice.client.payments.get.query({ id: paymentId });
    expect(payment).toMatchObject({
      id: paymentId,
      jobId: job.id,
      status: 'paid',
      amount: 199,
      currency: 'usd',
      checkoutUrl: null,
      settledAt: expect.any(String),
    });
    const listed = await alice.client.payments.list.query({});
    expect(listed.items.find((p) => p.id === paymentId)).toEqual(payment);
    expect(await unlockOf(h, job.id)).toMatchObject({
      hd_unlock_source: 'payment',
      hd_payment_id: paymentId,
    });
    expect(
      (await auditRows(h, job.id)).map((a) => ({ action: a.action, actor: a.actor_id, details: a.details })),
    ).toEqual([
      {
        action: 'hd.unlock',
        actor: null,
        details: { via: 'stripe', payment: paymentId, amount: 199, currency: 'usd' },
      },
    ]);
    // Nothing more to pay.
    expect(await alice.client.payments.createCheckout.mutate({ jobId: job.id })).toEqual({
      status: 'unlocked',
      reason: 'paid',
    });
  });

  it('a partial refund changes nothing; a full refund locks the job again', async () => {
    const sessionId = (await paymentRows(h, job.id))[0]!.stripe_session_id!;
    const partial = await fake.refund(sessionId, { amount: 50 });
    expect(partial).toMatchObject({ status: 200, body: { received: true, outcome: 'partial-refund' } });
    expect((await alice.client.jobs.get.query({ id: job.id })).hd?.state).toBe('unlocked');
    expect((await alice.client.payments.get.query({ id: paymentId })).status).toBe('paid');
    expect((await get(h, `/files/jobs/${job.id}/hd`, alice.token)).status).toBe(200);
    // An HD URL signed while unlocked...
    const { url } = await alice.client.jobs.downloadUrl.query({ id: job.id, variant: 'hd' });

    const full = await fake.refund(sessionId);
    expect(full).toMatchObject({ status: 200, body: { received: true, outcome: 'refunded-locked' } });
    expect((await alice.client.jobs.get.query({ id: job.id })).hd).toEqual({
      state: 'locked',
      price: PRICE,
      standard: STANDARD,
    });
    const hd = await get(h, `/files/jobs/${job.id}/hd`, alice.token);
    expect(hd.status).toBe(402);
    expect(hd.json).toMatchObject({ code: 'PAYMENT_REQUIRED' });
    // ...stops working: the state is asked on each request.
    expect((await get(h, url)).status).toBe(402);
    expect((await get(h, `/files/jobs/${job.id}`, alice.token)).status).toBe(200);
    expect(await alice.client.payments.get.query({ id: paymentId })).toMatchObject({ status: 'refunded' });
    expect(await unlockOf(h, job.id)).toEqual({
      hd_unlocked_at: null,
      hd_unlock_source: null,
      hd_payment_id: null,
    });
    expect((await auditRows(h, job.id)).map((a) => [a.action, a.actor_id, a.details])).toEqual([
      ['hd.unlock', null, expect.objectContaining({ payment: paymentId })],
      ['hd.lock', null, { via: 'stripe', payment: paymentId, reason: 'refunded' }],
    ]);
  });
});

describe('never two charges for one image', () => {
  it("a grant closes the job's open checkout at Stripe: it can no longer be paid", async () => {
    const job = await renderJob(alice, aliceImage);
    const checkout = await openCheckout(alice, job.id);
    const sessionId = sessionIdOf(checkout.url);
    await admin.client.admin.grantHd.mutate({ jobId: job.id });
    expect(fake.session(sessionId)?.status).toBe('expired');
    expect(await alice.client.payments.get.query({ id: checkout.payment.id })).toMatchObject({
      status: 'expired',
      checkoutUrl: null,
      failureReason: 'Closed: the job was unlocked.',
    });
    await expect(fake.complete(sessionId)).rejects.toThrow();
    // Stripe's own `expired` event for the closed session changes nothing more.
    await eventually(
      async () =>
        fake.deliveries.some((d) => d.event?.type === 'checkout.session.expired') ? true : undefined,
      5000,
      'the expired event',
    );
    expect((await alice.client.payments.get.query({ id: checkout.payment.id })).status).toBe('expired');
    expect((await alice.client.jobs.get.query({ id: job.id })).hd?.state).toBe('unlocked');
  });

  it('a payment that unlocked nothing (the job was granted meanwhile) is refunded automatically', async () => {
    const job = await renderJob(alice, aliceImage);
    const checkout = await openCheckout(alice, job.id);
    const sessionId = sessionIdOf(checkout.url);
    // Stripe does not close it (down for a moment): the page stays open and gets paid.
    fake.failNext({ status: 400, type: 'invalid_request_error', message: 'No.' });
    await admin.client.admin.grantHd.mutate({ jobId: job.id });
    const refundsBefore = fake.refunds.length;
    expect((await fake.complete(sessionId)).body).toMatchObject({ outcome: 'paid-already-unlocked' });
    expect(fake.refunds.slice(refundsBefore)).toEqual([
      {
        paymentIntent: fake.session(sessionId)!.payment_intent,
        amount: 199,
        metadata: { payment_id: checkout.payment.id },
      },
    ]);
    // The refund's own charge.refunded event settles the payment; the granted job stays unlocked.
    const refunded = await eventually(
      async () => {
        const p = await alice.client.payments.get.query({ id: checkout.payment.id });
        return p.status === 'refunded' ? p : undefined;
      },
      5000,
      'the refund to be settled',
    );
    expect(refunded.failureReason).toBe('Refunded automatically: the job was already unlocked.');
    expect(await unlockOf(h, job.id)).toMatchObject({ hd_unlock_source: 'grant', hd_payment_id: null });
    expect((await get(h, `/files/jobs/${job.id}/hd`, alice.token)).status).toBe(200);
    // The payment unlocked nothing, so nothing of it is in the audit log (its row records it).
    expect((await auditRows(h, job.id)).map((a) => a.action)).toEqual(['hd.grant']);
  });

  it('the same image in another job of the owner unlocks without a second checkout; a refund locks both', async () => {
    const first = await renderJob(alice, aliceImage, 0.125);
    const checkout = await openCheckout(alice, first.id);
    const sessionId = sessionIdOf(checkout.url);
    await fake.complete(sessionId);
    // The same photo and plan again: the result cache's file, a job of its own, locked.
    const again = await renderJob(alice, aliceImage, 0.125);
    expect(again.hd?.state).toBe('locked');
    const posts = fake.requests.length;
    expect(await alice.client.payments.createCheckout.mutate({ jobId: again.id })).toEqual({
      status: 'unlocked',
      reason: 'paid',
    });
    expect(fake.requests.slice(posts)).toEqual([]);
    expect((await get(h, `/files/jobs/${again.id}/hd`, alice.token)).status).toBe(200);
    expect(await paymentRows(h, again.id)).toEqual([]);
    // Another user's job on the same photo and plan is theirs: they pay for theirs.
    const carol = await h.signUp('carol@example.org');
    const carolJob = await renderJob(carol, await uploadPhoto(carol), 0.125);
    expect((await carol.client.payments.createCheckout.mutate({ jobId: carolJob.id })).status).toBe('open');
    const refund = await fake.refund(sessionId);
    expect(refund.body).toMatchObject({ outcome: 'refunded-locked' });
    expect({
      first: (await alice.client.jobs.get.query({ id: first.id })).hd?.state,
      again: (await alice.client.jobs.get.query({ id: again.id })).hd?.state,
    }).toEqual({ first: 'locked', again: 'locked' });
  });
});

describe("another user and A's job", () => {
  it("B cannot open a checkout for, see the payments of, or download A's job", async () => {
    const job = await renderJob(alice, aliceImage);
    const checkout = await openCheckout(alice, job.id);
    const standardUrl = (await alice.client.jobs.downloadUrl.query({ id: job.id })).url;
    await fake.complete(sessionIdOf(checkout.url));
    const hdUrl = (await alice.client.jobs.downloadUrl.query({ id: job.id, variant: 'hd' })).url;

    const b = bob.client;
    expect(await failure(b.payments.createCheckout.mutate({ jobId: job.id }))).toMatchObject({
      code: 'NOT_FOUND',
      atelierCode: 'JOB_NOT_FOUND',
    });
    expect(await failure(b.payments.get.query({ id: checkout.payment.id }))).toMatchObject({
      code: 'NOT_FOUND',
      atelierCode: 'PAYMENT_NOT_FOUND',
    });
    expect((await b.payments.list.query({ limit: 100 })).items).toEqual([]);
    expect(await codeOf(b.jobs.downloadUrl.query({ id: job.id, variant: 'hd' }))).toBe('NOT_FOUND');
    expect(await codeOf(b.jobs.downloadUrl.query({ id: job.id }))).toBe('NOT_FOUND');
    const stripped = (url: string) => url.split('?')[0]!;
    for (const path of [
      `/files/jobs/${job.id}`,
      `/files/jobs/${job.id}/hd`,
      stripped(standardUrl),
      stripped(hdUrl),
      // A's signed URL without its signature.
      standardUrl.replace(/&?sig=[^&]*/, ''),
      hdUrl.replace(/&?sig=[^&]*/, ''),
    ]) {
      const answer = await get(h, path, bob.token);
      expect(answer.status, path).toBe(404);
      expect(answer.json?.['code'], path).toBe('JOB_NOT_FOUND');
    }
    expect(
      await h.database.db.selectFrom('payments').select('id').where('user_id', '=', bob.userId).execute(),
    ).toEqual([]);
    // A still has it all.
    expect((await get(h, `/files/jobs/${job.id}/hd`, alice.token)).status).toBe(200);
    expect((await get(h, hdUrl)).status).toBe(200);
  });
});
