import type { Kysely } from 'kysely';
import { sql } from 'kysely';

// Gallery search (issue 15, docs/gallery.md "## Search"): the indexes that keep every query kind
// owner-scoped and off a whole-table scan, kept up to date by triggers so that every writer (the
// upload, the batch upload, the analysis worker, `atelier analyse --all`, an analysis plugin's
// annotations, a tag edit) feeds search without knowing it exists.
//
// Text: images.search_words, one tsvector (english configuration, so stems: "paintings" is found
// by "painting") over the owner's title and tags (weight A), the file name with its punctuation
// turned into spaces (B), and the captions and tags of every analysis plugin's annotation (C).
// A GIN index on (owner_id, search_words) (btree_gin puts the uuid in the same GIN index) answers
// "this owner's images with these words" without reading other owners' postings.
//
// Colour: image_colours, one row per palette colour (5 per image) with its CIELAB value, share and
// the cell of a 10 ΔE grid over Lab it falls in. A colour query with tolerance T reads only the
// cells its ΔE76 sphere touches, from a covering B-tree on (owner_id, cell): an index-only scan.
//
// Similarity: covering B-trees on (owner_id, phash_bN) INCLUDE (phash, image_id) replace 0010's
// plain band indexes, so the Hamming check of a band candidate needs no heap visit; and
// (owner_id) INCLUDE (phash, image_id) for thresholds too wide for band enumeration (an
// index-only walk over one owner's hashes, never the table).
const COLOUR_CELL = 10;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create extension if not exists btree_gin`.execute(db);

  // ---- text
  await sql`alter table images add column search_words tsvector not null default ''::tsvector`.execute(db);
  await sql`
    create function gallery_search_words(p_id uuid, p_name text, p_title text, p_tags text[])
    returns tsvector language sql stable as $$
      select setweight(to_tsvector('english', coalesce(p_title, '')), 'A')
        || setweight(to_tsvector('english', array_to_string(coalesce(p_tags, '{}'), ' ')), 'A')
        || setweight(to_tsvector('english', regexp_replace(coalesce(p_name, ''), '[^[:alnum:]]+', ' ', 'g')), 'B')
        || coalesce((
          select setweight(to_tsvector('english',
                   string_agg(coalesce(a.caption, '') || ' ' || array_to_string(a.tags, ' '), ' ')), 'C')
          from image_annotations a where a.image_id = p_id), ''::tsvector)
    $$`.execute(db);
  await sql`
    create function gallery_images_search_words() returns trigger language plpgsql as $$
    begin
      new.search_words := gallery_search_words(new.id, new.original_name, new.title, new.tags);
      return new;
    end $$`.execute(db);
  await sql`
    create trigger images_search_words before insert or update of original_name, title, tags on images
    for each row execute function gallery_images_search_words()`.execute(db);
  await sql`
    create function gallery_annotations_search_words() returns trigger language plpgsql as $$
    declare target uuid;
    begin
      if tg_op = 'DELETE' then target := old.image_id; else target := new.image_id; end if;
      update images set search_words = gallery_search_words(id, original_name, title, tags) where id = target;
      if tg_op = 'UPDATE' and old.image_id <> new.image_id then
        update images set search_words = gallery_search_words(id, original_name, title, tags)
        where id = old.image_id;
      end if;
      return null;
    end $$`.execute(db);
  await sql`
    create trigger image_annotations_search_words after insert or update or delete on image_annotations
    for each row execute function gallery_annotations_search_words()`.execute(db);
  // Images stored before this migration.
  await sql`update images set search_words = gallery_search_words(id, original_name, title, tags)`.execute(
    db,
  );
  await sql`create index images_owner_search_words on images using gin (owner_id, search_words)`.execute(db);

  // ---- colour
  await sql`
    create function gallery_colour_cell(l real, a real, b real) returns integer
    language sql immutable parallel safe as $$
      select (least(greatest(floor(l / ${sql.lit(COLOUR_CELL)}), 0), 15)::int * 32
             + least(greatest(floor((a + 160) / ${sql.lit(COLOUR_CELL)}), 0), 31)::int) * 32
             + least(greatest(floor((b + 160) / ${sql.lit(COLOUR_CELL)}), 0), 31)::int
    $$`.execute(db);
  await sql`
    create table image_colours (
      image_id uuid not null references images(id) on delete cascade,
      owner_id uuid not null,
      rank smallint not null,
      cell integer not null,
      l real not null,
      a real not null,
      b real not null,
      weight real not null,
      primary key (image_id, rank)
    )`.execute(db);
  await sql`create index image_colours_owner_cell on image_colours (owner_id, cell) include (image_id, l, a, b, weight)`.execute(
    db,
  );
  await sql`
    create function gallery_image_colours() returns trigger language plpgsql as $$
    begin
      delete from image_colours where image_id = new.image_id;
      if new.palette is not null and jsonb_typeof(new.palette) = 'array' then
        insert into image_colours (image_id, owner_id, rank, cell, l, a, b, weight)
        select new.image_id, new.owner_id, (p.ord - 1)::smallint,
               gallery_colour_cell((p.c->>'l')::real, (p.c->>'a')::real, (p.c->>'b')::real),
               (p.c->>'l')::real, (p.c->>'a')::real, (p.c->>'b')::real, (p.c->>'weight')::real
        from jsonb_array_elements(new.palette) with ordinality as p(c, ord);
      end if;
      return null;
    end $$`.execute(db);
  await sql`
    create trigger image_analysis_colours after insert or update of palette, owner_id on image_analysis
    for each row execute function gallery_image_colours()`.execute(db);
  await sql`
    insert into image_colours (image_id, owner_id, rank, cell, l, a, b, weight)
    select x.image_id, x.owner_id, (p.ord - 1)::smallint,
           gallery_colour_cell((p.c->>'l')::real, (p.c->>'a')::real, (p.c->>'b')::real),
           (p.c->>'l')::real, (p.c->>'a')::real, (p.c->>'b')::real, (p.c->>'weight')::real
    from image_analysis x cross join lateral jsonb_array_elements(x.palette) with ordinality as p(c, ord)
    where jsonb_typeof(x.palette) = 'array'`.execute(db);

  // ---- similarity
  for (const band of ['phash_b0', 'phash_b1', 'phash_b2', 'phash_b3']) {
    await sql`drop index if exists ${sql.id(`image_analysis_owner_${band}`)}`.execute(db);
    await sql`create index ${sql.id(`image_analysis_owner_${band}_cover`)} on image_analysis (owner_id, ${sql.id(band)}) include (phash, image_id)`.execute(
      db,
    );
  }
  await sql`create index image_analysis_owner_phash on image_analysis (owner_id) include (phash, image_id) where phash is not null`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists image_analysis_owner_phash`.execute(db);
  for (const band of ['phash_b0', 'phash_b1', 'phash_b2', 'phash_b3']) {
    await sql`drop index if exists ${sql.id(`image_analysis_owner_${band}_cover`)}`.execute(db);
    await sql`create index ${sql.id(`image_analysis_owner_${band}`)} on image_analysis (owner_id, ${sql.id(band)})`.execute(
      db,
    );
  }
  await sql`drop trigger if exists image_analysis_colours on image_analysis`.execute(db);
  await sql`drop function if exists gallery_image_colours()`.execute(db);
  await sql`drop table if exists image_colours`.execute(db);
  await sql`drop function if exists gallery_colour_cell(real, real, real)`.execute(db);
  await sql`drop trigger if exists image_annotations_search_words on image_annotations`.execute(db);
  await sql`drop function if exists gallery_annotations_search_words()`.execute(db);
  await sql`drop trigger if exists images_search_words on images`.execute(db);
  await sql`drop function if exists gallery_images_search_words()`.execute(db);
  await sql`drop index if exists images_owner_search_words`.execute(db);
  await sql`alter table images drop column if exists search_words`.execute(db);
  await sql`drop function if exists gallery_search_words(uuid, text, text, text[])`.execute(db);
}
