// The one module that speaks to Stripe, through its SDK's public API. Nothing of the SDK's types
// leaves it: the payments service sees the small interfaces below.
import Stripe from 'stripe';
import { AtelierError } from '@atelier/core';

/** What a Checkout Session is opened for: one job's HD result, at the payment row's price. */
export interface CheckoutRequest {
  readonly paymentId: string;
  readonly jobId: string;
  readonly userId: string;
  readonly amount: number;
  readonly currency: string;
  readonly productName: string;
  readonly productDescription: string;
  readonly successUrl: string;
  readonly cancelUrl: string;
  /** Stripe answers a repeated key with the session it made the first time, never a second one. */
  readonly idempotencyKey: string;
}

/** An opened Checkout Session, as far as Atelier keeps it. */
export interface CheckoutSession {
  readonly id: string;
  /** The hosted page to send the browser to. */
  readonly url: string;
  readonly expiresAt: Date | null;
}

/** A Checkout Session as a webhook event carries it. */
export interface SessionFacts {
  readonly id: string;
  /** 'paid', 'unpaid' (an asynchronous method still settling) or 'no_payment_required'. */
  readonly paymentStatus: string;
  readonly paymentIntentId: string | null;
  readonly amountTotal: number | null;
  readonly currency: string | null;
  /** `metadata.payment_id`: the payment row the session was opened for. */
  readonly paymentId: string | null;
}

/** A refunded charge, as `charge.refunded` carries it. */
export interface ChargeFacts {
  readonly id: string;
  readonly paymentIntentId: string | null;
  /** True once the whole amount is refunded. */
  readonly fullyRefunded: boolean;
  readonly amountRefunded: number;
}

/** A verified webhook event: its id, type, and the object it is about (when Atelier reads it). */
export interface PaymentEvent {
  readonly id: string;
  readonly type: string;
  readonly session?: SessionFacts;
  readonly charge?: ChargeFacts;
}

/** Stripe, as Atelier uses it. */
export interface PaymentGateway {
  /** Whether the key is a test-mode or a live-mode one. */
  readonly mode: 'test' | 'live';
  /** Opens (or, for a repeated idempotency key, finds) a Checkout Session. Throws PAYMENT_PROVIDER_FAILED. */
  createCheckout(request: CheckoutRequest): Promise<CheckoutSession>;
  /** Closes an open Checkout Session, so that it cannot be paid. Throws PAYMENT_PROVIDER_FAILED. */
  expireCheckout(sessionId: string): Promise<void>;
  /** Refunds a PaymentIntent in full (once per idempotency key). Throws PAYMENT_PROVIDER_FAILED. */
  refund(request: {
    readonly paymentIntentId: string;
    readonly paymentId: string;
    readonly idempotencyKey: string;
  }): Promise<void>;
  /** Asks Stripe whether the secret key is accepted: PAYMENTS_CONFIG_INVALID when it is refused. */
  verifyKey(): Promise<'ok' | 'unreachable'>;
  /** Verifies a webhook's signature and age, and reads the event. Throws WEBHOOK_SIGNATURE_INVALID. */
  parseEvent(rawBody: Buffer, signature: string | undefined): PaymentEvent;
}

/** Options of {@link createStripeGateway}. */
export interface StripeGatewayOptions {
  readonly secretKey: string;
  readonly webhookSecret: string;
  /** Another Stripe API (a test fake, stripe-mock): the SDK's `host`, `port` and `protocol`. */
  readonly apiUrl?: string | undefined;
  /** How old a signed webhook may be, in seconds. @default 300 */
  readonly toleranceSeconds?: number;
}

