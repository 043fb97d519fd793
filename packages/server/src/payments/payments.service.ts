import type { Kysely, Transaction } from 'kysely';
import { sql } from 'kysely';
import sharp from 'sharp';
import { AtelierError, CONTENT_TYPES, encodeImage, planSchema, silentLogger } from '@atelier/core';
import type { Logger, OutputFormat, PlanOutput, Storage } from '@atelier/core';
import { exactCreatedAt, isUuid, olderThan, pageOf } from '@atelier/db';
import type { Database, Payment, PaymentStatus, UserRole } from '@atelier/db';
import { freeCopyKey } from '@atelier/jobs';
import type { JobRecord } from '@atelier/jobs';
import { audit } from '../audit.ts';
import type { Actor } from '../audit.ts';
import type { PaymentsConfig } from '../config.ts';
import type { PaymentEvent, PaymentGateway, SessionFacts } from './stripe-gateway.ts';

/** A price in the currency's smallest unit (cents). */
export interface Price {
  readonly amount: number;
  readonly currency: string;
}

/**
 * Who may download a job's full-resolution result: `free` (payments off, a result no larger than
 * the free size, or an administrator's job), `unlocked` (paid or granted), `locked`.
 */
export type HdState = 'free' | 'locked' | 'unlocked';

/** A job's HD access as the API shows it. */
export interface HdView {
  readonly state: HdState;
  /** The price of unlocking, while it is locked. */
  readonly price: Price | null;
  /** The size of the standard (free) file, `/files/jobs/:id`. */
  readonly standard: { readonly width: number; readonly height: number };
}

/** A payment as services return it. */
export interface PaymentRecord {
  readonly id: string;
  readonly userId: string | null;
  readonly jobId: string | null;
  readonly amount: number;
  readonly currency: string;
  readonly status: PaymentStatus;
  /** Stripe's hosted page, while the payment is pending and its session open. */
  readonly checkoutUrl: string | null;
  readonly createdAt: Date;
  readonly settledAt: Date | null;
  readonly expiresAt: Date | null;
  readonly failureReason: string | null;
}

/** What `createCheckout` answers: a page to pay on, or that there is nothing to pay. */
export type CheckoutOutcome =
  | { readonly status: 'open'; readonly url: string; readonly payment: PaymentRecord }
  | { readonly status: 'unlocked'; readonly reason: 'paid' | 'granted' | 'free' };

/** A stored file to send: its key, format and ETag. */
export interface ResultFile {
  readonly key: string;
  readonly format: string;
  readonly etag: string;
}

/** Options of {@link PaymentsService}. */
export interface PaymentsServiceOptions {
  readonly db: Kysely<Database>;
  /** Where results are, for their standard copies; a process that sends no files has none. */
  readonly storage: Storage | undefined;
  readonly config: PaymentsConfig;
  /** Stripe; undefined when payments are off (no STRIPE_SECRET_KEY). */
  readonly gateway: PaymentGateway | undefined;
  readonly logger?: Logger;
}

/** Why a checkout that {@link PaymentsService} closed ended. */
const CLOSED_UNLOCKED = 'Closed: the job was unlocked.';

/** A pending session is offered again only while it has this long left (ms). */
const REUSE_MARGIN_MS = 5 * 60_000;
/** Stripe keeps idempotency keys for 24 hours; a row whose session was never made retries within that. */
const KEY_LIFETIME_MS = 23 * 3600_000;

const PAYMENT_COLUMNS = [
  'payments.id',
  'payments.user_id',
  'payments.job_id',
  'payments.amount',
  'payments.currency',
  'payments.status',
  'payments.checkout_url',
  'payments.created_at',
  'payments.settled_at',
  'payments.session_expires_at',
  'payments.failure_reason',
] as const;

type PaymentRow = Pick<
  Payment,
  | 'id'
  | 'user_id'
  | 'job_id'
  | 'amount'
  | 'currency'
  | 'status'
  | 'checkout_url'
  | 'created_at'
  | 'settled_at'
  | 'session_expires_at'
  | 'failure_reason'
>;

