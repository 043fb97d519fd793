// Gallery search uses its indexes (docs/gallery.md "## Search"): on a synthetic gallery large
// enough that the planner prefers an index when there is one (after ANALYZE), the plan of every
// query kind, as GallerySearch sends it, has no sequential scan of the big tables. And the
// answers are exact: similar images and colour pages equal a brute-force computation over every
// one of the owner's rows, at every threshold, page after page.
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { CompiledQuery } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { deltaE, hammingDistance, hexToRgb, labToRgb, rgbToHex, rgbToLab } from '@atelier/analysis';
import { createTestDatabase } from '@atelier/db';
import type { Database, TestDatabase } from '@atelier/db';
import { DUPLICATE_THRESHOLD, GallerySearch } from '@atelier/jobs';
import type { GalleryFilters } from '@atelier/jobs';
import { SYNTHETIC_LARGE_OWNER, fillSyntheticGallery } from '@atelier/jobs/testing';

const BIG_TABLES = ['images', 'image_analysis', 'image_colours', 'image_annotations'];

let t: TestDatabase;
let pool: pg.Pool;
let logged: Kysely<Database>;
let search: GallerySearch;
const sent: CompiledQuery[] = [];
let imageId: string;
const ownerId = SYNTHETIC_LARGE_OWNER;

beforeAll(async () => {
  t = await createTestDatabase(inject('pgAdminUrl'));
  await fillSyntheticGallery(t.db, { owners: 150, imagesPerOwner: 300, largeOwnerImages: 30_000 });
  pool = new pg.Pool({ connectionString: t.url, max: 2 });
  // The service's own queries, recorded as sent.
  logged = new Kysely<Database>({
    dialect: new PostgresDialect({ pool }),
    log: (event) => {
      if (event.level === 'query') sent.push(event.query);
    },
  });
  search = new GallerySearch(logged);
  const row = await sql<{ image_id: string }>`
    select image_id from image_analysis where owner_id = ${ownerId}::uuid order by image_id limit 1`.execute(
    t.db,
  );
  imageId = row.rows[0]!.image_id;
}, 600_000);
afterAll(async () => {
  await logged.destroy();
  await t.drop();
});

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** The plans of the queries `run` sends (EXPLAIN of each, with its parameters). */
async function plansOf(run: () => Promise<unknown>): Promise<PlanNode[][]> {
  sent.length = 0;
  await run();
  const plans: PlanNode[][] = [];
  // Only the queries: not the transaction and setting statements around them.
  for (const query of sent.splice(0).filter((q) => /^\s*(select|with)\b/i.test(q.sql))) {
    const result = await pool.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
      `explain (format json) ${query.sql}`,
      query.parameters as unknown[],
    );
    plans.push(nodes(result.rows[0]!['QUERY PLAN'][0].Plan));
  }
  return plans;
}

function expectNoBigSeqScan(plans: PlanNode[][]): void {
  expect(plans.length).toBeGreaterThan(0);
  for (const plan of plans) {
    const scans = plan.filter(
      (n) => n['Node Type'] === 'Seq Scan' && BIG_TABLES.includes(n['Relation Name'] ?? ''),
    );
    expect(scans.map((n) => n['Relation Name'])).toEqual([]);
  }
}

const usedIndexes = (plans: PlanNode[][]): string[] =>
  plans.flat().flatMap((n) => (n['Index Name'] ? [n['Index Name']] : []));

