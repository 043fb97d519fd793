import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { AtelierError } from '@atelier/core';
import { isUuid } from '@atelier/db';
import type { Database, User, UserRole } from '@atelier/db';
import { accountKey, ipKey } from './login-throttle.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { checkPasswordPolicy, hashPassword, needsRehash, verifyPassword } from './password.ts';
import { USER_RECORD_COLUMNS, toUserRecord } from './records.ts';
import type { UserRecord } from './records.ts';
import { systemClock } from './session.service.ts';
import type { Clock, Session, SessionClient, SessionService } from './session.service.ts';

/**
 * An email as Atelier stores and compares it: trimmed, lowercased, at most 254 characters, a valid
 * address. Use it as the router's input schema too.
 */
export const emailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .max(254, { message: 'An email address has at most 254 characters.' })
  .pipe(z.email({ message: 'Enter a valid email address, like ada@example.org.' }));

/** A display name: trimmed, 1–100 characters, no control characters. */
export const displayNameSchema = z
  .string()
  .trim()
  .min(1, { message: 'Enter a display name.' })
  .max(100, { message: 'A display name has at most 100 characters.' })
  .regex(/^\P{Cc}*$/u, { message: 'A display name cannot contain control characters.' });

/** What {@link AccountService.register} and {@link AccountService.createUser} take. */
export interface NewAccount {
  readonly email: string;
  readonly password: string;
  readonly displayName: string;
}

/** A successful sign-in: hand `token` to the client (cookie or body); it is not stored anywhere. */
export interface SignedIn {
  readonly token: string;
  readonly session: Session;
  readonly user: UserRecord;
}

/** Where a sign-in comes from: counted by the IP throttle and stored with the session it opens. */
export type ClientInfo = SessionClient;

/** Options of {@link AccountService}. */
export interface AccountServiceOptions {
  readonly db: Kysely<Database>;
  readonly sessions: SessionService;
  readonly throttle: LoginThrottle;
  /** @default systemClock */
  readonly clock?: Clock;
}

function parse<T>(schema: z.ZodType<T>, value: unknown, field: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new AtelierError('PARAMS_INVALID', result.error.issues[0]?.message ?? `${field} is invalid.`, {
    details: { path: [field] },
  });
}

const invalidCredentials = (): AtelierError =>
  new AtelierError('AUTH_INVALID_CREDENTIALS', 'Wrong email or password.');

const disabled = (): AtelierError =>
  new AtelierError('USER_DISABLED', 'This account is disabled. Ask an administrator to enable it again.');

const notFound = (): AtelierError => new AtelierError('USER_NOT_FOUND', 'No user has this id.');

// Ids come from sessions but also from admin input: anything else is simply not a user.
function checkUserId(userId: string): void {
  if (!isUuid(userId)) throw notFound();
}

/**
 * Throws FORBIDDEN unless `user` is an administrator. Routers call it on admin procedures.
 *
 * @example
 * requireAdmin(ctx.user);
 */
export function requireAdmin(user: UserRecord): void {
  if (user.role !== 'admin')
    throw new AtelierError('FORBIDDEN', 'Only administrators can do this.', { details: { role: user.role } });
}

/**
 * Accounts: registration, sign-in and sign-out, password changes, and the administrator's tools
 * (create, disable, promote). Passwords are argon2id; sessions come from {@link SessionService};
 * sign-in is throttled per account and per address by {@link LoginThrottle}.
 *
 * @example
 * const accounts = new AccountService({ db, sessions, throttle });
 * const { token, session, user } = await accounts.login({ email, password, ip, userAgent });
 */
export class AccountService {
  readonly #db: Kysely<Database>;
  readonly #sessions: SessionService;
  readonly #throttle: LoginThrottle;
  readonly #clock: Clock;

