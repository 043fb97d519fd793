import { randomUUID } from 'node:crypto';
import type { PlanLimits, PluginRegistry, Storage } from '@atelier/core';
import type { GallerySearch, JobService, QuotaService } from '@atelier/jobs';
import type { AdminService } from '../admin.service.ts';
import type { CapabilitiesService } from '../capabilities.service.ts';
import type { UploadBatchLimits } from '../config.ts';
import { readSessionToken, sessionCookie } from '../auth/index.ts';
import type { AccountService, SessionService, UserRecord } from '../auth/index.ts';
import type { HealthService } from '../health.service.ts';
import type { JobUpdatesService } from '../job-updates.service.ts';
import type { PaymentsService } from '../payments/index.ts';
import type { PluginPackageService } from '../plugin-packages.ts';
import type { StatsService } from '../stats.service.ts';
import type { PreviewService } from './preview.ts';
import { toTRPCError } from './errors.ts';

/** The services the API calls, resolved from the process's root (see createApiServices). */
export interface ApiServices {
  readonly accounts: AccountService;
  readonly sessions: SessionService;
  readonly jobs: JobService;
  /** Gallery search: by colour, similar images, duplicates, words. */
  readonly gallery: GallerySearch;
  /** Per-user quotas, charged by uploads, previews and job creation. */
  readonly quotas: QuotaService;
  readonly previews: PreviewService;
  /** A job's live updates (the progress stream). */
  readonly updates: JobUpdatesService;
  readonly admin: AdminService;
  /** Plugin grants and secrets (admin only). */
  readonly capabilities: CapabilitiesService;
  /** Plugin packages installed for the cluster (install, upgrade, uninstall, list). */
  readonly pluginPackages: PluginPackageService;
  readonly stats: StatsService;
  /** Paid HD: file access, Stripe Checkout, webhook events, grants. */
  readonly payments: PaymentsService;
  /** Readiness (/readyz). */
  readonly health: HealthService;
  /** The plugins (the styles list). */
  readonly registry: PluginRegistry;
  /** Stored originals and results (downloads). */
  readonly storage: Storage;
  /** The plan limits of the configuration (`maxInputBytes` caps uploads). */
  readonly limits: Partial<PlanLimits>;
  /** Batch uploads: the most files and bytes in one request (`images.uploadMany`). */
  readonly uploads: UploadBatchLimits;
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

/** The request as the context reads it (a FastifyRequest fits). */
export interface ContextRequest {
  readonly id: unknown;
  readonly ip: string;
  /** 'http' or 'https' (behind a trusted proxy, what it was asked with). */
  readonly protocol?: string | undefined;
  readonly headers: {
    readonly authorization?: string | undefined;
    readonly cookie?: string | undefined;
    readonly origin?: string | undefined;
    readonly host?: string | undefined;
    readonly 'user-agent'?: string | undefined;
  };
}

/** The response as the context writes it: headers only (a FastifyReply fits). */
export interface ContextResponse {
  header(name: string, value: string): unknown;
}

export interface SessionInfo {
  readonly id: string;
  readonly userId: string;
  readonly expiresAt: Date;
  /** The user's session epoch, which signed download URLs sign (SessionValidation.epoch). */
  readonly epoch: number;
}

/** The context of every procedure: the caller and the services it may use. */
export interface ApiContext {
  readonly api: ApiServices;
  readonly requestId: string;
  readonly ip: string;
  /**
   * The origin browsers reach this API at: ATELIER_PUBLIC_URL's, or else the request's own
   * (protocol and Host). Links the server hands out that lead back to it (Stripe's return URLs) use it.
   */
  readonly origin: string;
  /** The User-Agent header ('' when none), stored with the sessions it opens. */
  readonly userAgent: string;
  /** Sets a header of the response (Set-Cookie, Retry-After). */
  setHeader(name: string, value: string): void;
  readonly user: UserRecord | null;
  readonly session: SessionInfo | null;
  /** True when the session came from the cookie (not a Bearer token): mutations then need a trusted Origin. */
  readonly viaCookie: boolean;
  readonly originTrusted: boolean;
  /** The raw session token, when one was presented. */
  readonly token: string | null;
}

/** The session token of a request: `Authorization: Bearer <token>` first, then the cookie. */
export function tokenOf(req: ContextRequest): { token: string | null; viaCookie: boolean } {
  const found = readSessionToken({ authorization: req.headers.authorization, cookie: req.headers.cookie });
  return { token: found?.token ?? null, viaCookie: found?.from === 'cookie' };
}

/**
 * An Origin is trusted when it is the API's own or on the allow-list. The API's own origin is the
 * public URL's when one is configured, or else the one the Host header names.
 */
export function originTrusted(
  req: ContextRequest,
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

/**
 * The context of one call: the session the request presents (validated, its expiry slid), the
 * Origin check, and a way to set response headers. Structural: a FastifyRequest and FastifyReply
 * fit, and so does a plain object in a test.
 */
export async function createContext(
  api: ApiServices,
  req: ContextRequest,
  res: ContextResponse,
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
    requestId: typeof req.id === 'string' ? req.id : randomUUID(),
    ip: req.ip,
    origin:
      api.publicOrigin ??
      `${req.protocol === 'https' ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}`,
    userAgent: req.headers['user-agent'] ?? '',
    setHeader: (name, value) => void res.header(name, value),
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
