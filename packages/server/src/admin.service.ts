import type { Kysely } from 'kysely';
import { AtelierError, describeIssues } from '@atelier/core';
import type { PluginInfo, PluginKind, PluginLoadFailure, PluginRegistry } from '@atelier/core';
import type { Database, DatabaseHandle, UserRole } from '@atelier/db';
import { JobService, QuotaService, savePluginState } from '@atelier/jobs';
import type { JobQueue, JobRecord, QueueCounts, QuotaOverrides, QuotaStatus } from '@atelier/jobs';
import { AccountService } from './auth/index.ts';
import type { UserRecord } from './auth/index.ts';

import { audit } from './audit.ts';
import type { Actor } from './audit.ts';
import { TOKENS, injectable } from './tokens.ts';

export type { Actor } from './audit.ts';

/** A plugin as administrators see it: enabled or not, with how many jobs used it. */
export interface PluginUsage {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly kind: PluginKind;
  readonly builtin: boolean;
  readonly enabled: boolean;
  readonly defaults: Readonly<Record<string, unknown>>;
  /** Its parameters' JSON Schema, so a console can edit the defaults of a disabled plugin too. */
  readonly paramsSchema: Readonly<Record<string, unknown>>;
  /** What it asks an administrator to grant (hosts, secret names). */
  readonly capabilities: PluginInfo['capabilities'];
  readonly jobs: number;
}

/** A user with their job count. */
export interface AdminUser {
  readonly id: string;
  readonly email: string;
  readonly displayName: string;
  readonly role: UserRole;
  readonly disabled: boolean;
  readonly jobs: number;
  readonly createdAt: string;
}

/** Jobs by status. */
export interface JobCounts {
  queued: number;
  running: number;
  succeeded: number;
  failed: number;
  cancelled: number;
}

/** One entry of the audit log. */
export interface AuditEntry {
  readonly id: string;
  readonly action: string;
  readonly target: { readonly type: string; readonly id: string | null };
  /** The administrator's email (null once the account is gone). */
  readonly actor: string | null;
  readonly details: Record<string, unknown>;
  readonly at: string;
}

/** Jobs by status, from a `select status, count(*)`. */
export function jobCounts(rows: readonly { status: keyof JobCounts; n: string | number }[]): JobCounts {
  const counts: JobCounts = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
  for (const row of rows) counts[row.status] = Number(row.n);
  return counts;
}

/**
 * The administrator's tools: plugins, users, quotas, the queue and failed jobs. Every change is
 * written to the audit log with the actor and request id, in the same transaction as the change
 * where it has one.
 */
export class AdminService {
  readonly #db: Kysely<Database>;
  readonly #registry: PluginRegistry;
  readonly #queue: JobQueue;
  readonly #jobs: JobService;
  readonly #accounts: AccountService;
  readonly #quotas: QuotaService;

  constructor(
    database: DatabaseHandle,
    registry: PluginRegistry,
    queue: JobQueue,
    jobs: JobService,
    accounts: AccountService,
    quotas: QuotaService,
  ) {
    this.#db = database.db;
    this.#registry = registry;
    this.#queue = queue;
    this.#jobs = jobs;
    this.#accounts = accounts;
    this.#quotas = quotas;
  }

