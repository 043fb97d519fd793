// The fake Stripe, proved with the real SDK pointed at it through its documented host/port/protocol
// options: what the SDK sends is checked and recorded, idempotency behaves as Stripe's, the SDK maps
// the fake's errors to its own classes, and the events it delivers verify with constructEvent.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanupsAfterAll } from '../cleanups.ts';
import { parseForm, startFakeStripe } from './fake-stripe.ts';
import type { FakeCharge, FakeCheckoutSession, FakeStripe } from './fake-stripe.ts';

const defer = cleanupsAfterAll();
let fake: FakeStripe;
let stripe: Stripe;
let keySerial = 0;
/** What the receiver verified, in order, and the failures it refused. */
const received: Stripe.Event[] = [];
const refused: string[] = [];

const metadata = { payment_id: 'pay-1', job_id: 'job-1', user_id: 'user-1' };
const app = 'http://app.test';

function sessionParams(unitAmount = 199): Stripe.Checkout.SessionCreateParams {
  return {
    mode: 'payment',
    line_items: [
      {
        quantity: 1,
        price_data: {
          currency: 'usd',
          unit_amount: unitAmount,
          product_data: { name: 'HD download', description: 'Full resolution of job-1' },
        },
      },
    ],
    success_url: `${app}/gallery/job-1?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
    cancel_url: `${app}/gallery/job-1?checkout=cancelled`,
    client_reference_id: 'pay-1',
    metadata,
    payment_intent_data: { metadata },
  };
}

const newKey = (): string => `atelier-hd-user-1-job-1-${++keySerial}`;
const createSession = (key = newKey()): Promise<Stripe.Response<Stripe.Checkout.Session>> =>
  stripe.checkout.sessions.create(sessionParams(), { idempotencyKey: key });

beforeAll(async () => {
  fake = await startFakeStripe();
  defer(() => fake.close());
  stripe = new Stripe(fake.secretKey, { ...fake.sdkOptions, maxNetworkRetries: 2, timeout: 10_000 });

  // The webhook receiver, as the server will be: the raw body and header to constructEvent.
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      try {
        const signature = req.headers['stripe-signature'] ?? '';
        received.push(
          stripe.webhooks.constructEvent(Buffer.concat(chunks), signature, fake.webhookSecret, 300),
        );
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
      } catch (e) {
        refused.push(String(e));
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end('{"code":"WEBHOOK_SIGNATURE_INVALID"}');
      }
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  defer(async () => {
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });
  fake.webhookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/stripe`;
});

/** Waits (up to 5 s) until `check` answers something truthy: the fake delivers after it answers. */
async function eventually(check: () => unknown): Promise<void> {
  for (const until = Date.now() + 5000; !check(); await new Promise((r) => setTimeout(r, 20)))
    if (Date.now() > until) throw new Error('timed out');
}

afterAll(() => {
  // Every test here calls only what the server will call.
  expect(fake.unexpected).toEqual([]);
});

