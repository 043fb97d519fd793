// A synthetic gallery for gallery search's scale bench (bench/gallery-bench.ts) and its plan tests
// (test/gallery-search.test.ts): image rows with analysis, palettes, words and captions, no
// pixels, made inside Postgres with generate_series (no round trips per row).
//
// What keeps it realistic (docs/gallery.md "## Search"):
// - hashes come in scenes and families: 2,000 scene hashes; a family (a burst of shots, a photo
//   and its edits) flips ~8 bits of its scene's; each image flips ~4 bits of its family's. So a
//   search meets neighbours at every distance, as in a real library, not only random hashes;
// - palettes draw from 3,000 Lab colours, five per scene, so colours repeat across images;
// - words follow a Zipf-like law over a vocabulary of ~200 words (a few very common ones);
// - one image in five has an analysis plugin's caption and tags.
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database } from '@atelier/db';

const WORDS = `sunset beach portrait city street night mountain lake forest river snow winter summer autumn
spring flower garden tree leaf sky cloud sea ocean wave boat harbour bridge building tower church
market food coffee cake bread fruit dog cat bird horse cow sheep child family wedding party concert
stage light shadow reflection window door road car bicycle train station airport plane travel holiday
museum painting sculpture statue fountain park bench rain storm fog mist desert sand rock cliff island
village farm field meadow hill valley canyon waterfall cave ice glacier volcano lighthouse castle
palace ruin temple mosque cathedral chapel library school office kitchen bedroom table chair lamp
book music guitar piano dance sport football tennis swimming running hiking climbing camping tent
fire smoke star moon sun dawn dusk evening morning noon midnight red blue green yellow orange purple
pink black white grey gold silver brown colourful abstract texture pattern wall graffiti mural sign
neon crowd festival parade fireworks christmas birthday baby friends couple selfie smile laugh
macro insect butterfly bee spider shell pebble wood stone metal glass paper fabric leather`
  .split(/\s+/)
  .filter(Boolean);

/** The shape of a synthetic gallery. */
export interface SyntheticGalleryOptions {
  /** Owners with `imagesPerOwner` images each. */
  readonly owners: number;
  readonly imagesPerOwner: number;
  /** Images of the one large owner (owner index 0). */
  readonly largeOwnerImages: number;
  /** Seeds every generated value. @default 1 */
  readonly seed?: number;
  /** Told how long each step of the fill took. */
  readonly onStep?: (step: string, ms: number) => void;
}

/** The large owner's id in a synthetic gallery (users are made with fixed ids). */
export const SYNTHETIC_LARGE_OWNER = '00000000-0000-4000-8000-000000000000';

/**
 * Fills `db` (migrated, empty of synthetic rows) with a synthetic gallery, then ANALYZEs. Uses
 * `session_replication_role = replica` on one connection to skip row triggers and foreign-key
 * checks while loading (so it needs a superuser, as the embedded server's), and writes the
 * derived rows (search words, colour index) in bulk statements instead. Returns the image count.
 */
