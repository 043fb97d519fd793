import { initTRPC, TRPCError } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import type { ApiContext } from './context.ts';
import { requireAdmin } from '../auth/index.ts';
import { AtelierError } from '@atelier/core';
import { errorBody, failureOf } from './error-body.ts';
import { atelierCause, toTRPCError } from './errors.ts';

/**
 * The tRPC root: every procedure's errors become TRPCErrors carrying the Atelier code, and the
 * shape a client sees says what went wrong and what to do, never a stack trace. Errors tRPC raises
 * itself (input validation, an unknown procedure, bad JSON, a wrong method) get a code too
 * ({@link failureOf}): `data.atelierCode` is never null. The shape is {@link errorBody}'s, as every
 * error answer's.
 */
const t = initTRPC
  .context<ApiContext>()
  .meta<OpenApiMeta>()
  .create({
    errorFormatter({ error, ctx, path }) {
      return errorBody('trpc', failureOf(error, { requestId: ctx?.requestId ?? null, path }));
    },
    sse: {
      ping: { enabled: true, intervalMs: 10_000 },
      client: { reconnectAfterInactivityMs: 25_000 },
    },
  });

/**
 * Turns a thrown AtelierError into a TRPCError with the right status, in one place (and sends
 * `Retry-After` when the error says when to come back).
 */
function mapError<R extends { ok: true } | { ok: false; error: TRPCError }>(ctx: ApiContext, result: R): R {
  if (!result.ok) {
    const error = result.error;
    if (error.cause && !(error.cause instanceof TRPCError)) {
      const mapped = toTRPCError(error.cause);
      if (mapped.code !== 'INTERNAL_SERVER_ERROR' || error.code === 'INTERNAL_SERVER_ERROR') {
        (result as { error: TRPCError }).error = mapped;
      }
    }
    const details = atelierCause(result.error)?.details as { retryAfterSeconds?: number } | undefined;
    if (details?.retryAfterSeconds !== undefined)
      ctx.setHeader('retry-after', String(Math.ceil(details.retryAfterSeconds)));
  }
  return result;
}

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Anyone may call it. */
export const publicProcedure = t.procedure.use(async ({ ctx, next }) => mapError(ctx, await next()));

/**
 * Needs a valid session (cookie or Bearer token); cookie-authenticated mutations need a trusted
 * Origin. Maps errors as {@link publicProcedure} does, in the same middleware: each level of
 * tRPC's middleware chain copies the call's options, and this one runs on nearly every call.
 */
export const authedProcedure = t.procedure.use(async ({ ctx, type, next }) => {
  if (!ctx.user || !ctx.session) {
    throw toTRPCError(
      new AtelierError(
        'AUTH_REQUIRED',
        'Sign in first: this needs a session (cookie or Authorization: Bearer token).',
      ),
    );
  }
  if (type === 'mutation' && ctx.viaCookie && !ctx.originTrusted) {
    throw toTRPCError(
      new AtelierError(
        'ORIGIN_UNTRUSTED',
        'Cross-site request refused: the Origin header is missing or not allowed.',
      ),
    );
  }
  return mapError(ctx, await next({ ctx: { user: ctx.user, session: ctx.session } }));
});

/** Needs the admin role. */
export const adminProcedure = authedProcedure.use(({ ctx, next }) => {
  requireAdmin(ctx.user);
  return next();
});