/** A {@link PaymentGateway} on the `stripe` SDK. */
export function createStripeGateway(options: StripeGatewayOptions): PaymentGateway {
  const api = options.apiUrl ? new URL(options.apiUrl) : undefined;
  const stripe = new Stripe(options.secretKey, {
    // Retries reuse the request's idempotency key, so a retried create is still one session.
    maxNetworkRetries: 2,
    timeout: 15_000,
    appInfo: { name: 'Atelier', url: 'https://github.com/atelier' },
    ...(api
      ? {
          host: api.hostname,
          port: api.port || (api.protocol === 'https:' ? 443 : 80),
          protocol: api.protocol === 'https:' ? ('https' as const) : ('http' as const),
        }
      : {}),
  });
  const tolerance = options.toleranceSeconds ?? 300;
  return {
    mode: /_live_/.test(options.secretKey) ? 'live' : 'test',

    async createCheckout(request) {
      const metadata = { payment_id: request.paymentId, job_id: request.jobId, user_id: request.userId };
      try {
        const session = await stripe.checkout.sessions.create(
          {
            mode: 'payment',
            line_items: [
              {
                quantity: 1,
                price_data: {
                  currency: request.currency,
                  unit_amount: request.amount,
                  product_data: { name: request.productName, description: request.productDescription },
                },
              },
            ],
            success_url: request.successUrl,
            cancel_url: request.cancelUrl,
            client_reference_id: request.paymentId,
            metadata,
            payment_intent_data: { metadata },
          },
          { idempotencyKey: request.idempotencyKey },
        );
        if (!session.url)
          throw new AtelierError(
            'PAYMENT_PROVIDER_FAILED',
            'Stripe opened a checkout without a page to send you to.',
          );
        return {
          id: session.id,
          url: session.url,
          expiresAt: session.expires_at ? new Date(session.expires_at * 1000) : null,
        };
      } catch (error) {
        throw providerError(error);
      }
    },

    async expireCheckout(sessionId) {
      try {
        await stripe.checkout.sessions.expire(sessionId);
      } catch (error) {
        throw providerError(error);
      }
    },

    async refund(request) {
      try {
        await stripe.refunds.create(
          {
            payment_intent: request.paymentIntentId,
            reason: 'duplicate',
            metadata: { payment_id: request.paymentId },
          },
          { idempotencyKey: request.idempotencyKey },
        );
      } catch (error) {
        throw providerError(error);
      }
    },

    async verifyKey() {
      try {
        await stripe.checkout.sessions.list({ limit: 1 });
        return 'ok';
      } catch (error) {
        if (error instanceof Stripe.errors.StripeAuthenticationError)
          throw new AtelierError(
            'PAYMENTS_CONFIG_INVALID',
            `STRIPE_SECRET_KEY was refused by Stripe: ${error.message}`,
            { cause: error },
          );
        if (error instanceof Stripe.errors.StripePermissionError)
          throw new AtelierError(
            'PAYMENTS_CONFIG_INVALID',
            `STRIPE_SECRET_KEY may not use Checkout Sessions (a restricted key needs "Checkout Sessions: write"): ${error.message}`,
            { cause: error },
          );
        if (error instanceof Stripe.errors.StripeConnectionError) return 'unreachable';
        throw providerError(error);
      }
    },

    parseEvent(rawBody, signature) {
      if (!signature)
        throw new AtelierError('WEBHOOK_SIGNATURE_INVALID', 'The request has no Stripe-Signature header.');
      let event: Stripe.Event;
      try {
        event = stripe.webhooks.constructEvent(rawBody, signature, options.webhookSecret, tolerance);
      } catch (error) {
        const stale = error instanceof Error && /tolerance/i.test(error.message);
        throw new AtelierError(
          'WEBHOOK_SIGNATURE_INVALID',
          stale
            ? `The event's signature is older than ${tolerance} s (a replay, or a clock far off).`
            : 'The Stripe-Signature header does not match the body with STRIPE_WEBHOOK_SECRET.',
          { cause: error },
        );
      }
      return factsOf(event);
    },
  };
}

/** The parts of an event Atelier acts on. */
function factsOf(event: Stripe.Event): PaymentEvent {
  // Stripe has hundreds of event types; these are the ones Atelier subscribes to.
  if (
    event.type === 'checkout.session.completed' ||
    event.type === 'checkout.session.async_payment_succeeded' ||
    event.type === 'checkout.session.async_payment_failed' ||
    event.type === 'checkout.session.expired'
  ) {
    const s = event.data.object;
    return {
      id: event.id,
      type: event.type,
      session: {
        id: s.id,
        paymentStatus: s.payment_status,
        paymentIntentId: idOf(s.payment_intent),
        amountTotal: s.amount_total ?? null,
        currency: s.currency ?? null,
        paymentId: s.metadata?.['payment_id'] ?? null,
      },
    };
  }
  if (event.type === 'charge.refunded') {
    const c = event.data.object;
    return {
      id: event.id,
      type: event.type,
      charge: {
        id: c.id,
        paymentIntentId: idOf(c.payment_intent),
        fullyRefunded: c.refunded,
        amountRefunded: c.amount_refunded,
      },
    };
  }
  return { id: event.id, type: event.type };
}

const idOf = (value: string | { id: string } | null | undefined): string | null =>
  value == null ? null : typeof value === 'string' ? value : value.id;

/** A failed call to Stripe as PAYMENT_PROVIDER_FAILED, with what Stripe said (never the key). */
function providerError(error: unknown): AtelierError {
  if (error instanceof AtelierError) return error;
  if (error instanceof Stripe.errors.StripeConnectionError)
    return new AtelierError(
      'PAYMENT_PROVIDER_FAILED',
      'Stripe could not be reached; try again in a moment (you will not be charged twice).',
      { cause: error },
    );
  if (error instanceof Stripe.errors.StripeError)
    return new AtelierError('PAYMENT_PROVIDER_FAILED', `Stripe refused the request: ${error.message}`, {
      cause: error,
      details: { stripeType: error.type, ...(error.code ? { stripeCode: error.code } : {}) },
    });
  return new AtelierError('PAYMENT_PROVIDER_FAILED', 'The checkout could not be opened.', { cause: error });
}