function toPaymentRecord(row: PaymentRow): PaymentRecord {
  const open = row.status === 'pending' && row.checkout_url !== null;
  return {
    id: row.id,
    userId: row.user_id,
    jobId: row.job_id,
    amount: row.amount,
    currency: row.currency,
    status: row.status,
    checkoutUrl:
      open && (!row.session_expires_at || row.session_expires_at > new Date()) ? row.checkout_url : null,
    createdAt: row.created_at,
    settledAt: row.settled_at,
    expiresAt: row.session_expires_at,
    failureReason: row.failure_reason,
  };
}

/**
 * Paid HD (docs/payments.md): which file of a job a caller may download, Stripe Checkout for the
 * full-resolution one, the webhook events that settle payments, and administrators' grants.
 *
 * Money safety rests on three things: a payment row is written, under a per-job lock, before
 * Stripe is asked for a session, and the row's idempotency key (user, job, attempt) makes every
 * retry of that request the same session; only a verified event about a session Atelier opened
 * unlocks anything, matched by the session's id (never by ids in the event's metadata alone);
 * and each event id is applied once, in the transaction that applies it.
 */
export class PaymentsService {
  readonly #db: Kysely<Database>;
  readonly #storage: Storage | undefined;
  readonly #config: PaymentsConfig;
  readonly #gateway: PaymentGateway | undefined;
  readonly #logger: Logger;

  constructor(options: PaymentsServiceOptions) {
    this.#db = options.db;
    this.#storage = options.storage;
    this.#config = options.config;
    this.#gateway = options.gateway;
    this.#logger = options.logger ?? silentLogger;
  }

  /** True when Stripe keys are configured: HD results larger than the free size are paid. */
  get enabled(): boolean {
    return this.#gateway !== undefined;
  }

  /** `off`, or the Stripe key's mode. */
  get mode(): 'off' | 'test' | 'live' {
    return this.#gateway?.mode ?? 'off';
  }

  /** What a client shows before any checkout: whether HD is paid, its price, the free size. */
  settings(): { enabled: boolean; mode: 'off' | 'test' | 'live'; price: Price | null; freeMaxSide: number } {
    return {
      enabled: this.enabled,
      mode: this.mode,
      price: this.enabled ? this.#config.price : null,
      freeMaxSide: this.#config.freeMaxSide,
    };
  }

  /**
   * Asks Stripe whether the key works (at start-up): `off` without keys, `unreachable` when Stripe
   * did not answer. @throws AtelierError PAYMENTS_CONFIG_INVALID when Stripe refuses the key
   */
  async verify(): Promise<'off' | 'ok' | 'unreachable'> {
    return this.#gateway ? this.#gateway.verifyKey() : 'off';
  }

  /** A job's HD access; null while it has no result. */
  hd(job: JobRecord, ownerRole: UserRole): HdView | null {
    if (!job.output) return null;
    const state = this.#state(job, ownerRole);
    return {
      state,
      price: state === 'locked' ? this.#config.price : null,
      // A free result (small, payments off, or an administrator's) is the full output from both routes.
      standard:
        state === 'free' ? { width: job.output.width, height: job.output.height } : this.#fitted(job.output),
    };
  }

