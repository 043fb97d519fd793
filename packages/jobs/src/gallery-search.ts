// Gallery search (docs/gallery.md "## Search"): by colour, similar images, near-duplicates and
// words, each one owner's images only, a page at a time, combinable with the gallery's filters.
// The indexes these queries rely on are made by migrations 0011-gallery-search and
// 0012-gallery-similar-knn.
import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import { AtelierError } from '@atelier/core';
import { hashBands, hexToRgb, rgbToLab, toSigned64, fromSigned64 } from '@atelier/analysis';
import { exactCreatedAt, isUuid, olderThan, pageOf } from '@atelier/db';
import type { Database, JobStatus } from '@atelier/db';
import { analysisColumns, toAnalysisRecord } from './image-analysis.ts';
import { toImageRecord } from './records.ts';
import type { ImageRecord } from './records.ts';

/** Side of the cells of the colour index over CIELAB, in ΔE (as migration 0011's gallery_colour_cell). */
export const COLOUR_CELL = 10;
/** The largest colour tolerance a search takes (ΔE76). @default 10 as the default tolerance */
export const MAX_COLOUR_TOLERANCE = 40;
export const DEFAULT_COLOUR_TOLERANCE = 12;
/** Colours one colour search takes at most. */
export const MAX_SEARCH_COLOURS = 5;
/**
 * Two images whose pHashes differ in at most this many bits are near-duplicates: the same photo
 * resized, recompressed, brightened or converted (2 bits at most on the fixtures), never two
 * unrelated photos (test/gallery-search.test.ts).
 */
export const DUPLICATE_THRESHOLD = 6;
/**
 * The distance the first round of a similarity search covers (less when the threshold is lower):
 * band radii 3 in each of the four bands. Further rounds widen one band at a time, each one bit
 * further, until the page is certain (see {@link GallerySearch.similar}).
 */
export const SIMILAR_FIRST_ROUND = 15;
/** The widest similarity threshold (Hamming bits of 64); 32 is what unrelated images average. */
export const MAX_SIMILAR_THRESHOLD = 28;
/** @default threshold of "more like this": catches a 10% crop (6-20 bits on the fixtures). */
export const DEFAULT_SIMILAR_THRESHOLD = 22;

/** The longest title (the column's check). */
export const MAX_TITLE_LENGTH = 200;
/** Tags an image has at most (the column's check). */
export const MAX_TAGS = 50;
export const MAX_TAG_LENGTH = 50;

/** The gallery's list filters, which every search combines with. */
export interface GalleryFilters {
  /** Images uploaded at or after this time. */
  readonly createdAfter?: Date;
  /** Images uploaded before this time. */
  readonly createdBefore?: Date;
  /** Images with a job of this style. */
  readonly style?: string;
  /** Images with a job in this status (with `style`: a job of that style in this status). */
  readonly status?: JobStatus;
}

interface PageArgs {
  readonly ownerId: string;
  readonly limit?: number;
  readonly cursor?: string;
  readonly filters?: GalleryFilters;
}

/** One page of hits, best first. */
export interface SearchPage<Hit> {
  readonly items: Hit[];
  readonly nextCursor: string | null;
}

export interface ColourHit {
  readonly imageId: string;
  /** 0..1: the share of the image close to the colours, weighted by closeness (1 − ΔE/tolerance), averaged over the colours asked. */
  readonly score: number;
  /** The largest, over the colours asked, of the ΔE76 between that colour and its nearest palette colour. */
  readonly deltaE: number;
}

export interface SimilarHit {
  readonly imageId: string;
  /** Hamming distance between the pHashes, 0..64. */
  readonly distance: number;
}

export interface TextHit {
  readonly imageId: string;
}

/** What the duplicate check knows about an image. */
export interface DuplicateReport {
  /** The state of the image's analysis: duplicates are known once it is `done`. */
  readonly analysis: 'pending' | 'done' | 'failed';
  /** The owner's other images within {@link DUPLICATE_THRESHOLD}, nearest first (empty until analysed). */
  readonly duplicates: SimilarHit[];
}

