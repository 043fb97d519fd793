import { isIPv4, isIPv6 } from 'node:net';
import type { Kysely, Transaction } from 'kysely';
import { AtelierError } from '@atelier/core';
import type { Database, LoginThrottleRow } from '@atelier/db';
import { systemClock } from './session.service.ts';
import type { Clock } from './session.service.ts';

const MINUTE_MS = 60_000;

/** How an `account:` key is throttled. */
export interface AccountThrottlePolicy {
  /** Failures within `windowMs` that lock the account. @default 5 */
  readonly maxFailures: number;
  /** @default 15 minutes */
  readonly windowMs: number;
  /** The first lock; each further failure doubles it. @default 30 seconds */
  readonly baseLockMs: number;
  /** The longest lock. @default 15 minutes */
  readonly maxLockMs: number;
}

/** How an `ip:` key is throttled. */
export interface IpThrottlePolicy {
  /** Failures tolerated per window; the next attempt waits for the window to end. @default 20 */
  readonly maxFailures: number;
  /** @default 15 minutes */
  readonly windowMs: number;
}

/** How a `register:` key (new accounts from one client address) is throttled. */
export interface RegistrationThrottlePolicy {
  /** Registrations (attempts, whatever their outcome) per window. @default 10 */
  readonly maxAttempts: number;
  /** @default 1 hour */
  readonly windowMs: number;
}

/** Options of {@link LoginThrottle}. */
export interface LoginThrottleOptions {
  readonly db: Kysely<Database>;
  /** @default systemClock */
  readonly clock?: Clock;
  readonly account?: Partial<AccountThrottlePolicy>;
  readonly ip?: Partial<IpThrottlePolicy>;
  readonly registration?: Partial<RegistrationThrottlePolicy>;
}

/** A counted attempt from {@link LoginThrottle.attempt}. */
export interface ThrottledAttempt {
  /** The password was right: clears the account keys and gives back the IP keys' count. */
  succeeded(): Promise<void>;
}

/** The throttle key of an account: `account:<email, trimmed and lowercased>`. Unknown emails get one too. */
export function accountKey(email: string): string {
  return `account:${email.trim().toLowerCase()}`;
}

/**
 * The throttle key of a client address: `ip:<IPv4>`, or `ip:<first 64 bits>::/64` for IPv6, since
 * one subscriber usually holds a whole /64 and could otherwise rotate through addresses for free.
 * IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as the IPv4 address.
 */
export function ipKey(ip: string): string {
  const address = ip
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/%.*$/, '');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(address)?.[1];
  if (mapped !== undefined && isIPv4(mapped)) return `ip:${mapped}`;
  if (isIPv6(address)) return `ip:${ipv6Prefix64(address)}/64`;
  return `ip:${address}`;
}

/**
 * The registration throttle key of a client address: `register:` and the address as {@link ipKey}
 * groups it (an IPv6 /64 counts as one address).
 */
export function registrationKey(ip: string): string {
  return `register:${ipKey(ip).slice('ip:'.length)}`;
}

