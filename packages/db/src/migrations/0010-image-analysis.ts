import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// What the analysis on upload found in each image (issue 15, docs/gallery.md).
//
// image_analysis: one row per image, written `pending` in the transaction that stores the image
// (with its job on the atelier-analysis queue), then `done` with every measure or `failed` with a
// coded error by the analysis worker or `atelier analyse --all`. `analysis_version` says which
// version of the algorithms made a `done` row: rows of an older one are analysed again. owner_id
// repeats the image's owner so that every search index starts with it (owner-scoped queries).
// The measures are null until the row is `done`. phash and dhash are 64-bit hashes stored as
// signed bigint (the same bits); phash_b0..b3 are its four 16-bit bands, most significant first,
// for multi-index hashing (two hashes within Hamming distance 3 share a band). gps is the owner's
// only: no view but the owner's shows it.
//
// images.title and images.tags: what the owner writes about an image. On images, not here: they
// are the owner's words, not derived from pixels, so a re-analysis must never touch them, and the
// text search indexes them together with images.original_name on one table.
export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('images')
    .addColumn('title', 'text', (c) => c.check(sql`char_length(title) <= 200`))
    .addColumn('tags', sql`text[]`, (c) =>
      c
        .notNull()
        .defaultTo(sql`'{}'::text[]`)
        .check(sql`cardinality(tags) <= 50`),
    )
    .execute();
  await db.schema
    .createTable('image_analysis')
    .addColumn('image_id', 'uuid', (c) => c.primaryKey().references('images.id').onDelete('cascade'))
    .addColumn('owner_id', 'uuid', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .defaultTo('pending')
        .check(sql`status in ('pending', 'done', 'failed')`),
    )
    .addColumn('error_code', 'text')
    .addColumn('error_message', 'text', (c) => c.check(sql`char_length(error_message) <= 2000`))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('analysis_version', 'integer')
    .addColumn('analysed_at', 'timestamptz')
    .addColumn('width', 'integer')
    .addColumn('height', 'integer')
    .addColumn('aspect', 'real')
    .addColumn('brightness', 'real')
    .addColumn('phash', 'bigint')
    .addColumn('dhash', 'bigint')
    .addColumn('phash_b0', 'integer')
    .addColumn('phash_b1', 'integer')
    .addColumn('phash_b2', 'integer')
    .addColumn('phash_b3', 'integer')
    .addColumn('blurhash', 'text')
    .addColumn('palette', 'jsonb')
    .addColumn('taken_at', 'timestamptz')
    .addColumn('camera', 'text')
    .addColumn('orientation', 'smallint')
    .addColumn('gps', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // A `done` row has every measure; a failed one says why.
    .addCheckConstraint(
      'image_analysis_done_complete',
      sql`status <> 'done' or (analysis_version is not null and analysed_at is not null and width is not null
        and height is not null and phash is not null and dhash is not null and phash_b0 is not null
        and phash_b1 is not null and phash_b2 is not null and phash_b3 is not null
        and blurhash is not null and palette is not null)`,
    )
    .addCheckConstraint('image_analysis_failed_coded', sql`status <> 'failed' or error_code is not null`)
    .execute();
  await db.schema.createIndex('image_analysis_owner').on('image_analysis').column('owner_id').execute();
  for (const band of ['phash_b0', 'phash_b1', 'phash_b2', 'phash_b3'])
    await db.schema
      .createIndex(`image_analysis_owner_${band}`)
      .on('image_analysis')
      .columns(['owner_id', band])
      .execute();
  // `atelier analyse --all` walks the rows still to do.
  await sql`create index image_analysis_todo on image_analysis (image_id) where status <> 'done'`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('image_analysis').ifExists().execute();
  await db.schema.alterTable('images').dropColumn('tags').dropColumn('title').execute();
}