const clampLimit = (limit: number | undefined): number => Math.max(1, Math.min(100, limit ?? 20));

function cursorInvalid(): AtelierError {
  return new AtelierError(
    'CURSOR_INVALID',
    "The page cursor is malformed: pass a page's nextCursor back as it is, or none for the first page.",
  );
}

/** A cursor of a ranked search: the last hit's rank values and id (keyset on (values..., id)). */
function encodeRankCursor(kind: string, values: readonly number[], id: string): string {
  return Buffer.from([kind, ...values, id].join('|')).toString('base64url');
}

function decodeRankCursor(kind: string, count: number, cursor: string): { values: number[]; id: string } {
  const [k, ...parts] = Buffer.from(cursor, 'base64url').toString().split('|');
  const id = parts.pop();
  const values = parts.map((v) => (v === '' ? NaN : Number(v)));
  if (k !== kind || values.length !== count || !values.every(Number.isFinite) || !id || !isUuid(id))
    throw cursorInvalid();
  return { values, id };
}

function paramsInvalid(path: string, message: string): AtelierError {
  return new AtelierError('PARAMS_INVALID', message, { details: { issues: [{ path: [path], message }] } });
}

/** The cell of the colour index a Lab colour falls in (the same function as SQL gallery_colour_cell). */
export function colourCell(l: number, a: number, b: number): number {
  const clamp = (v: number, max: number) => Math.min(Math.max(Math.floor(v / COLOUR_CELL), 0), max);
  return (clamp(l, 15) * 32 + clamp(a + 160, 31)) * 32 + clamp(b + 160, 31);
}

/**
 * The cells whose box meets the ΔE76 ball of `radius` around `lab` (edge cells reach to infinity,
 * as the clamping puts everything beyond them in them): the only cells a colour query reads.
 */
export function colourCellsWithin(lab: { l: number; a: number; b: number }, radius: number): number[] {
  const r = radius + 1e-3; // real (float4) rounding of stored values near a cell's edge
  const axes = [
    { v: lab.l, offset: 0, max: 15 },
    { v: lab.a + 160, offset: 160, max: 31 },
    { v: lab.b + 160, offset: 160, max: 31 },
  ];
  const ranges = axes.map(({ v, max }) => {
    const lo = Math.min(Math.max(Math.floor((v - r) / COLOUR_CELL), 0), max);
    const hi = Math.min(Math.max(Math.floor((v + r) / COLOUR_CELL), 0), max);
    return { lo, hi, v, max };
  });
  // Squared distance from the coordinate to the cell's interval along one axis.
  const gap = (index: number, v: number, max: number): number => {
    const low = index === 0 ? -Infinity : index * COLOUR_CELL;
    const high = index === max ? Infinity : (index + 1) * COLOUR_CELL;
    const d = v < low ? low - v : v > high ? v - high : 0;
    return d * d;
  };
  const [L, A, B] = ranges as [(typeof ranges)[0], (typeof ranges)[0], (typeof ranges)[0]];
  const cells: number[] = [];
  for (let li = L.lo; li <= L.hi; li++)
    for (let ai = A.lo; ai <= A.hi; ai++)
      for (let bi = B.lo; bi <= B.hi; bi++)
        if (gap(li, L.v, L.max) + gap(ai, A.v, A.max) + gap(bi, B.v, B.max) <= r * r)
          cells.push((li * 32 + ai) * 32 + bi);
  return cells;
}

/**
 * Every 16-bit value within Hamming distance `radius` of `value` (1, 17, 137, 697 values for
 * radius 0..3): the band keys multi-index hashing looks up.
 */
export function bandNeighbours(value: number, radius: number): number[] {
  return bandKeys(value, 0, radius);
}

/**
 * The 16-bit values at a Hamming distance from `from` to `to` (inclusive) of `value`: C(16, d)
 * of them at each distance d (16, 120, 560, 1820, 4368 for d = 1..5).
 */
