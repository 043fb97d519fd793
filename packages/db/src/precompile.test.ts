import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { precompile } from './precompile.ts';
import { createTestDatabase } from './testing.ts';
import type { TestDatabase } from './testing.ts';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase(inject('pgAdminUrl'));
});
afterAll(() => t.drop());

describe('precompile', () => {
  it('runs one compiled query with new values each time, constants kept', async () => {
    const { db } = t;
    await db.insertInto('users').values({ email: 'a@example.org', display_name: 'A' }).execute();
    await db
      .insertInto('users')
      .values({ email: 'b@example.org', display_name: 'B', role: 'admin' })
      .execute();
    const byEmail = precompile(
      db,
      (email, name) =>
        db
          .selectFrom('users')
          .select(['email', 'display_name'])
          .where('email', '=', email!)
          .where('display_name', '=', name!)
          .where('disabled_at', 'is', null)
          .limit(5),
      2,
    );
    expect(byEmail.sql).toContain('limit $');
    expect(await byEmail.execute(['a@example.org', 'A'])).toEqual([
      { email: 'a@example.org', display_name: 'A' },
    ]);
    expect(await byEmail.execute(['b@example.org', 'B'])).toEqual([
      { email: 'b@example.org', display_name: 'B' },
    ]);
    expect(await byEmail.execute(['b@example.org', 'A'])).toEqual([]);
    await expect(byEmail.execute(['a@example.org'])).rejects.toThrow(/expected 2 values/);
  });

  it('refuses a placeholder that is not a parameter', () => {
    const { db } = t;
    expect(() => precompile(db, () => db.selectFrom('users').select('email'))).toThrow(/placeholder 0/);
  });
});
