import pg from 'pg';
import { PgBoss, fromKysely } from 'pg-boss';
import type { Db } from 'pg-boss';
import type { Logger } from '@atelier/core';
import { silentLogger } from '@atelier/core';
import { PreparingPool } from '@atelier/db';

/** The queue every render job goes through, and where jobs go when their retries are spent. */
export const RENDER_QUEUE = 'atelier-render';
export const DEAD_LETTER_QUEUE = 'atelier-render-dead';
/** The queue of the analysis on upload (image-analysis.ts): one job per new image. */
export const ANALYSIS_QUEUE = 'atelier-analysis';

/** What goes into a pg-boss job: only the id of our jobs row, which holds everything else. */
export interface RenderPayload {
  readonly jobId: string;
}

/** What goes into an analysis job: the image's id (its image_analysis row says the rest). */
export interface AnalysisPayload {
  readonly imageId: string;
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

/** The render queue as the rest of Atelier sees it; pg-boss stays inside @atelier/jobs. */
export interface JobQueue {
  /** Starts the queue and creates or updates the render, dead-letter and analysis queues. */
  start(): Promise<void>;
  /** Stops it (workers are stopped first by their owners). Idempotent. */
  stop(): Promise<void>;
  /** Resolves when the queue's tables answer; rejects with the database's error otherwise (readiness). */
  ping(): Promise<void>;
  /** The render, dead-letter and analysis queues' own counts (admin.queue shows them). */
  counts(): Promise<readonly QueueCounts[]>;
}

/** One queue's own counts, as pg-boss keeps them. */
export interface QueueCounts {
  readonly name: string;
  readonly queued: number;
  readonly active: number;
  readonly failed: number;
  readonly total: number;
}

/** Options of {@link createJobQueue}. */
export interface JobQueueOptions {
  /** Connection string of the database that holds the queue (pg-boss's schema). */
  readonly url: string;
  /** How often pg-boss looks for expired jobs and keeps its tables. @default 10 */
  readonly superviseIntervalSeconds?: number;
  /** Retries, backoff and expiry of the render queue, applied at every start. */
  readonly policy?: QueuePolicyOptions;
  readonly logger?: Logger;
}

/**
 * The render queue on pg-boss, with LISTEN/NOTIFY on, so an idle worker starts a new job within
 * milliseconds instead of a polling interval. `start()` creates or updates the render and
 * dead-letter queues with `options.policy`.
 */
export function createJobQueue(options: JobQueueOptions): JobQueue {
  return new PgBossQueue(options);
}

/**
 * The one implementation of {@link JobQueue}. Package-internal: {@link JobService} and
 * {@link RenderWorker} reach its pg-boss through {@link bossOf}; nothing outside @atelier/jobs
 * (but its test entry) sees it.
 */
class PgBossQueue implements JobQueue {
  readonly boss: PgBoss;
  readonly #options: JobQueueOptions;
  readonly #logger: Logger;
  /** pg-boss's connections: from start() to stop(). */
  #pool: PreparingPool | undefined;

  constructor(options: JobQueueOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
    // pg-boss's documented `db` option: every statement it runs goes through executeSql, here on a
    // PreparingPool, so its fetch and complete statements (run for every job) are prepared once
    // per connection. LISTEN/NOTIFY stays on: pg-boss listens through `listen`, on a connection of
    // its own, so an idle worker starts a new job within milliseconds instead of a polling
    // interval. With a `db` of ours pg-boss opens and closes no pool: start() and stop() do.
    const db: Db = {
      executeSql: (text, values) => {
        if (this.#pool === undefined) return Promise.reject(new Error('The job queue is not started.'));
        return this.#pool.query(text, values);
      },
      listen: (channel, onNotification, onReconnect) =>
        listen(options.url, channel, onNotification, onReconnect, this.#logger),
    };
    const supervise = options.superviseIntervalSeconds ?? 10;
    this.boss = new PgBoss({
      db,
      useListenNotify: true,
      superviseIntervalSeconds: supervise,
      maintenanceIntervalSeconds: Math.max(supervise, 10),
      monitorIntervalSeconds: Math.max(supervise, 10),
      schedule: false,
    });
    this.boss.on('error', (error: unknown) => this.#logger.warn('queue error', describeQueueError(error)));
    this.boss.on('warning', (warning: unknown) =>
      this.#logger.debug('queue warning', {
        warning: typeof warning === 'object' ? JSON.stringify(warning).slice(0, 300) : String(warning),
      }),
    );
  }

  async start(): Promise<void> {
    this.#pool ??= new PreparingPool(
      {
        connectionString: this.#options.url,
        application_name: 'atelier-queue',
        max: 6,
        connectionTimeoutMillis: 10_000,
      },
      (error) => this.#logger.warn('queue error', describeQueueError(error)),
    );
    try {
      await this.boss.start();
      await ensureQueues(this.boss, this.#options.policy);
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: false, close: true, timeout: 5000 });
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.end();
  }

