import type { FastifyError, FastifyInstance } from 'fastify';
import { AtelierError, isAtelierError } from '@atelier/core';
import { databaseUnavailable } from '@atelier/db';
import { errorBody } from '../error-body.ts';
import { fastifyErrorAsAtelier } from '../errors.ts';

/** The largest webhook body accepted; Stripe's events are a few kilobytes. */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

/** What the webhook route calls: verification of the raw body, then the event's application. */
export interface WebhookTarget<E> {
  /** Throws PAYMENTS_DISABLED or WEBHOOK_SIGNATURE_INVALID. */
  parseWebhook(rawBody: Buffer, signature: string | undefined): E;
  /** Applies a verified event once; returns what was done. */
  handleEvent(event: E): Promise<string>;
}

/** Options of {@link stripeWebhookPlugin}. */
export interface StripeWebhookPluginOptions<E> {
  readonly target: WebhookTarget<E>;
}

/**
 * `POST /webhooks/stripe`: Stripe's events about checkouts and refunds (docs/payments.md). The
 * body is read raw (the signature is over its exact bytes), at most 1 MiB, whatever its
 * content type; a bad or stale signature is 400 and changes nothing; a verified event is answered
 * 200 whatever it did (a duplicate, an unknown session), so that Stripe stops sending it; a
 * database failure is 503, so that Stripe sends it again later.
 *
 * @example
 * await app.register(stripeWebhookPlugin, { target: paymentsService });
 */
export async function stripeWebhookPlugin<E>(
  app: FastifyInstance,
  options: StripeWebhookPluginOptions<E>,
): Promise<void> {
  const { target } = options;
  // This plugin's own scope: the raw bytes for every content type, and a small limit.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_req, body, done) =>
    done(null, body),
  );
  // A body over the limit (by its Content-Length, or counted as it streams in) is refused unread.
  app.setErrorHandler((fault: FastifyError, req, reply) => {
    const status =
      fault.statusCode && fault.statusCode >= 400 && fault.statusCode < 500 ? fault.statusCode : 500;
    if (status === 500) req.log.error({ err: fault }, 'stripe webhook failed');
    const coded = fastifyErrorAsAtelier(fault, status, {
      id: req.id,
      headers: req.headers,
      upload: false,
      maxUploadBytes: WEBHOOK_BODY_LIMIT,
    });
    const error =
      coded.code === 'BODY_TOO_LARGE'
        ? new AtelierError('BODY_TOO_LARGE', `Webhook bodies are at most ${WEBHOOK_BODY_LIMIT} bytes.`, {
            details: { limitBytes: WEBHOOK_BODY_LIMIT },
          })
        : coded;
    return reply.code(error.status).send(errorBody('plain', { error, requestId: req.id }));
  });
  app.post('/webhooks/stripe', { bodyLimit: WEBHOOK_BODY_LIMIT }, async (req, reply) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const header = req.headers['stripe-signature'];
    try {
      const event = target.parseWebhook(raw, typeof header === 'string' ? header : undefined);
      const outcome = await target.handleEvent(event);
      return { received: true, outcome };
    } catch (cause) {
      const unavailable = databaseUnavailable(cause);
      const error = unavailable ?? (isAtelierError(cause) ? cause : undefined);
      if (!error) req.log.error({ err: cause }, 'stripe webhook failed');
      else if (error.code === 'WEBHOOK_SIGNATURE_INVALID')
        req.log.warn({ reason: error.message }, 'stripe webhook refused');
      const coded =
        error ?? new AtelierError('INTERNAL', 'The event could not be applied; Stripe will send it again.');
      return reply.code(coded.status).send(errorBody('plain', { error: coded, requestId: req.id }));
    }
  });
}
