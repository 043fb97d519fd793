import type { Kysely } from 'kysely';
import { z } from 'zod';
import { AtelierError, describeIssues } from '@atelier/core';
import type { Database } from '@atelier/db';
import { savePluginState } from '@atelier/jobs';
import type { ApiContext } from './context.ts';
import { adminProcedure, router } from './trpc.ts';
import { jobView } from './views.ts';
import {
  adminUserSchema,
  auditEntrySchema,
  jobSchema,
  ownedJobSchema,
  pluginInfoSchema,
  pluginUsageSchema,
  queueSchema,
  userQuotaSchema,
} from './response-schemas.ts';

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
    .values({
      actor_id: ctx.user.id,
      action,
      target_type: target.type,
      target_id: target.id,
      details: JSON.stringify({ ...details, requestId: ctx.requestId }),
    })
    .execute();
}

const uuid = z.string().uuid();
/** A page of a list: at most `limit` rows after the first `offset`. */
const page = z.object({
  limit: z.number().int().min(1).max(200).default(50),
  offset: z.number().int().min(0).default(0),
});
/**
 * A boolean input that stays strict. Not `z.boolean()`: trpc-to-openapi switches coercion on for the
 * boolean schemas of every procedure it serves (shared with /trpc), and `Boolean("false")` is true.
 */
const flag = z.literal([true, false]);

/** A per-user count limit as `admin.setUserQuota` takes it: 0 for none, null for the server's default. */
const countLimit = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1)
  .nullable()
  .optional();