export function bandKeys(value: number, from: number, to: number): number[] {
  const out: number[] = [];
  const walk = (current: number, bit0: number, depth: number): void => {
    if (depth >= from) out.push(current);
    if (depth === to) return;
    for (let bit = bit0; bit < 16; bit++) walk(current ^ (1 << bit), bit + 1, depth + 1);
  };
  if (to >= from && to >= 0) walk(value, 0, 0);
  return out;
}

/**
 * Band radii (one per 16-bit band; −1 reads nothing) that together cover `distance`: an image
 * within `distance` bits of the query has, by pigeonhole, some band i within r_i bits of the
 * query's band i whenever Σ (r_i + 1) > distance. The radii sum to exactly that, spread evenly,
 * so for 12 bits they are (3, 2, 2, 2): 697 + 3 × 137 keys rather than 4 × 697.
 */
export function bandRadii(distance: number): number[] {
  const total = distance + 1;
  return [0, 1, 2, 3].map((i) => Math.floor(total / 4) - 1 + (i < total % 4 ? 1 : 0));
}

/** The distance within which band radii `radii` have found every image: Σ (r_i + 1) − 1. */
export function coveredDistance(radii: readonly number[]): number {
  return radii.reduce((sum, r) => sum + r + 1, 0) - 1;
}

/** Searches one owner's gallery. Every method takes the owner's id and sees only their images. */
export class GallerySearch {
  readonly #db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  /**
   * Images with colours near every one of `colours` (hex), within `tolerance` ΔE76, best share
   * first. Reads only the colour-index cells the tolerance reaches.
   *
   * @example
   * await search.byColour({ ownerId, colours: ['#1d3557'], tolerance: 10 });
   */
  async byColour(
    args: PageArgs & { readonly colours: readonly string[]; readonly tolerance?: number },
  ): Promise<SearchPage<ColourHit>> {
    const tolerance = args.tolerance ?? DEFAULT_COLOUR_TOLERANCE;
    if (!(tolerance > 0 && tolerance <= MAX_COLOUR_TOLERANCE))
      throw paramsInvalid('tolerance', `tolerance must be a ΔE above 0 and at most ${MAX_COLOUR_TOLERANCE}.`);
    if (args.colours.length === 0 || args.colours.length > MAX_SEARCH_COLOURS)
      throw paramsInvalid('colours', `Give 1 to ${MAX_SEARCH_COLOURS} colours.`);
    const queries = args.colours.map((hex, i) => {
      const rgb = /^#?[0-9a-f]{6}$/i.test(hex) ? hexToRgb(hex) : undefined;
      if (!rgb) throw paramsInvalid('colours', `"${hex}" is not a colour: write it as #rrggbb.`);
      const lab = rgbToLab(...rgb);
      return { i, l: lab.l, a: lab.a, b: lab.b, cells: colourCellsWithin(lab, tolerance) };
    });
    const limit = clampLimit(args.limit);
    const cursor = args.cursor === undefined ? undefined : decodeRankCursor('c', 1, args.cursor);
    const after = cursor && { score: cursor.values[0] ?? 0, id: cursor.id };
    const n = queries.length;
    const filtered = hasFilters(args.filters);
    // One pass and one aggregate: the rows within tolerance of any colour asked (the squared
    // distance is compared first, the root taken once per kept row), grouped once per image. The
    // score is the sum of every kept row's share over n (the mean over the colours of each
    // colour's share); bit i of bit_or(1 << i) says colour i has a palette colour within
    // tolerance, and an image needs them all. (Grouping by image and colour, then by image, as
    // the first version did, hashed every row twice.)
    // Scores are rounded (to 6 decimals, in float8: a round through numeric for every image
    // grouped was half of a one-colour query's time) so that a page cursor compares equal to the
    // score it was cut at, whatever order the aggregate added the shares in.
    const nearest = sql.join(
      queries.map(({ i }) => sql`min(d) filter (where i = ${sql.lit(i)})`),
      sql`, `,
    );
    const rows = await sql<{ image_id: string; score: number; delta_e: number }>`
      with q as (
        select * from jsonb_to_recordset(${JSON.stringify(queries)}::jsonb)
          as q(i int, l real, a real, b real, cells int[])
      ), m as (
        select x.image_id, x.i, x.weight, sqrt(x.d2) as d from (
          select c.image_id, q.i, c.weight,
                 (c.l - q.l) * (c.l - q.l) + (c.a - q.a) * (c.a - q.a) + (c.b - q.b) * (c.b - q.b) as d2
          from q cross join lateral (
            select image_id, l, a, b, weight from image_colours
            where owner_id = ${args.ownerId}::uuid and cell = any(q.cells)
          ) c
          offset 0
        ) x where x.d2 <= ${tolerance * tolerance}::float8
      ), s as (
        select image_id, round(sum(weight * (1 - d / ${tolerance}::float8)) / ${n}::float8 * 1e6) / 1e6 as score,
               round(greatest(${nearest}) * 100) / 100 as delta_e
        from m group by image_id having bit_or(1 << i) = ${(1 << n) - 1}
      )
      select s.image_id, s.score, s.delta_e from s
        ${filtered ? sql`join images i on i.id = s.image_id and i.owner_id = ${args.ownerId}::uuid` : sql``}
      where true ${filtered ? sql`and ${filterSql(args.filters)}` : sql``}
        ${after ? sql`and (s.score, s.image_id) < (${after.score}::float8, ${after.id}::uuid)` : sql``}
      order by s.score desc, s.image_id desc
      limit ${limit + 1}`.execute(this.#db);
    const page = rows.rows.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((r) => ({ imageId: r.image_id, score: r.score, deltaE: r.delta_e })),
      nextCursor:
        rows.rows.length > limit && last ? encodeRankCursor('c', [last.score], last.image_id) : null,
    };
  }

