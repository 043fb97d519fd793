import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { createKysely } from './database.ts';
import { databaseUrl, withClient } from './embedded.ts';
import { migrateUp } from './migrate.ts';
import type { Database } from './schema.ts';

/** A fresh, migrated database for one test file. */
export interface TestDatabase {
  readonly db: Kysely<Database>;
  readonly url: string;
  readonly name: string;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

/**
 * Creates a database with a random name on the server of `adminUrl`, migrates it and connects.
 * Tests get `adminUrl` from the test run's embedded server (or ATELIER_TEST_DATABASE_URL).
 */
export async function createTestDatabase(
  adminUrl: string,
  options: { migrate?: boolean } = {},
): Promise<TestDatabase> {
  const name = `atelier_test_${randomBytes(5).toString('hex')}`;
  await withClient(adminUrl, (admin) => admin.query(`create database ${name}`));
  const url = databaseUrl(adminUrl, name);
  const { db } = createKysely(url, 10);
  if (options.migrate ?? true) await migrateUp(db);
  return {
    db,
    url,
    name,
    drop: async () => {
      await db.destroy();
      await withClient(adminUrl, (admin) => admin.query(`drop database if exists ${name} with (force)`));
    },
  };
}