export const adminRouter = router({
  /** Every plugin, enabled or not, with how often it was used. */
  plugins: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/plugins',
        protect: true,
        tags: ['admin'],
        summary: 'Every plugin, enabled or not, with how often it was used',
      },
    })
    .output(z.array(pluginUsageSchema))
    .query(async ({ ctx }) => {
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
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/plugins/{id}',
        protect: true,
        tags: ['admin'],
        summary: 'Enable or disable a plugin and set its default parameters',
      },
    })
    .input(
      z.object({
        id: z.string(),
        enabled: flag.optional(),
        defaults: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .output(pluginInfoSchema)
    .mutation(async ({ ctx, input }) => {
      const registry = ctx.api.core.registry;
      const plugin = registry.get(input.id); // PLUGIN_NOT_FOUND
      const enabled = input.enabled ?? registry.isEnabled(input.id);
      const defaults = input.defaults ?? { ...registry.overrides(input.id) };
      // Validate before anything is stored.
      const probe = plugin.params.partial().strict().safeParse(defaults);
      if (!probe.success)
        throw new AtelierError(
          'PARAMS_INVALID',
          `Invalid defaults for ${input.id}: ${describeIssues(probe.error.issues)}`,
          {
            details: {
              plugin: input.id,
              issues: probe.error.issues.map((i) => ({
                path: ['defaults', ...i.path.map(String)],
                message: i.message,
              })),
            },
          },
        );
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
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/users',
        protect: true,
        tags: ['admin'],
        summary: 'Users with their job counts',
      },
    })
    .input(page)
    .output(z.array(adminUserSchema))
    .query(async ({ ctx, input }) => {
      const rows = await ctx.api.core.database.db
        .selectFrom('users')
        .leftJoin('jobs', 'jobs.owner_id', 'users.id')
        .select([
          'users.id',
          'users.email',
          'users.display_name',
          'users.role',
          'users.disabled_at',
          'users.created_at',
          ({ fn }) => fn.count<string>('jobs.id').as('jobs'),
        ])
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

  setUserDisabled: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/users/{id}/disabled',
        protect: true,
        tags: ['admin'],
        summary: 'Disable or enable an account',
      },
    })
    .input(z.object({ id: uuid, disabled: flag }))
    .output(z.object({ id: z.string(), disabled: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      if (input.id === ctx.user.id)
        throw new AtelierError('REQUEST_REFUSED', 'You cannot disable your own account.');
      await ctx.api.accounts.setDisabled(input.id, input.disabled);
      await audit(ctx.api.core.database.db, ctx, input.disabled ? 'user.disable' : 'user.enable', {
        type: 'user',
        id: input.id,
      });
      return { id: input.id, disabled: input.disabled };
    }),

  /** One user's quotas (their own and the server's defaults) and what they used. */
  userQuota: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/users/{id}/quota',
        protect: true,
        tags: ['admin'],
        summary: "A user's quotas and usage",
      },
    })
    .input(z.object({ id: uuid }))
    .output(userQuotaSchema)
    .query(async ({ ctx, input }) => ({ userId: input.id, ...(await ctx.api.quotas.status(input.id)) })),

  /** Every user's quota usage, heaviest storage first: who is filling the disk or burning the budget. */
  quotas: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/quotas',
        protect: true,
        tags: ['admin'],
        summary: "Users' quota usage, most stored bytes first",
      },
    })
    .input(page)
    .output(z.array(userQuotaSchema))
    .query(({ ctx, input }) => ctx.api.quotas.list(input)),

  /**
   * Sets a user's own quotas: a number (0 for no limit) replaces the server's default for that
   * user, null goes back to it, a missing field stays as it is.
   */
  setUserQuota: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/users/{id}/quota',
        protect: true,
        tags: ['admin'],
        summary: "Set or clear a user's own quotas",
      },
    })
    .input(
      z.object({
        id: uuid,
        storedBytes: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).nullable().optional(),
        jobsPerHour: countLimit,
        previewsPerMinute: countLimit,
        costPerMinute: countLimit,
      }),
    )
    .output(userQuotaSchema)
    .mutation(async ({ ctx, input }) => {
      const { id, ...overrides } = input;
      const status = await ctx.api.core.database.db.transaction().execute(async (trx) => {
        await audit(trx, ctx, 'user.quota', { type: 'user', id }, overrides);
        return ctx.api.quotas.setLimits(id, overrides, trx);
      });
      return { userId: id, ...status };
    }),

  /** Jobs by status, and the queue's own counts (including the dead-letter queue). */
  queue: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/queue',
        protect: true,
        tags: ['admin'],
        summary: "Jobs by status, and the queues' own counts",
      },
    })
    .output(queueSchema)
    .query(async ({ ctx }) => {
      const counts = await ctx.api.core.database.db
        .selectFrom('jobs')
        .select(['status', ({ fn }) => fn.countAll<string>().as('n')])
        .groupBy('status')
        .execute();
      const byStatus = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
      for (const c of counts) byStatus[c.status] = Number(c.n);
      return { jobs: byStatus, queues: [...(await ctx.api.core.queue.counts())] };
    }),

  failedJobs: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/jobs/failed',
        protect: true,
        tags: ['admin'],
        summary: 'Failed jobs of every user',
      },
    })
    .input(z.object({ limit: z.number().int().min(1).max(200).default(50) }))
    .output(z.array(ownedJobSchema))
    .query(async ({ ctx, input }) => {
      const page = await ctx.api.core.jobs.list({ status: 'failed', limit: input.limit });
      return page.items.map((j) => ({ ...jobView(j), ownerId: j.ownerId }));
    }),

  retryJob: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/jobs/{id}/retry',
        protect: true,
        tags: ['admin'],
        summary: 'Queue a failed job again',
      },
    })
    .input(z.object({ id: uuid }))
    .output(jobSchema)
    .mutation(async ({ ctx, input }) => {
      const job = await ctx.api.core.jobs.retry(input.id);
      await audit(ctx.api.core.database.db, ctx, 'job.retry', { type: 'job', id: input.id });
      return jobView(job);
    }),

  cancelJob: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/jobs/{id}/cancel',
        protect: true,
        tags: ['admin'],
        summary: "Cancel anyone's job",
      },
    })
    .input(z.object({ id: uuid }))
    .output(jobSchema)
    .mutation(async ({ ctx, input }) => {
      const job = await ctx.api.core.jobs.cancel(input.id);
      await audit(ctx.api.core.database.db, ctx, 'job.cancel', { type: 'job', id: input.id });
      return jobView(job);
    }),

  audit: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/audit',
        protect: true,
        tags: ['admin'],
        summary: 'The audit log, newest first',
      },
    })
    .input(z.object({ limit: z.number().int().min(1).max(500).default(100) }))
    .output(z.array(auditEntrySchema))
    .query(async ({ ctx, input }) => {
      const rows = await ctx.api.core.database.db
        .selectFrom('audit_log')
        .leftJoin('users', 'users.id', 'audit_log.actor_id')
        .select([
          'audit_log.id',
          'audit_log.action',
          'audit_log.target_type',
          'audit_log.target_id',
          'audit_log.details',
          'audit_log.created_at',
          'users.email',
        ])
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