function ipv6Prefix64(address: string): string {
  const [head = '', tail] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  // A trailing dotted IPv4 part stands for two groups.
  const width = (groups: string[]): number => groups.reduce((n, g) => n + (g.includes('.') ? 2 : 1), 0);
  const zeros = tail === undefined ? 0 : 8 - width(headGroups) - width(tailGroups);
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::`;
}

function waitText(seconds: number): string {
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

/**
 * Slows password guessing, per account and per client address, with the counts in Postgres so that
 * every API process sees the same ones.
 *
 * - `account:` keys: 5 failures within 15 minutes lock the account for 30 s; each further failure
 *   doubles the lock, up to 15 minutes. While locked (and for 15 minutes after a lock ends) the
 *   count keeps growing; a correct password clears it. Unknown emails are counted the same way, so
 *   a lock reveals nothing about which accounts exist.
 * - `ip:` keys: 20 failures per 15-minute window; then attempts wait for the window to end. A
 *   correct password does not clear it (an attacker's own account must not reset their count).
 *
 * - `register:` keys: account registrations per client address, 10 per hour; then registration
 *   waits for the window to end (RATE_LIMITED).
 *
 * Sign-in uses {@link LoginThrottle.attempt}, which checks and counts in one transaction: parallel
 * guesses cannot slip past the limit between a check and a count.
 *
 * @example
 * const attempt = await throttle.attempt([accountKey(email), ipKey(ip)]); // AUTH_THROTTLED when locked
 * if (await verifyPassword(hash, password)) await attempt.succeeded();
 */
export class LoginThrottle {
  readonly #db: Kysely<Database>;
  readonly #clock: Clock;
  readonly #account: AccountThrottlePolicy;
  readonly #ip: IpThrottlePolicy;
  readonly #registration: IpThrottlePolicy;

  constructor(options: LoginThrottleOptions) {
    this.#db = options.db;
    this.#clock = options.clock ?? systemClock;
    this.#account = {
      maxFailures: 5,
      windowMs: 15 * MINUTE_MS,
      baseLockMs: 30_000,
      maxLockMs: 15 * MINUTE_MS,
      ...options.account,
    };
    this.#ip = { maxFailures: 20, windowMs: 15 * MINUTE_MS, ...options.ip };
    // The same fixed window as an ip: key, counting every registration as an ip: key counts failures.
    this.#registration = {
      maxFailures: options.registration?.maxAttempts ?? 10,
      windowMs: options.registration?.windowMs ?? 60 * MINUTE_MS,
    };
  }

  /**
   * Counts one registration from `ip`; throws RATE_LIMITED (with `details.retryAfterSeconds`, counting
   * nothing) when the address has used up its registrations for the window.
   */
  async registration(ip: string): Promise<void> {
    await this.#count([registrationKey(ip)], true);
  }

  /** Throws AUTH_THROTTLED, with `details.retryAfterSeconds`, when any of `keys` is locked. */
  async check(keys: readonly string[]): Promise<void> {
    const unique = this.#validKeys(keys);
    if (unique.length === 0) return;
    const rows = await this.#db.selectFrom('login_throttle').selectAll().where('key', 'in', unique).execute();
    this.#throwIfLocked(rows, this.#clock.now());
  }

  /** Counts a failed sign-in against each key, locking those past their limit. */
  async recordFailure(keys: readonly string[]): Promise<void> {
    await this.#count(keys, false);
  }

  /** Clears an account key after a correct password. */
  async recordSuccess(accountKey: string): Promise<void> {
    this.#validKeys([accountKey]);
    await this.#db.deleteFrom('login_throttle').where('key', '=', accountKey).execute();
  }

  /**
   * Checks `keys` and counts a failure against each in advance, in one transaction: throws
   * AUTH_THROTTLED (counting nothing) when one is locked. Call `succeeded()` on the result when
   * the password turns out right; otherwise the failure is already counted.
   */
  async attempt(keys: readonly string[]): Promise<ThrottledAttempt> {
    const windows = await this.#count(keys, true);
    return {
      succeeded: async () => {
        for (const [key, windowStartedAt] of windows) {
          if (key.startsWith('account:')) await this.recordSuccess(key);
          else await this.#refund(key, windowStartedAt);
        }
      },
    };
  }

  /** Deletes rows whose window and lock are long over; run it now and then. Returns how many. */
  async prune(): Promise<number> {
    const now = this.#clock.now();
    const before = (ms: number) => new Date(now.getTime() - ms);
    const signIn = before(Math.max(this.#account.windowMs, this.#ip.windowMs));
    const registration = before(this.#registration.windowMs);
    const result = await this.#db
      .deleteFrom('login_throttle')
      .where((eb) =>
        eb.or([
          eb.and([eb('key', 'like', 'register:%'), eb('window_started_at', '<=', registration)]),
          eb.and([eb('key', 'not like', 'register:%'), eb('window_started_at', '<=', signIn)]),
        ]),
      )
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  #validKeys(keys: readonly string[]): string[] {
    for (const key of keys)
      if (!key.startsWith('account:') && !key.startsWith('ip:') && !key.startsWith('register:'))
        throw new Error(`LoginThrottle: key ${JSON.stringify(key)} is not account:, ip: or register:`);
    // Sorted, so concurrent transactions lock rows in one order and cannot deadlock.
    return [...new Set(keys)].sort();
  }

  #throwIfLocked(rows: readonly LoginThrottleRow[], now: Date): void {
    let waitMs = 0;
    let registration = false;
    for (const row of rows)
      if (row.locked_until && row.locked_until > now) {
        waitMs = Math.max(waitMs, row.locked_until.getTime() - now.getTime());
        registration ||= row.key.startsWith('register:');
      }
    if (waitMs === 0) return;
    const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
    if (registration)
      throw new AtelierError(
        'RATE_LIMITED',
        `Too many accounts were registered from this address. Try again in ${waitText(retryAfterSeconds)}.`,
        { details: { retryAfterSeconds } },
      );
    throw new AtelierError(
      'AUTH_THROTTLED',
      `Too many failed sign-in attempts. Try again in ${waitText(retryAfterSeconds)}.`,
      { details: { retryAfterSeconds } },
    );
  }

  /** Counts one failure per key; returns each key's window start, for a refund. */
  async #count(keys: readonly string[], rejectIfLocked: boolean): Promise<Map<string, Date>> {
    const unique = this.#validKeys(keys);
    if (unique.length === 0) return new Map();
    return this.#db.transaction().execute(async (trx) => {
      const now = this.#clock.now();
      const rows = await lockRows(trx, unique, now);
      if (rejectIfLocked) this.#throwIfLocked(rows, now);
      const windows = new Map<string, Date>();
      for (const row of rows) {
        const next = row.key.startsWith('account:')
          ? this.#accountFailure(row, now)
          : this.#ipFailure(row, now, row.key.startsWith('register:') ? this.#registration : this.#ip);
        await trx.updateTable('login_throttle').set(next).where('key', '=', row.key).execute();
        windows.set(row.key, next.window_started_at);
      }
      return windows;
    });
  }

  #accountFailure(row: LoginThrottleRow, now: Date): Omit<LoginThrottleRow, 'key'> {
    const p = this.#account;
    const fresh = now.getTime() >= row.window_started_at.getTime() + p.windowMs;
    const failures = fresh ? 1 : row.failures + 1;
    if (failures < p.maxFailures)
      return { failures, window_started_at: fresh ? now : row.window_started_at, locked_until: null };
    const doublings = Math.min(failures - p.maxFailures, 30);
    const lockedUntil = new Date(now.getTime() + Math.min(p.baseLockMs * 2 ** doublings, p.maxLockMs));
    // The window restarts when the lock ends: a failure within windowMs after it locks for longer.
    return { failures, window_started_at: lockedUntil, locked_until: lockedUntil };
  }

  #ipFailure(row: LoginThrottleRow, now: Date, p: IpThrottlePolicy): Omit<LoginThrottleRow, 'key'> {
    const fresh = now.getTime() >= row.window_started_at.getTime() + p.windowMs;
    const failures = fresh ? 1 : row.failures + 1;
    const windowStartedAt = fresh ? now : row.window_started_at;
    const lockedUntil = failures >= p.maxFailures ? new Date(windowStartedAt.getTime() + p.windowMs) : null;
    return { failures, window_started_at: windowStartedAt, locked_until: lockedUntil };
  }

  /** Takes back one counted failure of an IP key, if its window is still the one it was counted in. */
  async #refund(key: string, windowStartedAt: Date): Promise<void> {
    await this.#db.transaction().execute(async (trx) => {
      const [row] = await lockRows(trx, [key], this.#clock.now(), false);
      if (!row || row.window_started_at.getTime() !== windowStartedAt.getTime()) return;
      const failures = Math.max(0, row.failures - 1);
      await trx
        .updateTable('login_throttle')
        .set({ failures, locked_until: failures >= this.#ip.maxFailures ? row.locked_until : null })
        .where('key', '=', key)
        .execute();
    });
  }
}

/** Locks the rows of `keys` for this transaction, creating missing ones (no failures yet) first. */
async function lockRows(
  trx: Transaction<Database>,
  keys: readonly string[],
  now: Date,
  create = true,
): Promise<LoginThrottleRow[]> {
  if (create)
    await trx
      .insertInto('login_throttle')
      .values(keys.map((key) => ({ key, failures: 0, window_started_at: now })))
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
  return trx
    .selectFrom('login_throttle')
    .selectAll()
    .where('key', 'in', keys)
    .orderBy('key')
    .forUpdate()
    .execute();
}