  constructor(options: AccountServiceOptions) {
    this.#db = options.db;
    this.#sessions = options.sessions;
    this.#throttle = options.throttle;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Creates an account with the role `user` (the first account too: administrators are made with
   * `atelier users create --admin`) and signs it in.
   *
   * Every attempt from a client address counts against its registrations per hour (a taken email
   * too, which also slows probing for accounts); past them, RATE_LIMITED and nothing is written.
   *
   * @throws AtelierError RATE_LIMITED (`details.retryAfterSeconds`), PARAMS_INVALID (email, display
   * name), AUTH_WEAK_PASSWORD, AUTH_EMAIL_TAKEN
   */
  async register(input: NewAccount & ClientInfo): Promise<SignedIn> {
    if (input.ip) await this.#throttle.registration(input.ip);
    const user = await this.#insertUser(input, 'user');
    const { token, session } = await this.#sessions.create(user.id, input);
    return { token, session, user };
  }

  /**
   * Checks the password and opens a session. An unknown email and a wrong password give the same
   * AUTH_INVALID_CREDENTIALS after the same argon2 work; USER_DISABLED comes only after a correct
   * password, so it reveals nothing to someone guessing.
   *
   * @throws AtelierError AUTH_THROTTLED (`details.retryAfterSeconds`), AUTH_INVALID_CREDENTIALS, USER_DISABLED
   */
  async login(input: { readonly email: string; readonly password: string } & ClientInfo): Promise<SignedIn> {
    const email = input.email.trim().toLowerCase();
    const keys = [accountKey(email)];
    if (input.ip) keys.push(ipKey(input.ip));
    const attempt = await this.#throttle.attempt(keys);
    const row = await this.#findByEmail(email);
    if (!(await verifyPassword(row?.password_hash, input.password)) || !row) throw invalidCredentials();
    if (row.disabled_at !== null) throw disabled();
    await attempt.succeeded();
    if (row.password_hash && needsRehash(row.password_hash)) await this.#rehash(row.id, input.password);
    const { token, session } = await this.#sessions.create(row.id, input);
    return { token, session, user: toUserRecord(row) };
  }

  /** Ends one session (sign out on this device). */
  async logout(sessionId: string): Promise<void> {
    await this.#sessions.invalidate(sessionId);
  }

  /** Ends every session of the user. Returns how many ended. */
  async logoutEverywhere(userId: string): Promise<number> {
    return this.#sessions.invalidateAllForUser(userId);
  }

