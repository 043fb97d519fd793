import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database } from '@atelier/db';
import { RENDER_QUEUE } from '@atelier/jobs';

/** Jobs by status, for the `atelier_queue_jobs` gauge. */
export interface JobCount {
  readonly status: string;
  readonly count: number;
}

/** Total processing seconds of finished (not cached) jobs by style. */
export interface JobDuration {
  readonly style: string;
  readonly seconds: number;
}

/** Failed jobs by style and error code (`unknown` when none was recorded). */
export interface JobFailures {
  readonly style: string;
  readonly code: string;
  readonly count: number;
}

/**
 * What /readyz and /metrics ask of the system, and nothing more: the HTTP layer does not see the
 * database or the queue.
 */
export interface OpsProbe {
  /** Resolves when the database answers and the render queue exists; rejects with why not. */
  ready(): Promise<void>;
  jobCounts(): Promise<readonly JobCount[]>;
  jobDurations(): Promise<readonly JobDuration[]>;
  jobFailures(): Promise<readonly JobFailures[]>;
}

/** The subset of pg-boss the probe calls. */
export interface QueueLookup {
  getQueue(name: string): Promise<unknown>;
}

/**
 * The {@link OpsProbe} of a running server: queries on the `jobs` table and pg-boss's queue lookup.
 *
 * @example
 * const probe = new PostgresOpsProbe({ db: core.database.db, boss: core.boss });
 * await probe.ready();
 */
export class PostgresOpsProbe implements OpsProbe {
  readonly #db: Kysely<Database>;
  readonly #boss: QueueLookup;

  constructor(args: { readonly db: Kysely<Database>; readonly boss: QueueLookup }) {
    this.#db = args.db;
    this.#boss = args.boss;
  }

  async ready(): Promise<void> {
    await sql`select 1`.execute(this.#db);
    await this.#boss.getQueue(RENDER_QUEUE);
  }

  async jobCounts(): Promise<readonly JobCount[]> {
    const rows = await this.#db
      .selectFrom('jobs')
      .select(['status', ({ fn }) => fn.countAll<string>().as('n')])
      .groupBy('status')
      .execute();
    return rows.map((row) => ({ status: row.status, count: Number(row.n) }));
  }

  async jobDurations(): Promise<readonly JobDuration[]> {
    const rows = await this.#db
      .selectFrom('jobs')
      .select([
        'style',
        sql<number>`coalesce(sum(extract(epoch from finished_at - started_at)), 0)`.as('seconds'),
      ])
      .where('status', '=', 'succeeded')
      .where('from_cache', '=', false)
      .groupBy('style')
      .execute();
    return rows.map((row) => ({ style: row.style, seconds: Number(row.seconds) }));
  }

  async jobFailures(): Promise<readonly JobFailures[]> {
    const rows = await this.#db
      .selectFrom('jobs')
      .select(['style', 'error_code', ({ fn }) => fn.countAll<string>().as('n')])
      .where('status', '=', 'failed')
      .groupBy(['style', 'error_code'])
      .execute();
    return rows.map((row) => ({ style: row.style, code: row.error_code ?? 'unknown', count: Number(row.n) }));
  }
}
