import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// Plugin capabilities (docs/security.md, "Capabilities" and "Secrets").
//
// plugin_secrets: values a plugin may read with ctx.secret, encrypted with AES-256-GCM under
// ATELIER_SECRETS_KEY. The database holds only ciphertext, the 12-byte IV, the 16-byte GCM tag
// and the id of the key (a hash of it, never the key), so a dump of the database reveals no value
// and a row changed in place fails its tag. The name is the GCM additional data: a ciphertext
// copied under another name does not open.
//
// plugin_grants: what an administrator granted each plugin, hosts and secret names (a subset of
// what the plugin declares). Read per job; no process caches it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('plugin_secrets')
    .addColumn('name', 'text', (c) => c.primaryKey().check(sql`name ~ '^[A-Z][A-Z0-9_]{0,63}$'`))
    .addColumn('ciphertext', 'bytea', (c) => c.notNull())
    .addColumn('iv', 'bytea', (c) => c.notNull().check(sql`length(iv) = 12`))
    .addColumn('auth_tag', 'bytea', (c) => c.notNull().check(sql`length(auth_tag) = 16`))
    .addColumn('key_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .execute();
  await db.schema
    .createTable('plugin_grants')
    .addColumn('plugin_id', 'text', (c) => c.primaryKey())
    .addColumn('network', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('secrets', sql`text[]`, (c) => c.notNull().defaultTo(sql`'{}'::text[]`))
    .addColumn('granted_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('granted_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('plugin_grants').ifExists().execute();
  await db.schema.dropTable('plugin_secrets').ifExists().execute();
}
