import type { Compilable, CompiledQuery, QueryResult } from 'kysely';
import { prepareStatement } from './prepared.ts';

/**
 * A query built and compiled once, then run with new parameter values: Kysely's builder and
 * compiler cost about 40 µs a call, which hot paths (the session lookup of every request, the job
 * lookup of `jobs.get`) should not pay each time. `build` receives placeholder strings where the
 * parameters go and must use each exactly as a value (in `where`, `set`, `values`…), never in SQL
 * text or an operation; the placeholders are checked to appear in the compiled parameters.
 *
 * On Atelier's pools (`createKysely`) the query also runs as a named prepared statement, so
 * Postgres parses and plans it once per connection, not on every call.
 *
 * Only for executors without result-transforming plugins (Atelier's Kysely has none): the
 * compiled query is reused as it is.
 *
 * @example
 * const byId = precompile(db, (id) => db.selectFrom('jobs').selectAll().where('id', '=', id));
 * const rows = await byId.execute([jobId]);
 */
export function precompile<R>(
  db: QueryExecutor,
  build: (...placeholders: string[]) => Compilable<R>,
  count = 1,
): PrecompiledQuery<R> {
  const placeholders = Array.from({ length: count }, (_, i) => `\u0000atelier-param-${i}\u0000`);
  const compiled = build(...placeholders).compile();
  const slots = compiled.parameters.map((value) => placeholders.findIndex((p) => p === value));
  for (let i = 0; i < count; i++) {
    if (!slots.includes(i)) throw new Error(`precompile: placeholder ${i} is not used as a parameter`);
  }
  prepareStatement(compiled.sql);
  return {
    sql: compiled.sql,
    async execute(values: readonly unknown[]): Promise<R[]> {
      if (values.length !== count)
        throw new Error(`precompile: expected ${count} values, got ${values.length}`);
      const query: CompiledQuery<R> = {
        ...compiled,
        parameters: compiled.parameters.map((value, i) => (slots[i]! >= 0 ? values[slots[i]!] : value)),
      };
      return (await db.executeQuery(query)).rows;
    },
  };
}

/** What runs a compiled query: any Kysely instance or transaction. */
export interface QueryExecutor {
  executeQuery<O>(query: CompiledQuery<O>): Promise<QueryResult<O>>;
}

/** A query compiled once; see {@link precompile}. */
export interface PrecompiledQuery<R> {
  readonly sql: string;
  execute(values: readonly unknown[]): Promise<R[]>;
}
