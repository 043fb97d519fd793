import { createHash } from 'node:crypto';
import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import pg from 'pg';

/**
 * Named prepared statements for hot queries, as PgJDBC (`prepareThreshold`) and Npgsql (automatic
 * preparation) do: Postgres then parses and plans a query once per connection instead of on every
 * call. They go out through pg's documented named-statement query config (`{ name, text, values }`)
 * from {@link PreparingPool}, the pool of `createKysely` and of the job queue's pg-boss. For the session lookup that every authenticated request runs, parsing and planning are most
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
 * Runs `sql` as a named prepared statement from its first call on, on every {@link PreparingPool}
 * (every pool of `createKysely`, and the job queue's). Returns the statement name.
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
export function keepAliveOnConnectionLoss(client: pg.ClientBase): void {
  client.on('error', ignoreConnectionError);
}

function ignoreConnectionError(): void {
  // See keepAliveOnConnectionLoss: the queries on this client carry the error to their callers.
}

/**
 * A pg pool that sends hot texts (see {@link prepareStatement}) as named prepared statements,
 * through pg's query config `{ name, text, values }`, outside transactions; any other text, and
 * every text inside a transaction, goes out as given. A statement whose tables changed shape under
 * it (a migration run by another process while this one runs: `select *` then fails with "cached
 * plan must not change result type") is prepared again under a new name on that connection, and
 * the call is retried once.
 *
 * It wraps a `pg.Pool` (no subclass of pg's classes) and is a Kysely `PostgresPool`, so
 * `new PostgresDialect({ pool })` takes it; {@link PreparingPool.query} serves callers that are
 * not Kysely (the job queue's pg-boss, through its `db` option).
 *
 * Behind a pooler in transaction mode, prepared statements need its support for them (PgBouncer
 * ≥ 1.21 with `max_prepared_statements` set).
 */
export class PreparingPool implements PostgresPool {
  readonly #pool: pg.Pool;
  /** One wrapper per pooled connection: it holds that connection's re-prepared names. */
  readonly #clients = new WeakMap<pg.PoolClient, PreparingPoolClient>();
  #ended: Promise<void> | undefined;

  /**
   * @param config pg.Pool's options.
   * @param onError Errors of idle connections (their server went away); they never end the process.
   */
  constructor(config: pg.PoolConfig, onError: (error: Error) => void = ignoreConnectionError) {
    this.#pool = new pg.Pool(config);
    this.#pool.on('connect', keepAliveOnConnectionLoss);
    this.#pool.on('error', onError);
  }

  /** The pool's options (Kysely's driver reads them). */
  get options(): pg.PoolConfig {
    return this.#pool.options;
  }

  /** Checks a connection out; `release()` it when done. */
  async connect(): Promise<PreparingPoolClient> {
    const client = await this.#pool.connect();
    let wrapped = this.#clients.get(client);
    if (wrapped === undefined) {
      wrapped = new PreparingPoolClient(client);
      this.#clients.set(client, wrapped);
    }
    return wrapped;
  }

  /**
   * Runs one text on a connection of the pool and returns pg's result, as `pg.Pool#query` does.
   * The connection goes back to the pool unless the query left it unusable (lost, or inside a
   * transaction).
   */
  async query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    text: string,
    values?: readonly unknown[],
  ): Promise<pg.QueryResult<R>> {
    const client = await this.connect();
    let result: pg.QueryResult<R>;
    try {
      result = await client.run(text, values);
    } catch (error) {
      client.release(!client.idle);
      throw error;
    }
    client.release(!client.idle);
    return result;
  }

  /** Closes every connection. Idempotent. */
  end(): Promise<void> {
    this.#ended ??= this.#pool.end();
    return this.#ended;
  }
}

/** The commands Kysely's Postgres driver tells apart. */
const KYSELY_COMMANDS = ['UPDATE', 'DELETE', 'INSERT', 'SELECT', 'MERGE', 'COMMIT', 'ROLLBACK'] as const;
type KyselyCommand = (typeof KYSELY_COMMANDS)[number];

/**
 * pg's command tag as Kysely's driver reads it: it counts affected rows of INSERT, UPDATE, DELETE
 * and MERGE, answers COMMIT and ROLLBACK apart, and returns the rows of anything else. Any other
 * tag (BEGIN, SET, a DDL statement) reads as SELECT: its rows, none.
 */
function kyselyCommand(command: string): KyselyCommand {
  return KYSELY_COMMANDS.find((known) => known === command) ?? 'SELECT';
}

/** A connection of a {@link PreparingPool}. */
export class PreparingPoolClient implements PostgresPoolClient {
  readonly #client: pg.PoolClient;
  /** This connection's replacement names, for statements prepared again after a schema change. */
  readonly #renamed = new Map<string, string>();
  #reprepared = 0;

  constructor(client: pg.PoolClient) {
    this.#client = client;
  }

  /** Outside any transaction, with no statement running (`'I'`, pg's transaction status). */
  get idle(): boolean {
    return this.#client.getTransactionStatus() === 'I';
  }

  /** Kysely's call: the rows and what Kysely reads of the command (see {@link kyselyCommand}). */
  query<R>(text: string, values?: readonly unknown[]): Promise<PostgresQueryResult<R>>;
  query<R>(cursor: PostgresCursor<R>): PostgresCursor<R>;
  query<R>(
    text: string | PostgresCursor<R>,
    values?: readonly unknown[],
  ): Promise<PostgresQueryResult<R>> | PostgresCursor<R> {
    // createKysely configures no cursor, so Kysely never streams through this pool.
    if (typeof text !== 'string') throw new Error('PreparingPool: streaming (a cursor) is not supported.');
    return this.run(text, values).then(({ command, rowCount, rows }) => ({
      command: kyselyCommand(command),
      rowCount: rowCount ?? 0,
      rows,
    }));
  }

  /**
   * Runs one text (named when it is hot; see {@link PreparingPool}) and returns pg's result, whose
   * rows are what the caller's query selects.
   */
  run(text: string, values?: readonly unknown[]): Promise<pg.QueryResult> {
    // Inside a transaction a refused statement (below) would abort the caller's transaction, with
    // no way to retry the call: there, texts go out unnamed. The hot paths run outside one.
    const status = this.#client.getTransactionStatus();
    const name =
      status !== 'T' && status !== 'E' && ((values?.length ?? 0) > 0 || ONE_STATEMENT.test(text))
        ? statementFor(text)
        : undefined;
    if (name === undefined)
      return values === undefined ? this.#client.query(text) : this.#client.query(text, [...values]);
    return this.#named(text, name, values === undefined ? [] : [...values]);
  }

  /** Back to the pool; `destroy` (or an error) closes the connection instead. */
  release(destroy?: boolean | Error): void {
    this.#client.release(destroy);
  }

  async #named(text: string, name: string, values: unknown[]): Promise<pg.QueryResult> {
    try {
      return await this.#client.query({ name: this.#renamed.get(name) ?? name, text, values });
    } catch (error) {
      if (!(error instanceof Error) || !('code' in error) || error.code !== FEATURE_NOT_SUPPORTED)
        throw error;
      if (!error.message.includes('result type')) throw error;
      const fresh = `${name}_${++this.#reprepared}`;
      this.#renamed.set(name, fresh);
      return await this.#client.query({ name: fresh, text, values });
    }
  }
}
