import { z } from 'zod';
import { authedProcedure, publicProcedure, router } from './trpc.ts';
import { okSchema, quotaSchema, sessionSchema, userSchema } from './response-schemas.ts';
import type { ApiContext } from './context.ts';
import { userView } from './views.ts';
import { blankSessionCookie, sessionCookie } from '../auth/index.ts';
import type { SignedIn } from '../auth/index.ts';

const credentials = z.object({ email: z.string().email().max(254), password: z.string().min(1).max(256) });

/** Browsers get the session as an HttpOnly cookie; API clients use the returned token as Bearer. */
function setSession(ctx: ApiContext, token: string, expiresAt: Date): void {
  ctx.setHeader('set-cookie', sessionCookie(token, expiresAt, { secure: ctx.api.secureCookies }));
}

const clientOf = (ctx: ApiContext) => ({ ip: ctx.ip, userAgent: ctx.userAgent });

/** Sets the cookie and returns what both register and login answer. */
function signedIn(ctx: ApiContext, { token, session, user }: SignedIn) {
  setSession(ctx, token, session.expiresAt);
  return {
    token,
    expiresAt: session.expiresAt.toISOString(),
    user: userView(user),
  };
}

export const authRouter = router({
  register: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/register',
        protect: false,
        tags: ['auth'],
        summary: 'Create an account and sign in',
        errorResponses: {
          400: 'Invalid input or a weak password',
          409: 'An account with this email exists',
          429: 'Too many attempts',
        },
      },
    })
    .input(credentials.extend({ displayName: z.string().trim().min(1).max(80) }))
    .output(sessionSchema)
    .mutation(async ({ ctx, input }) => {
      return signedIn(ctx, await ctx.api.accounts.register({ ...input, ...clientOf(ctx) }));
    }),

  login: publicProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/login',
        protect: false,
        tags: ['auth'],
        summary: 'Sign in: returns a session token (also set as a cookie)',
        errorResponses: {
          400: 'Invalid input',
          401: 'Wrong email or password',
          403: 'The account is disabled',
          429: 'Too many failed sign-ins: wait `data.details.retryAfterSeconds` (also the Retry-After header)',
        },
      },
    })
    .input(credentials)
    .output(sessionSchema)
    .mutation(async ({ ctx, input }) => {
      return signedIn(ctx, await ctx.api.accounts.login({ ...input, ...clientOf(ctx) }));
    }),

  logout: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/logout',
        protect: true,
        tags: ['auth'],
        summary: 'End this session',
      },
    })
    .output(okSchema)
    .mutation(async ({ ctx }) => {
      await ctx.api.accounts.logout(ctx.session.id);
      ctx.setHeader('set-cookie', blankSessionCookie({ secure: ctx.api.secureCookies }));
      return { ok: true as const };
    }),

  /** Ends every session of the user, this one included. */
  logoutEverywhere: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/logout-everywhere',
        protect: true,
        tags: ['auth'],
        summary: 'End every session of the user',
      },
    })
    .output(okSchema)
    .mutation(async ({ ctx }) => {
      await ctx.api.accounts.logoutEverywhere(ctx.user.id);
      ctx.setHeader('set-cookie', blankSessionCookie({ secure: ctx.api.secureCookies }));
      return { ok: true as const };
    }),

  /** Changes the password; every other session of the user ends. */
  changePassword: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/auth/change-password',
        protect: true,
        tags: ['auth'],
        summary: 'Change the password; every other session ends',
      },
    })
    .input(z.object({ currentPassword: z.string().min(1).max(256), newPassword: z.string().min(1).max(256) }))
    .output(okSchema)
    .mutation(async ({ ctx, input }) => {
      await ctx.api.accounts.changePassword(ctx.user.id, input.currentPassword, input.newPassword, {
        keepSessionId: ctx.session.id,
      });
      return { ok: true as const };
    }),
});

export const usersRouter = router({
  me: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/users/me',
        protect: true,
        tags: ['users'],
        summary: 'The signed-in user',
      },
    })
    .output(userSchema)
    .query(({ ctx }) => userView(ctx.user)),

  /** Your quotas and what you used of them (stored bytes, jobs this hour, previews and cost this minute). */
  quota: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/users/me/quota',
        protect: true,
        tags: ['users'],
        summary: 'Your quotas and what you used of them',
      },
    })
    .output(quotaSchema)
    .query(({ ctx }) => ctx.api.quotas.status(ctx.user.id)),
});
