import { sql } from 'kysely';
import type { Kysely, RawBuilder } from 'kysely';
import { AtelierError } from '@atelier/core';
import type { Database, UsageKind } from '@atelier/db';

/** What one user may use. 0 in any field means no limit. */
export interface QuotaLimits {
  /** Bytes of originals and results the user may keep (each job's output counts for its owner). */
  readonly storedBytes: number;
  /** Jobs the user may create in any hour (cache hits included; deleting jobs gives none back). */
  readonly jobsPerHour: number;
  /** Previews the user may run in any minute. */
  readonly previewsPerMinute: number;
  /** Cost units (see {@link usageCost}) the user's previews, uploads and jobs may spend in any minute. */
  readonly costPerMinute: number;
}

/** The server's quotas when the environment sets none: roomy for one person, a bound for a crowd. */
export const DEFAULT_QUOTAS: QuotaLimits = Object.freeze({
  storedBytes: 10 * 1024 ** 3,
  jobsPerHour: 1000,
  previewsPerMinute: 60,
  costPerMinute: 600,
});

/** What a user has used: stored bytes now, and calls in each sliding window. */
export interface QuotaUsage {
  readonly storedBytes: number;
  readonly jobsLastHour: number;
  readonly previewsLastMinute: number;
  readonly costLastMinute: number;
}

/** A user's limits (their own where set, else the server's), what they used, and which are their own. */
export interface QuotaStatus {
  readonly limits: QuotaLimits;
  readonly usage: QuotaUsage;
  /** The limits an administrator set for this user; the others are the server's defaults. */
  readonly overrides: Partial<QuotaLimits>;
}

/** Per-user limits an administrator sets; null goes back to the server's default. */
export type QuotaOverrides = { readonly [K in keyof QuotaLimits]?: number | null | undefined };

/** One call to charge. */
export interface QuotaCharge {
  readonly kind: UsageKind;
  /** Cost units; a cost above the user's whole budget is charged as the budget. */
  readonly cost: number;
  /** Bytes the call will add to the user's storage, checked against `storedBytes` when given. */
  readonly bytes?: number;
}

const MEGA = 1_000_000;

/**
 * The cost of a call in budget units: a preview costs 1 per step (it runs on a ≤ 512 px proxy);
 * an upload 1 plus 1 per MiB; a job, for each step, 1 per started megapixel that step makes (at
 * least 1). A 12 MP photo through one style costs 12; resizing it to 40 MP and styling it, 80.
 */
export function usageCost(
  call:
    | { readonly kind: 'preview'; readonly steps: number }
    | { readonly kind: 'upload'; readonly bytes: number }
    | { readonly kind: 'job'; readonly stepPixels: readonly number[] },
): number {
  switch (call.kind) {
    case 'preview':
      return Math.max(1, call.steps);
    case 'upload':
      return 1 + Math.floor(call.bytes / 1024 ** 2);
    case 'job':
      return Math.max(
        1,
        call.stepPixels.reduce((sum, pixels) => sum + Math.max(1, Math.ceil(pixels / MEGA)), 0),
      );
  }
}

/** The bytes of originals and results a user keeps; `owner` is their id, a value or a column. */
const storedBytesOf = (owner: RawBuilder<unknown>) =>
  sql<string>`(select coalesce(sum(bytes), 0) from images where owner_id = ${owner})
    + (select coalesce(sum(output_bytes), 0) from jobs where owner_id = ${owner})`;

/** What a user used in the sliding windows. */
type Windows = Omit<QuotaUsage, 'storedBytes'>;

/** Sums of a user's usage rows of the last hour (the caller filters them) for each window. */
const windowSums = () => {
  const minute = sql`at > clock_timestamp() - interval '1 minute'`;
  return [
    sql<string>`coalesce(sum(cost) filter (where ${minute}), 0)`.as('cost'),
    sql<string>`count(*) filter (where kind = 'preview' and ${minute})`.as('previews'),
    sql<string>`count(*) filter (where kind = 'job')`.as('jobs'),
  ] as const;
};

/** {@link windowSums} as numbers; a user with no rows used nothing. */
const windowsOf = (row: { cost?: string; previews?: string; jobs?: string }): Windows => ({
  costLastMinute: Number(row.cost ?? 0),
  previewsLastMinute: Number(row.previews ?? 0),
  jobsLastHour: Number(row.jobs ?? 0),
});

const COLUMNS = {
  storedBytes: 'quota_stored_bytes',
  jobsPerHour: 'quota_jobs_per_hour',
  previewsPerMinute: 'quota_previews_per_minute',
  costPerMinute: 'quota_cost_per_minute',
} as const satisfies Record<keyof QuotaLimits, string>;

const KEYS = Object.keys(COLUMNS) as (keyof QuotaLimits)[];

/**
 * Per-user quotas, counted in Postgres so that every API process sees the same numbers. A charge
 * runs inside the caller's transaction, under a per-user advisory lock: the check and the write of
 * the usage row (and the caller's own writes, such as the image row) are one step for that user,
 * so concurrent calls cannot all squeeze under a limit. Windows slide: a call counts for exactly
 * the minute (or hour) after it.
 */
