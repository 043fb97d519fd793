import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { migrateDown, migrateUp, migrationStatus } from './migrate.ts';
import { createTestDatabase } from './testing.ts';
import type { TestDatabase } from './testing.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase(inject('pgAdminUrl'), { migrate: false });
});
afterAll(() => t.drop());

const tables = async <DB>(db: Kysely<DB>): Promise<string[]> =>
  (
    await sql<{
      tablename: string;
    }>`select tablename from pg_tables where schemaname = 'public' order by 1`.execute(db)
  ).rows.map((r) => r.tablename);

/** Every migration, in order. */
const ALL = [
  '0001-initial',
  '0002-job-events',
  '0003-sessions',
  '0004-quotas',
  '0005-private-cache-and-url-epoch',
  '0006-payments',
  '0007-plugin-capabilities',
  '0008-plugin-packages',
  '0009-plugin-results',
  '0010-image-analysis',
  '0011-gallery-search',
  '0012-gallery-similar-knn',
];

describe('migrations', () => {
  it('go up, report status, go down and up again', async () => {
    const db = t.db;
    expect((await migrationStatus(db)).every((m) => m.executedAt === undefined)).toBe(true);
    expect(await migrateUp(db)).toEqual(ALL);
    expect(await migrateUp(db)).toEqual([]);
    expect(await tables(db)).toEqual(
      expect.arrayContaining([
        'audit_log',
        'images',
        'jobs',
        'login_throttle',
        'plugin_state',
        'results',
        'sessions',
        'users',
      ]),
    );
    expect((await migrationStatus(db))[0]?.executedAt).toBeInstanceOf(Date);
    expect(await tables(db)).toEqual(
      expect.arrayContaining(['payments', 'stripe_events', 'plugin_packages']),
    );
    expect(await tables(db)).toEqual(expect.arrayContaining(['image_analysis', 'image_colours']));
    expect(await migrateDown(db)).toBe('0012-gallery-similar-knn');
    expect(await migrateDown(db)).toBe('0011-gallery-search');
    expect(await tables(db)).not.toContain('image_colours');
    expect(await migrateDown(db)).toBe('0010-image-analysis');
    expect(await tables(db)).not.toContain('image_analysis');
    expect(await tables(db)).toContain('image_annotations');
    expect(await migrateDown(db)).toBe('0009-plugin-results');
    expect(await tables(db)).not.toContain('image_annotations');
    expect(await migrateDown(db)).toBe('0008-plugin-packages');
    expect(await tables(db)).not.toContain('plugin_packages');
    expect(await tables(db)).toEqual(expect.arrayContaining(['plugin_secrets', 'plugin_grants']));
    expect(await migrateDown(db)).toBe('0007-plugin-capabilities');
    expect(await tables(db)).not.toContain('plugin_secrets');
    expect(await tables(db)).not.toContain('plugin_grants');
    expect(await migrateDown(db)).toBe('0006-payments');
    expect(await tables(db)).not.toContain('payments');
    expect(await migrateDown(db)).toBe('0005-private-cache-and-url-epoch');
    expect(await tables(db)).toContain('usage_events');
    expect(await migrateDown(db)).toBe('0004-quotas');
    expect(await tables(db)).not.toContain('usage_events');
    expect(await migrateDown(db)).toBe('0003-sessions');
    expect(await tables(db)).not.toContain('sessions');
    expect(await migrateDown(db)).toBe('0002-job-events');
    expect(await migrateDown(db)).toBe('0001-initial');
    expect(await tables(db)).not.toContain('jobs');
    expect(await migrateUp(db)).toEqual(ALL);
  });

  it('run safely from several processes at once', async () => {
    const other = await createTestDatabase(inject('pgAdminUrl'), { migrate: false });
    try {
      const db = other.db;
      const results = await Promise.all([migrateUp(db), migrateUp(db), migrateUp(db)]);
      expect(results.flat()).toEqual(ALL);
    } finally {
      await other.drop();
    }
  });

  it('0005 keeps each cache entry for every owner whose job holds it, and drops the rest', async () => {
    const other = await createTestDatabase(inject('pgAdminUrl'), { migrate: false });
    try {
      const db = other.db;
      await migrateUp(db);
      expect(await migrateDown(db)).toBe('0012-gallery-similar-knn');
      expect(await migrateDown(db)).toBe('0011-gallery-search');
      expect(await migrateDown(db)).toBe('0010-image-analysis');
      expect(await migrateDown(db)).toBe('0009-plugin-results');
      expect(await migrateDown(db)).toBe('0008-plugin-packages');
      expect(await migrateDown(db)).toBe('0007-plugin-capabilities');
      expect(await migrateDown(db)).toBe('0006-payments');
      expect(await migrateDown(db)).toBe('0005-private-cache-and-url-epoch');
      // Data as 0003 left it: one entry per plan and input, whoever made it.
      const [a, b, c] = (
        await sql<{ id: string }>`
          insert into users (email, display_name) values ('a@x.org', 'A'), ('b@x.org', 'B'), ('c@x.org', 'C')
          returning id`.execute(db)
      ).rows.map((r) => r.id);
      for (const [owner, status, key] of [
        [a, 'succeeded', 'results/k1'],
        [b, 'succeeded', 'results/k1'],
        [b, 'succeeded', 'results/k1'],
        [c, 'failed', null],
      ] as const) {
        await sql`
          with image as (
            insert into images (owner_id, sha256, bytes, width, height, format, storage_key)
            values (${owner}, ${`in-${owner}-${Math.random()}`}, 1, 1, 1, 'png', 'originals/x') returning id)
          insert into jobs (owner_id, image_id, input_sha256, plan, plan_hash, style, status, max_attempts, output_key)
          select ${owner}, image.id, 'in', '{}', 'p1', 'cartoon', ${status}, 3, ${key} from image`.execute(
          db,
        );
      }
      await sql`
        insert into results (plan_hash, input_sha256, output_key, bytes, width, height, format)
        values ('p1', 'in', 'results/k1', 10, 1, 1, 'png'), ('p2', 'in', 'results/k2', 10, 1, 1, 'png')`.execute(
        db,
      );
      expect(await migrateUp(db)).toEqual([
        '0005-private-cache-and-url-epoch',
        '0006-payments',
        '0007-plugin-capabilities',
        '0008-plugin-packages',
        '0009-plugin-results',
        '0010-image-analysis',
        '0011-gallery-search',
        '0012-gallery-similar-knn',
      ]);
      const rows = await sql<{ owner_id: string; plan_hash: string; output_key: string }>`
        select owner_id, plan_hash, output_key from results order by owner_id`.execute(db);
      expect(rows.rows).toEqual(
        [a, b].sort().map((owner) => ({ owner_id: owner, plan_hash: 'p1', output_key: 'results/k1' })),
      );
      const epochs = await sql<{ session_epoch: number }>`select session_epoch from users`.execute(db);
      expect(epochs.rows.map((r) => r.session_epoch)).toEqual([0, 0, 0]);
      // And back: one entry per plan and input again.
      expect(await migrateDown(db)).toBe('0012-gallery-similar-knn');
      expect(await migrateDown(db)).toBe('0011-gallery-search');
      expect(await migrateDown(db)).toBe('0010-image-analysis');
      expect(await migrateDown(db)).toBe('0009-plugin-results');
      expect(await migrateDown(db)).toBe('0008-plugin-packages');
      expect(await migrateDown(db)).toBe('0007-plugin-capabilities');
      expect(await migrateDown(db)).toBe('0006-payments');
      expect(await migrateDown(db)).toBe('0005-private-cache-and-url-epoch');
      const back = await sql<{ plan_hash: string }>`select plan_hash from results`.execute(db);
      expect(back.rows).toEqual([{ plan_hash: 'p1' }]);
    } finally {
      await other.drop();
    }
  });

  it('enforce the constraints the services rely on', async () => {
    const db = t.db;
    const user = await db
      .insertInto('users')
      .values({ email: 'A@x.org', display_name: 'A' })
      .returning('id')
      .executeTakeFirstOrThrow();
    await expect(
      db.insertInto('users').values({ email: 'a@X.org', display_name: 'B' }).execute(),
    ).rejects.toThrow(/users_email_key/);
    await expect(
      db
        .insertInto('users')
        .values({ email: 'c@x.org', display_name: 'C', role: 'root' as never })
        .execute(),
    ).rejects.toThrow(/check/);
    const image = await db
      .insertInto('images')
      .values({
        owner_id: user.id,
        sha256: 'ab',
        bytes: 10,
        width: 1,
        height: 1,
        format: 'png',
        storage_key: 'k',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const job = {
      owner_id: user.id,
      image_id: image.id,
      input_sha256: 'ab',
      plan: '{}',
      plan_hash: 'h',
      style: 'cartoon',
      max_attempts: 3,
      idempotency_key: 'k1',
      updated_at: new Date(),
    };
    await db.insertInto('jobs').values(job).execute();
    await db
      .insertInto('sessions')
      .values({ id: 'hash', user_id: user.id, expires_at: new Date(Date.now() + 60_000) })
      .execute();
    await expect(db.insertInto('jobs').values(job).execute()).rejects.toThrow(/jobs_owner_idempotency_key/);
    // Deleting a user removes their images, jobs and sessions.
    await db.deleteFrom('users').where('id', '=', user.id).execute();
    expect(await db.selectFrom('jobs').select('id').execute()).toEqual([]);
    expect(await db.selectFrom('sessions').select('id').execute()).toEqual([]);
  });
});
