import { TRPCError } from '@trpc/server';

import type { Kysely } from 'kysely';
import { z } from 'zod';
import type { Database } from '@atelier/db';
import { DEAD_LETTER_QUEUE, RENDER_QUEUE, savePluginState } from '@atelier/jobs';
import type { ApiContext } from './context.ts';
import { adminProcedure, router } from './trpc.ts';
import { jobView } from './views.ts';

/** Every admin action is recorded, in the same transaction as the action where there is one. */
async function audit(
  db: Kysely<Database>,
  ctx: ApiContext & { user: { id: string } },
  action: string,
  target: { type: string; id: string | null },
  details: Record<string, unknown> = {},
): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({ actor_id: ctx.user.id, action, target_type: target.type, target_id: target.id, details: JSON.stringify({ ...details, requestId: ctx.requestId }) })
    .execute();
}

const uuid = z.string().uuid();

export const adminRouter = router({
  /** Every plugin, enabled or not, with how often it was used. */
  plugins: adminProcedure.query(async ({ ctx }) => {
    const usage = await ctx.api.core.database.db
      .selectFrom('jobs')
      .select(['style', ({ fn }) => fn.countAll<string>().as('jobs')])
      .groupBy('style')
      .execute();
    const used = new Map(usage.map((u) => [u.style, Number(u.jobs)]));
    return ctx.api.core.registry.list({ includeDisabled: true }).map((p) => ({
      id: p.id,
      name: p.name,
      version: p.version,
      kind: p.kind,
      builtin: p.builtin,
      enabled: p.enabled,
      defaults: p.defaults,
      jobs: used.get(p.id) ?? 0,
    }));
  }),

  /**
   * Enables or disables a plugin and sets its default parameters, on every API and worker process
   * within a second, without restarts.
   */
  setPlugin: adminProcedure
    .input(z.object({ id: z.string(), enabled: z.boolean().optional(), defaults: z.record(z.string(), z.unknown()).optional() }))
    .mutation(async ({ ctx, input }) => {
      const registry = ctx.api.core.registry;
      registry.get(input.id); // PLUGIN_NOT_FOUND
      const enabled = input.enabled ?? registry.isEnabled(input.id);
      const defaults = input.defaults ?? { ...registry.overrides(input.id) };
      // Validate before anything is stored.
      const probe = registry.get(input.id).params.partial().strict().safeParse(defaults);
      if (!probe.success) throw new TRPCError({ code: 'BAD_REQUEST', message: `Invalid defaults for ${input.id}: ${probe.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` });
      await ctx.api.core.database.db.transaction().execute(async (trx) => {
        await savePluginState(trx, { pluginId: input.id, enabled, defaults, actorId: ctx.user.id });
        await audit(trx, ctx, 'plugin.update', { type: 'plugin', id: input.id }, { enabled, defaults });
      });
      // This process applies it at once; the others on the notification.
      if (enabled) registry.enable(input.id);
      else registry.disable(input.id);
      registry.setDefaults(input.id, defaults);
      return registry.describe(input.id);
    }),

  users: adminProcedure
    .input(z.object({ limit: z.number().int().min(1).max(200).default(50), offset: z.number().int().min(0).default(0) }))
    .query(async ({ ctx, input }) => {
      const rows = await ctx.api.core.database.db
        .selectFrom('users')
        .leftJoin('jobs', 'jobs.owner_id', 'users.id')
        .select(['users.id', 'users.email', 'users.display_name', 'users.role', 'users.disabled_at', 'users.created_at', ({ fn }) => fn.count<string>('jobs.id').as('jobs')])
        .groupBy('users.id')
        .orderBy('users.created_at', 'desc')
        .limit(input.limit)
        .offset(input.offset)
        .execute();
      return rows.map((r) => ({
        id: r.id,
        email: r.email,
        displayName: r.display_name,
        role: r.role,
        disabled: r.disabled_at !== null,
        jobs: Number(r.jobs),
        createdAt: r.created_at.toISOString(),
      }));
    }),

  setUserDisabled: adminProcedure.input(z.object({ id: uuid, disabled: z.boolean() })).mutation(async ({ ctx, input }) => {
    if (input.id === ctx.user.id) throw new TRPCError({ code: 'BAD_REQUEST', message: 'You cannot disable your own account.' });
    await ctx.api.accounts.setDisabled(input.id, input.disabled);
    await audit(ctx.api.core.database.db, ctx, input.disabled ? 'user.disable' : 'user.enable', { type: 'user', id: input.id });
    return { id: input.id, disabled: input.disabled };
  }),

  /** Jobs by status, and the queue's own counts (including the dead-letter queue). */
  queue: adminProcedure.query(async ({ ctx }) => {
    const counts = await ctx.api.core.database.db.selectFrom('jobs').select(['status', ({ fn }) => fn.countAll<string>().as('n')]).groupBy('status').execute();
    const byStatus = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
    for (const c of counts) byStatus[c.status] = Number(c.n);
    const queues = [];
    for (const name of [RENDER_QUEUE, DEAD_LETTER_QUEUE]) {
      const q = await ctx.api.core.boss.getQueue(name);
      if (q) queues.push({ name, queued: q.queuedCount, active: q.activeCount, failed: q.failedCount, total: q.totalCount });
    }
    return { jobs: byStatus, queues };
  }),

  failedJobs: adminProcedure.input(z.object({ limit: z.number().int().min(1).max(200).default(50) })).query(async ({ ctx, input }) => {
    const page = await ctx.api.core.jobs.list({ status: 'failed', limit: input.limit });
    return page.items.map((j) => ({ ...jobView(j), ownerId: j.ownerId }));
  }),

  retryJob: adminProcedure.input(z.object({ id: uuid })).mutation(async ({ ctx, input }) => {
    const job = await ctx.api.core.jobs.retry(input.id);
    await audit(ctx.api.core.database.db, ctx, 'job.retry', { type: 'job', id: input.id });
    return jobView(job);
  }),

  cancelJob: adminProcedure.input(z.object({ id: uuid })).mutation(async ({ ctx, input }) => {
    const job = await ctx.api.core.jobs.cancel(input.id);
    await audit(ctx.api.core.database.db, ctx, 'job.cancel', { type: 'job', id: input.id });
    return jobView(job);
  }),

  audit: adminProcedure.input(z.object({ limit: z.number().int().min(1).max(500).default(100) })).query(async ({ ctx, input }) => {
    const rows = await ctx.api.core.database.db
      .selectFrom('audit_log')
      .leftJoin('users', 'users.id', 'audit_log.actor_id')
      .select(['audit_log.id', 'audit_log.action', 'audit_log.target_type', 'audit_log.target_id', 'audit_log.details', 'audit_log.created_at', 'users.email'])
      .orderBy('audit_log.id', 'desc')
      .limit(input.limit)
      .execute();
    return rows.map((r) => ({
      id: String(r.id),
      action: r.action,
      target: { type: r.target_type, id: r.target_id },
      actor: r.email,
      details: r.details,
      at: r.created_at.toISOString(),
    }));
  }),
});

