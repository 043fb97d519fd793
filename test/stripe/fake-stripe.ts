// A loopback fake of the Stripe API for Atelier's tests: exactly the endpoints the server uses
// (create, retrieve and list Checkout Sessions), a hosted checkout page for the browser tests, and
// webhook events signed as Stripe signs them. It checks what the SDK sends (secret key,
// Stripe-Version, form encoding, Idempotency-Key) and answers with objects shaped like Stripe's,
// typed by the SDK's own types.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';

/** A decoded form body: Stripe's `a[b][0][c]=v` encoding as nested objects and arrays. */
export type FormValue = string | FormValue[] | { [key: string]: FormValue };
export type FormObject = { [key: string]: FormValue };

// The fields the fake fills, grouped so each list fits a line.
type SessionLife =
  'id' | 'object' | 'created' | 'expires_at' | 'livemode' | 'mode' | 'status' | 'ui_mode' | 'url';
type SessionMoney = 'amount_subtotal' | 'amount_total' | 'currency' | 'total_details' | 'payment_link';
type SessionPayment = 'payment_intent' | 'payment_method_types' | 'payment_status';
type SessionCaller = 'cancel_url' | 'client_reference_id' | 'metadata' | 'success_url';
type SessionCustomer = 'customer' | 'customer_email' | 'locale';
type ChargeState = 'id' | 'object' | 'created' | 'livemode' | 'status' | 'captured' | 'paid' | 'refunded';
type ChargeMoney = 'amount' | 'amount_captured' | 'amount_refunded' | 'currency';
type ChargeLinks = 'customer' | 'metadata' | 'payment_intent';

/** The Checkout Session fields the fake fills, typed by the SDK's `Stripe.Checkout.Session`. */
export type FakeCheckoutSession = Pick<
  Stripe.Checkout.Session,
  SessionLife | SessionMoney | SessionPayment | SessionCaller | SessionCustomer
>;

/** The Charge fields the fake fills (in `charge.refunded` events), typed by `Stripe.Charge`. */
export type FakeCharge = Pick<Stripe.Charge, ChargeState | ChargeMoney | ChargeLinks>;

/** A webhook event as Stripe sends it (`Stripe.Event`'s common fields) around `object`. */
export type FakeEvent<T extends object = object> = Pick<
  Stripe.EventBase,
  'id' | 'object' | 'api_version' | 'created' | 'livemode' | 'pending_webhooks' | 'request'
> & { type: Stripe.Event.Type; data: { object: T } };

/** One request the fake received, decoded, with the status it answered. */
export interface RecordedRequest {
  readonly method: string;
  /** The path without the query string, e.g. `/v1/checkout/sessions`. */
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
  readonly authorization: string | null;
  readonly stripeVersion: string | null;
  readonly idempotencyKey: string | null;
  readonly contentType: string | null;
  /** The decoded form body (`{}` for GET or a body that does not decode). */
  readonly body: FormObject;
  /** The status the fake answered. */
  status: number;
}

/** One webhook delivery: the event sent (null when a raw string was sent) and the receiver's answer. */
export interface WebhookDelivery<T extends object = object> {
  readonly event: FakeEvent<T> | null;
  readonly payload: string;
  readonly header: string;
  readonly status: number;
  /** The response body, parsed as JSON when it is JSON, else the text. */
  readonly body: unknown;
}

export interface FakeStripeOptions {
  /** The only key the API accepts. @default 'sk_test_fake_' + random */
  readonly secretKey?: string;
  /** The secret events are signed with. @default 'whsec_' + random */
  readonly webhookSecret?: string;
  /** Where events are POSTed. @default null (set it before completing a session) */
  readonly webhookUrl?: string | null;
}

/** An error the next API requests answer with, whatever they are (see {@link FakeStripe.failNext}). */
export interface FakeStripeError {
  readonly status: number;
  /** @default 'api_error' */
  readonly type?: string;
  /** @default 'The fake was told to fail this request.' */
  readonly message?: string;
  readonly code?: string;
}

interface Answer {
  readonly status: number;
  /** Serialised once, so an idempotent replay answers the very bytes of the first response. */
  readonly json: string;
  readonly replayed?: boolean;
}

