import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// Per-user quotas (packages/jobs/src/quotas.ts). A user's own limits sit on the users row (null:
// the server's default); what they spent sits in usage_events, one row per charged call, counted
// over a sliding window. The rows live here rather than in process memory so that every API
// process counts the same calls, and a charge is checked and written under a per-user advisory
// lock, so two concurrent calls cannot both squeeze under a limit.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('users')
    .addColumn('quota_stored_bytes', 'bigint')
    .addColumn('quota_jobs_per_hour', 'integer')
    .addColumn('quota_previews_per_minute', 'integer')
    .addColumn('quota_cost_per_minute', 'integer')
    .execute();

  await db.schema
    .createTable('usage_events')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    // 'preview', 'upload' or 'job'.
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('cost', 'integer', (c) => c.notNull())
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Every check sums one user's recent rows; the prune deletes one user's old ones.
  await db.schema
    .createIndex('usage_events_user_at_idx')
    .on('usage_events')
    .columns(['user_id', 'at'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('usage_events').ifExists().execute();
  await db.schema
    .alterTable('users')
    .dropColumn('quota_stored_bytes')
    .dropColumn('quota_jobs_per_hour')
    .dropColumn('quota_previews_per_minute')
    .dropColumn('quota_cost_per_minute')
    .execute();
}
