import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// Similar images as an exact nearest-neighbour search over the four pHash band indexes
// (docs/gallery.md "### Similar images"): the search widens one band's radius at a time until the
// page is certain, so no query walks an owner's whole hash list any more.
//
// - The band indexes cover the dHash too: results are ordered by (pHash distance, dHash distance,
//   image id), and every candidate's rank is computed from the index alone (index-only scans).
// - The owner-wide (owner_id) INCLUDE (phash, image_id) index of 0011 served only that walk: dropped.
//
// The band columns (phash_b0..phash_b3) and their values are 0010's, written by the analysis
// writer: no new column, no back-fill. Four 16-bit bands stay the right cut for this scale: with
// 200,000 images per owner, narrower bands (5-8 of them) put 2 to 6 times more candidates
// behind each search (measured on the bench gallery, docs/gallery.md).
const BANDS = ['phash_b0', 'phash_b1', 'phash_b2', 'phash_b3'];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const band of BANDS) {
    const name = `image_analysis_owner_${band}_cover`;
    await sql`drop index if exists ${sql.id(name)}`.execute(db);
    await sql`create index ${sql.id(name)} on image_analysis (owner_id, ${sql.id(band)}) include (phash, dhash, image_id)`.execute(
      db,
    );
  }
  await sql`drop index if exists image_analysis_owner_phash`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index image_analysis_owner_phash on image_analysis (owner_id) include (phash, image_id) where phash is not null`.execute(
    db,
  );
  for (const band of BANDS) {
    const name = `image_analysis_owner_${band}_cover`;
    await sql`drop index if exists ${sql.id(name)}`.execute(db);
    await sql`create index ${sql.id(name)} on image_analysis (owner_id, ${sql.id(band)}) include (phash, image_id)`.execute(
      db,
    );
  }
}