interface SessionState {
  readonly session: FakeCheckoutSession;
  readonly product: { readonly name: string; readonly description: string | null };
  readonly paymentIntentMetadata: Record<string, string>;
  /** A delayed payment method: `complete({ async: true })` until async_payment_succeeded/_failed. */
  awaitingAsync: boolean;
  charge: FakeCharge | null;
}

const FORM = 'application/x-www-form-urlencoded';
const id = (prefix: string): string => prefix + randomBytes(12).toString('hex');
const unix = (): number => Math.floor(Date.now() / 1000);
const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * Starts the fake on 127.0.0.1 (a free port). Point the SDK at it with {@link FakeStripe.sdkOptions}
 * (or `ATELIER_STRIPE_API_URL=${fake.origin}`), and close it after the tests.
 *
 * @example
 * const fake = await startFakeStripe();
 * defer(() => fake.close());
 * const stripe = new Stripe(fake.secretKey, { ...fake.sdkOptions, maxNetworkRetries: 2 });
 * const session = await stripe.checkout.sessions.create(params, { idempotencyKey: 'k1' });
 * fake.webhookUrl = `${atelierUrl}/webhooks/stripe`;
 * const { status, body } = await fake.complete(session.id); // checkout.session.completed, signed
 */
export async function startFakeStripe(options: FakeStripeOptions = {}): Promise<FakeStripe> {
  const fake = new FakeStripe(options);
  await fake.listen();
  return fake;
}

/**
 * The running fake; made by {@link startFakeStripe}. Its actions (`complete`, `asyncSucceeded`,
 * `asyncFailed`, `expire`, `refund`) change the session as Stripe would, deliver the event and
 * resolve with the delivery; they reject when Stripe would not act (completing an expired session,
 * refunding an unpaid one). {@link buildEvent}, {@link sign} and {@link deliver} make anything else.
 */
export class FakeStripe {
  /** The only secret key the API accepts (`Authorization: Bearer <key>`). */
  readonly secretKey: string;
  /** The secret {@link sign} uses; give it to the server as STRIPE_WEBHOOK_SECRET. */
  readonly webhookSecret: string;
  /** Where events are delivered (the server's `/webhooks/stripe`); settable at any time. */
  webhookUrl: string | null;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[] = [];
  /** Requests for endpoints the fake does not implement (answered 404): should stay empty. */
  readonly unexpected: RecordedRequest[] = [];
  /** Refunds made through the API (`POST /v1/refunds`), in order. */
  readonly refunds: { paymentIntent: string; amount: number; metadata: Record<string, string> }[] = [];
  /** Failures of the webhook deliveries that API calls set off (expire, refund), for assertions. */
  readonly deliveryErrors: unknown[] = [];
  /** Every webhook delivery, in order. */
  readonly deliveries: WebhookDelivery[] = [];

