import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { readSessionToken, sessionCookie } from '../auth/index.ts';
import type { AccountService, SessionService, UserRecord } from '../auth/index.ts';
import type { QuotaService } from '@atelier/jobs';
import type { Services } from '../services.ts';
import type { JobEventHub } from './job-event-hub.ts';
import type { PreviewService } from './preview.ts';
import { toTRPCError } from './errors.ts';

/** What the API needs besides the job services. */
export interface ApiServices {
  readonly core: Services;
  readonly accounts: AccountService;
  readonly sessions: SessionService;
  readonly events: JobEventHub;
  readonly previews: PreviewService;
  /** Per-user quotas, charged by uploads, previews and job creation. */
  readonly quotas: QuotaService;
  /** Browser origins allowed to call with cookies (CORS and the Origin check). */
  readonly allowedOrigins: readonly string[];
  /** Secret for signed download URLs. */
  readonly urlSecret: Uint8Array;
  /** Whether cookies get the Secure attribute (off only on localhost). */
  readonly secureCookies: boolean;
  /**
   * The origin of `ATELIER_PUBLIC_URL` (`https://atelier.example.org`): when set, it is the API's
   * own origin for the Origin check, in place of the Host header (which a proxy rewrites).
   */
  readonly publicOrigin?: string | undefined;
}

export interface SessionInfo {
  readonly id: string;
  readonly userId: string;
  readonly expiresAt: Date;
  /** The user's session epoch, which signed download URLs sign (SessionValidation.epoch). */
  readonly epoch: number;
}

/** The context of every procedure. */
export interface ApiContext {
  readonly api: ApiServices;
  readonly req: FastifyRequest;
  readonly res: FastifyReply;
  readonly requestId: string;
  readonly ip: string;
  readonly user: UserRecord | null;
  readonly session: SessionInfo | null;
  /** True when the session came from the cookie (not a Bearer token): mutations then need a trusted Origin. */
  readonly viaCookie: boolean;
  readonly originTrusted: boolean;
  /** The raw session token, when one was presented. */
  readonly token: string | null;
}

/** The session token of a request: `Authorization: Bearer <token>` first, then the cookie. */
export function tokenOf(req: FastifyRequest): { token: string | null; viaCookie: boolean } {
  const found = readSessionToken({ authorization: req.headers.authorization, cookie: req.headers.cookie });
  return { token: found?.token ?? null, viaCookie: found?.from === 'cookie' };
}

/**
 * An Origin is trusted when it is the API's own or on the allow-list. The API's own origin is the
 * public URL's when one is configured, or else the one the Host header names.
 */
export function originTrusted(
  req: FastifyRequest,
  allowed: readonly string[],
  publicOrigin?: string,
): boolean {
  const origin = req.headers.origin;
  if (!origin) return false;
  if (publicOrigin !== undefined) return origin === publicOrigin || allowed.includes(origin);
  const host = req.headers.host;
  if (host && (origin === `http://${host}` || origin === `https://${host}`)) return true;
  return allowed.includes(origin);
}

export async function createContext(
  api: ApiServices,
  req: FastifyRequest,
  res: FastifyReply,
): Promise<ApiContext> {
  const { token, viaCookie } = tokenOf(req);
  // Thrown here, outside any procedure's middleware: mapped the same way (a lost database is a 503).
  const validated = token
    ? await api.sessions.validate(token, { ip: req.ip }).catch((error: unknown) => {
        throw toTRPCError(error);
      })
    : null;
  // Sliding expiry: a browser's cookie follows the session's new expiry.
  if (validated?.renewed && viaCookie && token) {
    res.header(
      'set-cookie',
      sessionCookie(token, validated.session.expiresAt, { secure: api.secureCookies }),
    );
  }
  return {
    api,
    req,
    res,
    requestId: typeof req.id === 'string' ? req.id : randomUUID(),
    ip: req.ip,
    user: validated?.user ?? null,
    session: validated
      ? {
          id: validated.session.id,
          userId: validated.session.userId,
          expiresAt: validated.session.expiresAt,
          epoch: validated.epoch,
        }
      : null,
    viaCookie: validated !== null && viaCookie,
    originTrusted: originTrusted(req, api.allowedOrigins, api.publicOrigin),
    token,
  };
}
