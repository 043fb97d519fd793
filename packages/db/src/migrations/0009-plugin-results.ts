import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// What plugins report beside pixels (issue 14, docs/plugins.md "AI-provider plugins").
//
// jobs.costs: what a job's plugins said they spent (ctx.reportCost), one jsonb array of
// { attempt, step, plugin, version, amount, currency, detail? }, appended by the statement that
// records each attempt's outcome: the success's together with the result, a failed attempt's
// with its error (money spent on an attempt that failed is still spent). Null: nothing reported.
//
// image_annotations: the caption and tags an analysis plugin found for an image, one row per
// image and plugin (the latest successful job wins), written in the transaction that marks that
// job succeeded. Plain text and text[] columns: gallery search (issue 15) indexes them.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('jobs').addColumn('costs', 'jsonb').execute();
  await db.schema
    .createTable('image_annotations')
    .addColumn('image_id', 'uuid', (c) => c.notNull().references('images.id').onDelete('cascade'))
    .addColumn('plugin', 'text', (c) => c.notNull())
    .addColumn('plugin_version', 'text', (c) => c.notNull())
    .addColumn('caption', 'text', (c) => c.check(sql`char_length(caption) <= 2000`))
    .addColumn('tags', sql`text[]`, (c) =>
      c
        .notNull()
        .defaultTo(sql`'{}'::text[]`)
        .check(sql`cardinality(tags) <= 50`),
    )
    .addColumn('job_id', 'uuid', (c) => c.references('jobs.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('image_annotations_pkey', ['image_id', 'plugin'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('image_annotations').ifExists().execute();
  await db.schema.alterTable('jobs').dropColumn('costs').execute();
}