  readonly #server = http.createServer((req, res) => {
    // A bug in the fake answers 500 with its message rather than crashing the test run.
    this.#handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(`fake-stripe: ${String(e)}`);
    });
  });
  readonly #sessions = new Map<string, SessionState>();
  readonly #idempotency = new Map<string, { fingerprint: string; answer: Answer }>();
  readonly #failures: FakeStripeError[] = [];

  constructor(options: FakeStripeOptions = {}) {
    this.secretKey = options.secretKey ?? id('sk_test_fake_');
    this.webhookSecret = options.webhookSecret ?? id('whsec_');
    this.webhookUrl = options.webhookUrl ?? null;
  }

  /** Listens on 127.0.0.1, any free port; {@link startFakeStripe} calls it. */
  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  /** The port it listens on. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** `http://127.0.0.1:<port>`: the API base and the origin of the hosted checkout pages. */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The SDK's documented options that point it here: `new Stripe(key, { ...fake.sdkOptions })`. */
  get sdkOptions(): { host: string; port: number; protocol: 'http' } {
    return { host: '127.0.0.1', port: this.port, protocol: 'http' };
  }

  /** The sessions created so far, oldest first (the live objects: do not change them). */
  sessions(): readonly FakeCheckoutSession[] {
    return [...this.#sessions.values()].map((s) => s.session);
  }

  /** A session by id (the live object), or undefined. */
  session(sessionId: string): FakeCheckoutSession | undefined {
    return this.#sessions.get(sessionId)?.session;
  }

  /**
   * Makes the next `times` API requests (any endpoint, after the key check) answer `error`.
   * The SDK retries 409 and 5xx itself: with `maxNetworkRetries: 2` a 500 needs `times: 3`.
   */
  failNext(error: FakeStripeError, times = 1): void {
    for (let i = 0; i < times; i++) this.#failures.push(error);
  }

  /**
   * The customer pays: the session becomes `complete` with a PaymentIntent, `paid` (or still
   * `unpaid` with `async: true`, a delayed method such as a bank debit), and
   * `checkout.session.completed` is delivered.
   */
  async complete(
    sessionId: string,
    options: { async?: boolean } = {},
  ): Promise<WebhookDelivery<FakeCheckoutSession>> {
    const state = this.#state(sessionId, 'complete', (s) => s.status === 'open');
    const async = options.async ?? false;
    Object.assign(state.session, {
      status: 'complete',
      payment_status: async ? 'unpaid' : 'paid',
      payment_intent: id('pi_'),
      url: null,
    });
    state.awaitingAsync = async;
    return this.deliver(this.buildEvent('checkout.session.completed', state.session));
  }

  /** The delayed payment of `complete(id, { async: true })` succeeds: `..._async_payment_succeeded`. */
  async asyncSucceeded(sessionId: string): Promise<WebhookDelivery<FakeCheckoutSession>> {
    const state = this.#state(sessionId, 'asyncSucceeded', (_, st) => st.awaitingAsync);
    state.awaitingAsync = false;
    state.session.payment_status = 'paid';
    return this.deliver(this.buildEvent('checkout.session.async_payment_succeeded', state.session));
  }

  /** The delayed payment fails: `checkout.session.async_payment_failed` (payment_status stays unpaid). */
  async asyncFailed(sessionId: string): Promise<WebhookDelivery<FakeCheckoutSession>> {
    const state = this.#state(sessionId, 'asyncFailed', (_, st) => st.awaitingAsync);
    state.awaitingAsync = false;
    return this.deliver(this.buildEvent('checkout.session.async_payment_failed', state.session));
  }

  /** The open session expires (or is expired through the API): `checkout.session.expired`. */
  async expire(sessionId: string): Promise<WebhookDelivery<FakeCheckoutSession>> {
    const state = this.#state(sessionId, 'expire', (s) => s.status === 'open');
    Object.assign(state.session, { status: 'expired', url: null });
    return this.deliver(this.buildEvent('checkout.session.expired', state.session));
  }

  /**
   * Refunds `amount` (default: all that is left) of a paid session's charge: `charge.refunded`
   * with the Charge (`refunded` is true once fully refunded; `amount_refunded` accumulates).
   */
  async refund(sessionId: string, options: { amount?: number } = {}): Promise<WebhookDelivery<FakeCharge>> {
    const state = this.#state(sessionId, 'refund', (s) => s.payment_status === 'paid');
    const { session } = state;
    const charge = (state.charge ??= {
      id: id('ch_'),
      object: 'charge',
      amount: session.amount_total ?? 0,
      amount_captured: session.amount_total ?? 0,
      amount_refunded: 0,
      captured: true,
      created: unix(),
      currency: session.currency ?? 'usd',
      customer: null,
      livemode: false,
      // A charge made by a PaymentIntent carries the PaymentIntent's metadata.
      metadata: { ...state.paymentIntentMetadata },
      paid: true,
      payment_intent: session.payment_intent,
      refunded: false,
      status: 'succeeded',
    });
    const left = charge.amount - charge.amount_refunded;
    const amount = options.amount ?? left;
    if (!Number.isInteger(amount) || amount <= 0 || amount > left) {
      throw new Error(`FakeStripe.refund: ${amount} is not between 1 and the ${left} left to refund`);
    }
    charge.amount_refunded += amount;
    charge.refunded = charge.amount_refunded === charge.amount;
    return this.deliver(this.buildEvent('charge.refunded', charge));
  }

  /** An event as Stripe builds it, around a snapshot of `object` (later changes do not show). */
  buildEvent<T extends object>(type: Stripe.Event.Type, object: T): FakeEvent<T> {
    return {
      id: id('evt_'),
      object: 'event',
      api_version: Stripe.API_VERSION,
      created: unix(),
      data: { object: structuredClone(object) },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      type,
    };
  }

  /**
   * The `Stripe-Signature` header for `payload`, made by the SDK's `generateTestHeaderString`.
   * Pass an old `timestamp` (unix seconds) for a stale signature or another `secret` for a forged one.
   */
  sign(payload: string, options: { timestamp?: number; secret?: string } = {}): string {
    return Stripe.webhooks.generateTestHeaderString({
      payload,
      secret: options.secret ?? this.webhookSecret,
      ...(options.timestamp === undefined ? {} : { timestamp: options.timestamp }),
    });
  }

  /**
   * POSTs an event to {@link webhookUrl} as Stripe does (pretty-printed JSON, signed now), or a raw
   * string (a tampered body); `header` replaces the signature. Send the same event again to
   * simulate Stripe's duplicate deliveries. Rejects when webhookUrl is unset or unreachable.
   */
  async deliver<T extends object>(
    event: FakeEvent<T> | string,
    options: { header?: string } = {},
  ): Promise<WebhookDelivery<T>> {
    if (this.webhookUrl === null) {
      throw new Error('FakeStripe.webhookUrl is not set: there is nowhere to deliver the event');
    }
    const payload = typeof event === 'string' ? event : JSON.stringify(event, null, 2);
    const header = options.header ?? this.sign(payload);
    const response = await fetch(this.webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'stripe-signature': header,
        'user-agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
      },
      body: payload,
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    const delivery = {
      event: typeof event === 'string' ? null : event,
      payload,
      header,
      status: response.status,
      body,
    };
    this.deliveries.push(delivery);
    return delivery;
  }

  /** Stops listening and drops open connections (the SDK keeps them alive). */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
  }

  #state(
    sessionId: string,
    action: string,
    allowed: (session: FakeCheckoutSession, state: SessionState) => boolean,
  ): SessionState {
    const state = this.#sessions.get(sessionId);
    if (!state) throw new Error(`FakeStripe.${action}: no session ${sessionId}`);
    const { status, payment_status } = state.session;
    if (!allowed(state.session, state)) {
      throw new Error(`FakeStripe.${action}: Stripe would not, the session is ${status}/${payment_status}`);
    }
    return state;
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.origin);
    const header = (name: string): string | null => req.headers[name]?.toString() ?? null;
    const contentType = header('content-type');
    const body = req.method === 'POST' && contentType?.startsWith(FORM) ? parseForm(raw) : {};
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: header('authorization'),
      stripeVersion: header('stripe-version'),
      idempotencyKey: header('idempotency-key'),
      contentType,
      body: body ?? {},
      status: 0,
    };
    this.requests.push(record);

    const page = /^\/c\/pay\/([^/]+)$/.exec(url.pathname);
    if (page) {
      await this.#page(record, decodeURIComponent(page[1] ?? ''), res);
      return;
    }
    const answer = this.#api(record, body !== null);
    record.status = answer.status;
    res.writeHead(answer.status, {
      'content-type': 'application/json',
      'request-id': id('req_'),
      ...(record.stripeVersion ? { 'stripe-version': record.stripeVersion } : {}),
      ...(record.idempotencyKey ? { 'idempotency-key': record.idempotencyKey } : {}),
      ...(answer.replayed ? { 'idempotent-replayed': 'true' } : {}),
    });
    res.end(answer.json);
  }

  #api(record: RecordedRequest, bodyDecoded: boolean): Answer {
    const { method, path } = record;
    if (!path.startsWith('/v1/')) return this.#unexpected(record);
    const key = /^Bearer (.+)$/.exec(record.authorization ?? '')?.[1];
    if (key !== this.secretKey) {
      const shown = key === undefined ? null : `${key.slice(0, 8)}****${key.slice(-4)}`;
      return invalidRequest(
        shown ? `Invalid API Key provided: ${shown}` : 'You did not provide an API key.',
        {},
        401,
      );
    }
    const failure = this.#failures.shift();
    if (failure) {
      const { status, type = 'api_error', message = 'The fake was told to fail this request.' } = failure;
      return error(status, type, message, failure.code === undefined ? {} : { code: failure.code });
    }
    if (!record.stripeVersion) return invalidRequest('Stripe-Version header missing.');
    if (method === 'POST' && !record.contentType?.startsWith(FORM)) {
      return invalidRequest(`POST bodies must be form-encoded, not ${record.contentType}.`);
    }
    if (!bodyDecoded) return invalidRequest('The form body does not decode.');

    if (path === '/v1/checkout/sessions' && method === 'POST') return this.#create(record);
    if (path === '/v1/checkout/sessions' && method === 'GET') {
      const limit = Number(record.query.limit ?? 10);
      if (!Number.isInteger(limit) || limit < 1 || limit > 100) {
        return invalidRequest('Invalid limit: must be between 1 and 100', { param: 'limit' });
      }
      const all = this.sessions().toReversed();
      const list = { object: 'list', data: all.slice(0, limit), has_more: all.length > limit, url: path };
      return ok(list);
    }
    // Expiring an open session, as Stripe does: the session answers expired, and a
    // `checkout.session.expired` event follows (delivered after the answer, as Stripe's is).
    const expire = /^\/v1\/checkout\/sessions\/([^/]+)\/expire$/.exec(path);
    if (expire && method === 'POST') {
      const state = this.#sessions.get(decodeURIComponent(expire[1] ?? ''));
      if (!state)
        return invalidRequest(`No such checkout.session: '${expire[1]}'`, { code: 'resource_missing' }, 404);
      if (state.session.status !== 'open')
        return invalidRequest(`Only Checkout Sessions with a status in ["open"] can be expired.`, {
          code: 'checkout_session_not_open',
        });
      Object.assign(state.session, { status: 'expired', url: null });
      const event = this.buildEvent('checkout.session.expired', state.session);
      setImmediate(() => void this.deliver(event).catch((error: unknown) => this.deliveryErrors.push(error)));
      return ok({ ...state.session });
    }
    // A refund of a PaymentIntent's charge (the whole of what is left, or `amount`), with the
    // `charge.refunded` event after the answer. Like session creation, it wants our own
    // Idempotency-Key, and replays the first answer for a repeated one.
    if (path === '/v1/refunds' && method === 'POST')
      return this.#idempotent(record, () => this.#newRefund(record.body));
    const retrieve = /^\/v1\/checkout\/sessions\/([^/]+)$/.exec(path);
    if (retrieve && method === 'GET') {
      const session = this.session(decodeURIComponent(retrieve[1] ?? ''));
      const missing = { code: 'resource_missing', param: 'session' };
      return session
        ? ok(session)
        : invalidRequest(`No such checkout.session: '${retrieve[1]}'`, missing, 404);
    }
    return this.#unexpected(record);
  }

  #unexpected(record: RecordedRequest): Answer {
    this.unexpected.push(record);
    const message = `Unrecognized request URL (${record.method}: ${record.path}): the fake does not implement it.`;
    return invalidRequest(message, {}, 404);
  }

  #create(record: RecordedRequest): Answer {
    return this.#idempotent(record, () => this.#newSession(record.body));
  }

  /** Answers `make()` once per Idempotency-Key and parameters, replaying it after, as Stripe does. */
  #idempotent(record: RecordedRequest, make: () => Answer): Answer {
    const key = record.idempotencyKey;
    // The SDK sends its own `stripe-node-retry-…` key when the caller gives none: refusing it makes
    // a forgotten `{ idempotencyKey }` fail the tests instead of allowing duplicate sessions.
    if (!key || key.startsWith('stripe-node-retry-') || key.length > 255) {
      return invalidRequest(`Idempotency-Key required: pass { idempotencyKey } to ${record.path}.`);
    }
    // From the lookup to the store nothing awaits, so concurrent requests with one key are
    // serialised by the event loop: the first creates the session, the others replay it.
    const fingerprint = canonical(record.body);
    const seen = this.#idempotency.get(key);
    if (seen?.fingerprint === fingerprint) return { ...seen.answer, replayed: true };
    if (seen) {
      const message = `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`;
      return error(400, 'idempotency_error', message);
    }
    // As at Stripe, a request refused by validation does not claim its key.
    const answer = make();
    if (answer.status === 200) this.#idempotency.set(key, { fingerprint, answer });
    return answer;
  }

  #newRefund(body: FormObject): Answer {
    const intent = typeof body.payment_intent === 'string' ? body.payment_intent : undefined;
    if (!intent)
      return invalidRequest('Missing required param: payment_intent.', { param: 'payment_intent' });
    const state = [...this.#sessions.values()].find((st) => st.session.payment_intent === intent);
    if (!state || state.session.payment_status !== 'paid')
      return invalidRequest(`No such payment_intent: '${intent}'`, { code: 'resource_missing' }, 404);
    const total = state.session.amount_total ?? 0;
    const left = total - (state.charge?.amount_refunded ?? 0);
    const amount = body.amount === undefined ? left : Number(body.amount);
    if (left === 0)
      return invalidRequest(`Charge for ${intent} has already been refunded.`, {
        code: 'charge_already_refunded',
      });
    if (!Number.isInteger(amount) || amount <= 0 || amount > left)
      return invalidRequest(`Refund amount (${amount}) is greater than the ${left} left.`, {
        param: 'amount',
      });
    const sessionId = state.session.id;
    setImmediate(
      () =>
        void this.refund(sessionId, { amount }).catch((error: unknown) => this.deliveryErrors.push(error)),
    );
    this.refunds.push({ paymentIntent: intent, amount, metadata: strings(body.metadata) });
    return ok({
      id: id('re_'),
      object: 'refund',
      amount,
      currency: state.session.currency ?? 'usd',
      payment_intent: intent,
      reason: typeof body.reason === 'string' ? body.reason : null,
      status: 'succeeded',
      created: unix(),
      metadata: strings(body.metadata),
    });
  }

  #newSession(body: FormObject): Answer {
    const invalid = (param: string, message = `Missing required param: ${param}.`): Answer =>
      invalidRequest(message, { param });
    if (body.mode !== 'payment') return invalid('mode', 'The fake implements only mode: payment.');
    const items = body.line_items;
    if (!Array.isArray(items) || items.length === 0) return invalid('line_items');
    let total = 0;
    let currency: string | undefined;
    let product: SessionState['product'] | undefined;
    for (const [i, item] of items.entries()) {
      const price = at(item, 'price_data');
      const quantity = Number(at(item, 'quantity'));
      const amount = Number(at(price, 'unit_amount'));
      const itemCurrency = at(price, 'currency');
      const name = at(price, 'product_data', 'name');
      const description = at(price, 'product_data', 'description');
      const param = `line_items[${i}][price_data]`;
      if (!Number.isInteger(quantity) || quantity < 1) return invalid(`line_items[${i}][quantity]`);
      if (!Number.isInteger(amount) || amount < 0) return invalid(`${param}[unit_amount]`);
      if (typeof itemCurrency !== 'string' || !/^[a-z]{3}$/.test(itemCurrency)) {
        return invalid(`${param}[currency]`);
      }
      if (currency !== undefined && itemCurrency !== currency) {
        return invalid(`${param}[currency]`, 'Line items must share one currency.');
      }
      if (typeof name !== 'string' || name === '') return invalid(`${param}[product_data][name]`);
      currency = itemCurrency;
      product ??= { name, description: typeof description === 'string' ? description : null };
      total += amount * quantity;
    }
    if (typeof body.success_url !== 'string') return invalid('success_url');
    const created = unix();
    const sessionId = id('cs_test_');
    const session: FakeCheckoutSession = {
      id: sessionId,
      object: 'checkout.session',
      amount_subtotal: total,
      amount_total: total,
      cancel_url: stringOrNull(body.cancel_url),
      client_reference_id: stringOrNull(body.client_reference_id),
      created,
      currency: currency ?? null,
      customer: null,
      customer_email: stringOrNull(body.customer_email),
      expires_at: created + 24 * 60 * 60,
      livemode: false,
      locale: null,
      metadata: strings(body.metadata),
      mode: 'payment',
      payment_intent: null,
      payment_link: null,
      payment_method_types: ['card'],
      payment_status: 'unpaid',
      status: 'open',
      success_url: body.success_url,
      total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
      ui_mode: 'hosted_page',
      url: `${this.origin}/c/pay/${sessionId}`,
    };
    this.#sessions.set(sessionId, {
      session,
      product: product ?? { name: '', description: null },
      paymentIntentMetadata: strings(at(body.payment_intent_data, 'metadata')),
      awaitingAsync: false,
      charge: null,
    });
    return ok(session);
  }

  /** The hosted checkout page: GET shows it, POST (its "Pay" form) completes the session. */
  async #page(record: RecordedRequest, sessionId: string, res: http.ServerResponse): Promise<void> {
    const state = this.#sessions.get(sessionId);
    const send = (status: number, html: string, headers: http.OutgoingHttpHeaders = {}): void => {
      record.status = status;
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers }).end(html);
    };
    const doc = (title: string, main: string): string =>
      `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><main>${main}</main></body></html>`;
    if (!state) return send(404, doc('Not found', '<h1>No such Checkout Session</h1>'));
    const { session, product } = state;
    if (session.status !== 'open') {
      return send(
        410,
        doc('Session ended', `<h1>This Checkout Session is ${escape(session.status ?? '')}</h1>`),
      );
    }
    if (record.method === 'POST') {
      try {
        await this.complete(sessionId);
      } catch (e) {
        // Stripe would redirect anyway; a failed delivery here is a broken test setup, so show it.
        return send(
          502,
          doc('Delivery failed', `<h1>Webhook delivery failed</h1><p>${escape(String(e))}</p>`),
        );
      }
      const location = (session.success_url ?? '').replaceAll('{CHECKOUT_SESSION_ID}', sessionId);
      return send(303, '', { location });
    }
    const currency = session.currency ?? 'usd';
    const format = new Intl.NumberFormat('en-US', { style: 'currency', currency });
    const price = format.format(
      (session.amount_total ?? 0) / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2),
    );
    const cancel = session.cancel_url ? `<a href="${escape(session.cancel_url)}">Cancel</a>` : '';
    const main = `<h1>${escape(product.name)}</h1>${product.description ? `<p>${escape(product.description)}</p>` : ''}
<p>Total <strong data-testid="amount">${escape(price)}</strong></p>
<form method="post"><button type="submit">Pay</button></form>${cancel}`;
    send(200, doc(`Pay ${price} — Fake Stripe Checkout`, main));
  }
}

