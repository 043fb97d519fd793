import type { Kysely } from 'kysely';
import type { Database, DatabaseHandle } from '@atelier/db';
import { TERMINAL_STATUSES, eventOf } from '@atelier/jobs';
import type { JobEvent } from '@atelier/jobs';
import type { EventBus } from './tokens.ts';
import { TOKENS, injectable } from './tokens.ts';

/** A job's live updates: its stored state, then its events, until it ends. */
export class JobUpdatesService {
  readonly #db: Kysely<Database>;
  readonly #events: EventBus;

  constructor(database: DatabaseHandle, events: EventBus) {
    this.#db = database.db;
    this.#events = events;
  }

  /** The job's state as stored, as an event. Check ownership first (JobService.get). */
  async current(jobId: string): Promise<JobEvent> {
    return eventOf(
      await this.#db.selectFrom('jobs').selectAll().where('id', '=', jobId).executeTakeFirstOrThrow(),
    );
  }

  /**
   * The events of one job after `lastSeq` (all of them, the current state first, when it is
   * undefined), ending with its final state or when `signal` aborts. The stored state is read
   * again whenever notifications may have been missed.
   */
  async *follow(
    jobId: string,
    lastSeq: number | undefined,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<JobEvent> {
    const abort = new AbortController();
    signal?.addEventListener('abort', () => abort.abort(), { once: true });
    const stream = this.#events.subscribe(jobId, abort.signal);
    let last = lastSeq ?? -1;
    const finished = (event: JobEvent) => TERMINAL_STATUSES.includes(event.status);
    try {
      const current = await this.current(jobId);
      if (current.seq > last || lastSeq === undefined) {
        last = current.seq;
        yield current;
      }
      if (finished(current)) return;
      for await (const [event] of stream) {
        if (event === 'reconnect') {
          const fresh = await this.current(jobId);
          if (fresh.seq > last) {
            last = fresh.seq;
            yield fresh;
          }
          if (finished(fresh)) return;
          continue;
        }
        if (event.seq < last) continue;
        last = event.seq;
        yield event;
        if (finished(event)) return;
      }
    } finally {
      abort.abort();
    }
  }
}
injectable(JobUpdatesService, [TOKENS.Database, TOKENS.EventBus]);