describe('query plans on a synthetic gallery of 75,000 images', () => {
  it('colour reads the colour index cells, no table scan', async () => {
    const plans = await plansOf(() =>
      search.byColour({ ownerId, colours: ['#1d3557', '#e9c46a'], tolerance: 15 }),
    );
    expectNoBigSeqScan(plans);
    expect(usedIndexes(plans)).toContain('image_colours_owner_cell');
  });

  const BAND_INDEXES = [0, 1, 2, 3].map((b) => `image_analysis_owner_phash_b${b}_cover`);

  it('similarity reads the four band indexes, at every threshold, and nothing else', async () => {
    for (const threshold of [0, 12, 22, 28]) {
      const plans = await plansOf(() => search.similar({ ownerId, imageId, threshold }));
      expectNoBigSeqScan(plans);
      // The first query is the source image's own hashes (by primary key); every later one is a
      // band search, index-only: no owner-wide walk remains.
      const [, ...rounds] = plans;
      expect(rounds.length).toBeGreaterThan(0);
      for (const round of rounds) {
        expect(usedIndexes([round]).length).toBeGreaterThan(0);
        expect(usedIndexes([round]).every((i) => BAND_INDEXES.includes(i))).toBe(true);
        expect(
          round.some((n) => n['Node Type'] === 'Index Scan' || n['Node Type'] === 'Bitmap Heap Scan'),
        ).toBe(false);
      }
      if (threshold >= 12) expect(usedIndexes(rounds)).toEqual(expect.arrayContaining(BAND_INDEXES));
    }
  });

  it('duplicates read the band indexes', async () => {
    const plans = await plansOf(() => search.duplicates({ ownerId, imageId }));
    expectNoBigSeqScan(plans);
    expect(usedIndexes(plans)).toContain('image_analysis_owner_phash_b0_cover');
  });

  it('text reads the (owner, words) GIN index or the owner’s date index, with and without filters', async () => {
    for (const run of [
      () => search.text({ ownerId, query: 'lighthouse' }),
      () => search.text({ ownerId, query: 'glacier volcano' }),
      () =>
        search.text({
          ownerId,
          query: 'sunset',
          filters: { createdAfter: new Date('2026-01-02T00:00:00Z') },
        }),
    ]) {
      const plans = await plansOf(run);
      expectNoBigSeqScan(plans);
      expect(
        usedIndexes(plans).some((i) => i === 'images_owner_search_words' || i === 'images_owner_created_idx'),
      ).toBe(true);
    }
  });
});