describe('the API, through the real SDK', () => {
  it('creates a Checkout Session from a form body carrying the key, the version and an Idempotency-Key', async () => {
    const key = newKey();
    const session = await createSession(key);

    expect(session).toMatchObject({
      object: 'checkout.session',
      mode: 'payment',
      status: 'open',
      payment_status: 'unpaid',
      amount_total: 199,
      amount_subtotal: 199,
      currency: 'usd',
      client_reference_id: 'pay-1',
      metadata,
      payment_intent: null,
      customer: null,
      livemode: false,
      url: `${fake.origin}/c/pay/${session.id}`,
    });
    expect(session.id).toMatch(/^cs_test_/);
    expect(session.expires_at - session.created).toBe(24 * 60 * 60);

    const request = fake.requests.at(-1);
    expect(request).toMatchObject({
      method: 'POST',
      path: '/v1/checkout/sessions',
      authorization: `Bearer ${fake.secretKey}`,
      stripeVersion: Stripe.API_VERSION,
      idempotencyKey: key,
      contentType: 'application/x-www-form-urlencoded',
      status: 200,
    });
    expect(request?.body).toEqual({
      mode: 'payment',
      line_items: [
        {
          quantity: '1',
          price_data: {
            currency: 'usd',
            unit_amount: '199',
            product_data: { name: 'HD download', description: 'Full resolution of job-1' },
          },
        },
      ],
      success_url: `${app}/gallery/job-1?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${app}/gallery/job-1?checkout=cancelled`,
      client_reference_id: 'pay-1',
      metadata,
      payment_intent_data: { metadata },
    });
  });

  it('replays the first session for the same key and parameters', async () => {
    const key = newKey();
    const first = await createSession(key);
    const again = await createSession(key);
    expect(again.id).toBe(first.id);
    expect(first.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(again.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(fake.sessions().filter((s) => s.id === first.id)).toHaveLength(1);
  });

  it('refuses the same key with other parameters (StripeIdempotencyError)', async () => {
    const key = newKey();
    await createSession(key);
    const conflicting = stripe.checkout.sessions.create(sessionParams(299), { idempotencyKey: key });
    await expect(conflicting).rejects.toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
  });

  it('gives one session to five concurrent creates with one key', async () => {
    const before = fake.sessions().length;
    const key = newKey();
    const sessions = await Promise.all(Array.from({ length: 5 }, () => createSession(key)));
    expect(new Set(sessions.map((s) => s.id)).size).toBe(1);
    expect(fake.sessions().length).toBe(before + 1);
  });

  it('refuses a create without an Idempotency-Key of ours (not the SDK’s automatic one)', async () => {
    const before = fake.sessions().length;
    const create = stripe.checkout.sessions.create(sessionParams());
    await expect(create).rejects.toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    await expect(create).rejects.toThrow(/Idempotency-Key required/);
    expect(fake.requests.at(-1)?.idempotencyKey).toMatch(/^stripe-node-retry-/);
    expect(fake.sessions().length).toBe(before);
  });

  it('refuses a wrong secret key (StripeAuthenticationError)', async () => {
    const wrong = new Stripe('sk_test_not_the_key_1234', { ...fake.sdkOptions, maxNetworkRetries: 2 });
    const list = wrong.checkout.sessions.list({ limit: 1 });
    await expect(list).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
    await expect(list).rejects.toThrow('Invalid API Key provided: sk_test_****1234');
    await expect(
      wrong.checkout.sessions.create(sessionParams(), { idempotencyKey: newKey() }),
    ).rejects.toBeInstanceOf(Stripe.errors.StripeAuthenticationError);
  });

  it('lists sessions newest first, honouring limit, and retrieves one', async () => {
    const newest = await createSession();
    const list = await stripe.checkout.sessions.list({ limit: 1 });
    expect(list).toMatchObject({ object: 'list', has_more: true, url: '/v1/checkout/sessions' });
    expect(list.data.map((s) => s.id)).toEqual([newest.id]);
    expect(fake.requests.at(-1)).toMatchObject({ method: 'GET', query: { limit: '1' }, status: 200 });

    expect((await stripe.checkout.sessions.retrieve(newest.id)).id).toBe(newest.id);
    await expect(stripe.checkout.sessions.retrieve('cs_test_nope')).rejects.toThrow(
      "No such checkout.session: 'cs_test_nope'",
    );
  });

  it('answers the errors it is told to, which the SDK retries as it would Stripe’s', async () => {
    const key = newKey();
    const before = fake.requests.length;
    fake.failNext({ status: 500 }, 3);
    const create = stripe.checkout.sessions.create(sessionParams(), { idempotencyKey: key });
    await expect(create).rejects.toBeInstanceOf(Stripe.errors.StripeAPIError);
    const tries = fake.requests.slice(before);
    expect(tries.map((r) => [r.status, r.idempotencyKey])).toEqual([
      [500, key],
      [500, key],
      [500, key],
    ]);
    // The key was not claimed: the next try creates the session.
    expect((await createSession(key)).lastResponse.headers['idempotent-replayed']).toBeUndefined();
  });
});

/** The last event the receiver verified. */
const last = (): Stripe.Event | undefined => received.at(-1);

describe('webhooks', () => {
  it('delivers checkout.session.completed, signed so that constructEvent verifies it', async () => {
    const session = await createSession();
    const delivery = await fake.complete(session.id);
    expect(delivery).toMatchObject({ status: 200, body: { received: true } });

    const event = last();
    expect(event).toMatchObject({
      id: delivery.event?.id,
      object: 'event',
      type: 'checkout.session.completed',
      api_version: Stripe.API_VERSION,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
    });
    expect(event?.id).toMatch(/^evt_/);
    const object = event?.data.object as FakeCheckoutSession;
    expect(object).toMatchObject({ id: session.id, status: 'complete', payment_status: 'paid', metadata });
    expect(object.payment_intent).toMatch(/^pi_/);
    expect(fake.session(session.id)?.url).toBeNull();
  });

  it('redelivers the same event (Stripe’s duplicates) and refuses a tampered body', async () => {
    const session = await createSession();
    const first = await fake.complete(session.id);
    const duplicate = await fake.deliver(first.event ?? '');
    expect(duplicate.status).toBe(200);
    expect(received.at(-1)?.id).toBe(first.event?.id);

    const tampered = first.payload.replace('"payment_status": "paid"', '"payment_status": "unpaid"');
    expect(tampered).not.toBe(first.payload);
    const refusedBefore = refused.length;
    expect((await fake.deliver(tampered, { header: first.header })).status).toBe(400);
    expect(refused.length).toBe(refusedBefore + 1);
  });

  it('signs with an old timestamp or another secret so that constructEvent refuses', () => {
    const payload = JSON.stringify(fake.buildEvent('checkout.session.expired', { id: 'cs_test_x' }), null, 2);
    const now = Math.floor(Date.now() / 1000);
    const verify = (header: string): Stripe.Event =>
      stripe.webhooks.constructEvent(payload, header, fake.webhookSecret, 300);

    expect(verify(fake.sign(payload, { timestamp: now - 60 })).type).toBe('checkout.session.expired');
    expect(() => verify(fake.sign(payload, { timestamp: now - 301 }))).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
    expect(() => verify(fake.sign(payload, { secret: 'whsec_forged' }))).toThrow(
      Stripe.errors.StripeSignatureVerificationError,
    );
  });

  it('completes a delayed payment, then succeeds or fails it', async () => {
    const paid = await createSession();
    await fake.complete(paid.id, { async: true });
    expect(last()?.data.object).toMatchObject({ id: paid.id, status: 'complete', payment_status: 'unpaid' });
    await fake.asyncSucceeded(paid.id);
    expect(last()).toMatchObject({ type: 'checkout.session.async_payment_succeeded' });
    expect(last()?.data.object).toMatchObject({ id: paid.id, payment_status: 'paid' });

    const failed = await createSession();
    await fake.complete(failed.id, { async: true });
    await fake.asyncFailed(failed.id);
    expect(last()).toMatchObject({ type: 'checkout.session.async_payment_failed' });
    expect(last()?.data.object).toMatchObject({ id: failed.id, payment_status: 'unpaid' });
    await expect(fake.asyncSucceeded(failed.id)).rejects.toThrow(/Stripe would not/);
  });

  it('expires an open session, and only an open one', async () => {
    const session = await createSession();
    await fake.expire(session.id);
    expect(last()).toMatchObject({ type: 'checkout.session.expired' });
    expect(last()?.data.object).toMatchObject({ id: session.id, status: 'expired', url: null });
    await expect(fake.complete(session.id)).rejects.toThrow(/Stripe would not/);
  });

  it('refunds part, then the rest, of a paid session’s charge', async () => {
    const session = await createSession();
    const completed = await fake.complete(session.id);
    const paymentIntent = completed.event?.data.object.payment_intent;

    await fake.refund(session.id, { amount: 50 });
    expect(last()).toMatchObject({ type: 'charge.refunded' });
    const partial = last()?.data.object as FakeCharge;
    expect(partial).toMatchObject({
      object: 'charge',
      payment_intent: paymentIntent,
      amount: 199,
      amount_refunded: 50,
      refunded: false,
      currency: 'usd',
      status: 'succeeded',
      metadata,
    });
    expect(partial.id).toMatch(/^ch_/);

    await fake.refund(session.id);
    expect(last()?.data.object).toMatchObject({ id: partial.id, amount_refunded: 199, refunded: true });
    await expect(fake.refund(session.id)).rejects.toThrow(/left to refund/);
  });
});

describe('closing sessions and refunding through the API, as the server does', () => {
  it('expires an open session (checkout.session.expired follows), and refuses a closed one', async () => {
    const session = await createSession();
    const expired = await stripe.checkout.sessions.expire(session.id);
    expect(expired).toMatchObject({ id: session.id, status: 'expired', url: null });
    await eventually(() => last()?.type === 'checkout.session.expired' && last()?.data.object);
    expect(last()?.data.object).toMatchObject({ id: session.id, status: 'expired' });
    await expect(stripe.checkout.sessions.expire(session.id)).rejects.toBeInstanceOf(
      Stripe.errors.StripeInvalidRequestError,
    );
  });

  it('refunds a paid PaymentIntent once per Idempotency-Key, and wants a key of ours', async () => {
    const session = await createSession();
    const completed = await fake.complete(session.id);
    const intent = completed.event!.data.object.payment_intent as string;
    await expect(stripe.refunds.create({ payment_intent: intent })).rejects.toThrow(
      /Idempotency-Key required/,
    );
    const params = { payment_intent: intent, metadata: { payment_id: 'p-1' } };
    const [a, b] = await Promise.all([
      stripe.refunds.create(params, { idempotencyKey: 'refund-1' }),
      stripe.refunds.create(params, { idempotencyKey: 'refund-1' }),
    ]);
    expect(b.id).toBe(a.id);
    expect(a).toMatchObject({ object: 'refund', amount: 199, payment_intent: intent, status: 'succeeded' });
    expect(fake.refunds).toContainEqual({
      paymentIntent: intent,
      amount: 199,
      metadata: { payment_id: 'p-1' },
    });
    await eventually(() => last()?.type === 'charge.refunded' && last()?.data.object);
    expect(last()?.data.object).toMatchObject({
      payment_intent: intent,
      refunded: true,
      amount_refunded: 199,
    });
    await expect(stripe.refunds.create(params, { idempotencyKey: 'refund-2' })).rejects.toThrow(
      /already been refunded/,
    );
    expect(fake.deliveryErrors).toEqual([]);
  });
});

describe('the hosted checkout page', () => {
  it('shows the amount, a Pay button and a Cancel link; paying completes and redirects', async () => {
    const session = await createSession();
    const page = await fetch(session.url ?? '');
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('$1.99');
    expect(html).toContain('<button type="submit">Pay</button>');
    expect(html).toContain(`<a href="${app}/gallery/job-1?checkout=cancelled">Cancel</a>`);

    const pay = await fetch(session.url ?? '', { method: 'POST', redirect: 'manual' });
    expect(pay.status).toBe(303);
    expect(pay.headers.get('location')).toBe(
      `${app}/gallery/job-1?checkout=success&session_id=${session.id}`,
    );
    expect(received.at(-1)).toMatchObject({ type: 'checkout.session.completed' });
    expect(received.at(-1)?.data.object).toMatchObject({ id: session.id, payment_status: 'paid' });
    expect((await fetch(session.url ?? '')).status).toBe(410);
  });
});

describe('the fake itself', () => {
  it('records calls to endpoints it does not implement, answered 404 in Stripe’s error shape', async () => {
    const other = await startFakeStripe({ secretKey: 'sk_test_other' });
    defer(() => other.close());
    const response = await fetch(`${other.origin}/v1/customers`, {
      headers: { authorization: 'Bearer sk_test_other', 'stripe-version': Stripe.API_VERSION },
    });
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    expect(other.unexpected.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/customers']);
  });

  it('decodes Stripe’s bracket form encoding', () => {
    expect(parseForm('a[b][0][c]=1&a[b][1][c]=2&d=x+y&e[k]=%5Bv%5D')).toEqual({
      a: { b: [{ c: '1' }, { c: '2' }] },
      d: 'x y',
      e: { k: '[v]' },
    });
    expect(parseForm('a=1&a[b]=2')).toBeNull();
  });
});
