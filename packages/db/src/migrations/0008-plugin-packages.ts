import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// Plugin packages installed for the whole cluster (docs/operations.md, "Installing and upgrading
// plugins on a cluster"). Postgres is the source of truth: each row keeps the package's tarball
// and its sha512 integrity, so every API and worker process can install exactly those bytes into
// its own plugins folder (a local cache). One active version per package (a partial unique
// index); an upgrade deactivates the old row and keeps it, so jobs planned on it can still be
// explained, and an uninstall only deactivates (history stays).
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('plugin_packages')
    .addColumn('id', 'uuid', (c) => c.primaryKey().defaultTo(sql`gen_random_uuid()`))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('version', 'text', (c) => c.notNull())
    .addColumn('integrity', 'text', (c) => c.notNull().check(sql`integrity like 'sha512-%'`))
    // 50 MiB: the same cap the service checks first, with a coded error.
    .addColumn('tarball', 'bytea', (c) =>
      c.notNull().check(sql`octet_length(tarball) between 1 and 52428800`),
    )
    .addColumn('size', 'integer', (c) => c.notNull())
    .addColumn('plugins', sql`text[]`, (c) => c.notNull())
    .addColumn('source', 'text', (c) => c.notNull().check(sql`source in ('upload', 'registry', 'folder')`))
    // Where the bytes came from: the registry's tarball URL, the uploaded file's name.
    .addColumn('origin', 'text')
    .addColumn('installed_by', 'uuid', (c) => c.references('users.id').onDelete('set null'))
    .addColumn('installed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('deactivated_at', 'timestamptz')
    .addUniqueConstraint('plugin_packages_name_version_key', ['name', 'version'])
    .execute();
  await sql`create unique index plugin_packages_one_active on plugin_packages (name) where active`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('plugin_packages').execute();
}
