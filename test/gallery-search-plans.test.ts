// Gallery search uses its indexes (docs/gallery.md "## Search"): on a synthetic gallery large
// enough that the planner prefers an index when there is one (after ANALYZE), the plan of every
// query kind, as GallerySearch sends it, has no sequential scan of the big tables.
import { Kysely, PostgresDialect, sql } from 'kysely';
import type { CompiledQuery } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { Database, TestDatabase } from '@atelier/db';
import { GallerySearch } from '@atelier/jobs';
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

  it('similarity up to 15 bits reads the four band indexes', async () => {
    const plans = await plansOf(() => search.similar({ ownerId, imageId, threshold: 12 }));
    expectNoBigSeqScan(plans);
    expect(usedIndexes(plans)).toEqual(
      expect.arrayContaining([0, 1, 2, 3].map((b) => `image_analysis_owner_phash_b${b}_cover`)),
    );
  });

  it('wider similarity walks the owner’s hash index, not the table', async () => {
    const plans = await plansOf(() => search.similar({ ownerId, imageId, threshold: 22 }));
    expectNoBigSeqScan(plans);
    expect(usedIndexes(plans)).toContain('image_analysis_owner_phash');
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