export class QuotaService {
  readonly #db: Kysely<Database>;
  readonly #defaults: QuotaLimits;

  constructor(options: { db: Kysely<Database>; defaults?: Partial<QuotaLimits> }) {
    this.#db = options.db;
    this.#defaults = { ...DEFAULT_QUOTAS, ...options.defaults };
  }

  /** The server's defaults. */
  get defaults(): QuotaLimits {
    return this.#defaults;
  }

  /**
   * Checks a call against the user's quotas and records it, in `trx` when given (commit it with
   * the work, so that a refused or failed call costs nothing), else in a transaction of its own. Throws `QUOTA_EXCEEDED` (with `retryAfterSeconds`)
   * for the windows, `STORAGE_QUOTA_EXCEEDED` for stored bytes, `USER_NOT_FOUND`.
   */
  async charge(userId: string, charge: QuotaCharge, trx?: Kysely<Database>): Promise<void> {
    if (!trx) return this.#db.transaction().execute((own) => this.charge(userId, charge, own));
    await sql`select pg_advisory_xact_lock(hashtextextended(${`atelier.quota:${userId}`}, 0))`.execute(trx);
    const { limits } = await this.#limitsOf(trx, userId);
    // Old rows count for nothing; drop this user's while we hold their lock.
    await trx
      .deleteFrom('usage_events')
      .where('user_id', '=', userId)
      .where('at', '<', sql<Date>`clock_timestamp() - interval '1 hour'`)
      .execute();
    const usage = await this.#windows(trx, userId);
    if (charge.kind === 'preview')
      await this.#checkCount(trx, userId, 'preview', 60, usage.previewsLastMinute, limits.previewsPerMinute);
    if (charge.kind === 'job')
      await this.#checkCount(trx, userId, 'job', 3600, usage.jobsLastHour, limits.jobsPerHour);
    const cost = limits.costPerMinute > 0 ? Math.min(charge.cost, limits.costPerMinute) : charge.cost;
    if (limits.costPerMinute > 0 && usage.costLastMinute + cost > limits.costPerMinute) {
      const wait = await this.#wait(
        trx,
        userId,
        60,
        undefined,
        usage.costLastMinute + cost - limits.costPerMinute,
      );
      throw exceeded('costPerMinute', limits.costPerMinute, usage.costLastMinute, wait, cost);
    }
    if (charge.bytes !== undefined && limits.storedBytes > 0) {
      const stored = await this.#storedBytes(trx, userId);
      if (stored + charge.bytes > limits.storedBytes) {
        throw new AtelierError(
          'STORAGE_QUOTA_EXCEEDED',
          `Your images and results take ${stored} bytes; with ${charge.bytes} more you would pass your storage quota of ${limits.storedBytes} bytes.`,
          {
            details: {
              quota: 'storedBytes',
              limit: limits.storedBytes,
              used: stored,
              requested: charge.bytes,
            },
          },
        );
      }
    }
    await trx
      .insertInto('usage_events')
      .values({ user_id: userId, kind: charge.kind, cost, at: sql<Date>`clock_timestamp()` })
      .execute();
  }

  /** Deletes every user's usage rows older than the longest window (each charge prunes its own user's). */
  async prune(): Promise<number> {
    const result = await this.#db
      .deleteFrom('usage_events')
      .where('at', '<', sql<Date>`clock_timestamp() - interval '1 hour'`)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  /** A user's limits, usage and own settings. Throws `USER_NOT_FOUND`. */
  async status(userId: string, db: Kysely<Database> = this.#db): Promise<QuotaStatus> {
    const { limits, overrides } = await this.#limitsOf(db, userId);
    const windows = await this.#windows(db, userId);
    const storedBytes = await this.#storedBytes(db, userId);
    return { limits, overrides, usage: { ...windows, storedBytes } };
  }

  /**
   * A page of every user's quota status, the most stored bytes (originals and results) first, then
   * by id: who is filling the disk or burning the budget.
   */
  async list(page: {
    readonly limit: number;
    readonly offset: number;
  }): Promise<(QuotaStatus & { readonly userId: string })[]> {
    // Two queries for the page, not three per user: the users with their limits and stored bytes,
    // then the windows of all of them.
    const users = await this.#db
      .selectFrom('users')
      .select(['users.id', ...Object.values(COLUMNS), storedBytesOf(sql.ref('users.id')).as('stored_bytes')])
      .orderBy('stored_bytes', 'desc')
      .orderBy('users.id')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    if (users.length === 0) return [];
    const windows = await this.#db
      .selectFrom('usage_events')
      .select(['user_id', ...windowSums()])
      .where(
        'user_id',
        'in',
        users.map((u) => u.id),
      )
      .where('at', '>', sql<Date>`clock_timestamp() - interval '1 hour'`)
      .groupBy('user_id')
      .execute();
    const byUser = new Map(windows.map((w) => [w.user_id, windowsOf(w)]));
    return users.map((u) => ({
      userId: u.id,
      ...this.#limitsFrom(u),
      usage: { ...(byUser.get(u.id) ?? windowsOf({})), storedBytes: Number(u.stored_bytes) },
    }));
  }

  /** Sets (a number, 0 for no limit) or clears (null) a user's own limits. Throws `USER_NOT_FOUND`. */
  async setLimits(userId: string, overrides: QuotaOverrides, trx?: Kysely<Database>): Promise<QuotaStatus> {
    const db = trx ?? this.#db;
    const set: Record<string, number | null> = {};
    for (const key of KEYS) {
      const value = overrides[key];
      if (value !== undefined) set[COLUMNS[key]] = value;
    }
    if (Object.keys(set).length > 0) {
      const row = await db
        .updateTable('users')
        .set(set)
        .where('id', '=', userId)
        .returning('id')
        .executeTakeFirst();
      if (!row) throw new AtelierError('USER_NOT_FOUND', `No user ${userId}.`);
    }
    return this.status(userId, db);
  }

  async #limitsOf(
    db: Kysely<Database>,
    userId: string,
  ): Promise<{ limits: QuotaLimits; overrides: Partial<QuotaLimits> }> {
    const row = await db
      .selectFrom('users')
      .select(Object.values(COLUMNS))
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!row) throw new AtelierError('USER_NOT_FOUND', `No user ${userId}.`);
    return this.#limitsFrom(row);
  }

  /** Limits and overrides from a user's quota columns. */
  #limitsFrom(row: {
    readonly [C in (typeof COLUMNS)[keyof QuotaLimits]]: number | string | bigint | null;
  }): { limits: QuotaLimits; overrides: Partial<QuotaLimits> } {
    const overrides: Partial<Record<keyof QuotaLimits, number>> = {};
    for (const key of KEYS) {
      const value = row[COLUMNS[key]];
      if (value !== null) overrides[key] = Number(value);
    }
    return { limits: { ...this.#defaults, ...overrides }, overrides };
  }

  async #windows(db: Kysely<Database>, userId: string): Promise<Windows> {
    const row = await db
      .selectFrom('usage_events')
      .select(windowSums())
      .where('user_id', '=', userId)
      .where('at', '>', sql<Date>`clock_timestamp() - interval '1 hour'`)
      .executeTakeFirstOrThrow();
    return windowsOf(row);
  }

  async #storedBytes(db: Kysely<Database>, userId: string): Promise<number> {
    const row = await sql<{ bytes: string }>`select ${storedBytesOf(sql`${userId}`)} as bytes`.execute(db);
    return Number(row.rows[0]?.bytes ?? 0);
  }

  async #checkCount(
    db: Kysely<Database>,
    userId: string,
    kind: UsageKind,
    windowSeconds: number,
    used: number,
    limit: number,
  ): Promise<void> {
    if (limit <= 0 || used + 1 <= limit) return;
    const wait = await this.#wait(db, userId, windowSeconds, kind, used + 1 - limit);
    throw exceeded(kind === 'job' ? 'jobsPerHour' : 'previewsPerMinute', limit, used, wait);
  }

  /**
   * Seconds until enough of the window's calls (of `kind`, or all, weighted by cost) have left it
   * to free `need` units: when the oldest calls summing to `need` turn older than the window.
   */
  async #wait(
    db: Kysely<Database>,
    userId: string,
    windowSeconds: number,
    kind: UsageKind | undefined,
    need: number,
  ): Promise<number> {
    const weight = kind === undefined ? sql`cost` : sql`1`;
    const result = await sql<{ wait: string | null }>`
      select extract(epoch from (at + make_interval(secs => ${windowSeconds}) - clock_timestamp())) as wait
      from (
        select at, sum(${weight}) over (order by at, id) as running
        from usage_events
        where user_id = ${userId}
          and at > clock_timestamp() - make_interval(secs => ${windowSeconds})
          ${kind === undefined ? sql`` : sql`and kind = ${kind}`}
      ) e
      where running >= ${need}
      order by at
      limit 1`.execute(db);
    const wait = Number(result.rows[0]?.wait ?? windowSeconds);
    return Math.max(1, Math.ceil(wait));
  }
}

const WHAT: Record<Exclude<keyof QuotaLimits, 'storedBytes'>, string> = {
  jobsPerHour: 'jobs an hour',
  previewsPerMinute: 'previews a minute',
  costPerMinute: 'cost units a minute',
};

function exceeded(
  quota: Exclude<keyof QuotaLimits, 'storedBytes'>,
  limit: number,
  used: number,
  retryAfterSeconds: number,
  cost?: number,
): AtelierError {
  const costs = cost === undefined ? '' : ` (this call costs ${cost})`;
  return new AtelierError(
    'QUOTA_EXCEEDED',
    `You used ${used} of your ${limit} ${WHAT[quota]}${costs}; try again in ${retryAfterSeconds} s.`,
    {
      details: {
        quota,
        limit,
        used,
        retryAfterSeconds,
        ...(cost === undefined ? {} : { cost }),
      },
    },
  );
}
