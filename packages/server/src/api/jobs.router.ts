import { tracked } from '@trpc/server';
import { z } from 'zod';
import { AtelierError, OUTPUT_FORMATS, planRequestSchema } from '@atelier/core';
import type { ParamsSchema, PlanRequest, PluginDefinition } from '@atelier/core';
import {
  cartoon,
  colorPencil,
  oilPainting,
  openaiDescribe,
  openaiImage,
  popArt,
  sketch,
  watercolor,
} from '@atelier/plugins';
import { authedProcedure, router } from './trpc.ts';
import { jobView } from './views.ts';
import { signPath } from './signed-url.ts';
import {
  JOB_STATUSES,
  deletedSchema,
  downloadUrlSchema,
  jobPageSchema,
  jobSchema,
} from './response-schemas.ts';

const outputInput = z.object({
  format: z.enum(OUTPUT_FORMATS).optional(),
  quality: z.number().int().min(1).max(100).optional(),
});
const common = {
  imageId: z.string().uuid(),
  output: outputInput.optional(),
  /** The same key returns the same job. */
  idempotencyKey: z.string().min(1).max(200).optional(),
};

/** `{ style: '<id>', params }` typed by that style's own schema. */
function styleJob<Id extends string, S extends ParamsSchema>(plugin: PluginDefinition<Id, S>) {
  // Strict: an unknown parameter is refused with its name, as in a plan step (parseParams), not
  // dropped. The built-in styles' schemas are plain objects of fields, so their shape is all of them
  // (`.shape` is typed by ZodObject's own parameters, the style's once named as S's).
  const params = z.strictObject(plugin.params.shape as S['shape']);
  return z.object({ ...common, style: z.literal(plugin.id), params: params.optional() });
}

/**
 * The id of a style that is not one of the typed built-ins, as the typed client sees it:
 * third-party ids are scoped (`acme:invert`, docs/plugins.md), and a type that excludes the
 * built-ins' ids is what keeps `{ style: 'cartoon', params: { levels: '6' } }` a compile error.
 */
export type OtherStyleId = `${string}:${string}`;

/**
 * Any other installed style, its `params` a record checked when the job is submitted, by the
 * style's own schema (createPlan → parseParams: defaults, bounds, unknown keys refused by name).
 * At run time any id is taken, unscoped ones included: the registry answers PLUGIN_NOT_FOUND or
 * PLUGIN_DISABLED. A built-in's bad parameters land here too (its typed member refused them), so
 * they get the same PARAMS_INVALID naming the field as a third-party style's and a plan step's.
 */
const otherStyleJob = z.object({
  ...common,
  // Typed as OtherStyleId, checked as a string: TypeScript has no "string but not 'cartoon'".
  style: z.string().min(1).max(200) as unknown as z.ZodType<OtherStyleId, OtherStyleId>,
  params: z.record(z.string(), z.unknown()).optional(),
});

/**
 * A job is a style with its parameters (typed per style for the built-ins, a record for any other
 * installed style) or a plan of several steps (any plugin, third-party ones included).
 */
export const createJobInput = z.union([
  styleJob(cartoon),
  styleJob(sketch),
  styleJob(colorPencil),
  styleJob(oilPainting),
  styleJob(watercolor),
  styleJob(popArt),
  // The AI-provider built-ins (they run once an administrator granted their host and key).
  styleJob(openaiImage),
  styleJob(openaiDescribe),
  otherStyleJob,
  z.object({ ...common, plan: planRequestSchema }),
]);
export type CreateJobInput = z.input<typeof createJobInput>;

