import { sql } from 'kysely';
import type { RawBuilder } from 'kysely';
import { AtelierError } from '@atelier/core';
import { isUuid } from './ids.ts';

// Keyset pages over (created_at, id), newest first: new rows never shift a page, and a cursor is
// opaque to clients (base64url of the row's exact time and id).

/**
 * The exact creation time of a row, for its page cursor: Postgres keeps microseconds, a JS Date
 * only milliseconds, and a cursor cut to milliseconds would skip rows created in the same one.
 * `table` qualifies the column when the query joins another table with one of that name.
 */
export function exactCreatedAt(table?: string): RawBuilder<string> {
  const column = table ? sql.ref(`${table}.created_at`) : sql.ref('created_at');
  return sql<string>`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3,6}Z$/;

function encodeCursor(row: { cursor_at: string; id: string }): string {
  return Buffer.from(`${row.cursor_at}|${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id, ...rest] = Buffer.from(cursor, 'base64url').toString().split('|');
  if (!createdAt || !CURSOR_TIME.test(createdAt) || !id || !isUuid(id) || rest.length > 0)
    throw new AtelierError(
      'CURSOR_INVALID',
      "The page cursor is malformed: pass a page's nextCursor back as it is, or none for the first page.",
    );
  return { createdAt, id };
}

/**
 * Rows older than the cursor in (created_at, id) order. Throws `CURSOR_INVALID` for a cursor that
 * no page gave.
 */
export function olderThan(cursor: string, table?: string): RawBuilder<boolean> {
  const { createdAt, id } = decodeCursor(cursor);
  const [at, key] = table
    ? [sql.ref(`${table}.created_at`), sql.ref(`${table}.id`)]
    : [sql.ref('created_at'), sql.ref('id')];
  return sql<boolean>`(${at}, ${key}) < (${createdAt}::timestamptz, ${id}::uuid)`;
}

/** One page of `limit` rows (the query fetched one more, to know whether another page follows). */
export function pageOf<Row extends { cursor_at: string; id: string }, T>(
  rows: Row[],
  limit: number,
  map: (row: Row) => T,
): { items: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return { items: page.map(map), nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}