function ok(object: unknown): Answer {
  return { status: 200, json: JSON.stringify(object) };
}

/** Stripe's error shape, which the SDK turns into its error classes by status and type. */
function error(status: number, type: string, message: string, extra: object = {}): Answer {
  return { status, json: JSON.stringify({ error: { type, message, ...extra } }) };
}

function invalidRequest(message: string, extra: object = {}, status = 400): Answer {
  return error(status, 'invalid_request_error', message, extra);
}

/**
 * Decodes Stripe's form encoding (`line_items[0][price_data][unit_amount]=199`) into nested objects,
 * an object whose keys are all indexes becoming an array; null when a key is malformed.
 */
export function parseForm(raw: string): FormObject | null {
  const root: FormObject = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    const match = /^([^[\]]+)((?:\[[^[\]]+\])*)$/.exec(key);
    if (!match?.[1]) return null;
    const path = [match[1], ...[...(match[2] ?? '').matchAll(/\[([^[\]]+)\]/g)].map((m) => m[1] ?? '')];
    let node = root;
    for (const segment of path.slice(0, -1)) {
      const next = node[segment];
      if (typeof next === 'string' || Array.isArray(next)) return null;
      node = node[segment] = next ?? {};
    }
    const last = path.at(-1) ?? '';
    if (node[last] !== undefined) return null;
    node[last] = value;
  }
  return arrays(root) as FormObject;
}

function arrays(value: FormValue): FormValue {
  if (typeof value === 'string' || Array.isArray(value)) return value;
  const keys = Object.keys(value);
  const entries = keys.map((k) => [k, arrays(value[k] ?? '')] as const);
  const indexed = keys.length > 0 && keys.every((k, i) => k === String(i));
  return indexed ? entries.map(([, v]) => v) : Object.fromEntries(entries);
}

function at(value: FormValue | undefined, ...path: string[]): FormValue | undefined {
  for (const key of path) {
    if (value === undefined || typeof value === 'string' || Array.isArray(value)) return undefined;
    value = value[key];
  }
  return value;
}

function stringOrNull(value: FormValue | undefined): string | null {
  return typeof value === 'string' ? value : null;
}

function strings(value: FormValue | undefined): Record<string, string> {
  if (value === undefined || typeof value === 'string' || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/** JSON with sorted keys: the same parameters give the same text whatever their order. */
function canonical(value: FormValue): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k] ?? '')}`).join(',')}}`;
}
