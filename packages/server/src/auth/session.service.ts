import { sha256 } from '@oslojs/crypto/sha2';
import { encodeBase32LowerCaseNoPadding, encodeHexLowerCase } from '@oslojs/encoding';
import type { Kysely } from 'kysely';
import { precompile } from '@atelier/db';
import type { Database } from '@atelier/db';
import { toUserRecord } from './records.ts';
import type { UserRecord } from './records.ts';

/** Where services read the time; tests pass one they can move. */
export interface Clock {
  now(): Date;
}

/** The real time. */
export const systemClock: Clock = { now: () => new Date() };

const DAY_MS = 24 * 60 * 60 * 1000;

/** Random bytes in a token: 160 bits, far beyond guessing (Lucia's guide asks for at least 120). */
export const SESSION_TOKEN_BYTES = 20;
/** The name of the session cookie. */
export const SESSION_COOKIE_NAME = 'atelier_session';

// A token as generateToken() makes it (20 bytes are 32 characters); a little slack for longer ones.
const TOKEN_PATTERN = /^[a-z2-7]{32,128}$/;
// Bounds on what a client may make us store.
const MAX_USER_AGENT_LENGTH = 512;
const MAX_IP_LENGTH = 64;

/** A signed-in session, as services and the API return it. */
export interface Session {
  /** The hex SHA-256 of the token: safe to show, log and use as an id; it cannot sign anyone in. */
  readonly id: string;
  readonly userId: string;
  readonly expiresAt: Date;
  readonly createdAt: Date;
  readonly lastSeenIp: string | null;
  readonly userAgent: string | null;
}

/** A token that checked out: the session (with its expiry extended if it was renewed) and its user. */
export interface SessionValidation {
  readonly session: Session;
  readonly user: UserRecord;
  /** True when this validation extended the expiry: send the cookie again with the new date. */
  readonly renewed: boolean;
  /**
   * The user's session epoch: signed download URLs sign it, and signing out everywhere bumps it,
   * which ends every URL handed out before (see {@link SessionService.urlEpoch}).
   */
  readonly epoch: number;
}

/** Where a request came from, stored with the session for the user's list of signed-in devices. */
export interface SessionClient {
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
}

/** Options of {@link SessionService}. */
export interface SessionServiceOptions {
  readonly db: Kysely<Database>;
  /** @default systemClock */
  readonly clock?: Clock;
  /** How long an unused session lives. @default 30 days */
  readonly lifetimeMs?: number;
  /** A session used with less than this left is extended to a full lifetime. @default half the lifetime */
  readonly renewWithinMs?: number;
}

/** The session id of a token: hex SHA-256. Only this is stored, so a leaked table signs nobody in. */
export function sessionIdFromToken(token: string): string {
  return encodeHexLowerCase(sha256(new TextEncoder().encode(token)));
}

const truncate = (value: string | undefined, max: number): string | null =>
  value === undefined || value === '' ? null : value.slice(0, max);

/**
 * Database sessions after Lucia's design (lucia-auth.com, "Sessions"): the client holds a random
 * token, the database holds its SHA-256. Sessions slide: one used with less than 15 days left is
 * extended to 30, one left alone for 30 days expires. Expired sessions are deleted when met and by
 * {@link SessionService.deleteExpired}.
 *
 * @example
 * const sessions = new SessionService({ db });
 * const { token, session } = await sessions.create(user.id, { ip, userAgent });
 * reply.header('set-cookie', sessionCookie(token, session.expiresAt, { secure: true }));
 * // on each request:
 * const auth = await sessions.validate(token); // null: signed out
 */
export class SessionService {
  readonly #db: Kysely<Database>;
  readonly #lookup: ReturnType<typeof sessionLookup>;
  readonly #epochLookup: ReturnType<typeof epochLookup>;
  readonly #clock: Clock;
  readonly #lifetimeMs: number;
  readonly #renewWithinMs: number;

  constructor(options: SessionServiceOptions) {
    this.#db = options.db;
    this.#lookup = sessionLookup(this.#db);
    this.#epochLookup = epochLookup(this.#db);
    this.#clock = options.clock ?? systemClock;
    this.#lifetimeMs = options.lifetimeMs ?? 30 * DAY_MS;
    this.#renewWithinMs = options.renewWithinMs ?? this.#lifetimeMs / 2;
  }

