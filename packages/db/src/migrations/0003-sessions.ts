import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// Sessions and login throttling (packages/server/src/auth). A session row is keyed by the SHA-256
// of its token, so a leaked table signs nobody in. Throttle rows live here rather than in process
// memory so that every API process counts the same failures.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_seen_ip', 'text')
    .addColumn('user_agent', 'text')
    .execute();
  // Sign out everywhere, and disabling a user, delete by user.
  await db.schema.createIndex('sessions_user_idx').on('sessions').column('user_id').execute();
  // The periodic sweep of expired sessions.
  await db.schema.createIndex('sessions_expires_idx').on('sessions').column('expires_at').execute();

  await db.schema
    .createTable('login_throttle')
    // 'account:<lowercased email>' or 'ip:<address or IPv6 /64>'.
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('window_started_at', 'timestamptz', (c) => c.notNull())
    .addColumn('locked_until', 'timestamptz')
    .execute();
  // The periodic sweep of stale throttle rows.
  await db.schema
    .createIndex('login_throttle_window_idx')
    .on('login_throttle')
    .column('window_started_at')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('login_throttle').ifExists().execute();
  await db.schema.dropTable('sessions').ifExists().execute();
}
