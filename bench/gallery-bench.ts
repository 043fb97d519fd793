// Gallery search at scale (docs/gallery.md "## Search"): a fresh embedded Postgres filled with a
// synthetic gallery (1,000,000 image rows: 1,000 owners of 800 images and one owner of 200,000,
// with analysis, palettes, words and captions, no pixels), then p50 and p95 of each query kind for
// the large owner, through GallerySearch (the API's own queries). Goals: colour and similarity
// p95 <= 50 ms, text p95 <= 20 ms.
//   node bench/gallery-bench.ts [--owners 1000] [--per-owner 800] [--large 200000] [--samples 60]
import { mkdtemp, rm, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import {
  createKysely,
  databaseUrl,
  ensureDatabase,
  migrateUp,
  openDatabase,
  startEmbeddedPostgres,
} from '@atelier/db';
import { DUPLICATE_THRESHOLD, GallerySearch } from '@atelier/jobs';
import { SYNTHETIC_LARGE_OWNER, fillSyntheticGallery } from '@atelier/jobs/testing';
import { pad } from './stats.ts';

const { values } = parseArgs({
  options: {
    owners: { type: 'string', default: '1000' },
    'per-owner': { type: 'string', default: '800' },
    large: { type: 'string', default: '200000' },
    samples: { type: 'string', default: '60' },
  },
});
const samples = Number(values.samples);

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'atelier-gallery-bench-'));
  await chmod(dir, 0o755);
  const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), persistent: false });
  const url = await ensureDatabase(server.adminUrl, 'atelier');
  const database = await openDatabase({ url, poolSize: 4 });
  try {
    await migrateUp(database.db);
    const db = database.db;
    const started = performance.now();
    // The fill skips row triggers while it loads (session_replication_role): the superuser's job.
    const admin = createKysely(databaseUrl(server.adminUrl, 'atelier'), 2);
    const total = await fillSyntheticGallery(admin.db, {
      owners: Number(values.owners),
      imagesPerOwner: Number(values['per-owner']),
      largeOwnerImages: Number(values.large),
      onStep: (name, ms) => console.log(`  fill: ${name} ${(ms / 1000).toFixed(1)} s`),
    }).finally(() => admin.db.destroy());
    const fillS = (performance.now() - started) / 1000;
    const size = await sql<{
      size: string;
    }>`select pg_size_pretty(pg_database_size(current_database())) as size`.execute(db);
    console.log(
      `filled ${total.toLocaleString('en')} images (${Number(values.owners)} owners x ${values['per-owner']} + one of ${Number(values.large).toLocaleString('en')}) in ${fillS.toFixed(0)} s; database ${size.rows[0]?.size}`,
    );

    const search = new GallerySearch(db);
    const ownerId = SYNTHETIC_LARGE_OWNER;
    const images = (
      await sql<{ image_id: string }>`
        select image_id from image_analysis where owner_id = ${ownerId}::uuid order by md5(image_id::text) limit ${samples}`.execute(
        db,
      )
    ).rows.map((r) => r.image_id);
    // Colours drawn evenly over RGB, the same on every run (a seeded mulberry32), so that runs
    // compare: some are common in the gallery's palettes, some nearly absent.
    let seed = 15;
    const random = (): number => {
      seed = (seed + 0x6d2b79f5) >>> 0;
      let t = seed;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const colours = Array.from(
      { length: samples },
      () =>
        `#${Math.floor(random() * 0x1000000)
          .toString(16)
          .padStart(6, '0')}`,
    );
    // Words from the large owner's titles and tags.
    const words = (
      await sql<{ w: string }>`
        select t[1] as w from (select tags as t from images where owner_id = ${ownerId}::uuid
        and cardinality(tags) > 0 order by md5(id::text) limit ${samples}) x`.execute(db)
    ).rows.map((r) => r.w);
    const rare = (
      await sql<{ w: string }>`
        select t[cardinality(t)] as w from (select tags as t from images where owner_id = ${ownerId}::uuid
        and cardinality(tags) > 2 order by md5(id::text) desc limit ${samples}) x`.execute(db)
    ).rows.map((r) => r.w);

    // The middle of the large owner's uploads: a date filter that keeps half of them.
    const middle = (
      await sql<{ at: Date }>`
        select created_at as at from images where owner_id = ${ownerId}::uuid
        order by created_at offset ${Math.floor(Number(values.large) / 2)} limit 1`.execute(db)
    ).rows[0]!.at;
    // The cursor of each sample's third page at the default threshold (after 40 hits).
    const thirdPages: (string | null)[] = [];
    for (const imageId of images) {
      const first = await search.similar({ ownerId, imageId });
      const second = first.nextCursor
        ? await search.similar({ ownerId, imageId, cursor: first.nextCursor })
        : undefined;
      thirdPages.push(second?.nextCursor ?? null);
    }
    type Kind = { name: string; goal: number; run: (i: number) => Promise<number> };
    const at = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;
    const kinds: Kind[] = [
      {
        name: 'colour, 1 colour, ΔE 12',
        goal: 50,
        run: async (i) =>
          (await search.byColour({ ownerId, colours: [at(colours, i)], tolerance: 12 })).items.length,
      },
      {
        name: 'colour, 2 colours, ΔE 15',
        goal: 50,
        run: async (i) =>
          (await search.byColour({ ownerId, colours: [at(colours, i), at(colours, i + 7)], tolerance: 15 }))
            .items.length,
      },
      {
        name: 'similar, threshold 12',
        goal: 50,
        run: async (i) =>
          (await search.similar({ ownerId, imageId: at(images, i), threshold: 12 })).items.length,
      },
      {
        name: 'similar, threshold 22 (default)',
        goal: 50,
        run: async (i) =>
          (await search.similar({ ownerId, imageId: at(images, i), threshold: 22 })).items.length,
      },
      {
        name: 'similar, threshold 22, 3rd page',
        goal: 50,
        run: async (i) => {
          const cursor = at(thirdPages, i);
          return cursor === null
            ? 0
            : (await search.similar({ ownerId, imageId: at(images, i), threshold: 22, cursor })).items.length;
        },
      },
      {
        name: 'similar, threshold 28 (widest)',
        goal: 50,
        run: async (i) =>
          (await search.similar({ ownerId, imageId: at(images, i), threshold: 28 })).items.length,
      },
      {
        name: `duplicates (threshold ${DUPLICATE_THRESHOLD})`,
        goal: 50,
        run: async (i) => (await search.duplicates({ ownerId, imageId: at(images, i) })).duplicates.length,
      },
      {
        name: 'text, 1 common word',
        goal: 20,
        run: async (i) => (await search.text({ ownerId, query: at(words, i) })).items.length,
      },
      {
        name: 'text, 2 words',
        goal: 20,
        run: async (i) =>
          (await search.text({ ownerId, query: `${at(words, i)} ${at(rare, i)}` })).items.length,
      },
      {
        name: 'text, rare word + date filter',
        goal: 20,
        run: async (i) =>
          (
            await search.text({
              ownerId,
              query: at(rare, i),
              filters: { createdAfter: middle },
            })
          ).items.length,
      },
    ];

    console.log(
      `\nGallery search for the owner of ${Number(values.large).toLocaleString('en')} images, ${samples} queries each after 5 warm-up (ms)`,
    );
    console.log(
      `${'query'.padEnd(34)}${pad('p50', 8)}${pad('p95', 8)}${pad('goal', 8)}${pad('hits', 7)}  verdict`,
    );
    for (const kind of kinds) {
      for (let i = 0; i < 5; i++) await kind.run(i + 1000);
      const times: number[] = [];
      let hits = 0;
      for (let i = 0; i < samples; i++) {
        const t0 = performance.now();
        hits += await kind.run(i);
        times.push(performance.now() - t0);
      }
      times.sort((a, b) => a - b);
      const p95 = percentile(times, 95);
      console.log(
        `${kind.name.padEnd(34)}${pad(percentile(times, 50).toFixed(1), 8)}${pad(p95.toFixed(1), 8)}${pad(`<=${kind.goal}`, 8)}${pad((hits / samples).toFixed(1), 7)}  ${p95 <= kind.goal ? 'ok' : 'OVER'}`,
      );
    }
  } finally {
    await database.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