  /**
   * The stored file behind `/files/jobs/:id` (`standard`) or `/files/jobs/:id/hd`. The standard
   * file of a large result that is not free (payments on, the owner not an administrator) is a
   * copy fitted inside the free size, made on the first download and stored. @throws AtelierError
   * PAYMENT_REQUIRED (the HD file of a locked job, with the price in `details`), JOB_NOT_FINISHED
   */
  async resultFile(job: JobRecord, variant: 'standard' | 'hd'): Promise<ResultFile> {
    const output = job.output;
    if (!output)
      throw new AtelierError('JOB_NOT_FINISHED', `Job ${job.id} is ${job.status}; it has no result yet.`);
    const tail = output.key.split('/').pop() ?? output.key;
    const full = { key: output.key, format: output.format, etag: `${job.planHash}-${tail}` };
    if (!this.#large(job)) return full;
    const state = this.#state(job, await this.#roleOf(job.ownerId));
    if (variant === 'hd') {
      if (state === 'locked') throw this.#paymentRequired(job);
      return full;
    }
    // An administrator's result is free: the full output from both routes, as hd() says.
    if (state === 'free') return full;
    const key = freeCopyKey(output.key, this.#config.freeMaxSide);
    if (!key) return full;
    const storage = this.#storage;
    if (!storage) throw new Error('PaymentsService: resultFile needs the storage, and was made without one.');
    if (!(await storage.head(key)))
      await storage.put(key, await this.#fitCopy(storage, job), {
        contentType: CONTENT_TYPES[output.format as OutputFormat],
      });
    return { key, format: output.format, etag: `${job.planHash}-free${this.#config.freeMaxSide}-${tail}` };
  }

  /** Throws PAYMENT_REQUIRED when `job`'s HD file is locked (before a signed URL is handed out). */
  async assertHdAllowed(job: JobRecord): Promise<void> {
    if (job.output && this.#large(job) && this.#state(job, await this.#roleOf(job.ownerId)) === 'locked')
      throw this.#paymentRequired(job);
  }

  /**
   * Opens a Stripe Checkout for `job`'s HD result, or answers that there is nothing to pay. Two
   * calls at once, a double click, or a retry after a timeout get the same session: the pending
   * row is found under the job's lock, and its idempotency key makes Stripe return the session it
   * made for it. @throws AtelierError JOB_NOT_FINISHED, PAYMENT_PROVIDER_FAILED
   */
  async createCheckout(args: {
    readonly job: JobRecord;
    readonly userId: string;
    readonly role: UserRole;
    /** The web app's origin, for Stripe's return URLs. */
    readonly origin: string;
  }): Promise<CheckoutOutcome> {
    const { job, userId } = args;
    if (!job.output)
      throw new AtelierError(
        'JOB_NOT_FINISHED',
        `Job ${job.id} is ${job.status}; it has no result to unlock yet.`,
      );
    if (job.ownerId !== userId) throw new AtelierError('JOB_NOT_FOUND', `No job ${job.id}.`);
    const gateway = this.#gateway;
    if (!gateway || this.#state(job, args.role) === 'free') return { status: 'unlocked', reason: 'free' };
    const now = new Date();
    const row = await this.#db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext(${`atelier:hd:${job.id}`}))`.execute(trx);
      const current = await trx
        .selectFrom('jobs')
        .select(['hd_unlocked_at', 'hd_unlock_source'])
        .where('id', '=', job.id)
        .executeTakeFirst();
      if (!current) throw new AtelierError('JOB_NOT_FOUND', `No job ${job.id}.`);
      if (current.hd_unlocked_at)
        return { unlocked: current.hd_unlock_source === 'grant' ? ('granted' as const) : ('paid' as const) };
      // The same image, already unlocked in another of the owner's jobs (the same photo and plan,
      // rendered again or served from the result cache): paid for once, never twice. The unlock is
      // shared with that payment, so refunding it locks both.
      const twin = await trx
        .selectFrom('jobs')
        .select(['id', 'hd_unlock_source', 'hd_payment_id'])
        .where('owner_id', '=', userId)
        .where('output_key', '=', job.output!.key)
        .where('hd_unlocked_at', 'is not', null)
        .where('id', '!=', job.id)
        .limit(1)
        .executeTakeFirst();
      if (twin) {
        await trx
          .updateTable('jobs')
          .set({
            hd_unlocked_at: now,
            hd_unlock_source: twin.hd_unlock_source,
            hd_payment_id: twin.hd_payment_id,
          })
          .where('id', '=', job.id)
          .execute();
        await audit(
          trx,
          null,
          'hd.unlock',
          { type: 'job', id: job.id },
          { via: 'same-result', job: twin.id },
        );
        return { unlocked: twin.hd_unlock_source === 'grant' ? ('granted' as const) : ('paid' as const) };
      }
      const pending = await trx
        .selectFrom('payments')
        .selectAll()
        .where('job_id', '=', job.id)
        .where('status', '=', 'pending')
        .forUpdate()
        .executeTakeFirst();
      if (pending && this.#reusable(pending, now)) return { payment: pending };
      if (pending)
        // Its session expires within minutes (or was never made and its key is too old to reuse):
        // settled here, and closed at Stripe below; Stripe's own `expired` event, or a `completed`
        // that beat the close, still applies to it (a second payment is then refunded).
        await trx
          .updateTable('payments')
          .set({
            status: 'expired',
            settled_at: now,
            updated_at: now,
            failure_reason: pending.stripe_session_id
              ? 'The checkout expired.'
              : 'The checkout was never opened.',
          })
          .where('id', '=', pending.id)
          .execute();
      const last = await trx
        .selectFrom('payments')
        .select(({ fn }) => fn.max('attempt').as('attempt'))
        .where('job_id', '=', job.id)
        .where('user_id', '=', userId)
        .executeTakeFirst();
      const attempt = Number(last?.attempt ?? 0) + 1;
      const back = `${args.origin}/gallery/${job.id}`;
      const payment = await trx
        .insertInto('payments')
        .values({
          user_id: userId,
          job_id: job.id,
          attempt,
          amount: this.#config.price.amount,
          currency: this.#config.price.currency,
          idempotency_key: `atelier-hd-${userId}-${job.id}-${attempt}`,
          success_url: `${back}?checkout=success&session_id={CHECKOUT_SESSION_ID}`,
          cancel_url: `${back}?checkout=cancelled`,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return { payment, stale: pending?.stripe_session_id ?? null };
    });
    if ('unlocked' in row) {
      // Any checkout of it still open (a grant, or an unlock by another tab) can no longer be paid.
      await this.#closeOpenCheckouts(job.id);
      return { status: 'unlocked', reason: row.unlocked };
    }
    if ('stale' in row && row.stale)
      await gateway.expireCheckout(row.stale).catch((error: unknown) =>
        this.#logger.warn('an old checkout could not be closed', {
          session: row.stale,
          error: String(error),
        }),
      );
    let payment = row.payment;
    if (!payment.stripe_session_id || !payment.checkout_url) {
      const output = job.output;
      const session = await gateway.createCheckout({
        paymentId: payment.id,
        jobId: job.id,
        userId,
        amount: payment.amount,
        currency: payment.currency,
        productName: `HD result: ${job.style}`,
        productDescription: `The full-resolution ${output.width}×${output.height} image of job ${job.id}.`,
        successUrl: payment.success_url,
        cancelUrl: payment.cancel_url,
        idempotencyKey: payment.idempotency_key,
      });
      payment = await this.#db
        .updateTable('payments')
        .set({
          stripe_session_id: session.id,
          checkout_url: session.url,
          session_expires_at: session.expiresAt,
          updated_at: new Date(),
        })
        .where('id', '=', payment.id)
        .returningAll()
        .executeTakeFirstOrThrow();
    }
    return { status: 'open', url: payment.checkout_url!, payment: toPaymentRecord(payment) };
  }

  /**
   * Verifies and reads a webhook request. @throws AtelierError PAYMENTS_DISABLED (payments off),
   * WEBHOOK_SIGNATURE_INVALID (no signature, a wrong one, or older than 5 minutes)
   */
  parseWebhook(rawBody: Buffer, signature: string | undefined): PaymentEvent {
    if (!this.#gateway)
      throw new AtelierError(
        'PAYMENTS_DISABLED',
        'Payments are off on this server; it expects no Stripe events.',
      );
    return this.#gateway.parseEvent(rawBody, signature);
  }

  /**
   * Applies a verified event, once: the event's id is stored in the transaction that applies it,
   * so a redelivery (or the same event arriving twice at once) finds it and changes nothing.
   * Returns what was done, for the answer to Stripe and the log.
   */
  async handleEvent(event: PaymentEvent): Promise<string> {
    // Calls to Stripe an event leads to (refunding a payment that unlocked nothing, closing other
    // open checkouts of a job it unlocked), made once its transaction has committed.
    const after: (() => Promise<void>)[] = [];
    const intent = event.session?.paymentIntentId ?? event.charge?.paymentIntentId ?? null;
    const outcome = await this.#db.transaction().execute(async (trx) => {
      // A refund and its payment's completion can arrive at the same moment. Each looks for what
      // the other writes (the refund for the paid row, the completion for a deferred refund), and
      // under READ COMMITTED neither sees the other's uncommitted write: the refund would be kept
      // as deferred for ever and the job stay unlocked. So the events of one PaymentIntent are
      // applied one at a time; the later one then sees the earlier one's rows.
      if (intent) await sql`select pg_advisory_xact_lock(hashtext(${`atelier:pi:${intent}`}))`.execute(trx);
      const fresh = await trx
        .insertInto('stripe_events')
        .values({
          id: event.id,
          type: event.type,
          object_id: event.session?.id ?? event.charge?.id ?? null,
          payment_intent: intent,
        })
        .onConflict((oc) => oc.column('id').doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!fresh) return 'duplicate';
      const result = await this.#apply(trx, event, after);
      await trx.updateTable('stripe_events').set({ outcome: result }).where('id', '=', event.id).execute();
      return result;
    });
    this.#logger.info('stripe event', { event: event.id, type: event.type, outcome });
    for (const act of after) await act();
    return outcome;
  }

  async #apply(
    trx: Transaction<Database>,
    event: PaymentEvent,
    after: (() => Promise<void>)[],
  ): Promise<string> {
    const now = new Date();
    if (event.session) {
      const session = event.session;
      const payment = await this.#paymentOfSession(trx, session);
      if (!payment) return 'unknown-session';
      switch (event.type) {
        case 'checkout.session.completed':
        case 'checkout.session.async_payment_succeeded':
          return session.paymentStatus === 'paid'
            ? this.#paid(trx, payment, session, now, after)
            : this.#awaiting(trx, payment, session, now);
        case 'checkout.session.async_payment_failed':
          return this.#settle(trx, payment, 'failed', 'The payment method failed.', now);
        case 'checkout.session.expired':
          return this.#settle(trx, payment, 'expired', await this.#expiryReason(trx, payment), now);
      }
    }
    if (event.type === 'charge.refunded' && event.charge) {
      const charge = event.charge;
      if (!charge.fullyRefunded) return 'partial-refund';
      if (!charge.paymentIntentId) return 'unknown-charge';
      const payment = await trx
        .selectFrom('payments')
        .selectAll()
        .where('stripe_payment_intent_id', '=', charge.paymentIntentId)
        .forUpdate()
        .executeTakeFirst();
      // Before the payment's completion arrived: kept (this event's row), applied when it does.
      if (!payment) return 'deferred';
      return this.#refunded(trx, payment, now);
    }
    return 'ignored';
  }

