import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// Each index serves a query the API or the workers run; the comment says which.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('users')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('display_name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) =>
      c
        .notNull()
        .defaultTo('user')
        .check(sql`role in ('user', 'admin')`),
    )
    .addColumn('password_hash', 'text')
    .addColumn('disabled_at', 'timestamptz')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Login by email, case-insensitively.
  await sql`create unique index users_email_key on users (lower(email))`.execute(db);

  await db.schema
    .createTable('images')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('owner_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('storage_key', 'text', (c) => c.notNull())
    .addColumn('original_name', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // A user's gallery, newest first (cursor pagination); one row per photo per owner.
  await db.schema
    .createIndex('images_owner_created_idx')
    .on('images')
    .columns(['owner_id', 'created_at desc', 'id desc'])
    .execute();
  await db.schema
    .createIndex('images_owner_sha256_key')
    .on('images')
    .columns(['owner_id', 'sha256'])
    .unique()
    .execute();
  // Orphan collection: is any image still using this stored original?
  await db.schema.createIndex('images_storage_key_idx').on('images').column('storage_key').execute();

  await db.schema
    .createTable('jobs')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('owner_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('image_id', 'uuid', (c) => c.notNull().references('images.id').onDelete('cascade'))
    .addColumn('input_sha256', 'text', (c) => c.notNull())
    .addColumn('plan', 'jsonb', (c) => c.notNull())
    .addColumn('plan_hash', 'text', (c) => c.notNull())
    .addColumn('style', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('queued')
        .check(sql`status in ('queued', 'running', 'succeeded', 'failed', 'cancelled')`),
    )
    .addColumn('progress', 'real', (c) => c.notNull().defaultTo(0))
    .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text')
    .addColumn('output_key', 'text')
    .addColumn('output_bytes', 'bigint')
    .addColumn('output_width', 'integer')
    .addColumn('output_height', 'integer')
    .addColumn('output_format', 'text')
    .addColumn('from_cache', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('timings', 'jsonb')
    .addColumn('idempotency_key', 'text')
    .addColumn('queue_job_id', 'uuid')
    .addColumn('worker_id', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // A user's jobs, newest first, optionally by style or status (jobs.list).
  await db.schema
    .createIndex('jobs_owner_created_idx')
    .on('jobs')
    .columns(['owner_id', 'created_at desc', 'id desc'])
    .execute();
  await db.schema
    .createIndex('jobs_owner_style_created_idx')
    .on('jobs')
    .columns(['owner_id', 'style', 'created_at desc'])
    .execute();
  // Queue overview and stuck-job sweeps by status.
  await db.schema.createIndex('jobs_status_idx').on('jobs').columns(['status', 'created_at']).execute();
  // Stats per style per day (admin).
  await db.schema.createIndex('jobs_style_created_idx').on('jobs').columns(['style', 'created_at']).execute();
  // Jobs of an image (delete cascades, orphan checks) and of a plan (cache analysis).
  await db.schema.createIndex('jobs_image_idx').on('jobs').column('image_id').execute();
  await db.schema
    .createIndex('jobs_plan_hash_idx')
    .on('jobs')
    .columns(['plan_hash', 'input_sha256'])
    .execute();
  await db.schema.createIndex('jobs_output_key_idx').on('jobs').column('output_key').execute();
  // Idempotent submission: one job per owner and key.
  await sql`create unique index jobs_owner_idempotency_key on jobs (owner_id, idempotency_key) where idempotency_key is not null`.execute(
    db,
  );

  await db.schema
    .createTable('results')
    .addColumn('plan_hash', 'text', (c) => c.notNull())
    .addColumn('input_sha256', 'text', (c) => c.notNull())
    .addColumn('output_key', 'text', (c) => c.notNull())
    .addColumn('bytes', 'bigint', (c) => c.notNull())
    .addColumn('width', 'integer', (c) => c.notNull())
    .addColumn('height', 'integer', (c) => c.notNull())
    .addColumn('format', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('results_pkey', ['plan_hash', 'input_sha256'])
    .execute();
  await db.schema.createIndex('results_output_key_idx').on('results').column('output_key').execute();

  await db.schema
    .createTable('plugin_state')
    .addColumn('plugin_id', 'text', (c) => c.primaryKey())
    .addColumn('enabled', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('defaults', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .execute();

  await db.schema
    .createTable('audit_log')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('actor_id', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('action', 'text', (c) => c.notNull())
    .addColumn('target_type', 'text', (c) => c.notNull())
    .addColumn('target_id', 'text')
    .addColumn('details', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // The admin audit view, newest first.
  await db.schema.createIndex('audit_log_created_idx').on('audit_log').column('created_at desc').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['audit_log', 'plugin_state', 'results', 'jobs', 'images', 'users']) {
    await db.schema.dropTable(table).ifExists().execute();
  }
}
