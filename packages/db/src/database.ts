import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from '@atelier/core';
import { silentLogger } from '@atelier/core';
import { ensureDatabase, startEmbeddedPostgres } from './embedded.ts';
import type { EmbeddedServer } from './embedded.ts';
import { PreparingPool } from './prepared.ts';
import type { Database } from './schema.ts';

// bigint columns (byte counts) fit in a double for any realistic file; read them as numbers.
pg.types.setTypeParser(20, (value) => Number(value));

/** A connected database and how to let go of it. */
export interface DatabaseHandle {
  readonly db: Kysely<Database>;
  /** The connection string in use (for pg-boss and worker processes). */
  readonly url: string;
  /** The embedded server, when this handle started or joined one. */
  readonly embedded: EmbeddedServer | undefined;
  /** Closes the pool, then stops the embedded server if this process started it. */
  close(): Promise<void>;
}

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** Use this server. Without it, an embedded server is started in `dataDir`. */
  readonly url?: string;
  /** Where the embedded server keeps its data. @default ./.atelier/postgres */
  readonly dataDir?: string;
  /** Database name on the embedded server. @default atelier */
  readonly database?: string;
  /** Pool size. @default 10 */
  readonly poolSize?: number;
  readonly logger?: Logger;
  /** Stops the embedded server's start-up (what it started is stopped; the promise rejects). */
  readonly signal?: AbortSignal;
}

/**
 * A Kysely instance over a pg pool for `url`. `connectTimeoutMs` bounds each connection attempt
 * (@default no bound, as pg's), for callers that would rather fail fast than wait on a lost host.
 */
export function createKysely(
  url: string,
  poolSize = 10,
  options: { readonly connectTimeoutMs?: number } = {},
): { db: Kysely<Database>; pool: PreparingPool } {
  // The queries given to prepareStatement (precompile's), and any hot one, run as prepared
  // statements. An idle connection losing its server (Postgres restarting) does not crash the process.
  const pool = new PreparingPool({
    connectionString: url,
    max: poolSize,
    application_name: 'atelier',
    ...(options.connectTimeoutMs === undefined ? {} : { connectionTimeoutMillis: options.connectTimeoutMs }),
  });
  return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), pool };
}

/**
 * Connects to `url`, or with none starts (or joins) the embedded Postgres and creates the
 * database. Does not migrate: call `migrateUp(handle.db)`.
 */
export async function openDatabase(options: OpenDatabaseOptions = {}): Promise<DatabaseHandle> {
  const logger = options.logger ?? silentLogger;
  let embedded: EmbeddedServer | undefined;
  let url = options.url;
  if (!url) {
    embedded = await startEmbeddedPostgres({
      dataDir: options.dataDir ?? '.atelier/postgres',
      logger,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    try {
      url = await ensureDatabase(embedded.adminUrl, options.database ?? 'atelier');
    } catch (error) {
      await embedded.stop();
      throw error;
    }
  }
  const { db } = createKysely(url, options.poolSize ?? 10);
  return {
    db,
    url,
    embedded,
    close: async () => {
      await db.destroy();
      await embedded?.stop();
    },
  };
}