  /**
   * The owner's images whose pHash is within `threshold` bits of this image's, nearest first
   * (the image itself left out). Throws `IMAGE_NOT_FOUND` (also for another owner's image) and
   * `IMAGE_NOT_ANALYSED`.
   */
  async similar(
    args: PageArgs & { readonly imageId: string; readonly threshold?: number },
  ): Promise<SearchPage<SimilarHit>> {
    const threshold = args.threshold ?? DEFAULT_SIMILAR_THRESHOLD;
    if (!Number.isInteger(threshold) || threshold < 0 || threshold > MAX_SIMILAR_THRESHOLD)
      throw paramsInvalid(
        'threshold',
        `threshold must be a whole number of bits from 0 to ${MAX_SIMILAR_THRESHOLD}.`,
      );
    const source = await this.#analysisOf(args.ownerId, args.imageId);
    if (source.hashes === null) throw notAnalysed(args.imageId);
    return this.#nearest(args, source.hashes, threshold);
  }

  /**
   * The duplicate check of one image: the owner's other images within {@link DUPLICATE_THRESHOLD}.
   * Only the owner's own images are compared, so the answer never tells whether someone else
   * holds the same photo. Throws `IMAGE_NOT_FOUND` (also for another owner's image).
   */
  async duplicates(args: { readonly ownerId: string; readonly imageId: string }): Promise<DuplicateReport> {
    const source = await this.#analysisOf(args.ownerId, args.imageId);
    if (source.hashes === null)
      return { analysis: source.status === 'failed' ? 'failed' : 'pending', duplicates: [] };
    const page = await this.#nearest({ ...args, limit: 100 }, source.hashes, DUPLICATE_THRESHOLD);
    return { analysis: 'done', duplicates: page.items };
  }

