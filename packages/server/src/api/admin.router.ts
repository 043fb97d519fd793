import { z } from 'zod';
import type { Actor } from '../admin.service.ts';
import { adminCapabilityProcedures } from './admin-capabilities.router.ts';
import type { ApiContext } from './context.ts';
import { adminProcedure, router } from './trpc.ts';
import { jobView, paymentView } from './views.ts';
import {
  PAYMENT_STATUSES,
  adminPaymentPageSchema,
  adminUserSchema,
  auditEntrySchema,
  hdUnlockSchema,
  jobSchema,
  ownedJobSchema,
  pluginFailureSchema,
  pluginInfoSchema,
  pluginUsageSchema,
  queueSchema,
  USER_ROLES,
  userQuotaSchema,
} from './response-schemas.ts';

/** The administrator and the request, as the audit log records them. */
const actor = (ctx: ApiContext & { user: { id: string } }): Actor => ({
  id: ctx.user.id,
  requestId: ctx.requestId,
});

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
  ...adminCapabilityProcedures,

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
    .query(({ ctx }) => ctx.api.admin.plugins()),

  /** The third-party plugins skipped at start-up (bad manifest, failed import, duplicate id), with their codes. */
  pluginFailures: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/plugin-failures',
        protect: true,
        tags: ['admin'],
        summary: 'The plugins this process skipped at start-up, with their error codes',
      },
    })
    .output(z.array(pluginFailureSchema))
    .query(({ ctx }) => ctx.api.admin.pluginFailures()),

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
    .mutation(({ ctx, input }) =>
      ctx.api.admin.setPlugin(actor(ctx), {
        id: input.id,
        ...(input.enabled === undefined ? {} : { enabled: input.enabled }),
        ...(input.defaults === undefined ? {} : { defaults: input.defaults }),
      }),
    ),

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
    .query(({ ctx, input }) => ctx.api.admin.users(input)),

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
      await ctx.api.admin.setUserDisabled(actor(ctx), input.id, input.disabled);
      return { id: input.id, disabled: input.disabled };
    }),

  /**
   * Gives a user the admin role or takes it back (audited). Taking it from the last enabled
   * administrator is refused with LAST_ADMIN (409); sessions stay, the role counts from the next call.
   */
  setUserRole: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/users/{id}/role',
        protect: true,
        tags: ['admin'],
        summary: 'Make a user an administrator or take the role back',
      },
    })
    .input(z.object({ id: uuid, role: z.enum(USER_ROLES) }))
    .output(z.object({ id: z.string(), role: z.enum(USER_ROLES) }))
    .mutation(async ({ ctx, input }) => {
      const user = await ctx.api.admin.setUserRole(actor(ctx), input.id, input.role);
      return { id: user.id, role: user.role };
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
      return { userId: id, ...(await ctx.api.admin.setUserQuota(actor(ctx), id, overrides)) };
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
    .query(({ ctx }) => ctx.api.admin.queue()),

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
    .query(async ({ ctx, input }) =>
      (await ctx.api.admin.failedJobs(input.limit)).map((j) => ({
        // Failed jobs have no result, so no HD access to describe.
        ...jobView(j, null),
        ownerId: j.ownerId,
      })),
    ),

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
    // A queued job has no result yet: no HD access to describe.
    .mutation(async ({ ctx, input }) => jobView(await ctx.api.admin.retryJob(actor(ctx), input.id), null)),

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
    .mutation(async ({ ctx, input }) => jobView(await ctx.api.admin.cancelJob(actor(ctx), input.id), null)),

  /** Every user's payments, newest first, by status or user. */
  payments: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/payments',
        protect: true,
        tags: ['admin'],
        summary: "Every user's payments, newest first",
      },
    })
    .input(
      z.object({
        limit: z.number().int().min(1).max(100).default(50),
        cursor: z.string().nullish(),
        status: z.enum(PAYMENT_STATUSES).optional(),
        userId: uuid.optional(),
      }),
    )
    .output(adminPaymentPageSchema)
    .query(async ({ ctx, input }) => {
      const page = await ctx.api.payments.list({
        limit: input.limit,
        ...(input.cursor ? { cursor: input.cursor } : {}),
        ...(input.status ? { status: input.status } : {}),
        ...(input.userId ? { userId: input.userId } : {}),
      });
      return {
        items: page.items.map((p) => ({ ...paymentView(p), userId: p.userId, userEmail: p.userEmail })),
        nextCursor: page.nextCursor,
      };
    }),

  /** Unlocks a job's HD result without a payment (audited as hd.grant). */
  grantHd: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/jobs/{jobId}/hd/grant',
        protect: true,
        tags: ['admin'],
        summary: "Unlock a job's HD result without a payment",
      },
    })
    .input(z.object({ jobId: z.string() }))
    .output(hdUnlockSchema)
    .mutation(({ ctx, input }) => ctx.api.payments.setUnlocked(actor(ctx), input.jobId, true)),

  /** Locks a job's HD result again, whatever unlocked it (audited as hd.revoke). */
  revokeHd: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/jobs/{jobId}/hd/revoke',
        protect: true,
        tags: ['admin'],
        summary: "Lock a job's HD result again",
      },
    })
    .input(z.object({ jobId: z.string() }))
    .output(hdUnlockSchema)
    .mutation(({ ctx, input }) => ctx.api.payments.setUnlocked(actor(ctx), input.jobId, false)),

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
    .query(({ ctx, input }) => ctx.api.admin.auditLog(input.limit)),
});