  /**
   * Changes the password after checking the current one (throttled like a sign-in, per account),
   * then signs out every other session: pass the session that asked as `keepSessionId` to stay
   * signed in on it.
   *
   * A wrong current password is `AUTH_WRONG_PASSWORD` (400), not a 401: the caller is signed in,
   * and a client that sends every 401 to its sign-in page must not do so here.
   *
   * @throws AtelierError AUTH_WEAK_PASSWORD, AUTH_THROTTLED, AUTH_WRONG_PASSWORD, USER_DISABLED, USER_NOT_FOUND
   */
  async changePassword(
    userId: string,
    current: string,
    next: string,
    options: { readonly keepSessionId?: string } = {},
  ): Promise<void> {
    checkPasswordPolicy(next);
    const row = await this.#findById(userId);
    if (!row) throw notFound();
    if (row.disabled_at !== null) throw disabled();
    const attempt = await this.#throttle.attempt([accountKey(row.email)]);
    if (!(await verifyPassword(row.password_hash, current)))
      throw new AtelierError('AUTH_WRONG_PASSWORD', 'The current password is wrong.');
    await attempt.succeeded();
    await this.#db
      .updateTable('users')
      .set({ password_hash: await hashPassword(next) })
      .where('id', '=', userId)
      .execute();
    await this.#sessions.invalidateAllForUser(
      userId,
      options.keepSessionId === undefined ? {} : { except: options.keepSessionId },
    );
  }

  /**
   * Creates an account without signing it in: for `atelier users create [--admin]`, which is how
   * the first administrator is made.
   *
   * @param input.role @default 'user'
   * @throws AtelierError PARAMS_INVALID, AUTH_WEAK_PASSWORD, AUTH_EMAIL_TAKEN
   */
  async createUser(input: NewAccount & { readonly role?: UserRole }): Promise<UserRecord> {
    return this.#insertUser(input, input.role ?? 'user');
  }

  /**
   * Disables (signing the user out everywhere at once) or enables an account. A disabled user
   * cannot sign in and their tokens stop working; their images and jobs stay. `inTransaction` runs
   * in the change's transaction, before it (AdminService checks the last administrator and writes
   * the audit entry there); the sessions end after it commits.
   *
   * @throws AtelierError USER_NOT_FOUND
   */
  async setDisabled(
    userId: string,
    disabled: boolean,
    inTransaction?: (trx: Kysely<Database>) => Promise<void>,
  ): Promise<UserRecord> {
    checkUserId(userId);
    const row = await this.#db.transaction().execute(async (trx) => {
      await inTransaction?.(trx);
      const updated = await trx
        .updateTable('users')
        .set({
          disabled_at: disabled ? sql<Date>`coalesce(disabled_at, ${this.#clock.now()})` : null,
        })
        .where('id', '=', userId)
        .returning(USER_RECORD_COLUMNS)
        .executeTakeFirst();
      if (!updated) throw notFound(); // rolls back what inTransaction wrote
      return updated;
    });
    // After the commit: ending the sessions bumps the user's row, which the transaction held.
    if (disabled) await this.#sessions.invalidateAllForUser(userId);
    return toUserRecord(row);
  }

  /**
   * Makes a user an administrator or takes it back. Sessions stay: the role is read on each request.
   * `db` may be the caller's transaction (AdminService checks the last administrator in it).
   *
   * @throws AtelierError USER_NOT_FOUND
   */
  async setRole(userId: string, role: UserRole, db: Kysely<Database> = this.#db): Promise<UserRecord> {
    checkUserId(userId);
    const row = await db
      .updateTable('users')
      .set({ role })
      .where('id', '=', userId)
      .returning(USER_RECORD_COLUMNS)
      .executeTakeFirst();
    if (!row) throw notFound();
    return toUserRecord(row);
  }

  /**
   * The user as the API shows it (never the password hash).
   *
   * @throws AtelierError USER_NOT_FOUND
   */
  async me(userId: string): Promise<UserRecord> {
    checkUserId(userId);
    const row = await this.#db
      .selectFrom('users')
      .select(USER_RECORD_COLUMNS)
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!row) throw notFound();
    return toUserRecord(row);
  }

  /** Every account, oldest first (for `atelier users list`). */
  async list(): Promise<UserRecord[]> {
    const rows = await this.#db
      .selectFrom('users')
      .select(USER_RECORD_COLUMNS)
      .orderBy('created_at')
      .execute();
    return rows.map(toUserRecord);
  }

  /**
   * The account with this email, whatever its case.
   *
   * @throws AtelierError USER_NOT_FOUND
   */
  async byEmail(email: string): Promise<UserRecord> {
    const row = await this.#db
      .selectFrom('users')
      .select(USER_RECORD_COLUMNS)
      .where(sql<string>`lower(email)`, '=', email.trim().toLowerCase())
      .executeTakeFirst();
    if (!row) throw new AtelierError('USER_NOT_FOUND', `No account ${email}.`);
    return toUserRecord(row);
  }

  async #insertUser(input: NewAccount, role: UserRole): Promise<UserRecord> {
    const email = parse(emailSchema, input.email, 'email');
    const displayName = parse(displayNameSchema, input.displayName, 'displayName');
    checkPasswordPolicy(input.password);
    const row = await this.#db
      .insertInto('users')
      .values({ email, display_name: displayName, role, password_hash: await hashPassword(input.password) })
      .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
      .returning(USER_RECORD_COLUMNS)
      .executeTakeFirst();
    if (!row)
      throw new AtelierError(
        'AUTH_EMAIL_TAKEN',
        'An account with this email already exists. Sign in instead.',
        {
          details: { path: ['email'] },
        },
      );
    return toUserRecord(row);
  }

  #findByEmail(email: string): Promise<User | undefined> {
    return this.#db
      .selectFrom('users')
      .selectAll()
      .where(sql<string>`lower(email)`, '=', email)
      .executeTakeFirst();
  }

  async #findById(userId: string): Promise<User | undefined> {
    if (!isUuid(userId)) return undefined;
    return this.#db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
  }

  async #rehash(userId: string, password: string): Promise<void> {
    try {
      const fresh = await hashPassword(password);
      await this.#db.updateTable('users').set({ password_hash: fresh }).where('id', '=', userId).execute();
    } catch {
      // A password that no longer meets the policy keeps its old hash; the user can change it.
    }
  }
}
