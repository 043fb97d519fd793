import { createHash } from 'node:crypto';
import pg from 'pg';

/**
 * Named prepared statements for hot queries, as PgJDBC (`prepareThreshold`) and Npgsql (automatic
 * preparation) do: Postgres then parses and plans a query once per connection instead of on every
 * call. For the session lookup that every authenticated request runs, parsing and planning are most
 * of the database's work (pgbench on this kind of machine: about 9,000 calls/s unnamed, 37,000
 * prepared); pg-boss's fetch and complete statements, run for every job, gain the same way.
 *
 * Which texts run prepared: those given to {@link prepareStatement} (`precompile` does it) from
 * their first call, and any other from its {@link AUTO_PREPARE_AFTER}th call, up to
 * {@link MAX_STATEMENTS} texts per process. A text without parameters (Postgres's simple protocol,
 * which allows several statements in one text) is prepared only when it is one SELECT, WITH,
 * INSERT, UPDATE or DELETE with no `;` in it (pg-boss's fetch is such a text); any other goes out
 * as before.
 */
const statements = new Map<string, string>();
/** How many times each text that may be prepared, and is not yet, has run. */
const seen = new Map<string, number>();

/** A text with parameters runs prepared from this call on (PgJDBC's default threshold). */
export const AUTO_PREPARE_AFTER = 5;
/** At most this many texts are prepared (per connection, on the server): the hot set, not every query. */
export const MAX_STATEMENTS = 200;
/** Counts of rare texts are forgotten beyond this many, so one-off queries cannot grow the map. */
const MAX_SEEN = 5_000;

/**
 * Runs `sql` as a named prepared statement from its first call on, on every pool whose client is
 * {@link PreparingClient} (every pool of `createKysely`, and pg-boss's). Returns the statement name.
 */
export function prepareStatement(sql: string): string {
  let name = statements.get(sql);
  if (name === undefined) {
    name = `atelier_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    statements.set(sql, name);
    seen.delete(sql);
  }
  return name;
}

/** Every text that runs prepared now (for tests and diagnostics). */
export function preparedStatements(): string[] {
  return [...statements.keys()];
}

/** One statement that can be prepared, whatever protocol it came in on (see the module comment). */
const ONE_STATEMENT = /^\s*(?:select|with|insert|update|delete)\b[^;]*$/i;

/** The statement name `text` runs under, counting this call; undefined while it runs unnamed. */
function statementFor(text: string): string | undefined {
  const name = statements.get(text);
  if (name !== undefined || statements.size >= MAX_STATEMENTS) return name;
  const count = (seen.get(text) ?? 0) + 1;
  if (count >= AUTO_PREPARE_AFTER) return prepareStatement(text);
  if (seen.size >= MAX_SEEN) seen.clear();
  seen.set(text, count);
  return undefined;
}

/** Postgres refuses a prepared statement whose result columns changed since it was prepared. */
const FEATURE_NOT_SUPPORTED = '0A000';

/**
 * Keeps a lost connection from ending the process. pg emits `error` on a client whose server goes
 * away (Postgres restarting: 57P01, or the socket closing: "Connection terminated unexpectedly")
 * even when no query is running on it, and an `error` event with no listener throws. pg-pool
 * listens only while a client sits idle: it takes its listener off for as long as the client is
 * checked out, and Kysely's driver adds none, so a client between two queries of a request (or
 * between checkout and its first query) crashed `atelier serve` under load. The error is not lost
 * by ignoring the event here: pg also rejects the client's pending and later queries with it (the
 * client stays unqueryable), and the pool discards such a client when it is released.
 */
export function keepAliveOnConnectionLoss(client: pg.Client): void {
  client.on('error', ignoreConnectionError);
}

function ignoreConnectionError(): void {
  // See keepAliveOnConnectionLoss: the queries on this client carry the error to their callers.
}

type Callback = (error: Error | null, result?: pg.QueryResult) => void;

/**
 * A pg client that sends hot texts as named prepared statements (see {@link prepareStatement})
 * outside transactions; any other query, every query inside a transaction, and every call that is
 * not `query(text[, values][, callback])`, goes out as pg sends it. A statement whose tables
 * changed shape under it (a migration run by another process while this one runs: `select *` then
 * fails with "cached plan must not change result type") is prepared again under a new name on
 * this connection, and the call is retried once.
 *
 * Behind a pooler in transaction mode, prepared statements need its support for them (PgBouncer
 * ≥ 1.21 with `max_prepared_statements` set).
 */
export class PreparingClient extends pg.Client {
  /** This connection's replacement names, for statements prepared again after a schema change. */
  readonly #renamed = new Map<string, string>();
  #reprepared = 0;

  constructor(config?: string | pg.ClientConfig) {
    super(config);
    keepAliveOnConnectionLoss(this);
  }

  // pg's query() has many overloads; only (text[, values][, callback]) is routed (see statementFor).
  override query(...args: unknown[]): never {
    const [text, given, callback] = args;
    const values = given === undefined ? [] : given;
    // Inside a transaction a refused statement (below) would abort the caller's transaction, with
    // no way to retry the call: there, texts go out unnamed. The hot paths run outside one.
    const status = this.getTransactionStatus();
    const name =
      typeof text === 'string' &&
      status !== 'T' &&
      status !== 'E' &&
      Array.isArray(values) &&
      (values.length > 0 || ONE_STATEMENT.test(text)) &&
      (callback === undefined || typeof callback === 'function')
        ? statementFor(text)
        : undefined;
    if (name === undefined) return (super.query as (...a: unknown[]) => never)(...args);
    const result = this.#named(text as string, name, values as unknown[]);
    if (typeof callback !== 'function') return result as never;
    result.then(
      (rows) => (callback as Callback)(null, rows),
      (error: Error) => (callback as Callback)(error),
    );
    return undefined as never;
  }

  async #named(text: string, name: string, values: unknown[]): Promise<pg.QueryResult> {
    try {
      return await super.query<pg.QueryResultRow>({ name: this.#renamed.get(name) ?? name, text, values });
    } catch (error) {
      const { code, message } = error as { code?: unknown; message?: unknown };
      if (code !== FEATURE_NOT_SUPPORTED || !String(message).includes('result type')) throw error;
      const fresh = `${name}_${++this.#reprepared}`;
      this.#renamed.set(name, fresh);
      return await super.query<pg.QueryResultRow>({ name: fresh, text, values });
    }
  }
}
