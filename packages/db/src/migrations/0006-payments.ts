import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// Paid HD (docs/payments.md). A payment row is written before Stripe is asked for a checkout
// session, so a crash in between leaves a row whose idempotency key gets the same session on the
// next try; one pending row per job (a partial unique index) keeps two clicks from opening two.
// Rows outlive their job and their user (set null): they are the record of money taken.
//
// stripe_events: every verified webhook event, by Stripe's id, written in the transaction that
// applies it, so a redelivered or concurrent duplicate finds it and changes nothing. A refund that
// arrives before the payment it refunds is known waits there (outcome 'deferred').
//
// jobs.hd_*: the unlock of a job's full-resolution result, by a payment or an administrator.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('payments')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('user_id', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('job_id', 'uuid', (c) => c.references('jobs.id').onDelete('set null'))
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('amount', 'integer', (c) => c.notNull().check(sql`amount > 0`))
    .addColumn('currency', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`status in ('pending', 'paid', 'failed', 'expired', 'refunded')`),
    )
    .addColumn('idempotency_key', 'text', (c) => c.notNull().unique())
    .addColumn('stripe_session_id', 'text', (c) => c.unique())
    .addColumn('stripe_payment_intent_id', 'text')
    .addColumn('checkout_url', 'text')
    .addColumn('success_url', 'text', (c) => c.notNull())
    .addColumn('cancel_url', 'text', (c) => c.notNull())
    .addColumn('session_expires_at', 'timestamptz')
    .addColumn('failure_reason', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('settled_at', 'timestamptz')
    .execute();
  await sql`create unique index payments_one_pending_per_job on payments (job_id) where status = 'pending'`.execute(
    db,
  );
  await db.schema
    .createIndex('payments_user_created_idx')
    .on('payments')
    .columns(['user_id', 'created_at'])
    .execute();
  await db.schema.createIndex('payments_created_idx').on('payments').column('created_at').execute();
  await db.schema
    .createIndex('payments_payment_intent_idx')
    .on('payments')
    .column('stripe_payment_intent_id')
    .execute();

  await db.schema
    .createTable('stripe_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('object_id', 'text')
    .addColumn('payment_intent', 'text')
    .addColumn('outcome', 'text', (c) => c.notNull().defaultTo('received'))
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createIndex('stripe_events_payment_intent_idx')
    .on('stripe_events')
    .column('payment_intent')
    .execute();

  await db.schema
    .alterTable('jobs')
    .addColumn('hd_unlocked_at', 'timestamptz')
    .addColumn('hd_unlock_source', 'text', (c) => c.check(sql`hd_unlock_source in ('payment', 'grant')`))
    .addColumn('hd_payment_id', 'uuid', (c) => c.references('payments.id').onDelete('set null'))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('jobs')
    .dropColumn('hd_payment_id')
    .dropColumn('hd_unlock_source')
    .dropColumn('hd_unlocked_at')
    .execute();
  await db.schema.dropTable('stripe_events').ifExists().execute();
  await db.schema.dropTable('payments').ifExists().execute();
}
