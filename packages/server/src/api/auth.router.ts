import { z } from 'zod';
import { authedProcedure, publicProcedure, router } from './trpc.ts';
import type { ApiContext } from './context.ts';
import { blankSessionCookie, sessionCookie } from '../auth/index.ts';

const credentials = z.object({ email: z.string().email().max(254), password: z.string().min(1).max(256) });

/** Browsers get the session as an HttpOnly cookie; API clients use the returned token as Bearer. */
function setSession(ctx: ApiContext, token: string, expiresAt: Date): void {
  ctx.res.header('set-cookie', sessionCookie(token, expiresAt, { secure: ctx.api.secureCookies }));
}

export const authRouter = router({
  register: publicProcedure
    .input(credentials.extend({ displayName: z.string().trim().min(1).max(80) }))
    .mutation(async ({ ctx, input }) => {
      const { token, session, user } = await ctx.api.accounts.register({
        ...input,
        ip: ctx.ip,
        userAgent: ctx.req.headers['user-agent'] ?? '',
      });
      setSession(ctx, token, session.expiresAt);
      return { token, expiresAt: session.expiresAt.toISOString(), user: { ...user, createdAt: user.createdAt.toISOString() } };
    }),

  login: publicProcedure.input(credentials).mutation(async ({ ctx, input }) => {
    const { token, session, user } = await ctx.api.accounts.login({
      ...input,
      ip: ctx.ip,
      userAgent: ctx.req.headers['user-agent'] ?? '',
    });
    setSession(ctx, token, session.expiresAt);
    return { token, expiresAt: session.expiresAt.toISOString(), user: { ...user, createdAt: user.createdAt.toISOString() } };
  }),

  logout: authedProcedure.mutation(async ({ ctx }) => {
    await ctx.api.accounts.logout(ctx.session.id);
    ctx.res.header('set-cookie', blankSessionCookie({ secure: ctx.api.secureCookies }));
    return { ok: true as const };
  }),

  /** Ends every session of the user, this one included. */
  logoutEverywhere: authedProcedure.mutation(async ({ ctx }) => {
    await ctx.api.accounts.logoutEverywhere(ctx.user.id);
    ctx.res.header('set-cookie', blankSessionCookie({ secure: ctx.api.secureCookies }));
    return { ok: true as const };
  }),

  /** Changes the password; every other session of the user ends. */
  changePassword: authedProcedure
    .input(z.object({ currentPassword: z.string().min(1).max(256), newPassword: z.string().min(1).max(256) }))
    .mutation(async ({ ctx, input }) => {
      await ctx.api.accounts.changePassword(ctx.user.id, input.currentPassword, input.newPassword, { keepSessionId: ctx.session.id });
      return { ok: true as const };
    }),
});

export const usersRouter = router({
  me: authedProcedure.query(({ ctx }) => ({ ...ctx.user, createdAt: ctx.user.createdAt.toISOString() })),
});