describe('exact answers on the synthetic gallery (against brute force over all the owner’s rows)', () => {
  interface Hashes {
    readonly id: string;
    readonly phash: bigint;
    readonly dhash: bigint;
    readonly createdAt: number;
  }
  let owned: Hashes[];
  let samples: Hashes[];

  beforeAll(async () => {
    owned = (
      await sql<{ id: string; phash: string; dhash: string; created_at: Date }>`
        select a.image_id as id, a.phash::text as phash, a.dhash::text as dhash, i.created_at
        from image_analysis a join images i on i.id = a.image_id
        where a.owner_id = ${ownerId}::uuid and a.status = 'done'`.execute(t.db)
    ).rows.map((r) => ({
      id: r.id,
      phash: BigInt(r.phash),
      dhash: BigInt(r.dhash),
      createdAt: r.created_at.getTime(),
    }));
    // A spread of query images: every 2,500th by id.
    samples = [...owned].sort((a, b) => (a.id < b.id ? -1 : 1)).filter((_, i) => i % 2500 === 7);
  });

  /** Every image within `threshold`, in the service's order: pHash distance, dHash distance, id. */
  function bruteSimilar(query: Hashes, threshold: number, after?: number) {
    return owned
      .filter((x) => x.id !== query.id && (after === undefined || x.createdAt >= after))
      .map((x) => ({
        imageId: x.id,
        distance: hammingDistance(x.phash, query.phash),
        ddistance: hammingDistance(x.dhash, query.dhash),
      }))
      .filter((x) => x.distance <= threshold)
      .sort(
        (a, b) => a.distance - b.distance || a.ddistance - b.ddistance || (a.imageId < b.imageId ? -1 : 1),
      )
      .map(({ imageId, distance }) => ({ imageId, distance }));
  }

  async function allPages(
    query: Hashes,
    threshold: number,
    limit: number,
    pages: number,
    filters?: GalleryFilters,
  ) {
    const hits: { imageId: string; distance: number }[] = [];
    let cursor: string | undefined;
    for (let p = 0; p < pages; p++) {
      const page = await search.similar({
        ownerId,
        imageId: query.id,
        threshold,
        limit,
        ...(cursor ? { cursor } : {}),
        ...(filters ? { filters } : {}),
      });
      hits.push(...page.items);
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    return hits;
  }

  it('similar images: the exact nearest page at every threshold, and the pages after it', async () => {
    expect(samples.length).toBeGreaterThanOrEqual(10);
    for (const query of samples) {
      for (const threshold of [0, 3, 9, 12, 15, 17, 22, 28]) {
        const page = await search.similar({ ownerId, imageId: query.id, threshold });
        expect(page.items, `threshold ${threshold}`).toEqual(bruteSimilar(query, threshold).slice(0, 20));
      }
      // Five pages of 13 at the default threshold: the first 65 in order, no repeats, no gaps.
      expect(await allPages(query, 22, 13, 5)).toEqual(bruteSimilar(query, 22).slice(0, 65));
    }
    // With a filter: only the images that pass it count towards a page.
    const middle = [...owned].sort((a, b) => a.createdAt - b.createdAt)[Math.floor(owned.length / 2)]!
      .createdAt;
    for (const query of samples.slice(0, 4))
      expect(await allPages(query, 22, 20, 3, { createdAfter: new Date(middle) })).toEqual(
        bruteSimilar(query, 22, middle).slice(0, 60),
      );
  });

  it('duplicates: every image within the duplicate threshold', async () => {
    for (const query of samples) {
      const report = await search.duplicates({ ownerId, imageId: query.id });
      expect(report.duplicates).toEqual(bruteSimilar(query, DUPLICATE_THRESHOLD).slice(0, 100));
    }
  });

  it('colour: the best-scoring images for one and two colours, page after page', async () => {
    const palettes = new Map<string, { l: number; a: number; b: number; weight: number }[]>();
    for (const r of (
      await sql<{ image_id: string; l: number; a: number; b: number; weight: number }>`
        select image_id, l, a, b, weight from image_colours where owner_id = ${ownerId}::uuid`.execute(t.db)
    ).rows)
      palettes.set(r.image_id, [...(palettes.get(r.image_id) ?? []), r]);
    const tolerance = 15;
    // Exact scores by the documented formula, in double precision (the index holds float4 values,
    // so scores may differ in the 6th decimal: pages are compared by score, ids where scores differ).
    const brute = (hexes: string[]) =>
      [...palettes]
        .map(([imageId, palette]) => {
          const per = hexes.map((hex) => {
            const lab = rgbToLab(...hexToRgb(hex)!);
            const near = palette.map((p) => ({ p, d: deltaE(lab, p) })).filter(({ d }) => d <= tolerance);
            return {
              share: near.reduce((sum, { p, d }) => sum + p.weight * (1 - d / tolerance), 0),
              best: near.length > 0 ? Math.min(...near.map(({ d }) => d)) : Infinity,
            };
          });
          return {
            imageId,
            score: per.reduce((s, x) => s + x.share, 0) / hexes.length,
            worst: Math.max(...per.map((x) => x.best)),
          };
        })
        .filter((x) => x.worst <= tolerance)
        .sort((a, b) => b.score - a.score);
    // Colours of the owner's own palettes (so that there are hits), alone and in pairs, and a
    // pair from two different images (fewer images have both).
    const hexOf = (c: { l: number; a: number; b: number }) => rgbToHex(...labToRgb(c));
    const [p, q] = samples.map((x) => palettes.get(x.id)!);
    const queries = [
      [hexOf(p![0]!)],
      [hexOf(p![0]!), hexOf(p![1]!)],
      [hexOf(p![2]!), hexOf(q![0]!)],
      ['#1d3557'],
    ];
    for (const [k, hexes] of queries.entries()) {
      const want = brute(hexes);
      // An image's own colours: many images have them (its scene's), more than a page.
      if (k < 2) expect(want.length, hexes.join(',')).toBeGreaterThan(15);
      const got: { imageId: string; score: number; deltaE: number }[] = [];
      let cursor: string | undefined;
      for (let p = 0; p < 3; p++) {
        const page = await search.byColour({
          ownerId,
          colours: hexes,
          tolerance,
          limit: 15,
          ...(cursor ? { cursor } : {}),
        });
        got.push(...page.items);
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect(got.length, hexes.join(',')).toBe(Math.min(45, want.length));
      expect(new Set(got.map((h) => h.imageId)).size).toBe(got.length);
      got.forEach((hit, i) => {
        expect(hit.score).toBeCloseTo(want[i]!.score, 4);
        const exact = want.find((w) => w.imageId === hit.imageId);
        expect(exact, `${hit.imageId} is within tolerance of every colour`).toBeDefined();
        expect(hit.score).toBeCloseTo(exact!.score, 4);
      });
      // Every image scoring clearly above the last one shown is shown.
      const last = got.at(-1)?.score ?? Infinity;
      const shown = new Set(got.map((h) => h.imageId));
      expect(want.filter((w) => w.score > last + 1e-4 && !shown.has(w.imageId))).toEqual([]);
    }
  });
});
