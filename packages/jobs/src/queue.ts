import { PgBoss, fromKysely } from 'pg-boss';
import type { Kysely } from 'kysely';
import type { Logger } from '@atelier/core';
import { silentLogger } from '@atelier/core';
import { PreparingClient } from '@atelier/db';

/** The queue every render job goes through, and where jobs go when their retries are spent. */
export const RENDER_QUEUE = 'atelier-render';
export const DEAD_LETTER_QUEUE = 'atelier-render-dead';

/** What goes into a pg-boss job: only the id of our jobs row, which holds everything else. */
export interface RenderPayload {
  readonly jobId: string;
}

/** The queue policies: retries, backoff, expiry. */
export interface QueuePolicyOptions {
  /** Retries after the first attempt before a job is dead. @default 2 */
  readonly retryLimit?: number;
  /** Seconds before the first retry; doubles each time with jitter. @default 2 */
  readonly retryDelaySeconds?: number;
  /** Longest wait between retries. @default 300 */
  readonly retryDelayMaxSeconds?: number;
  /** A job still active after this long (its worker died or hung) is retried elsewhere. @default 900 */
  readonly expireInSeconds?: number;
  /**
   * Workers refresh a running job's heartbeat; a job whose worker died (no heartbeat for this
   * long) is retried elsewhere long before its expiry. At least 10. @default 30
   */
  readonly heartbeatSeconds?: number;
}

/** Options of {@link createBoss}. */
export interface BossOptions {
  readonly url: string;
  /** How often pg-boss looks for expired jobs and keeps its tables. @default 10 */
  readonly superviseIntervalSeconds?: number;
  readonly logger?: Logger;
}

/**
 * A pg-boss instance with LISTEN/NOTIFY on, so an idle worker starts a new job within
 * milliseconds instead of a polling interval. Call `start()` on it.
 */
export function createBoss(options: BossOptions): PgBoss {
  const logger = options.logger ?? silentLogger;
  const boss = new PgBoss({
    connectionString: options.url,
    application_name: 'atelier-queue',
    useListenNotify: true,
    superviseIntervalSeconds: options.superviseIntervalSeconds ?? 10,
    maintenanceIntervalSeconds: Math.max(options.superviseIntervalSeconds ?? 10, 10),
    monitorIntervalSeconds: Math.max(options.superviseIntervalSeconds ?? 10, 10),
    schedule: false,
    max: 6,
    // Its fetch and complete statements, run for every job, are prepared once per connection:
    // pg-boss hands its options to its pg.Pool (Db.open), whose `Client` option this is.
    ...{ Client: PreparingClient },
  });
  boss.on('error', (error: unknown) => logger.warn('queue error', describeQueueError(error)));
  boss.on('warning', (warning: unknown) =>
    logger.debug('queue warning', {
      warning: typeof warning === 'object' ? JSON.stringify(warning).slice(0, 300) : String(warning),
    }),
  );
  return boss;
}

/**
 * What to log of a pg-boss `error` event. Its workers emit plain objects (the error's own fields
 * spread, plus `message`, `queue` and `worker`), not Error instances, and some carry a whole pg
 * client: only the message, the SQLSTATE or socket code and the queue are kept.
 */
function describeQueueError(error: unknown): { error: string; code?: string; queue?: string } {
  if (typeof error !== 'object' || error === null) return { error: String(error) };
  const { message, code, queue } = error as { message?: unknown; code?: unknown; queue?: unknown };
  return {
    error: typeof message === 'string' ? message : Object.prototype.toString.call(error),
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof queue === 'string' ? { queue } : {}),
  };
}

/** Creates or updates the render queue and its dead-letter queue with the given policies. */
export async function ensureQueues(boss: PgBoss, policy: QueuePolicyOptions = {}): Promise<void> {
  // A copy whose handling failed (the database went away meanwhile) is tried again: until it is
  // handled, its job reads `running`.
  const dead = {
    notify: true,
    retryLimit: 10,
    retryDelay: 2,
    retryBackoff: true,
    retryDelayMax: 60,
    deleteAfterSeconds: 14 * 24 * 3600,
  };
  const render = {
    policy: 'standard' as const,
    notify: true,
    retryLimit: policy.retryLimit ?? 2,
    retryDelay: policy.retryDelaySeconds ?? 2,
    retryBackoff: true,
    retryDelayMax: policy.retryDelayMaxSeconds ?? 300,
    expireInSeconds: policy.expireInSeconds ?? 900,
    heartbeatSeconds: Math.max(10, policy.heartbeatSeconds ?? 30),
    deadLetter: DEAD_LETTER_QUEUE,
    deleteAfterSeconds: 7 * 24 * 3600,
  };
  for (const [name, options] of [
    [DEAD_LETTER_QUEUE, dead],
    [RENDER_QUEUE, render],
  ] as const) {
    if (await boss.getQueue(name)) {
      const {
        policy: _policy,
        heartbeatSeconds: _heartbeat,
        ...changeable
      } = options as typeof options & {
        policy?: string;
        heartbeatSeconds?: number;
      };
      await boss.updateQueue(name, changeable);
    } else
      await boss.createQueue(name, options).catch(async (error: unknown) => {
        // Another process created it meanwhile.
        if (!(await boss.getQueue(name))) throw error;
      });
  }
}

/**
 * Puts a render job on the queue inside the caller's transaction, so the job row and its queue
 * entry commit or roll back together. Jobs are grouped by plugin id, which per-plugin
 * concurrency limits use.
 */
export async function enqueueRender(
  boss: PgBoss,
  trx: Kysely<never> | Kysely<Record<string, never>>,
  args: { queueJobId: string; jobId: string; style: string; priority: number; startAfterSeconds?: number },
): Promise<void> {
  const payload: RenderPayload = { jobId: args.jobId };
  await boss.send(RENDER_QUEUE, payload, {
    id: args.queueJobId,
    priority: args.priority,
    group: { id: args.style, tier: args.style },
    ...(args.startAfterSeconds ? { startAfter: args.startAfterSeconds } : {}),
    db: fromKysely(trx),
  });
}
