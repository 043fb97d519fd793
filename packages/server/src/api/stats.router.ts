import { z } from 'zod';
import { adminProcedure, authedProcedure, router } from './trpc.ts';
import { statsSchema } from './response-schemas.ts';

const range = z.object({ days: z.number().int().min(1).max(366).default(30) }).optional();

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
    .query(({ ctx, input }) => ctx.api.stats.stats(input?.days ?? 30, ctx.user.id)),
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
    .query(({ ctx, input }) => ctx.api.stats.stats(input?.days ?? 30)),
});
