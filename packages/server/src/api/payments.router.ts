import { z } from 'zod';
import { authedProcedure, publicProcedure, router } from './trpc.ts';
import { paymentView } from './views.ts';
import {
  checkoutSchema,
  paymentPageSchema,
  paymentSchema,
  paymentSettingsSchema,
} from './response-schemas.ts';

/** Paid HD (docs/payments.md): the price, Stripe Checkout for a job's HD result, your payments. */
export const paymentsRouter = router({
  /** Whether HD results are paid on this server, their price, and the free size. */
  config: publicProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/payments/config',
        protect: false,
        tags: ['payments'],
        summary: 'Whether HD results are paid here, their price, and the free size',
      },
    })
    .output(paymentSettingsSchema)
    .query(({ ctx }) => ctx.api.payments.settings()),

  /**
   * A Stripe Checkout for the HD result of one of your jobs: `{ status: 'open', url }` (send the
   * browser to `url`), or `{ status: 'unlocked' }` when there is nothing to pay. Repeating it
   * (a double click, a retry) gives the same checkout, never a second charge.
   */
  createCheckout: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/payments/checkout',
        protect: true,
        tags: ['payments'],
        summary: "A Stripe Checkout for a job's HD result (the same one when repeated)",
        errorResponses: {
          400: 'Invalid input',
          401: 'No session',
          403: 'Forbidden',
          404: 'No such job (or not yours)',
          409: 'The job has no result yet',
          503: 'Stripe could not be reached; retrying is safe',
        },
      },
    })
    .input(z.object({ jobId: z.string() }))
    .output(checkoutSchema)
    .mutation(async ({ ctx, input }) => {
      const job = await ctx.api.jobs.get(input.jobId, ctx.user.id);
      const outcome = await ctx.api.payments.createCheckout({
        job,
        userId: ctx.user.id,
        role: ctx.user.role,
        origin: ctx.origin,
      });
      return outcome.status === 'open' ? { ...outcome, payment: paymentView(outcome.payment) } : outcome;
    }),

  /** Your payments, newest first. */
  list: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/payments',
        protect: true,
        tags: ['payments'],
        summary: 'Your payments, newest first, a page at a time',
      },
    })
    .input(
      z.object({
        limit: z.number().int().min(1).max(100).default(20),
        cursor: z.string().nullish(),
      }),
    )
    .output(paymentPageSchema)
    .query(async ({ ctx, input }) => {
      const page = await ctx.api.payments.list({
        userId: ctx.user.id,
        limit: input.limit,
        ...(input.cursor ? { cursor: input.cursor } : {}),
      });
      return { items: page.items.map(paymentView), nextCursor: page.nextCursor };
    }),

  /** One of your payments (the return page waits on it). */
  get: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/payments/{id}',
        protect: true,
        tags: ['payments'],
        summary: 'One of your payments',
      },
    })
    .input(z.object({ id: z.string() }))
    .output(paymentSchema)
    .query(async ({ ctx, input }) => paymentView(await ctx.api.payments.get(input.id, ctx.user.id))),
});