  async ping(): Promise<void> {
    await this.boss.getQueue(RENDER_QUEUE);
  }

  async counts(): Promise<readonly QueueCounts[]> {
    const counts: QueueCounts[] = [];
    for (const name of [RENDER_QUEUE, DEAD_LETTER_QUEUE, ANALYSIS_QUEUE]) {
      const queue = await this.boss.getQueue(name);
      if (queue)
        counts.push({
          name,
          queued: queue.queuedCount,
          active: queue.activeCount,
          failed: queue.failedCount,
          total: queue.totalCount,
        });
    }
    return counts;
  }
}

/**
 * The pg-boss instance behind a queue from {@link createJobQueue} (for the job service, the worker
 * and tests, through `@atelier/jobs/testing`). Throws for any other {@link JobQueue}: the job
 * service and the worker need the real queue.
 */
export function bossOf(queue: JobQueue): PgBoss {
  if (!(queue instanceof PgBossQueue))
    throw new TypeError('The job service and the worker need a queue made by createJobQueue().');
  return queue.boss;
}

/**
 * The `listen` capability of pg-boss's `db` option: LISTEN on a dedicated connection (never one of
 * the pool's), re-established with backoff when it drops (Postgres restarting), `onReconnect`
 * called after each subscription so pg-boss fetches what it may have missed. The first
 * connection's failure rejects (pg-boss then polls only). A notification only wakes workers
 * sooner: their polling interval covers one that is lost.
 */
async function listen(
  url: string,
  channel: string,
  onNotification: (payload: string) => void,
  onReconnect: () => void,
  logger: Logger,
): Promise<{ close(): Promise<void> }> {
  let closed = false;
  let current: pg.Client | undefined;
  let retryMs = 500;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const drop = (client: pg.Client): void => {
    client.removeAllListeners('end');
    client.removeAllListeners('notification');
    client.end().catch(() => {});
  };
  const scheduleReconnect = (): void => {
    if (closed || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      connect().catch((error: unknown) => {
        logger.debug('queue listener reconnect failed', { error: String(error) });
        retryMs = Math.min(retryMs * 2, 10_000);
        scheduleReconnect();
      });
    }, retryMs);
    timer.unref();
  };
  const connect = async (): Promise<void> => {
    const client = new pg.Client({
      connectionString: url,
      application_name: 'atelier-queue',
      keepAlive: true,
    });
    const lost = (): void => {
      if (closed || current !== client) return;
      current = undefined;
      logger.warn('queue notification connection lost; reconnecting');
      drop(client);
      scheduleReconnect();
    };
    // Also keeps a late socket error from throwing (an `error` event with no listener would).
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.payload !== undefined) onNotification(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
    } catch (error) {
      drop(client);
      throw error;
    }
    if (closed) {
      drop(client);
      return;
    }
    current = client;
    retryMs = 500;
    onReconnect();
  };

  await connect();
  return {
    close: async () => {
      closed = true;
      clearTimeout(timer);
      const client = current;
      current = undefined;
      if (client) {
        client.removeAllListeners('end');
        await client.end().catch(() => {});
      }
    },
  };
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
async function ensureQueues(boss: PgBoss, policy: QueuePolicyOptions = {}): Promise<void> {
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
  // The analysis on upload: a few seconds' work at most; its failures are recorded on the image's
  // image_analysis row by the worker, so it needs no dead-letter queue.
  const analysis = {
    policy: 'standard' as const,
    notify: true,
    retryLimit: 3,
    retryDelay: 5,
    retryBackoff: true,
    retryDelayMax: 300,
    expireInSeconds: 300,
    heartbeatSeconds: 30,
    deleteAfterSeconds: 2 * 24 * 3600,
  };
  for (const [name, options] of [
    [DEAD_LETTER_QUEUE, dead],
    [RENDER_QUEUE, render],
    [ANALYSIS_QUEUE, analysis],
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

/** What {@link enqueueRender} runs its insert on: any Kysely instance or transaction, of any schema. */
export type KyselyExecutor = Parameters<typeof fromKysely>[0];

/**
 * Puts a render job on the queue inside the caller's transaction, so the job row and its queue
 * entry commit or roll back together. Jobs are grouped by plugin id, which per-plugin
 * concurrency limits use.
 */
export async function enqueueRender(
  queue: JobQueue,
  trx: KyselyExecutor,
  args: { queueJobId: string; jobId: string; style: string; priority: number; startAfterSeconds?: number },
): Promise<void> {
  const payload: RenderPayload = { jobId: args.jobId };
  await bossOf(queue).send(RENDER_QUEUE, payload, {
    id: args.queueJobId,
    priority: args.priority,
    group: { id: args.style, tier: args.style },
    ...(args.startAfterSeconds ? { startAfter: args.startAfterSeconds } : {}),
    db: fromKysely(trx),
  });
}