  /**
   * Images whose file name, title, tags or analysis captions and tags hold the words of `query`
   * (web-search syntax: `"exact phrase"`, `-without`, `or`; english stemming), newest first.
   */
  async text(args: PageArgs & { readonly query: string }): Promise<SearchPage<TextHit>> {
    const limit = clampLimit(args.limit);
    const query = sql<{ id: string; cursor_at: string }>`
      select i.id, ${exactCreatedAt('i')} as cursor_at from images i
      where i.owner_id = ${args.ownerId}::uuid
        and i.search_words @@ websearch_to_tsquery('english', ${args.query})
        and ${filterSql(args.filters)}
        ${args.cursor === undefined ? sql`` : sql`and ${olderThan(args.cursor, 'i')}`}
      order by i.created_at desc, i.id desc
      limit ${limit + 1}`;
    // The best plan depends on the words: a common one walks the owner's newest images, a rare one
    // reads the GIN index. A hot statement runs prepared (PreparingPool), and Postgres may then
    // settle on one generic plan for every word; a custom plan per call keeps the choice per word.
    const rows = await this.#db.transaction().execute(async (trx) => {
      await sql`set local plan_cache_mode = force_custom_plan`.execute(trx);
      return query.execute(trx);
    });
    // No hit: tell a query without a searchable word (only stop words) from one that found nothing.
    if (rows.rows.length === 0) {
      const words = await sql<{ n: number }>`
        select numnode(websearch_to_tsquery('english', ${args.query})) as n`.execute(this.#db);
      if ((words.rows[0]?.n ?? 0) === 0)
        throw paramsInvalid(
          'query',
          'The search has no words to look for (only punctuation or words too common to index).',
        );
    }
    return pageOf(rows.rows, limit, (r) => ({ imageId: r.id }));
  }

  /**
   * Sets the owner's own title and tags of an image (what text search finds besides the file
   * name and analysis captions). `title: null` clears it; tags are trimmed, lower-cased and
   * deduplicated. Throws `IMAGE_NOT_FOUND` (also for another owner's image), `PARAMS_INVALID`.
   */
  async setDetails(args: {
    readonly ownerId: string;
    readonly imageId: string;
    readonly title?: string | null;
    readonly tags?: readonly string[];
  }): Promise<{ id: string; title: string | null; tags: string[] }> {
    const title = args.title === undefined || args.title === null ? args.title : args.title.trim();
    if (typeof title === 'string' && title.length > MAX_TITLE_LENGTH)
      throw paramsInvalid('title', `A title has at most ${MAX_TITLE_LENGTH} characters.`);
    const tags =
      args.tags === undefined ? undefined : [...new Set(args.tags.map((t) => t.trim().toLowerCase()))];
    if (tags !== undefined) {
      if (tags.length > MAX_TAGS) throw paramsInvalid('tags', `An image has at most ${MAX_TAGS} tags.`);
      const bad = tags.find((t) => t.length === 0 || t.length > MAX_TAG_LENGTH);
      if (bad !== undefined)
        throw paramsInvalid('tags', `A tag has 1 to ${MAX_TAG_LENGTH} characters ("${bad.slice(0, 60)}").`);
    }
    const row = isUuid(args.imageId)
      ? await this.#db
          .updateTable('images')
          .set({
            ...(title === undefined ? {} : { title: title === '' ? null : title }),
            ...(tags === undefined ? {} : { tags }),
          })
          .where('id', '=', args.imageId)
          .where('owner_id', '=', args.ownerId)
          .returning(['id', 'title', 'tags'])
          .executeTakeFirst()
      : undefined;
    if (!row) throw new AtelierError('IMAGE_NOT_FOUND', `No image ${args.imageId}.`);
    return { id: row.id, title: row.title, tags: row.tags };
  }

  /** The owner's images among `ids`, by id (another owner's ids are left out). */
  async images(ids: readonly string[], ownerId: string): Promise<Map<string, ImageRecord>> {
    const wanted = ids.filter(isUuid);
    if (wanted.length === 0) return new Map();
    const rows = await this.#db
      .selectFrom('images')
      .selectAll()
      .where('id', 'in', wanted)
      .where('owner_id', '=', ownerId)
      .execute();
    const analyses = new Map(
      (await analysisColumns(this.#db).where('image_analysis.image_id', 'in', wanted).execute()).map(
        (row) => [row.image_id, toAnalysisRecord(row)],
      ),
    );
    return new Map(rows.map((row) => [row.id, toImageRecord(row, analyses.get(row.id) ?? null)]));
  }

  async #analysisOf(
    ownerId: string,
    imageId: string,
  ): Promise<{ status: 'pending' | 'done' | 'failed'; hashes: ImageHashes | null }> {
    const row = isUuid(imageId)
      ? (
          await sql<{ status: string | null; phash: string | null; dhash: string | null }>`
            select a.status, a.phash::text as phash, a.dhash::text as dhash from images i
            left join image_analysis a on a.image_id = i.id
            where i.id = ${imageId}::uuid and i.owner_id = ${ownerId}::uuid`.execute(this.#db)
        ).rows[0]
      : undefined;
    if (!row) throw new AtelierError('IMAGE_NOT_FOUND', `No image ${imageId}.`);
    const status = row.status === 'done' || row.status === 'failed' ? row.status : 'pending';
    const hashes =
      status === 'done' && row.phash !== null && row.dhash !== null
        ? { phash: fromSigned64(row.phash), dhash: fromSigned64(row.dhash) }
        : null;
    return { status, hashes };
  }

  /**
   * The page of the owner's images nearest to `hashes`, within `threshold` pHash bits, in the
   * order (pHash distance, dHash distance, id): an exact k-nearest-neighbour search by
   * multi-index hashing (Norouzi, Punjani and Fleet, 2012, section 4).
   *
   * Each round reads some band keys from the four (owner_id, phash_bN) indexes and keeps the best
   * `limit + 1` rows found so far. After band i has been read to radius r_i, an image not found
   * differs from the query by more than r_i bits in every band, so by more than
   * {@link coveredDistance} in all: once the last row of the page is within that distance (or
   * it reaches the threshold), no unseen image can rank before it and the page is certain.
   * Otherwise the next round widens the band of smallest radius by one bit (only the keys at
   * exactly that distance: nothing is read twice). The first round covers
   * {@link SIMILAR_FIRST_ROUND} bits (or the cursor's distance, or less when the threshold is
   * lower), which holds a full page for most images of a large gallery; an image with few close
   * neighbours takes one or two more rounds of a few thousand keys, never a walk of the owner's
   * whole list.
   */
  async #nearest(args: PageArgs & { readonly imageId: string }, hashes: ImageHashes, threshold: number) {
    const limit = clampLimit(args.limit);
    const cursor = args.cursor === undefined ? undefined : decodeRankCursor('s', 2, args.cursor);
    const after: NearRow | undefined = cursor && {
      image_id: cursor.id,
      distance: cursor.values[0] ?? 0,
      ddistance: cursor.values[1] ?? 0,
    };
    const bands = hashBands(hashes.phash);
    const radii = bandRadii(Math.min(threshold, Math.max(SIMILAR_FIRST_ROUND, after?.distance ?? 0)));
    let reads = radii.map((radius, band) => ({ band, keys: bandKeys(bands[band] ?? 0, 0, radius) }));
    let best: NearRow[] = [];
    for (;;) {
      // Rows further than the page's last row so far can no longer enter the page.
      const cap = best.length > limit ? (best[limit]?.distance ?? threshold) : threshold;
      const found = await this.#bandRows(args, hashes, reads, cap, limit + 1, after);
      best = [...new Map([...best, ...found].map((row) => [row.image_id, row])).values()]
        .sort(compareNear)
        .slice(0, limit + 1);
      const covered = coveredDistance(radii);
      if (covered >= threshold || (best.length > limit && (best[limit]?.distance ?? Infinity) <= covered))
        break;
      const band = radii.indexOf(Math.min(...radii));
      const radius = (radii[band] ?? 0) + 1;
      radii[band] = radius;
      reads = [{ band, keys: bandKeys(bands[band] ?? 0, radius, radius) }];
    }
    const page = best.slice(0, limit);
    const last = page.at(-1);
    return {
      items: page.map((r) => ({ imageId: r.image_id, distance: r.distance })),
      nextCursor:
        best.length > limit && last
          ? encodeRankCursor('s', [last.distance, last.ddistance], last.image_id)
          : null,
    };
  }

  /**
   * The best `take` of the owner's images whose band N is one of `keys` (for each read), within
   * `cap` pHash bits, after the cursor and within the filters, in (distance, dHash distance, id)
   * order. Every band branch is an index-only scan of its covering (owner_id, phash_bN) index that
   * keeps only the rows within `cap`, so the union that merges images found by two bands sees few.
   */
  async #bandRows(
    args: PageArgs & { readonly imageId: string },
    hashes: ImageHashes,
    reads: readonly { band: number; keys: number[] }[],
    cap: number,
    take: number,
    after: NearRow | undefined,
  ): Promise<NearRow[]> {
    const phash = toSigned64(hashes.phash).toString();
    const dhash = toSigned64(hashes.dhash).toString();
    const branches = reads
      .filter((read) => read.keys.length > 0)
      .map(
        (read) => sql`
        select image_id, distance, ddistance from (
          select image_id, bit_count((phash # ${phash}::bigint)::bit(64))::int as distance,
                 bit_count((dhash # ${dhash}::bigint)::bit(64))::int as ddistance
          from image_analysis
          where owner_id = ${args.ownerId}::uuid and ${sql.ref(`phash_b${read.band}`)} = any(${read.keys}::int[])
        ) b
        where distance <= ${cap} and image_id <> ${args.imageId}::uuid
          ${after ? sql`and (distance, ddistance, image_id) > (${after.distance}::int, ${after.ddistance}::int, ${after.image_id}::uuid)` : sql``}`,
      );
    if (branches.length === 0) return [];
    // The candidates are the owner's already; the images table is read only for the filters.
    const filtered = hasFilters(args.filters);
    const result = await sql<NearRow>`
      select c.image_id, c.distance, c.ddistance from (${sql.join(branches, sql` union `)}) c
        ${filtered ? sql`join images i on i.id = c.image_id and i.owner_id = ${args.ownerId}::uuid where ${filterSql(args.filters)}` : sql``}
      order by c.distance, c.ddistance, c.image_id
      limit ${take}`.execute(this.#db);
    return result.rows;
  }
}

