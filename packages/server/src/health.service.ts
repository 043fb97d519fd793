import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database, DatabaseHandle } from '@atelier/db';
import type { JobQueue } from '@atelier/jobs';
import type { OpsProbe } from './api/ops-probe.ts';
import { TOKENS, injectable } from './tokens.ts';

/** Readiness: whether this process can serve (its database and its queue answer). */
export class HealthService implements Pick<OpsProbe, 'ready'> {
  readonly #db: Kysely<Database>;
  readonly #queue: JobQueue;

  constructor(database: DatabaseHandle, queue: JobQueue) {
    this.#db = database.db;
    this.#queue = queue;
  }

  /** Resolves when the database and the queue answer; rejects with what failed otherwise. */
  async ready(): Promise<void> {
    await sql`select 1`.execute(this.#db);
    await this.#queue.ping();
  }
}
injectable(HealthService, [TOKENS.Database, TOKENS.JobQueue]);
