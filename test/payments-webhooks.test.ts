// Paid HD's webhook, POST /webhooks/stripe, against the real API (test database, worker, real
// photos) and the fake Stripe API: forged and stale signatures, duplicates sequential and
// concurrent, events out of order, delayed payments, oversized bodies, sessions Atelier did not
// make, amounts that do not match, a job deleted before its payment.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiHarness } from './api-harness.ts';
import { cleanupsAfterAll } from './cleanups.ts';
import { eventually } from './jobs-harness.ts';
import {
  auditRows,
  get,
  heldEvents,
  openCheckout,
  paymentRows,
  renderJob,
  sessionIdOf,
  startPaymentsApi,
  storedOutput,
  stripeEventRows,
  unlockOf,
  uploadPhoto,
} from './payments-harness.ts';
import type { ApiJob, User } from './payments-harness.ts';
import type { FakeCheckoutSession, FakeEvent, FakeStripe } from './stripe/fake-stripe.ts';

const defer = cleanupsAfterAll();

let h: ApiHarness;
let fake: FakeStripe;
let alice: User;
let image: string;

beforeAll(async () => {
  ({ h, fake } = await startPaymentsApi(defer));
  alice = await h.signUp('alice@example.org');
  image = await uploadPhoto(alice);
});

afterAll(() => {
  expect(fake.unexpected).toEqual([]);
});

/** A rendered job of Alice's with an open checkout. */
async function jobWithCheckout(): Promise<{ job: ApiJob; sessionId: string; paymentId: string }> {
  const job = await renderJob(alice, image);
  const checkout = await openCheckout(alice, job.id);
  return { job, sessionId: sessionIdOf(checkout.url), paymentId: checkout.payment.id };
}

/** What Alice and the database see of a job's HD: its state, HD download, payments, audit. */
async function hdOf(jobId: string) {
  const [view, hd, payments, audit] = await Promise.all([
    alice.client.jobs.get.query({ id: jobId }),
    get(h, `/files/jobs/${jobId}/hd`, alice.token),
    paymentRows(h, jobId),
    auditRows(h, jobId),
  ]);
  return {
    state: view.hd?.state,
    hdStatus: hd.status,
    payments: payments.map((p) => p.status),
    audit: audit.map((a) => a.action),
  };
}

const LOCKED_PENDING = { state: 'locked', hdStatus: 402, payments: ['pending'], audit: [] };
const UNLOCKED_PAID = { state: 'unlocked', hdStatus: 200, payments: ['paid'], audit: ['hd.unlock'] };

const countPayments = async (): Promise<number> =>
  Number(
    (
      await h.database.db
        .selectFrom('payments')
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirstOrThrow()
    ).n,
  );