  /** Every plugin, enabled or not, with how often it was used. */
  async plugins(): Promise<PluginUsage[]> {
    const usage = await this.#db
      .selectFrom('jobs')
      .select(['style', ({ fn }) => fn.countAll<string>().as('jobs')])
      .groupBy('style')
      .execute();
    const used = new Map(usage.map((u) => [u.style, Number(u.jobs)]));
    return this.#registry.list({ includeDisabled: true }).map((p) => ({
      id: p.id,
      name: p.name,
      version: p.version,
      kind: p.kind,
      builtin: p.builtin,
      enabled: p.enabled,
      defaults: p.defaults,
      paramsSchema: p.paramsSchema,
      capabilities: p.capabilities,
      jobs: used.get(p.id) ?? 0,
    }));
  }

  /** The third-party plugins this process skipped at start-up, with the coded error of each. */
  pluginFailures(): PluginLoadFailure[] {
    return [...this.#registry.failures()];
  }

  /**
   * Enables or disables a plugin and sets its default parameters: stored (every process applies it
   * on the notification) and applied to this process at once. Missing fields stay as they are.
   *
   * @throws AtelierError PLUGIN_NOT_FOUND, PARAMS_INVALID (the defaults; nothing is stored)
   */
  async setPlugin(
    actor: Actor,
    input: { readonly id: string; readonly enabled?: boolean; readonly defaults?: Record<string, unknown> },
  ): Promise<PluginInfo> {
    const registry = this.#registry;
    const plugin = registry.get(input.id); // PLUGIN_NOT_FOUND
    const enabled = input.enabled ?? registry.isEnabled(input.id);
    const defaults = input.defaults ?? { ...registry.overrides(input.id) };
    const probe = plugin.params.partial().strict().safeParse(defaults);
    if (!probe.success)
      throw new AtelierError(
        'PARAMS_INVALID',
        `Invalid defaults for ${input.id}: ${describeIssues(probe.error.issues)}`,
        {
          details: {
            plugin: input.id,
            issues: probe.error.issues.map((i) => ({
              path: ['defaults', ...i.path.map(String)],
              message: i.message,
            })),
          },
        },
      );
    await this.#db.transaction().execute(async (trx) => {
      await savePluginState(trx, { pluginId: input.id, enabled, defaults, actorId: actor.id });
      await audit(trx, actor, 'plugin.update', { type: 'plugin', id: input.id }, { enabled, defaults });
    });
    if (enabled) registry.enable(input.id);
    else registry.disable(input.id);
    registry.setDefaults(input.id, defaults);
    return registry.describe(input.id);
  }

  /** Users, newest first, with their job counts. */
  async users(page: { readonly limit: number; readonly offset: number }): Promise<AdminUser[]> {
    const rows = await this.#db
      .selectFrom('users')
      .leftJoin('jobs', 'jobs.owner_id', 'users.id')
      .select([
        'users.id',
        'users.email',
        'users.display_name',
        'users.role',
        'users.disabled_at',
        'users.created_at',
        ({ fn }) => fn.count<string>('jobs.id').as('jobs'),
      ])
      .groupBy('users.id')
      .orderBy('users.created_at', 'desc')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return rows.map((r) => ({
      id: r.id,
      email: r.email,
      displayName: r.display_name,
      role: r.role,
      disabled: r.disabled_at !== null,
      jobs: Number(r.jobs),
      createdAt: r.created_at.toISOString(),
    }));
  }

  /**
   * Disables (ending the user's sessions) or enables an account; an administrator cannot disable
   * their own.
   *
   * @throws AtelierError REQUEST_REFUSED, USER_NOT_FOUND
   */
  async setUserDisabled(actor: Actor, userId: string, disabled: boolean): Promise<void> {
    if (userId === actor.id)
      throw new AtelierError('REQUEST_REFUSED', 'You cannot disable your own account.');
    await this.#accounts.setDisabled(userId, disabled, async (trx) => {
      // Disabling an administrator takes the same lock as a demotion: an administrator disabled
      // while another steps down at the same moment cannot leave none.
      if (disabled) await this.#refuseLastAdmin(trx, userId);
      await audit(trx, actor, disabled ? 'user.disable' : 'user.enable', { type: 'user', id: userId });
    });
  }

  /** LAST_ADMIN when `userId` is the only enabled administrator; their rows stay locked until `trx` ends. */
  async #refuseLastAdmin(trx: Kysely<Database>, userId: string): Promise<void> {
    const admins = await trx
      .selectFrom('users')
      .select('id')
      .where('role', '=', 'admin')
      .where('disabled_at', 'is', null)
      .forUpdate()
      .execute();
    if (admins.length === 1 && admins[0]!.id === userId)
      throw new AtelierError(
        'LAST_ADMIN',
        'This is the last enabled administrator: make another user an administrator first.',
        { details: { userId } },
      );
  }

  /**
   * Gives a user the admin role or takes it back, audited in the same transaction. Taking it from
   * the last enabled administrator is refused: the enabled administrators' rows are locked first,
   * so two administrators demoting each other at once cannot leave none.
   *
   * @throws AtelierError LAST_ADMIN, USER_NOT_FOUND
   */
  async setUserRole(actor: Actor, userId: string, role: UserRole): Promise<UserRecord> {
    return this.#db.transaction().execute(async (trx) => {
      if (role !== 'admin') await this.#refuseLastAdmin(trx, userId);
      const user = await this.#accounts.setRole(userId, role, trx); // USER_NOT_FOUND
      await audit(trx, actor, 'user.role', { type: 'user', id: userId }, { role });
      return user;
    });
  }

  /** Sets a user's own quotas (see QuotaService.setLimits), audited in the same transaction. */
  async setUserQuota(actor: Actor, userId: string, overrides: QuotaOverrides): Promise<QuotaStatus> {
    return this.#db.transaction().execute(async (trx) => {
      await audit(trx, actor, 'user.quota', { type: 'user', id: userId }, { ...overrides });
      return this.#quotas.setLimits(userId, overrides, trx);
    });
  }

  /** Jobs by status, and the queues' own counts (the dead-letter queue's too). */
  async queue(): Promise<{ jobs: JobCounts; queues: QueueCounts[] }> {
    const rows = await this.#db
      .selectFrom('jobs')
      .select(['status', ({ fn }) => fn.countAll<string>().as('n')])
      .groupBy('status')
      .execute();
    return { jobs: jobCounts(rows), queues: [...(await this.#queue.counts())] };
  }

  /** Failed jobs of every user, newest first. */
  async failedJobs(limit: number): Promise<JobRecord[]> {
    return (await this.#jobs.list({ status: 'failed', limit })).items;
  }

  /** Queues a failed or cancelled job again. @throws AtelierError JOB_NOT_FOUND, JOB_NOT_RETRYABLE */
  async retryJob(actor: Actor, jobId: string): Promise<JobRecord> {
    const job = await this.#jobs.retry(jobId);
    await audit(this.#db, actor, 'job.retry', { type: 'job', id: jobId });
    return job;
  }

  /** Cancels anyone's job. @throws AtelierError JOB_NOT_FOUND, JOB_ALREADY_FINISHED */
  async cancelJob(actor: Actor, jobId: string): Promise<JobRecord> {
    const job = await this.#jobs.cancel(jobId);
    await audit(this.#db, actor, 'job.cancel', { type: 'job', id: jobId });
    return job;
  }

  /** The audit log, newest first. */
  async auditLog(limit: number): Promise<AuditEntry[]> {
    const rows = await this.#db
      .selectFrom('audit_log')
      .leftJoin('users', 'users.id', 'audit_log.actor_id')
      .select([
        'audit_log.id',
        'audit_log.action',
        'audit_log.target_type',
        'audit_log.target_id',
        'audit_log.details',
        'audit_log.created_at',
        'users.email',
      ])
      .orderBy('audit_log.id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({
      id: String(r.id),
      action: r.action,
      target: { type: r.target_type, id: r.target_id },
      actor: r.email,
      details: r.details,
      at: r.created_at.toISOString(),
    }));
  }
}
injectable(AdminService, [
  TOKENS.Database,
  TOKENS.PluginRegistry,
  TOKENS.JobQueue,
  JobService,
  AccountService,
  QuotaService,
]);