  /** A new random token: 20 bytes from the system's CSPRNG, base32 lowercase without padding. */
  generateToken(): string {
    const bytes = new Uint8Array(SESSION_TOKEN_BYTES);
    crypto.getRandomValues(bytes);
    return encodeBase32LowerCaseNoPadding(bytes);
  }

  /**
   * Signs `userId` in: stores a new session and returns its token, which exists only in the
   * return value. Hand it to the client (cookie or response body) and forget it.
   */
  async create(userId: string, client: SessionClient = {}): Promise<{ token: string; session: Session }> {
    const token = this.generateToken();
    const now = this.#clock.now();
    const row = await this.#db
      .insertInto('sessions')
      .values({
        id: sessionIdFromToken(token),
        user_id: userId,
        expires_at: new Date(now.getTime() + this.#lifetimeMs),
        created_at: now,
        last_seen_ip: truncate(client.ip, MAX_IP_LENGTH),
        user_agent: truncate(client.userAgent, MAX_USER_AGENT_LENGTH),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { token, session: toSession(row) };
  }

  /**
   * The session and user of `token`, or null when the token is malformed, unknown, expired (the
   * session is deleted) or its user is disabled (all of the user's sessions are deleted). Extends
   * the expiry when less than `renewWithinMs` is left; pass the request's `ip` to keep
   * `lastSeenIp` current (written only when it changed or on renewal).
   */
  async validate(
    token: string,
    seen: { readonly ip?: string | undefined } = {},
  ): Promise<SessionValidation | null> {
    if (!TOKEN_PATTERN.test(token)) return null;
    const id = sessionIdFromToken(token);
    const [row] = await this.#lookup.execute([id]);
    if (!row) return null;
    const now = this.#clock.now().getTime();
    if (now >= row.expires_at.getTime()) {
      await this.invalidate(id);
      return null;
    }
    if (row.disabled_at !== null) {
      await this.invalidateAllForUser(row.user_id);
      return null;
    }
    const renewed = now >= row.expires_at.getTime() - this.#renewWithinMs;
    const ip = truncate(seen.ip, MAX_IP_LENGTH);
    const expiresAt = renewed ? new Date(now + this.#lifetimeMs) : row.expires_at;
    const lastSeenIp = ip ?? row.last_seen_ip;
    if (renewed || lastSeenIp !== row.last_seen_ip) {
      await this.#db
        .updateTable('sessions')
        .set({ expires_at: expiresAt, last_seen_ip: lastSeenIp })
        .where('id', '=', id)
        .execute();
    }
    return {
      session: {
        id,
        userId: row.user_id,
        expiresAt,
        createdAt: row.created_at,
        lastSeenIp,
        userAgent: row.user_agent,
      },
      user: toUserRecord({ ...row, id: row.user_id, created_at: row.user_created_at }),
      renewed,
      epoch: row.session_epoch,
    };
  }

  /** Signs one session out. Unknown ids are ignored (signing out twice is fine). */
  async invalidate(sessionId: string): Promise<void> {
    await this.#db.deleteFrom('sessions').where('id', '=', sessionId).execute();
  }

  /**
   * Signs the user out everywhere, except the session `except` when given (the one that asked,
   * after a password change), and bumps the user's session epoch, which ends every signed
   * download URL handed out so far (the kept session's included: it asks for new ones). Returns
   * how many sessions ended.
   */
  async invalidateAllForUser(userId: string, options: { readonly except?: string } = {}): Promise<number> {
    return this.#db.transaction().execute(async (trx) => {
      await trx
        .updateTable('users')
        .set((eb) => ({ session_epoch: eb('session_epoch', '+', 1) }))
        .where('id', '=', userId)
        .execute();
      let query = trx.deleteFrom('sessions').where('user_id', '=', userId);
      if (options.except !== undefined) query = query.where('id', '!=', options.except);
      const result = await query.executeTakeFirst();
      return Number(result.numDeletedRows);
    });
  }

  /**
   * The session epoch a signed download URL of `userId` must carry to be honoured now, or null
   * when the user is gone or disabled (no URL of theirs works). One primary-key read, compiled once.
   */
  async urlEpoch(userId: string): Promise<number | null> {
    const [row] = await this.#epochLookup.execute([userId]);
    return row && row.disabled_at === null ? row.session_epoch : null;
  }

  /** The user's live sessions, newest first: for a "signed-in devices" page. */
  async listForUser(userId: string): Promise<Session[]> {
    const rows = await this.#db
      .selectFrom('sessions')
      .selectAll()
      .where('user_id', '=', userId)
      .where('expires_at', '>', this.#clock.now())
      .orderBy('created_at', 'desc')
      .execute();
    return rows.map(toSession);
  }

  /** Deletes every expired session; run it now and then (validate also deletes those it meets). */
  async deleteExpired(): Promise<number> {
    const result = await this.#db
      .deleteFrom('sessions')
      .where('expires_at', '<=', this.#clock.now())
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

function toSession(row: {
  id: string;
  user_id: string;
  expires_at: Date;
  created_at: Date;
  last_seen_ip: string | null;
  user_agent: string | null;
}): Session {
  return {
    id: row.id,
    userId: row.user_id,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
    lastSeenIp: row.last_seen_ip,
    userAgent: row.user_agent,
  };
}

/** Options of {@link sessionCookie} and {@link blankSessionCookie}. */
export interface SessionCookieOptions {
  /** Add `Secure` (HTTPS only). Turn off only for plain-HTTP development on localhost. @default true */
  readonly secure?: boolean;
  /** The time Max-Age counts from. @default now */
  readonly now?: Date;
}

function cookieAttributes(secure: boolean): string {
  return `Path=/; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`;
}

/**
 * The `Set-Cookie` value that hands `token` to a browser: HttpOnly (no script reads it),
 * SameSite=Lax (not sent on cross-site POSTs), Path=/, Secure unless `secure: false`, with both
 * Expires and Max-Age at the session's expiry.
 *
 * @example
 * sessionCookie(token, session.expiresAt, { secure: true });
 * // 'atelier_session=…; Path=/; HttpOnly; SameSite=Lax; Secure; Expires=Sat, 01 Aug 2026 10:00:00 GMT; Max-Age=2592000'
 */
export function sessionCookie(token: string, expiresAt: Date, options: SessionCookieOptions = {}): string {
  if (!TOKEN_PATTERN.test(token)) throw new Error('sessionCookie: not a session token');
  const now = (options.now ?? new Date()).getTime();
  const maxAge = Math.max(0, Math.floor((expiresAt.getTime() - now) / 1000));
  return (
    `${SESSION_COOKIE_NAME}=${token}; ${cookieAttributes(options.secure ?? true)}; ` +
    `Expires=${expiresAt.toUTCString()}; Max-Age=${maxAge}`
  );
}

/** The `Set-Cookie` value that removes the session cookie (on sign-out or a rejected token). */
export function blankSessionCookie(options: Pick<SessionCookieOptions, 'secure'> = {}): string {
  return `${SESSION_COOKIE_NAME}=; ${cookieAttributes(options.secure ?? true)}; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0`;
}

/**
 * The session token a request carries: an `Authorization: Bearer` header first (API clients, the
 * CLI), else the session cookie (browsers). `from` tells the router whether the Origin check for
 * cookie-authenticated mutations applies.
 *
 * @example
 * const found = readSessionToken({ authorization: req.headers.authorization, cookie: req.headers.cookie });
 */
export function readSessionToken(headers: {
  readonly authorization?: string | undefined;
  readonly cookie?: string | undefined;
}): { token: string; from: 'bearer' | 'cookie' } | null {
  const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(headers.authorization ?? '');
  if (bearer?.[1]) return { token: bearer[1], from: 'bearer' };
  for (const part of (headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE_NAME) {
      const token = part.slice(eq + 1).trim();
      return token === '' ? null : { token, from: 'cookie' };
    }
  }
  return null;
}

/** The session and its user by session id. Every authenticated request runs it: compiled once. */
function sessionLookup(db: Kysely<Database>) {
  return precompile(db, (id) =>
    db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select([
        'sessions.id',
        'sessions.user_id',
        'sessions.expires_at',
        'sessions.created_at',
        'sessions.last_seen_ip',
        'sessions.user_agent',
        'users.email',
        'users.display_name',
        'users.role',
        'users.created_at as user_created_at',
        'users.disabled_at',
        'users.session_epoch',
      ])
      .where('sessions.id', '=', id),
  );
}

/** A user's session epoch and whether they are disabled, by user id: every signed download reads it. */
function epochLookup(db: Kysely<Database>) {
  return precompile(db, (id) =>
    db.selectFrom('users').select(['session_epoch', 'disabled_at']).where('id', '=', id),
  );
}
