import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Database, DatabaseHandle } from '@atelier/db';
import { jobCounts } from './admin.service.ts';
import type { JobCounts } from './admin.service.ts';
import type { JobCount, JobDuration, JobFailures, OpsProbe } from './api/ops-probe.ts';
import { TOKENS, injectable } from './tokens.ts';

/** Statistics shaped for charts: series of points, one per day and style. */
export interface Stats {
  days: number;
  jobsPerDay: { style: string; points: { day: string; count: number }[] }[];
  outcomes: JobCounts;
  processingMs: { style: string; jobs: number; p50: number; p90: number; p99: number }[];
  storageBytes: { originals: number; results: number };
}

/** Statistics of jobs and storage: for the stats procedures and the Prometheus gauges. */
export class StatsService implements Omit<OpsProbe, 'ready'> {
  readonly #db: Kysely<Database>;

  constructor(database: DatabaseHandle) {
    this.#db = database.db;
  }

  /** The last `days` days: everyone's, or one owner's. */
  async stats(days: number, ownerId?: string): Promise<Stats> {
    const db = this.#db;
    const since = sql<Date>`now() - make_interval(days => ${days})`;
    const mine = ownerId !== undefined;
    const perDay = db
      .selectFrom('jobs')
      .select([
        sql<string>`to_char(date_trunc('day', created_at), 'YYYY-MM-DD')`.as('day'),
        'style',
        ({ fn }) => fn.countAll<string>().as('n'),
      ])
      .where('created_at', '>=', since)
      .$if(mine, (q) => q.where('owner_id', '=', ownerId!))
      .groupBy(['day', 'style'])
      .orderBy('day');
    const outcomes = db
      .selectFrom('jobs')
      .select(['status', ({ fn }) => fn.countAll<string>().as('n')])
      .where('created_at', '>=', since)
      .$if(mine, (q) => q.where('owner_id', '=', ownerId!))
      .groupBy('status');
    const timing = db
      .selectFrom('jobs')
      .select([
        'style',
        ({ fn }) => fn.countAll<string>().as('n'),
        sql<
          number[]
        >`percentile_cont(array[0.5, 0.9, 0.99]) within group (order by extract(epoch from finished_at - started_at) * 1000)`.as(
          'p',
        ),
      ])
      .where('status', '=', 'succeeded')
      .where('from_cache', '=', false)
      .where('created_at', '>=', since)
      .$if(mine, (q) => q.where('owner_id', '=', ownerId!))
      .groupBy('style');
    const originals = db
      .selectFrom('images')
      .select(sql<string>`coalesce(sum(bytes), 0)`.as('bytes'))
      .$if(mine, (q) => q.where('owner_id', '=', ownerId!));
    const results = db
      .selectFrom((eb) =>
        eb
          .selectFrom('jobs')
          .select(['output_key', 'output_bytes'])
          .distinctOn('output_key')
          .where('output_key', 'is not', null)
          .$if(mine, (q) => q.where('owner_id', '=', ownerId!))
          .as('r'),
      )
      .select(sql<string>`coalesce(sum(output_bytes), 0)`.as('bytes'));
    const [dayRows, outcomeRows, timingRows, originalBytes, resultBytes] = await Promise.all([
      perDay.execute(),
      outcomes.execute(),
      timing.execute(),
      originals.executeTakeFirstOrThrow(),
      results.executeTakeFirstOrThrow(),
    ]);
    const series = new Map<string, { day: string; count: number }[]>();
    for (const row of dayRows) {
      const points = series.get(row.style) ?? [];
      points.push({ day: row.day, count: Number(row.n) });
      series.set(row.style, points);
    }
    return {
      days,
      jobsPerDay: [...series.entries()].map(([style, points]) => ({ style, points })),
      outcomes: jobCounts(outcomeRows),
      processingMs: timingRows.map((r) => ({
        style: r.style,
        jobs: Number(r.n),
        p50: Math.round(r.p[0] ?? 0),
        p90: Math.round(r.p[1] ?? 0),
        p99: Math.round(r.p[2] ?? 0),
      })),
      storageBytes: { originals: Number(originalBytes.bytes), results: Number(resultBytes.bytes) },
    };
  }

  /** Jobs by status, all time (the `atelier_queue_jobs` gauge); statuses with no job are left out. */
  async jobCounts(): Promise<readonly JobCount[]> {
    const rows = await this.#db
      .selectFrom('jobs')
      .select(['status', ({ fn }) => fn.countAll<string>().as('n')])
      .groupBy('status')
      .execute();
    return rows.map((row) => ({ status: row.status, count: Number(row.n) }));
  }

  /** Seconds spent computing finished (not cached) jobs, by style (the `atelier_job_duration_seconds_sum` gauge). */
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

  /** Failed jobs by style and error code, `unknown` when none was recorded (the `atelier_jobs_failed` gauge). */
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
injectable(StatsService, [TOKENS.Database]);