export async function fillSyntheticGallery(
  db: Kysely<Database>,
  options: SyntheticGalleryOptions,
): Promise<number> {
  const { owners, imagesPerOwner, largeOwnerImages } = options;
  const seed = options.seed ?? 1;
  const total = largeOwnerImages + owners * imagesPerOwner;
  let last = performance.now();
  const step = (name: string): void => {
    const now = performance.now();
    options.onStep?.(name, now - last);
    last = now;
  };
  await db.connection().execute(async (c) => {
    await sql`set session_replication_role = replica`.execute(c);
    await sql`set work_mem = '256MB'`.execute(c);
    await sql`set maintenance_work_mem = '512MB'`.execute(c);
    // Owner 0 is the large one; ids are fixed so that a bench can name it.
    await sql`
      insert into users (id, email, display_name)
      select (lpad(to_hex(o), 8, '0') || '-0000-4000-8000-000000000000')::uuid,
             'synthetic-' || o || '@example.org', 'Synthetic ' || o
      from generate_series(0, ${owners}) o`.execute(c);
    step('users');
    await sql`select setseed(${(seed % 1000) / 1000})`.execute(c);
    await sql`
      create temp table synth_colours as
      select g as id,
             (8 + random() * 88)::real as l,
             ((random() + random() + random() - 1.5) * 70)::real as a,
             ((random() + random() + random() - 1.5) * 80)::real as b
      from generate_series(0, 2999) g`.execute(c);
    await sql`alter table synth_colours add primary key (id)`.execute(c);
    await sql`analyze synth_colours`.execute(c);
    // Indexes are built once after the load (far faster than row by row), from their own definitions.
    const indexes = (
      await sql<{ name: string; definition: string }>`
        select indexname as name, indexdef as definition from pg_indexes
        where schemaname = current_schema()
          and tablename in ('images', 'image_analysis', 'image_colours', 'image_annotations')
          and indexname not in (select conname from pg_constraint)`.execute(c)
    ).rows;
    for (const index of indexes) await sql`drop index ${sql.id(index.name)}`.execute(c);
    // One row per image with everything drawn for it.
    await sql`
      create temp table synth as
      with base as (
        select g,
               case when g <= ${largeOwnerImages} then 0
                    else 1 + (g - ${largeOwnerImages} - 1) % ${owners} end as owner_index,
               -- families: 3 consecutive images of one owner (a burst, or a photo and its edits)
               case when g <= ${largeOwnerImages} then g / 3
                    else 1000000000 + (g - ${largeOwnerImages} - 1) / (3 * ${owners}) * ${owners}
                         + (g - ${largeOwnerImages} - 1) % ${owners} end as family
        from generate_series(1, ${total}) g
      ), drawn as (
        select b.*, abs(hashtext('s' || b.family || ${seed})) % 2000 as scene
        from base b
      )
      select d.g,
             md5('img' || d.g || ${seed})::uuid as id,
             (lpad(to_hex(d.owner_index), 8, '0') || '-0000-4000-8000-000000000000')::uuid as owner_id,
             timestamptz '2026-01-01' + d.g * interval '7 seconds' as created_at,
             d.scene,
             -- scene hash, ~8 family bits (a & b & c: each bit 1/8), ~4 image bits (1/16)
             hashtextextended('scene' || d.scene, ${seed})
               # (hashtextextended('f' || d.family, 1) & hashtextextended('f' || d.family, 2)
                  & hashtextextended('f' || d.family, 3))
               # (hashtextextended('i' || d.g, 1) & hashtextextended('i' || d.g, 2)
                  & hashtextextended('i' || d.g, 3) & hashtextextended('i' || d.g, 4)) as phash,
             hashtextextended('d' || d.family, ${seed}) as dhash,
             -- five colours of the scene's (the last two vary within a family), heaviest first
             array[d.scene * 7 % 3000, (d.scene * 7 + 613) % 3000, (d.scene * 7 + 1226) % 3000,
                   (d.scene * 7 + 1839 + d.g % 3) % 3000, (d.scene * 7 + 2452 + d.g % 3 * 2) % 3000] as cids,
             (array[0.3 + 0.5 * random(), 0.3 + 0.7 * random(), 0.3 + 0.7 * random(),
                    0.3 + 0.7 * random(), 0.3 + 0.7 * random()])::float8[] as shrink,
             (select string_agg(w, ' ') from (
                select (${WORDS}::text[])[1 + floor(${WORDS.length} * power(random(), 3))::int] as w
                from generate_series(1, 2 + d.g % 2) where d.g > 0) t) as title,
             (select array_agg(distinct w) from (
                select (${WORDS}::text[])[1 + floor(${WORDS.length} * power(random(), 2.5))::int] as w
                from generate_series(1, 3 + d.g % 3) where d.g > 0) t) as tags,
             case when d.g % 5 = 0 then (select string_agg(w, ' ') from (
                select (${WORDS}::text[])[1 + floor(${WORDS.length} * power(random(), 2))::int] as w
                from generate_series(1, 8) where d.g > 0) t) end as caption,
             case when d.g % 3 = 0 then 'IMG_' || lpad((d.g % 10000)::text, 4, '0') || '.jpg'
                  else (${WORDS}::text[])[1 + d.g % ${WORDS.length}] || '-' || d.g || '.jpg' end as name
      from drawn d`.execute(c);
    step('draw');
    await sql`
      insert into image_annotations (image_id, plugin, plugin_version, caption, tags)
      select id, 'openai-describe', '1.0.0', caption, coalesce(tags[1:2], '{}') from synth where caption is not null`.execute(
      c,
    );
    step('annotations');
    await sql`
      insert into images (id, owner_id, sha256, bytes, width, height, format, storage_key, original_name,
                          created_at, title, tags, search_words)
      select id, owner_id, md5(id::text) || md5(g::text), 100000 + g % 900000, 1920, 1280, 'jpeg',
             'originals/' || md5(id::text), name, created_at, title, coalesce(tags, '{}'),
             gallery_search_words(id, name, title, coalesce(tags, '{}'))
      from synth order by owner_id, created_at`.execute(c);
    step('images');
    // Weights: each colour a share of the previous one's, normalised to sum to 1.
    await sql`
      create temp table synth_palette as
      select s.id, s.owner_id, p.rank, c.l, c.a, c.b, p.w / sum(p.w) over (partition by s.id) as weight
      from synth s
      cross join lateral (
        select (k - 1)::smallint as rank, s.cids[k] as cid,
               (select exp(sum(ln(x))) from unnest(s.shrink[1:k]) x) as w
        from generate_series(1, 5) k
      ) p
      join synth_colours c on c.id = p.cid`.execute(c);
    step('palettes');
    await sql`
      insert into image_analysis (image_id, owner_id, status, analysis_version, analysed_at, width, height,
                                  aspect, brightness, phash, dhash, phash_b0, phash_b1, phash_b2, phash_b3,
                                  blurhash, palette)
      select s.id, s.owner_id, 'done', 1, s.created_at, 1920, 1280, 1.5, 0.2 + (s.g % 60) / 100.0,
             s.phash, s.dhash,
             ((s.phash >> 48) & 65535)::int, ((s.phash >> 32) & 65535)::int,
             ((s.phash >> 16) & 65535)::int, (s.phash & 65535)::int,
             'LEHV6nWB2yk8pyo0adR*.7kCMdnj', p.palette
      from synth s
      join (select id, jsonb_agg(jsonb_build_object('hex', '#000000', 'l', l, 'a', a, 'b', b, 'weight', weight)
                                 order by rank) as palette
            from synth_palette group by id) p on p.id = s.id
      order by s.owner_id`.execute(c);
    step('analysis');
    await sql`
      insert into image_colours (image_id, owner_id, rank, cell, l, a, b, weight)
      select id, owner_id, rank, gallery_colour_cell(l::real, a::real, b::real), l, a, b, weight
      from synth_palette order by owner_id`.execute(c);
    step('colours');
    for (const index of indexes) await sql.raw(index.definition).execute(c);
    step('indexes');
    await sql`drop table synth`.execute(c);
    await sql`drop table synth_palette`.execute(c);
    await sql`drop table synth_colours`.execute(c);
    await sql`set session_replication_role = origin`.execute(c);
  });
  await sql`vacuum analyze images`.execute(db);
  await sql`vacuum analyze image_analysis`.execute(db);
  await sql`vacuum analyze image_colours`.execute(db);
  await sql`vacuum analyze image_annotations`.execute(db);
  step('vacuum analyze');
  return total;
}