/** POSTs `body` to the webhook with `headers`, as anyone on the internet can. */
async function post(body: string | Buffer | ReadableStream<Uint8Array>, headers: Record<string, string>) {
  const init: RequestInit & { duplex?: 'half' } = {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  };
  if (body instanceof ReadableStream) init.duplex = 'half';
  const response = await fetch(`${h.url}/webhooks/stripe`, init);
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

describe('signatures', () => {
  it('a forged signature, a tampered body or none is 400 WEBHOOK_SIGNATURE_INVALID and changes nothing', async () => {
    const { job, sessionId } = await jobWithCheckout();
    const [completed] = await heldEvents(h, fake, () => fake.complete(sessionId));
    const payload = JSON.stringify(completed, null, 2);
    const tampered = payload.replace('"amount_total": 199', '"amount_total": 1');
    expect(tampered).not.toBe(payload);
    const attempts = [
      { payload, header: fake.sign(payload, { secret: 'whsec_forgedByAnAttacker0123' }) },
      { payload: tampered, header: fake.sign(payload) },
      { payload, header: '' },
      { payload, header: 't=1,v1=00' },
    ];
    for (const { payload: body, header } of attempts) {
      const answer = await fake.deliver(body, { header });
      expect(answer.status, header).toBe(400);
      expect(answer.body).toMatchObject({ code: 'WEBHOOK_SIGNATURE_INVALID' });
    }
    // No header at all.
    expect(await post(payload, {})).toMatchObject({
      status: 400,
      json: { code: 'WEBHOOK_SIGNATURE_INVALID' },
    });
    expect(await stripeEventRows(h, [completed!.id])).toEqual([]);
    expect(await hdOf(job.id)).toEqual(LOCKED_PENDING);

    // The genuine event, signed now, goes through: it was only the signatures.
    expect(await fake.deliver(completed!)).toMatchObject({ status: 200, body: { outcome: 'unlocked' } });
    expect(await hdOf(job.id)).toEqual(UNLOCKED_PAID);
  });

  it('a signature older than 300 s is refused (400) and changes nothing', async () => {
    const { job, sessionId } = await jobWithCheckout();
    const [completed] = await heldEvents(h, fake, () => fake.complete(sessionId));
    const payload = JSON.stringify(completed, null, 2);
    const stale = await fake.deliver(payload, {
      header: fake.sign(payload, { timestamp: Math.floor(Date.now() / 1000) - 600 }),
    });
    expect(stale.status).toBe(400);
    expect(stale.body).toMatchObject({
      code: 'WEBHOOK_SIGNATURE_INVALID',
      message: expect.stringMatching(/300 s/),
    });
    expect(await stripeEventRows(h, [completed!.id])).toEqual([]);
    expect(await hdOf(job.id)).toEqual(LOCKED_PENDING);
  });
});

describe('the raw body', () => {
  it('is verified as sent, whatever its Content-Type', async () => {
    const { job, sessionId } = await jobWithCheckout();
    const [completed] = await heldEvents(h, fake, () => fake.complete(sessionId));
    // Compact, not the fake's pretty-printed JSON: the very bytes are signed, not a re-serialisation.
    const payload = JSON.stringify(completed);
    const header = fake.sign(payload);
    const send = (headers: Record<string, string>) =>
      fetch(`${h.url}/webhooks/stripe`, {
        method: 'POST',
        headers: { 'stripe-signature': header, ...headers },
        // Bytes: fetch gives them no Content-Type of its own.
        body: Buffer.from(payload),
      });
    const plain = await send({ 'content-type': 'text/plain' });
    expect([plain.status, await plain.json()]).toEqual([200, { received: true, outcome: 'unlocked' }]);
    const untyped = await send({});
    expect([untyped.status, await untyped.json()]).toEqual([200, { received: true, outcome: 'duplicate' }]);
    expect(await hdOf(job.id)).toEqual(UNLOCKED_PAID);
  });
});

describe('the same event many times', () => {
  it('delivered 5 times one after another: one unlock, one stored event, one audit entry, no new row', async () => {
    const { job, sessionId } = await jobWithCheckout();
    const rowsBefore = await countPayments();
    const [completed] = await heldEvents(h, fake, () => fake.complete(sessionId));
    const outcomes: unknown[] = [];
    for (let i = 0; i < 5; i++) outcomes.push((await fake.deliver(completed!)).body);
    expect(outcomes).toEqual([
      { received: true, outcome: 'unlocked' },
      ...Array.from({ length: 4 }, () => ({ received: true, outcome: 'duplicate' })),
    ]);
    expect(await stripeEventRows(h, [completed!.id])).toMatchObject([
      { id: completed!.id, type: 'checkout.session.completed', object_id: sessionId, outcome: 'unlocked' },
    ]);
    expect(await hdOf(job.id)).toEqual(UNLOCKED_PAID);
    expect(await countPayments()).toBe(rowsBefore);
  });

  it('delivered 5 times at once: one unlock, one stored event, one audit entry, no new row', async () => {
    const { job, sessionId } = await jobWithCheckout();
    const rowsBefore = await countPayments();
    const [completed] = await heldEvents(h, fake, () => fake.complete(sessionId));
    const answers = await Promise.all(Array.from({ length: 5 }, () => fake.deliver(completed!)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((a) => (a.body as { outcome: string }).outcome).sort()).toEqual([
      'duplicate',
      'duplicate',
      'duplicate',
      'duplicate',
      'unlocked',
    ]);
    expect(await stripeEventRows(h, [completed!.id])).toHaveLength(1);
    expect(await hdOf(job.id)).toEqual(UNLOCKED_PAID);
    expect(await countPayments()).toBe(rowsBefore);
  });
});

describe('events out of order', () => {
  it('expired after completed: stays paid and unlocked', async () => {
    const { job, sessionId } = await jobWithCheckout();
    await fake.complete(sessionId);
    const expired = fake.buildEvent('checkout.session.expired', {
      ...fake.session(sessionId)!,
      status: 'expired' as const,
      url: null,
    });
    expect(await fake.deliver(expired)).toMatchObject({ status: 200, body: { outcome: 'already-paid' } });
    expect(await hdOf(job.id)).toEqual(UNLOCKED_PAID);
  });

  it('a refund before its completed event: refunded and locked at the end, never unlocked', async () => {
    const { job, sessionId, paymentId } = await jobWithCheckout();
    const [completed, refunded] = await heldEvents(h, fake, async () => {
      await fake.complete(sessionId);
      await fake.refund(sessionId);
    });
    expect([completed?.type, refunded?.type]).toEqual(['checkout.session.completed', 'charge.refunded']);

    expect(await fake.deliver(refunded!)).toMatchObject({ status: 200, body: { outcome: 'deferred' } });
    expect(await hdOf(job.id)).toEqual(LOCKED_PENDING);
    expect(await fake.deliver(completed!)).toMatchObject({
      status: 200,
      body: { outcome: 'paid-then-refunded' },
    });
    expect(await hdOf(job.id)).toEqual({ state: 'locked', hdStatus: 402, payments: ['refunded'], audit: [] });
    expect(await unlockOf(h, job.id)).toEqual({
      hd_unlocked_at: null,
      hd_unlock_source: null,
      hd_payment_id: null,
    });
    expect(await alice.client.payments.get.query({ id: paymentId })).toMatchObject({ status: 'refunded' });
    // Delivered again, neither changes anything.
    expect((await fake.deliver(completed!)).body).toMatchObject({ outcome: 'duplicate' });
    expect((await fake.deliver(refunded!)).body).toMatchObject({ outcome: 'duplicate' });
    expect(await hdOf(job.id)).toEqual({ state: 'locked', hdStatus: 402, payments: ['refunded'], audit: [] });
  });

  it('a refund and its completed event arriving at the same moment never leave the job unlocked', async () => {
    // Ten payments, each with its refund and its completion delivered at once.
    const cases: { job: ApiJob; completed: FakeEvent; refunded: FakeEvent }[] = [];
    for (let i = 0; i < 10; i++) {
      const { job, sessionId } = await jobWithCheckout();
      const [completed, refunded] = await heldEvents(h, fake, async () => {
        await fake.complete(sessionId);
        await fake.refund(sessionId);
      });
      cases.push({ job, completed: completed!, refunded: refunded! });
    }
    await Promise.all(cases.flatMap((c) => [fake.deliver(c.refunded), fake.deliver(c.completed)]));
    for (const { job } of cases) {
      const state = await hdOf(job.id);
      expect(state, job.id).toMatchObject({ state: 'locked', hdStatus: 402, payments: ['refunded'] });
      // Either order is right: never unlocked, or unlocked then locked again. (The audit log's
      // created_at is its transaction's start, and the later event's transaction may have started
      // first, waiting for the lock: compare the entries, not their order.)
      expect([[], ['hd.lock', 'hd.unlock']], job.id).toContainEqual(state.audit.toSorted());
    }
  });

  it('a delayed payment: completed unpaid stays pending and locked, async_payment_succeeded unlocks', async () => {
    const { job, sessionId } = await jobWithCheckout();
    expect(await fake.complete(sessionId, { async: true })).toMatchObject({
      status: 200,
      body: { outcome: 'awaiting-payment' },
    });
    expect(await hdOf(job.id)).toEqual(LOCKED_PENDING);
    expect((await paymentRows(h, job.id))[0]!.stripe_payment_intent_id).toMatch(/^pi_/);
    expect(await fake.asyncSucceeded(sessionId)).toMatchObject({
      status: 200,
      body: { outcome: 'unlocked' },
    });
    expect(await hdOf(job.id)).toEqual(UNLOCKED_PAID);
    const hd = await get(h, `/files/jobs/${job.id}/hd`, alice.token);
    expect(hd.bytes.equals(await storedOutput(h, job.id))).toBe(true);
  });

  it('async_payment_succeeded before its completed (unpaid) event: stays paid', async () => {
    const { job, sessionId } = await jobWithCheckout();
    const [completed, succeeded] = await heldEvents(h, fake, async () => {
      await fake.complete(sessionId, { async: true });
      await fake.asyncSucceeded(sessionId);
    });
    expect((await fake.deliver(succeeded!)).body).toMatchObject({ outcome: 'unlocked' });
    expect((await fake.deliver(completed!)).body).toMatchObject({ outcome: 'already-paid' });
    expect(await hdOf(job.id)).toEqual(UNLOCKED_PAID);
  });

  it('a delayed payment that fails: failed, locked; the next checkout is a new attempt', async () => {
    const { job, sessionId, paymentId } = await jobWithCheckout();
    await fake.complete(sessionId, { async: true });
    expect(await fake.asyncFailed(sessionId)).toMatchObject({ status: 200, body: { outcome: 'failed' } });
    expect(await hdOf(job.id)).toEqual({ state: 'locked', hdStatus: 402, payments: ['failed'], audit: [] });
    expect(await alice.client.payments.get.query({ id: paymentId })).toMatchObject({
      status: 'failed',
      settledAt: expect.any(String),
      checkoutUrl: null,
    });
    const again = await openCheckout(alice, job.id);
    expect(sessionIdOf(again.url)).not.toBe(sessionId);
    expect((await paymentRows(h, job.id)).map((p) => [p.attempt, p.status])).toEqual([
      [1, 'failed'],
      [2, 'pending'],
    ]);
  });
});

describe('what must never unlock', () => {
  it('a body over 1 MiB is 413 BODY_TOO_LARGE, by its length or as it streams', async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
    const signature = fake.sign(big.toString('utf8'));
    expect(await post(big, { 'stripe-signature': signature })).toMatchObject({
      status: 413,
      json: { code: 'BODY_TOO_LARGE' },
    });
    // Without a Content-Length: counted as it arrives.
    const chunks = [Buffer.alloc(512 * 1024, 0x20), Buffer.alloc(512 * 1024, 0x20), Buffer.from(' ')];
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    expect(await post(stream, { 'stripe-signature': signature })).toMatchObject({
      status: 413,
      json: { code: 'BODY_TOO_LARGE' },
    });
    // At exactly 1 MiB the body is read, and its signature checked.
    const limit = Buffer.alloc(1024 * 1024, 0x20);
    expect(await post(limit, { 'stripe-signature': fake.sign('not this body') })).toMatchObject({
      status: 400,
      json: { code: 'WEBHOOK_SIGNATURE_INVALID' },
    });
  });

  it('a session Atelier did not make: 200, nothing unlocked, even when its metadata names a real job', async () => {
    const { job, sessionId, paymentId } = await jobWithCheckout();
    const session = fake.session(sessionId)!;
    const foreign = (overrides: Partial<FakeCheckoutSession>): FakeEvent =>
      fake.buildEvent('checkout.session.completed', {
        ...session,
        status: 'complete' as const,
        payment_status: 'paid' as const,
        payment_intent: 'pi_foreign0123456789',
        url: null,
        ...overrides,
      });
    const events = [
      // Made elsewhere (`stripe trigger`, another app on the account).
      foreign({ id: 'cs_test_notAtelier0001', metadata: {} }),
      // Naming Alice's job and her payment row, which already has its own session.
      foreign({
        id: 'cs_test_notAtelier0002',
        metadata: { payment_id: paymentId, job_id: job.id, user_id: alice.userId },
      }),
      // Naming a payment row that does not exist.
      foreign({
        id: 'cs_test_notAtelier0003',
        metadata: { payment_id: crypto.randomUUID(), job_id: job.id },
      }),
    ];
    for (const event of events)
      expect(await fake.deliver(event)).toMatchObject({
        status: 200,
        body: { received: true, outcome: 'unknown-session' },
      });
    expect(await hdOf(job.id)).toEqual(LOCKED_PENDING);
    expect((await paymentRows(h, job.id))[0]!.stripe_session_id).toBe(sessionId);
  });

  it('an amount or currency that differs from the payment never unlocks', async () => {
    const { job, sessionId } = await jobWithCheckout();
    const paid = (overrides: Partial<FakeCheckoutSession>): FakeEvent =>
      fake.buildEvent('checkout.session.completed', {
        ...fake.session(sessionId)!,
        status: 'complete' as const,
        payment_status: 'paid' as const,
        payment_intent: 'pi_mismatch0123456789',
        url: null,
        ...overrides,
      });
    for (const event of [
      paid({ amount_total: 1, amount_subtotal: 1 }),
      paid({ currency: 'eur' }),
      paid({ amount_total: null }),
    ])
      expect(await fake.deliver(event)).toMatchObject({ status: 200, body: { outcome: 'amount-mismatch' } });
    expect(await hdOf(job.id)).toEqual(LOCKED_PENDING);
    // The genuine payment still goes through.
    expect((await fake.complete(sessionId)).body).toMatchObject({ outcome: 'unlocked' });
    expect(await hdOf(job.id)).toEqual(UNLOCKED_PAID);
  });

  it('a job deleted before its payment completed: 200, the payment is kept without its job and refunded', async () => {
    const { job, sessionId, paymentId } = await jobWithCheckout();
    await alice.client.jobs.delete.mutate({ id: job.id });
    const refunds = fake.refunds.length;
    expect(await fake.complete(sessionId)).toMatchObject({ status: 200, body: { outcome: 'paid-job-gone' } });
    // Nothing was bought: the whole amount goes back, once (the refund's idempotency key is the payment's).
    expect(fake.refunds.slice(refunds)).toEqual([
      {
        paymentIntent: fake.session(sessionId)!.payment_intent,
        amount: 199,
        metadata: { payment_id: paymentId },
      },
    ]);
    expect(
      await eventually(async () => {
        const p = await alice.client.payments.get.query({ id: paymentId });
        return p.status === 'refunded' ? p : undefined;
      }, 5000),
    ).toMatchObject({
      jobId: null,
      status: 'refunded',
      failureReason: 'Refunded automatically: the job was deleted before the payment completed.',
    });
    expect(await auditRows(h, job.id)).toEqual([]);
  });
});
