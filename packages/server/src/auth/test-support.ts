// Shared by the auth services' tests: a clock the test moves by hand, and one fresh, migrated
// database per test file. Not exported from the package.
import type { Kysely } from 'kysely';
import { afterAll, beforeAll, inject } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { Database, TestDatabase } from '@atelier/db';
import type { Clock } from './session.service.ts';

/** A clock that stands still until the test advances it. */
export function testClock(start = Date.parse('2031-03-01T12:00:00Z')): Clock & { advance(ms: number): void } {
  let t = start;
  return { now: () => new Date(t), advance: (ms) => void (t += ms) };
}

/** Creates a database for this test file before its tests and drops it after them. */
export function useTestDatabase(): { readonly db: Kysely<Database> } {
  let database: TestDatabase | undefined;
  beforeAll(async () => {
    database = await createTestDatabase(inject('pgAdminUrl'));
  });
  afterAll(() => database?.drop());
  return {
    get db() {
      if (!database) throw new Error('useTestDatabase: the database exists only inside tests and hooks');
      return database.db;
    },
  };
}
