import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '@atelier/db';
import { adminProcedure, authedProcedure, router } from './trpc.ts';
import { statsSchema } from './response-schemas.ts';

const range = z.object({ days: z.number().int().min(1).max(366).default(30) }).optional();

/** Statistics shaped for charts: series of points, one per day and style. */
async function statsOf(db: Kysely<Database>, days: number, ownerId?: string) {
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
  const statuses = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
  for (const row of outcomeRows) statuses[row.status] = Number(row.n);
  return {
    days,
    jobsPerDay: [...series.entries()].map(([style, points]) => ({ style, points })),
    outcomes: statuses,
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

export const statsRouter = router({
  /** The caller's own statistics. */
  mine: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/stats/mine',
        protect: true,
        tags: ['stats'],
        summary: 'Your statistics, per day and style',
      },
    })
    .input(range)
    .output(statsSchema)
    .query(({ ctx, input }) => statsOf(ctx.api.core.database.db, input?.days ?? 30, ctx.user.id)),
  /** Everyone's (administrators). */
  global: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/stats/global',
        protect: true,
        tags: ['stats', 'admin'],
        summary: "Everyone's statistics (administrators)",
      },
    })
    .input(range)
    .output(statsSchema)
    .query(({ ctx, input }) => statsOf(ctx.api.core.database.db, input?.days ?? 30)),
});