  /** Our row for a session: by its id, or (a crash lost the id) by the row id it was opened for. */
  async #paymentOfSession(trx: Transaction<Database>, session: SessionFacts): Promise<Payment | undefined> {
    const bySession = await trx
      .selectFrom('payments')
      .selectAll()
      .where('stripe_session_id', '=', session.id)
      .forUpdate()
      .executeTakeFirst();
    if (bySession || !session.paymentId || !isUuid(session.paymentId)) return bySession;
    const byRow = await trx
      .selectFrom('payments')
      .selectAll()
      .where('id', '=', session.paymentId)
      .where('stripe_session_id', 'is', null)
      .forUpdate()
      .executeTakeFirst();
    if (!byRow) return undefined;
    await trx
      .updateTable('payments')
      .set({ stripe_session_id: session.id })
      .where('id', '=', byRow.id)
      .execute();
    return { ...byRow, stripe_session_id: session.id };
  }

  async #paid(
    trx: Transaction<Database>,
    payment: Payment,
    session: SessionFacts,
    now: Date,
    after: (() => Promise<void>)[],
  ): Promise<string> {
    if (payment.status === 'paid' || payment.status === 'refunded') return `already-${payment.status}`;
    if (session.amountTotal !== payment.amount || session.currency?.toLowerCase() !== payment.currency) {
      this.#logger.warn('a paid session does not match its payment; nothing unlocked', {
        payment: payment.id,
        session: session.id,
      });
      return 'amount-mismatch';
    }
    // A refund that arrived first (events come in any order) settles it as refunded at once.
    const refundedFirst =
      session.paymentIntentId !== null &&
      (await trx
        .selectFrom('stripe_events')
        .select('id')
        .where('payment_intent', '=', session.paymentIntentId)
        .where('outcome', '=', 'deferred')
        .executeTakeFirst()) !== undefined;
    await trx
      .updateTable('payments')
      .set({
        status: refundedFirst ? 'refunded' : 'paid',
        stripe_payment_intent_id: session.paymentIntentId,
        failure_reason: null,
        settled_at: now,
        updated_at: now,
      })
      .where('id', '=', payment.id)
      .execute();
    if (refundedFirst) {
      await trx
        .updateTable('stripe_events')
        .set({ outcome: 'refund-applied' })
        .where('payment_intent', '=', session.paymentIntentId)
        .where('outcome', '=', 'deferred')
        .execute();
      return 'paid-then-refunded';
    }
    if (!payment.job_id || !payment.user_id) {
      await this.#refundUnused(trx, payment, 'the job was deleted before the payment completed', after);
      return 'paid-job-gone';
    }
    const unlocked = await trx
      .updateTable('jobs')
      .set({ hd_unlocked_at: now, hd_unlock_source: 'payment', hd_payment_id: payment.id })
      .where('id', '=', payment.job_id)
      .where('owner_id', '=', payment.user_id)
      .where('hd_unlocked_at', 'is', null)
      .returning('id')
      .executeTakeFirst();
    // Audited only when this payment unlocked the job: one paid after a grant unlocks nothing (its
    // row says it was paid), and its refund will lock nothing either.
    if (unlocked)
      await audit(
        trx,
        null,
        'hd.unlock',
        { type: 'job', id: payment.job_id },
        {
          via: 'stripe',
          payment: payment.id,
          amount: payment.amount,
          currency: payment.currency,
        },
      );
    if (!unlocked) {
      // Paid for a job already unlocked (another checkout of it, opened before this one was
      // closed, or an administrator's grant): nobody is charged twice for one image.
      await this.#refundUnused(trx, payment, 'the job was already unlocked', after);
      return 'paid-already-unlocked';
    }
    const jobId = payment.job_id;
    after.push(() => this.#closeOpenCheckouts(jobId));
    return 'unlocked';
  }

  /**
   * A paid payment that unlocked nothing: marked so (in `trx`), and refunded in full through
   * Stripe once `trx` has committed. The refund's own `charge.refunded` event then settles it as
   * refunded. Should Stripe refuse, the reason says to refund it by hand.
   */
  async #refundUnused(
    trx: Transaction<Database>,
    payment: Payment,
    why: string,
    after: (() => Promise<void>)[],
  ): Promise<void> {
    const reason = `Refunded automatically: ${why}.`;
    await trx.updateTable('payments').set({ failure_reason: reason }).where('id', '=', payment.id).execute();
    const gateway = this.#gateway;
    const intent = (
      await trx
        .selectFrom('payments')
        .select('stripe_payment_intent_id')
        .where('id', '=', payment.id)
        .executeTakeFirst()
    )?.stripe_payment_intent_id;
    if (!gateway || !intent) return;
    after.push(async () => {
      try {
        await gateway.refund({
          paymentIntentId: intent,
          idempotencyKey: `atelier-refund-${payment.id}`,
          paymentId: payment.id,
        });
        this.#logger.info('refunded a payment that unlocked nothing', { payment: payment.id, why });
      } catch (error) {
        this.#logger.error('the automatic refund failed; refund the payment in the Stripe Dashboard', {
          payment: payment.id,
          error: String(error),
        });
        await this.#db
          .updateTable('payments')
          .set({
            failure_reason: `It unlocked nothing (${why}), and the automatic refund failed: refund it in the Stripe Dashboard.`,
          })
          .where('id', '=', payment.id)
          .execute()
          .catch(() => {});
      }
    });
  }

  /**
   * Closes (expires at Stripe, and settles here) every checkout of `jobId` still open after the
   * job was unlocked, so that none of them can be paid as well. A checkout Stripe will not close
   * (paid meanwhile) is left to its own events, which refund it.
   */
  async #closeOpenCheckouts(jobId: string): Promise<void> {
    const gateway = this.#gateway;
    if (!gateway) return;
    const open = await this.#db
      .selectFrom('payments')
      .select(['id', 'stripe_session_id'])
      .where('job_id', '=', jobId)
      .where('status', '=', 'pending')
      .where('stripe_session_id', 'is not', null)
      .execute();
    for (const row of open) {
      try {
        await gateway.expireCheckout(row.stripe_session_id!);
        const now = new Date();
        await this.#db
          .updateTable('payments')
          .set({
            status: 'expired',
            failure_reason: CLOSED_UNLOCKED,
            settled_at: now,
            updated_at: now,
          })
          .where('id', '=', row.id)
          .where('status', '=', 'pending')
          .execute();
      } catch (error) {
        this.#logger.warn('an open checkout of an unlocked job could not be closed', {
          payment: row.id,
          error: String(error),
        });
      }
    }
  }

  async #awaiting(
    trx: Transaction<Database>,
    payment: Payment,
    session: SessionFacts,
    now: Date,
  ): Promise<string> {
    if (payment.status !== 'pending') return `already-${payment.status}`;
    await trx
      .updateTable('payments')
      .set({ stripe_payment_intent_id: session.paymentIntentId, updated_at: now })
      .where('id', '=', payment.id)
      .execute();
    return 'awaiting-payment';
  }

  async #settle(
    trx: Transaction<Database>,
    payment: Payment,
    status: 'failed' | 'expired',
    reason: string,
    now: Date,
  ): Promise<string> {
    // Only a pending payment settles so; one paid (or refunded) meanwhile stays as it is, and one
    // this service already marked expired takes Stripe's word as the same.
    if (payment.status !== 'pending' && !(payment.status === 'expired' && status === 'expired'))
      return `already-${payment.status}`;
    await trx
      .updateTable('payments')
      .set({ status, failure_reason: reason, settled_at: payment.settled_at ?? now, updated_at: now })
      .where('id', '=', payment.id)
      .execute();
    return status;
  }

  /** Why a checkout expired: closed because its job was unlocked otherwise, or left unpaid. */
  async #expiryReason(trx: Transaction<Database>, payment: Payment): Promise<string> {
    const job = payment.job_id
      ? await trx
          .selectFrom('jobs')
          .select('hd_unlocked_at')
          .where('id', '=', payment.job_id)
          .executeTakeFirst()
      : undefined;
    return job?.hd_unlocked_at ? CLOSED_UNLOCKED : 'The checkout expired.';
  }

  async #refunded(trx: Transaction<Database>, payment: Payment, now: Date): Promise<string> {
    if (payment.status === 'refunded') return 'already-refunded';
    await trx
      .updateTable('payments')
      .set({ status: 'refunded', updated_at: now, settled_at: now })
      .where('id', '=', payment.id)
      .execute();
    // Every job this payment unlocked: its own, and the owner's others with the same image.
    const locked = await trx
      .updateTable('jobs')
      .set({ hd_unlocked_at: null, hd_unlock_source: null, hd_payment_id: null })
      .where('hd_payment_id', '=', payment.id)
      .returning('id')
      .execute();
    for (const job of locked)
      await audit(
        trx,
        null,
        'hd.lock',
        { type: 'job', id: job.id },
        { via: 'stripe', payment: payment.id, reason: 'refunded' },
      );
    return locked.length > 0 ? 'refunded-locked' : 'refunded';
  }

  /** Payments, newest first: one user's, or everyone's (administrators), optionally by status. */
  async list(args: {
    readonly userId?: string;
    readonly status?: PaymentStatus;
    readonly limit?: number;
    readonly cursor?: string;
  }): Promise<{ items: (PaymentRecord & { userEmail: string | null })[]; nextCursor: string | null }> {
    const limit = Math.max(1, Math.min(100, args.limit ?? 20));
    let query = this.#db
      .selectFrom('payments')
      .leftJoin('users', 'users.id', 'payments.user_id')
      .select([...PAYMENT_COLUMNS, 'users.email', exactCreatedAt('payments').as('cursor_at')])
      .orderBy('payments.created_at', 'desc')
      .orderBy('payments.id', 'desc')
      .limit(limit + 1);
    if (args.userId !== undefined) query = query.where('payments.user_id', '=', args.userId);
    if (args.status !== undefined) query = query.where('payments.status', '=', args.status);
    if (args.cursor !== undefined) query = query.where(olderThan(args.cursor, 'payments'));
    return pageOf(await query.execute(), limit, (row) => ({ ...toPaymentRecord(row), userEmail: row.email }));
  }

  /** One payment (only `userId`'s when given). @throws AtelierError PAYMENT_NOT_FOUND */
  async get(id: string, userId?: string): Promise<PaymentRecord> {
    let query = this.#db.selectFrom('payments').select(PAYMENT_COLUMNS).where('payments.id', '=', id);
    if (userId !== undefined) query = query.where('payments.user_id', '=', userId);
    const row = isUuid(id) ? await query.executeTakeFirst() : undefined;
    if (!row) throw new AtelierError('PAYMENT_NOT_FOUND', `No payment ${id}.`);
    return toPaymentRecord(row);
  }

  /**
   * An administrator's grant (or revocation) of a job's HD result, audited in the same transaction.
   * `actor` is null from the CLI. @throws AtelierError JOB_NOT_FOUND
   */
  async setUnlocked(
    actor: Actor | null,
    jobId: string,
    unlocked: boolean,
  ): Promise<{ jobId: string; unlocked: boolean }> {
    if (!isUuid(jobId)) throw new AtelierError('JOB_NOT_FOUND', `No job ${jobId}.`);
    const result = await this.#db.transaction().execute(async (trx) => {
      // The lock createCheckout takes: a grant and a checkout of one job do not interleave.
      await sql`select pg_advisory_xact_lock(hashtext(${`atelier:hd:${jobId}`}))`.execute(trx);
      const job = await trx
        .updateTable('jobs')
        .set(
          unlocked
            ? { hd_unlocked_at: new Date(), hd_unlock_source: 'grant', hd_payment_id: null }
            : { hd_unlocked_at: null, hd_unlock_source: null, hd_payment_id: null },
        )
        .where('id', '=', jobId)
        .returning(['id', 'owner_id'])
        .executeTakeFirst();
      if (!job) throw new AtelierError('JOB_NOT_FOUND', `No job ${jobId}.`);
      await audit(
        trx,
        actor,
        unlocked ? 'hd.grant' : 'hd.revoke',
        { type: 'job', id: jobId },
        {
          owner: job.owner_id,
          ...(actor ? {} : { via: 'cli' }),
        },
      );
      return { jobId, unlocked };
    });
    // A granted job's open checkouts are closed: nobody pays for what they were given.
    if (unlocked) await this.#closeOpenCheckouts(jobId);
    return result;
  }

  #large(job: JobRecord): boolean {
    const output = job.output;
    return (
      this.#gateway !== undefined &&
      output !== null &&
      Math.max(output.width, output.height) > this.#config.freeMaxSide
    );
  }

  #state(job: JobRecord, ownerRole: UserRole): HdState {
    if (!this.#large(job) || ownerRole === 'admin') return 'free';
    return job.hdUnlockedAt ? 'unlocked' : 'locked';
  }

  #fitted(output: { width: number; height: number }): { width: number; height: number } {
    const scale = this.#config.freeMaxSide / Math.max(output.width, output.height);
    return {
      width: Math.max(1, Math.round(output.width * scale)),
      height: Math.max(1, Math.round(output.height * scale)),
    };
  }

  async #roleOf(userId: string): Promise<UserRole> {
    const user = await this.#db
      .selectFrom('users')
      .select('role')
      .where('id', '=', userId)
      .executeTakeFirst();
    return user?.role ?? 'user';
  }

  #paymentRequired(job: JobRecord): AtelierError {
    const { amount, currency } = this.#config.price;
    return new AtelierError(
      'PAYMENT_REQUIRED',
      `The full-resolution result of job ${job.id} is unlocked by a payment of ${formatPrice(this.#config.price)}.`,
      { details: { jobId: job.id, price: { amount, currency } } },
    );
  }

  #reusable(row: Payment, now: Date): boolean {
    if (row.stripe_session_id)
      return (
        row.session_expires_at === null || row.session_expires_at.getTime() - now.getTime() > REUSE_MARGIN_MS
      );
    return now.getTime() - row.created_at.getTime() < KEY_LIFETIME_MS;
  }

  /** The free copy: the result fitted inside the free size, encoded as the plan encoded the result. */
  async #fitCopy(storage: Storage, job: JobRecord): Promise<Uint8Array> {
    const output = job.output!;
    const size = this.#fitted(output);
    const { data, info } = await sharp(await storage.get(output.key))
      .resize({ width: size.width, height: size.height, fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    const plan = planSchema.safeParse(job.plan);
    const encoding: PlanOutput = plan.success
      ? plan.data.output
      : { format: output.format as OutputFormat, quality: 90, stripMetadata: false };
    return encodeImage(
      { data, width: info.width, height: info.height, channels: info.channels as 1 | 2 | 3 | 4 },
      encoding,
    );
  }
}

/** "$1.99"-like text of a price, for messages. */
export function formatPrice(price: Price): string {
  return new Intl.NumberFormat('en', { style: 'currency', currency: price.currency.toUpperCase() }).format(
    price.amount / 10 ** fractionDigits(price.currency),
  );
}

function fractionDigits(currency: string): number {
  return (
    new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).resolvedOptions()
      .maximumFractionDigits ?? 2
  );
}