export const jobsRouter = router({
  // Over REST it is `POST /api/jobs` (rest-api.ts): trpc-to-openapi takes only object inputs, and this is a union.
  create: authedProcedure
    .input(createJobInput)
    .output(jobSchema)
    .mutation(async ({ ctx, input }) => {
      const plan: PlanRequest =
        'plan' in input
          ? { ...input.plan, ...(input.output ? { output: { ...input.plan.output, ...input.output } } : {}) }
          : {
              steps: [{ plugin: input.style, params: input.params ?? {} }],
              ...(input.output ? { output: input.output } : {}),
            };
      const job = await ctx.api.jobs.submit({
        ownerId: ctx.user.id,
        imageId: input.imageId,
        plan,
        // Interactive work from people outranks batch work submitted from the CLI.
        priority: 10,
        quota: ctx.api.quotas,
        ...(input.idempotencyKey ? { idempotencyKey: input.idempotencyKey } : {}),
      });
      return jobView(job, ctx.api.payments.hd(job, ctx.user.role));
    }),

  get: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/jobs/{id}',
        protect: true,
        tags: ['jobs'],
        summary: 'A job: status, progress, result',
      },
    })
    .input(z.object({ id: z.string() }))
    .output(jobSchema)
    .query(async ({ ctx, input }) => {
      const job = await ctx.api.jobs.get(input.id, ctx.user.id);
      return jobView(job, ctx.api.payments.hd(job, ctx.user.role));
    }),

  list: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/jobs',
        protect: true,
        tags: ['jobs'],
        summary: 'Your jobs, newest first, a page at a time',
      },
    })
    .input(
      z.object({
        limit: z.number().int().min(1).max(100).default(20),
        cursor: z.string().nullish(),
        style: z.string().optional(),
        status: z.enum(JOB_STATUSES).optional(),
        createdAfter: z.string().datetime().optional(),
        createdBefore: z.string().datetime().optional(),
      }),
    )
    .output(jobPageSchema)
    .query(async ({ ctx, input }) => {
      const page = await ctx.api.jobs.list({
        ownerId: ctx.user.id,
        limit: input.limit,
        ...(input.cursor ? { cursor: input.cursor } : {}),
        ...(input.style ? { style: input.style } : {}),
        ...(input.status ? { status: input.status } : {}),
        ...(input.createdAfter ? { createdAfter: new Date(input.createdAfter) } : {}),
        ...(input.createdBefore ? { createdBefore: new Date(input.createdBefore) } : {}),
      });
      return {
        items: page.items.map((job) => jobView(job, ctx.api.payments.hd(job, ctx.user.role))),
        nextCursor: page.nextCursor,
      };
    }),

  /**
   * A URL that downloads the result for 5 minutes without a session: the standard file, or with
   * `variant: 'hd'` the full-resolution one (PAYMENT_REQUIRED while it is locked).
   */
  downloadUrl: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/jobs/{id}/download-url',
        protect: true,
        tags: ['jobs'],
        summary: 'A signed URL that downloads the result (standard or HD) for 5 minutes',
        errorResponses: {
          400: 'Invalid input',
          401: 'No session',
          402: 'The HD result is locked until paid',
          403: 'Forbidden',
          404: 'No such job (or not yours)',
          409: 'The job has no result yet',
        },
      },
    })
    .input(z.object({ id: z.string(), variant: z.enum(['standard', 'hd']).default('standard') }))
    .output(downloadUrlSchema)
    .query(async ({ ctx, input }) => {
      const job = await ctx.api.jobs.get(input.id, ctx.user.id);
      if (!job.output)
        throw new AtelierError('JOB_NOT_FINISHED', `Job ${job.id} is ${job.status}; it has no result yet.`);
      if (input.variant === 'hd') await ctx.api.payments.assertHdAllowed(job);
      const signer = { userId: ctx.user.id, epoch: ctx.session.epoch };
      const path = `/files/jobs/${job.id}${input.variant === 'hd' ? '/hd' : ''}`;
      return { url: signPath(ctx.api.urlSecret, path, signer) };
    }),

  cancel: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/jobs/{id}/cancel',
        protect: true,
        tags: ['jobs'],
        summary: 'Cancel a queued or running job',
        errorResponses: {
          400: 'Invalid input',
          401: 'No session',
          403: 'Forbidden',
          404: 'No such job (or not yours)',
          409: 'The job has already finished',
        },
      },
    })
    .input(z.object({ id: z.string() }))
    .output(jobSchema)
    .mutation(async ({ ctx, input }) => {
      const job = await ctx.api.jobs.cancel(input.id, ctx.user.id);
      return jobView(job, ctx.api.payments.hd(job, ctx.user.role));
    }),

  delete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/jobs/{id}',
        protect: true,
        tags: ['jobs'],
        summary: 'Delete a job and its result',
      },
    })
    .input(z.object({ id: z.string() }))
    .output(deletedSchema)
    .mutation(async ({ ctx, input }) => {
      await ctx.api.jobs.deleteJob(input.id, ctx.user.id);
      return { id: input.id, deleted: true as const };
    }),

  /**
   * Status and progress of a job as Server-Sent Events, ending with its final state. Each event
   * has an id; a client that reconnects (the tRPC client does it by itself) resumes after the
   * last one it saw and is sent the current state first.
   */
  onUpdate: authedProcedure
    .input(z.object({ id: z.string(), lastEventId: z.string().nullish() }))
    .subscription(async ({ ctx, input, signal }) => {
      // The ownership check runs before the stream is returned, inside the middlewares that map
      // errors: a missing or foreign job is NOT_FOUND (JOB_NOT_FOUND), sent as the stream's one
      // event. Thrown from inside the stream it was INTERNAL_SERVER_ERROR, logged with its stack.
      await ctx.api.jobs.get(input.id, ctx.user.id);
      const updates = ctx.api.updates.follow(
        input.id,
        input.lastEventId ? Number(input.lastEventId) : undefined,
        signal,
      );
      return (async function* () {
        for await (const event of updates) yield tracked(String(event.seq), event);
      })();
    }),
});