/** The two perceptual hashes of an analysed image. */
interface ImageHashes {
  readonly phash: bigint;
  readonly dhash: bigint;
}

/** A similarity candidate: its pHash and dHash distances to the query image. */
interface NearRow {
  readonly image_id: string;
  readonly distance: number;
  readonly ddistance: number;
}

/** The order of similar images: pHash distance, then dHash distance, then id (as Postgres orders uuids). */
function compareNear(a: NearRow, b: NearRow): number {
  return (
    a.distance - b.distance ||
    a.ddistance - b.ddistance ||
    (a.image_id < b.image_id ? -1 : a.image_id > b.image_id ? 1 : 0)
  );
}

function notAnalysed(imageId: string): AtelierError {
  return new AtelierError(
    'IMAGE_NOT_ANALYSED',
    `Image ${imageId} has not been analysed yet: similar images are known once its analysis is done.`,
  );
}

function hasFilters(filters: GalleryFilters | undefined): boolean {
  return filters !== undefined && Object.values(filters).some((v) => v !== undefined);
}

/** The gallery filters over `images i` (a job's style or status: one of the image's jobs). */
function filterSql(filters: GalleryFilters | undefined): RawBuilder<boolean> {
  const parts: RawBuilder<boolean>[] = [sql<boolean>`true`];
  if (filters?.createdAfter) parts.push(sql<boolean>`i.created_at >= ${filters.createdAfter}`);
  if (filters?.createdBefore) parts.push(sql<boolean>`i.created_at < ${filters.createdBefore}`);
  if (filters?.style !== undefined || filters?.status !== undefined)
    parts.push(sql<boolean>`exists (select 1 from jobs j where j.image_id = i.id and j.owner_id = i.owner_id
      ${filters.style === undefined ? sql`` : sql`and j.style = ${filters.style}`}
      ${filters.status === undefined ? sql`` : sql`and j.status = ${filters.status}`})`);
  return sql<boolean>`${sql.join(parts, sql` and `)}`;
}
