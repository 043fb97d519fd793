import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AUTO_PREPARE_AFTER, prepareStatement, preparedStatements, PreparingPool } from './prepared.ts';

const isPrepared = (text: string): boolean => preparedStatements().includes(text);
import { createTestDatabase } from './testing.ts';
import type { TestDatabase } from './testing.ts';

let t: TestDatabase;
let pool: PreparingPool;
beforeAll(async () => {
  t = await createTestDatabase(inject('pgAdminUrl'), { migrate: false });
  // One connection, so that pg_prepared_statements (per session) shows what the pool's client prepared.
  pool = new PreparingPool({ connectionString: t.url, max: 1 });
  await pool.query('create table things (id int primary key, label text)');
  await pool.query("insert into things values (1, 'one'), (2, 'two')");
});
afterAll(async () => {
  await pool.end();
  await t.drop();
});

/** The statements this connection has prepared, by their text. */
async function preparedTexts(
  client: { query(text: string): Promise<{ rows: { statement: string }[] }> } = pool,
): Promise<string[]> {
  const { rows } = await client.query('select statement from pg_prepared_statements order by prepare_time');
  return rows.map((row) => row.statement);
}

describe('PreparingPool', () => {
  it('runs a registered text as a named prepared statement from its first call', async () => {
    const text = 'select label from things where id = $1 /* registered */';
    prepareStatement(text);
    expect(await preparedTexts()).not.toContain(text);
    expect((await pool.query(text, [1])).rows).toEqual([{ label: 'one' }]);
    expect(await preparedTexts()).toContain(text);
    // On a checked-out connection (Kysely's way) as well as on the pool (pg-boss's) above.
    const client = await pool.connect();
    try {
      expect((await client.query(text, [2])).rows).toEqual([{ label: 'two' }]);
    } finally {
      client.release();
    }
  });

  it(`prepares any other text with parameters from its ${AUTO_PREPARE_AFTER}th call`, async () => {
    const text = 'select id from things where label = $1 /* auto */';
    for (let i = 1; i < AUTO_PREPARE_AFTER; i++) {
      expect((await pool.query(text, ['two'])).rows).toEqual([{ id: 2 }]);
      expect(isPrepared(text)).toBe(false);
    }
    expect(await preparedTexts()).not.toContain(text);
    expect((await pool.query(text, ['two'])).rows).toEqual([{ id: 2 }]);
    expect(isPrepared(text)).toBe(true);
    expect(await preparedTexts()).toContain(text);
  });

  it('prepares a text without parameters only when it is one plain statement', async () => {
    const one = 'select count(*)::int as n from things /* one */';
    const several = 'select 1 as a; select 2 as b';
    const other = 'set statement_timeout = 0';
    for (let i = 0; i < AUTO_PREPARE_AFTER + 1; i++) {
      expect((await pool.query(one)).rows).toEqual([{ n: 2 }]);
      // pg answers a text of several statements with one result per statement.
      const results: unknown = await pool.query(several);
      expect(Array.isArray(results) && results.map((result: { rows: unknown }) => result.rows)).toEqual([
        [{ a: 1 }],
        [{ b: 2 }],
      ]);
      await pool.query(other);
    }
    expect(isPrepared(one)).toBe(true);
    expect(isPrepared(several)).toBe(false);
    expect(isPrepared(other)).toBe(false);
    const texts = await preparedTexts();
    expect(texts).toContain(one);
    expect(texts).not.toContain(several);
  });

  it('prepares a statement again when a migration changes the shape of its rows', async () => {
    const text = 'select * from things where id = $1 /* star */';
    prepareStatement(text);
    expect((await pool.query(text, [1])).rows).toEqual([{ id: 1, label: 'one' }]);
    // Another process migrates while this one runs: the prepared `select *` no longer fits.
    await pool.query('alter table things add column weight int not null default 7');
    expect((await pool.query(text, [1])).rows).toEqual([{ id: 1, label: 'one', weight: 7 }]);
    expect((await pool.query(text, [2])).rows).toEqual([{ id: 2, label: 'two', weight: 7 }]);
    expect((await preparedTexts()).filter((statement) => statement === text)).toHaveLength(2);
  });

  it('sends texts unnamed inside a transaction, where a refused statement could not be retried', async () => {
    const text = 'select label from things where id = $1 /* in a transaction */';
    prepareStatement(text);
    const client = await pool.connect();
    try {
      await client.query('begin');
      expect((await client.query(text, [1])).rows).toEqual([{ label: 'one' }]);
      await client.query('commit');
      expect(await preparedTexts(client)).not.toContain(text);
      expect((await client.query(text, [1])).rows).toEqual([{ label: 'one' }]);
      expect(await preparedTexts(client)).toContain(text);
    } finally {
      client.release();
    }
  });

  it('passes database errors through, in both forms', async () => {
    const text = 'select id from things where id = $1::int /* errors */';
    prepareStatement(text);
    await expect(pool.query(text, ['not a number'])).rejects.toMatchObject({ code: '22P02' });
    const client = await pool.connect();
    try {
      await expect(client.query(text, ['nope'])).rejects.toMatchObject({ code: '22P02' });
      expect((await client.query(text, ['1'])).rows).toEqual([{ id: 1 }]);
    } finally {
      client.release();
    }
  });
});
