import { hostname } from 'node:os';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { JobResult, JobWithMetadata } from 'pg-boss';
import {
  AtelierError,
  CONTENT_TYPES,
  isAtelierError,
  isRetryableError,
  parsePlan,
  runCosts,
} from '@atelier/core';
import type { Engine, ErrorCode, Logger, Plan, StepAnnotation, StepCost, Storage } from '@atelier/core';
import { silentLogger } from '@atelier/core';
import { databaseUnavailable, prepareStatement } from '@atelier/db';
import type { Database, Job, JobCost, JobTimings } from '@atelier/db';
import { JobEventListener } from './events.ts';
import { DEAD_LETTER_QUEUE, RENDER_QUEUE, bossOf, enqueueRender } from './queue.ts';
import { randomUUID } from 'node:crypto';
import type { JobQueue, RenderPayload } from './queue.ts';
import { resultKey } from './records.ts';
import { loadPlanGrants } from './plugin-grants.ts';
import type { SecretsKey } from './plugin-grants.ts';

/**
 * Failures another attempt may fix: the infrastructure's (a timeout, which load can cause; storage;
 * the database; the engine or worker going away). Every other code fails the job at its first
 * attempt: bad inputs, plans and parameters, and whatever a plugin throws (the same plan on the
 * same image would throw again), unless the plugin marks its error retryable (`retryableError`).
 * docs/operations.md ("Retries") has the table.
 */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'PLUGIN_TIMEOUT',
  'STORAGE_FAILED',
  'DATABASE_UNAVAILABLE',
  'ENGINE_CLOSED',
  'ABORTED',
  'INTERNAL',
]);

/** Whether a failed attempt is retried (within the queue's retry limit). */
function isRetryable(error: AtelierError): boolean {
  return RETRYABLE.has(error.code) || isRetryableError(error);
}

/**
 * Claims a batch of jobs (only those still waiting under the same queue entry: a cancelled,
 * finished or superseded job is left alone) and reads, in the same statement, where each input
 * lives and whether its owner's result cache already holds the output.
 */
function claimQuery(
  db: Kysely<Database>,
  jobIds: readonly string[],
  queueJobIds: readonly string[],
  workerId: string,
  now: Date,
) {
  const batch = sql<{ id: string; queue_job_id: string }>`unnest(${jobIds}::uuid[], ${queueJobIds}::uuid[])`;
  return db
    .with('claimed', (qb) =>
      qb
        .updateTable('jobs')
        .from(batch.as<'batch'>(sql`batch(id, queue_job_id)`))
        .set((eb) => ({
          status: 'running',
          attempts: eb('attempts', '+', 1),
          started_at: eb.fn.coalesce('started_at', eb.val(now)),
          worker_id: workerId,
          progress: 0,
          updated_at: now,
        }))
        .whereRef('jobs.id', '=', 'batch.id')
        .whereRef('jobs.queue_job_id', '=', 'batch.queue_job_id')
        .where('jobs.status', 'in', ['queued', 'running'])
        .returningAll('jobs'),
    )
    .selectFrom('claimed')
    .leftJoin('images', 'images.id', 'claimed.image_id')
    .leftJoin('results', (join) =>
      join
        .onRef('results.owner_id', '=', 'claimed.owner_id')
        .onRef('results.plan_hash', '=', 'claimed.plan_hash')
        .onRef('results.input_sha256', '=', 'claimed.input_sha256'),
    )
    .selectAll('claimed')
    .select([
      'images.storage_key as input_key',
      'results.output_key as cached_key',
      'results.bytes as cached_bytes',
      'results.width as cached_width',
      'results.height as cached_height',
      'results.format as cached_format',
    ]);
}

/** A rendered (or reused) output, as the job records it. */
interface Output {
  readonly key: string;
  readonly bytes: number;
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly fromCache: boolean;
  readonly timings: JobTimings;
  /** What the plugins reported spending on this attempt. */
  readonly costs: readonly StepCost[];
  /** What analysis plugins found, stored with the job's image. */
  readonly annotations: readonly StepAnnotation[];
}

/** The jobs.costs entries of one attempt's costs, as JSON. */
function costsJson(costs: readonly StepCost[], attempt: number): string {
  return JSON.stringify(
    costs.map((c): JobCost => ({
      attempt,
      step: c.step,
      plugin: c.plugin,
      version: c.version,
      amount: c.amount,
      currency: c.currency,
      ...(c.detail === undefined ? {} : { detail: c.detail }),
    })),
  );
}

/**
 * `jobs.costs` with `json` appended; unchanged for an empty list. One statement text whatever
 * the values, so the statements that use it stay prepared.
 */
function appendCosts(json: string) {
  return sql<string>`case when ${json}::jsonb = '[]'::jsonb then costs else coalesce(costs, '[]'::jsonb) || ${json}::jsonb end`;
}

/**
 * Marks the job done (only if it is still ours) and records the owner's result-cache entry. Entries
 * are per owner: another user's entry never serves a job (it would tell them someone holds the photo).
 */
function doneQuery(db: Kysely<Database>, jobId: string, queueJobId: string, output: Output, attempt: number) {
  return db
    .with('done', (qb) =>
      qb
        .updateTable('jobs')
        .set({
          status: 'succeeded',
          progress: 1,
          error_code: null,
          error_message: null,
          output_key: output.key,
          output_bytes: output.bytes,
          output_width: output.width,
          output_height: output.height,
          output_format: output.format,
          from_cache: output.fromCache,
          timings: JSON.stringify(output.timings),
          costs: appendCosts(costsJson(output.costs, attempt)),
          finished_at: sql`now()`,
          updated_at: sql`now()`,
        })
        .where('id', '=', jobId)
        .where('queue_job_id', '=', queueJobId)
        .where('status', '=', 'running')
        .returning([
          'id',
          'owner_id',
          'plan_hash',
          'input_sha256',
          'output_key',
          'output_bytes',
          'output_width',
          'output_height',
          'output_format',
        ]),
    )
    .with('cached', (qb) =>
      qb
        .insertInto('results')
        .columns([
          'owner_id',
          'plan_hash',
          'input_sha256',
          'output_key',
          'bytes',
          'width',
          'height',
          'format',
        ])
        .expression((eb) =>
          eb
            .selectFrom('done')
            .select([
              'owner_id',
              'plan_hash',
              'input_sha256',
              'output_key',
              'output_bytes',
              'output_width',
              'output_height',
              'output_format',
            ]),
        )
        .onConflict((oc) => oc.columns(['owner_id', 'plan_hash', 'input_sha256']).doNothing()),
    )
    .selectFrom('done')
    .select('id');
}

/**
 * Stores what analysis plugins found with the job's input image: one row per image and plugin,
 * replaced by a later job's (the latest wins). Two steps of one plugin in a plan: the last one's.
 */
async function storeAnnotations(
  db: Kysely<Database>,
  imageId: string,
  jobId: string,
  annotations: readonly StepAnnotation[],
): Promise<void> {
  const byPlugin = new Map(annotations.map((a) => [a.plugin, a]));
  await db
    .insertInto('image_annotations')
    .values(
      [...byPlugin.values()].map((a) => ({
        image_id: imageId,
        plugin: a.plugin,
        plugin_version: a.version,
        caption: a.caption ?? null,
        tags: [...(a.tags ?? [])],
        job_id: jobId,
        created_at: sql<Date>`now()`,
      })),
    )
    .onConflict((oc) =>
      oc.columns(['image_id', 'plugin']).doUpdateSet((eb) => ({
        plugin_version: eb.ref('excluded.plugin_version'),
        caption: eb.ref('excluded.caption'),
        tags: eb.ref('excluded.tags'),
        job_id: eb.ref('excluded.job_id'),
        created_at: eb.ref('excluded.created_at'),
      })),
    )
    .execute();
}

/** Any output: {@link RenderWorker}'s constructor compiles the done statement with it for its text. */
const EXAMPLE_OUTPUT: Output = {
  key: '',
  bytes: 0,
  width: 0,
  height: 0,
  format: 'png',
  fromCache: false,
  timings: {},
  costs: [],
  annotations: [],
};

/**
 * How long the worker waits for Postgres to answer again before giving up on recording an
 * attempt (pg-boss's heartbeat expiry then retries the job).
 */
const DATABASE_WAIT_MS = 60_000;

/** Dead-letter copies handled per fetch (each is one small update). */
const DEAD_LETTER_BATCH = 25;

/** How `concurrency` jobs in flight are taken from the queue: `slots` fetchers of `batchSize` jobs each. */
function slotsOf(concurrency: number): { slots: number; batchSize: number } {
  const batchSize = Math.max(1, Math.min(4, Math.floor(concurrency / 2)));
  return { slots: Math.ceil(concurrency / batchSize), batchSize };
}

/** A claimed job with where its input lives and its owner's cached output of its plan and input, if any. */
type ClaimedJob = Awaited<ReturnType<ReturnType<typeof claimQuery>['execute']>>[number];

/** Options of {@link RenderWorker}. */
export interface RenderWorkerOptions {
  readonly db: Kysely<Database>;
  /** The render queue ({@link createJobQueue}'s). */
  readonly queue: JobQueue;
  readonly storage: Storage;
  readonly engine: Engine;
  /** Connection string for the cancellation listener. */
  readonly url: string;
  /**
   * Jobs this process holds at once: running on the engine's threads or waiting for one while
   * their I/O (claim, storage, database) overlaps other jobs' pixels. @default 4 × the engine's threads
   */
  readonly concurrency?: number;
  /** Most jobs of one plugin running at once across all workers, e.g. `{ 'oil-painting': 2 }`. */
  readonly pluginConcurrency?: Readonly<Record<string, number>>;
  /**
   * Seconds between polls for jobs that no notification announces (retries coming due). New jobs
   * wake a worker at once through LISTEN/NOTIFY. At least 0.5. @default 2
   */
  readonly pollIntervalSeconds?: number;
  /** How often progress is written to the database and published. @default 250 */
  readonly progressIntervalMs?: number;
  readonly workerId?: string;
  readonly logger?: Logger;
  /**
   * Reuse an output the owner's result cache holds for the same plan and input. Off in development
   * mode, where plugin code changes without a new version. @default true
   */
  readonly resultCache?: boolean;
  /**
   * The key the plugins' secrets are sealed with (`ATELIER_SECRETS_KEY`). Without it, a job whose
   * plugin needs a secret fails with `SECRETS_KEY_MISSING`.
   */
  readonly secretsKey?: SecretsKey;
  /**
   * Runs before a job's plan goes to the engine: e.g. installs the plugin package version the plan
   * names when this process does not have it yet (the cluster's plugin packages sync). It may
   * throw a coded error, which fails the attempt as the engine's would. @default nothing
   */
  readonly preparePlan?: (plan: Plan, signal: AbortSignal) => Promise<void>;
}

/**
 * A stateless worker: takes render jobs from pg-boss, runs them on the engine, stores the output
 * and records the outcome. Any number of them may run on any machines sharing Postgres and
 * storage. Every step is idempotent, so a job delivered twice (after a crash or an expiry) ends
 * with one output: results are keyed by plan hash and input hash, and only a job still `running`
 * under the same queue entry can be marked done.
 */
export class RenderWorker {
  readonly #o: RenderWorkerOptions;
  readonly #logger: Logger;
  readonly #id: string;
  readonly #running = new Map<string, AbortController>();
  /** How many times the event connection has dropped: a claim made before a drop fails its attempt. */
  #losses = 0;
  readonly #listener: JobEventListener;
  readonly #concurrency: number;
  /** Per-plugin limits apply: every claim is then a serialised check of its own. */
  readonly #limited: boolean;
  /** What `work()` registered, by queue: stop() takes each off its own queue. */
  readonly #works: { queue: string; id: string }[] = [];
  #stopping = false;

  constructor(options: RenderWorkerOptions) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
    this.#id = options.workerId ?? `${hostname()}:${process.pid}`;
    this.#listener = new JobEventListener(options.url, this.#logger, ['cancel']);
    this.#concurrency = options.concurrency ?? options.engine.threads * 4;
    this.#limited = Object.keys(options.pluginConcurrency ?? {}).length > 0;
    // The two statements every job runs, prepared once per connection of the database's pool from
    // their first call (Postgres then skips parsing and planning them, and prepares them again if
    // a migration changes the jobs table under them): they are most of the database work a job
    // costs. Their texts do not depend on the values (a batch's ids are two array parameters).
    prepareStatement(claimQuery(options.db, [], [], '', new Date()).compile().sql);
    prepareStatement(doneQuery(options.db, '', '', EXAMPLE_OUTPUT, 1).compile().sql);
  }

  get id(): string {
    return this.#id;
  }

  /** Jobs running in this process now. */
  get active(): number {
    return this.#running.size;
  }

  async start(): Promise<void> {
    this.#listener.on('cancel', (jobId) =>
      this.#running.get(jobId)?.abort(new AtelierError('ABORTED', 'Cancelled.')),
    );
    // The listener's connection drops when Postgres goes away (a restart): the attempts running
    // here could neither report progress nor be cancelled, so they fail now and are retried once
    // Postgres answers again (DATABASE_UNAVAILABLE is retryable).
    // An attempt claimed before the drop but not yet registered in #running (its claim's answer
    // was still on its way) fails too: #handle compares the loss count of its claim.
    this.#listener.on('lost', () => {
      this.#losses++;
      if (this.#stopping || this.#running.size === 0) return;
      this.#logger.warn('database connection lost; failing the attempts running here', {
        running: this.#running.size,
      });
      for (const controller of this.#running.values()) controller.abort(connectionLost());
    });
    await this.#listener.start();
    const concurrency = this.#concurrency;
    const { slots, batchSize } = slotsOf(concurrency);
    const limits = this.#o.pluginConcurrency ?? {};
    const groupConcurrency =
      Object.keys(limits).length > 0 ? { groupConcurrency: { default: 100_000, tiers: { ...limits } } } : {};
    this.#works.push({
      queue: RENDER_QUEUE,
      id: await bossOf(this.#o.queue).work(
        RENDER_QUEUE,
        {
          // Each slot fetches a batch, claims it in one statement and runs its jobs side by side;
          // pg-boss fetches again at once after a full batch (otherwise it waits a polling
          // interval), so a backlog drains without pauses and the tail still wakes by NOTIFY.
          // Batches cut the queue's statements per job; two or more slots keep the threads fed
          // while one slot waits for the last job of its batch.
          batchSize,
          burstWhenBatchFull: true,
          localConcurrency: slots,
          includeMetadata: true,
          perJobResults: true,
          pollingIntervalSeconds: this.#o.pollIntervalSeconds ?? 2,
          notifyPollingIntervalSeconds: this.#o.pollIntervalSeconds ?? 2,
          ...groupConcurrency,
        },
        async (jobs: JobWithMetadata<RenderPayload>[]) => {
          // The loss count when the claim that succeeded was sent (see the 'lost' listener).
          let losses = this.#losses;
          const claims = this.#limited
            ? undefined
            : await this.#whenDatabaseAnswers(() => {
                losses = this.#losses;
                return this.#claimBatch(jobs);
              });
          return Promise.all(jobs.map((job) => this.#handle(job, claims, losses)));
        },
      ),
    });
    this.#works.push({
      queue: DEAD_LETTER_QUEUE,
      id: await bossOf(this.#o.queue).work(
        DEAD_LETTER_QUEUE,
        {
          // As fast as the render queue: a full batch fetches again at once, and with notifications
          // on, pg-boss's fallback poll is notifyPollingIntervalSeconds (30 s by default), not
          // pollingIntervalSeconds, so both are set. Until its copy is handled here, a job whose
          // worker died on its last attempt still reads `running`.
          batchSize: DEAD_LETTER_BATCH,
          burstWhenBatchFull: true,
          includeMetadata: true,
          pollingIntervalSeconds: this.#o.pollIntervalSeconds ?? 2,
          notifyPollingIntervalSeconds: this.#o.pollIntervalSeconds ?? 2,
        },
        async (jobs: JobWithMetadata<RenderPayload>[]) => {
          for (const job of jobs) await this.#buryDead(job);
        },
      ),
    });
    this.#logger.info('worker started', { worker: this.#id, concurrency });
  }

  /**
   * Claims every job of a pg-boss batch in one statement (only those still waiting under the same
   * queue entry: a cancelled, finished or superseded job is left alone) and reads, in the same
   * statement, where each input lives and whether the result cache already holds its output.
   */
  async #claimBatch(
    jobs: readonly JobWithMetadata<RenderPayload>[],
    trx?: Kysely<Database>,
  ): Promise<Map<string, ClaimedJob>> {
    // Inside a caller's transaction (the plugin-limit check) on its connection.
    const rows = await claimQuery(
      trx ?? this.#o.db,
      jobs.map((job) => job.data.jobId),
      jobs.map((job) => job.id),
      this.#id,
      new Date(),
    ).execute();
    return new Map(rows.map((row) => [row.queue_job_id!, row]));
  }

  /**
   * Runs `statement`, and again while its failure is a lost or refused connection (Postgres
   * restarting), with backoff, for up to {@link DATABASE_WAIT_MS}; then, on another error, or
   * once the worker is stopping, rethrows. Only for statements that are safe to repeat (each
   * checks that the job is still ours).
   */
  async #whenDatabaseAnswers<T>(statement: () => Promise<T>): Promise<T> {
    const until = Date.now() + DATABASE_WAIT_MS;
    for (let delay = 100; ; delay = Math.min(delay * 2, 2000)) {
      try {
        return await statement();
      } catch (error) {
        // At shutdown it gives up at once: the heartbeat expiry retries the job elsewhere.
        if (!databaseUnavailable(error) || this.#stopping || Date.now() + delay > until) throw error;
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Claims one job under its plugin's limit: serialised by an advisory lock per plugin. */
  async #claimLimited(job: JobWithMetadata<RenderPayload>): Promise<ClaimedJob | 'busy' | undefined> {
    const { db } = this.#o;
    const row = await db.selectFrom('jobs').selectAll().where('id', '=', job.data.jobId).executeTakeFirst();
    const limit = row ? this.#o.pluginConcurrency?.[row.style] : undefined;
    if (!row || limit === undefined) return (await this.#claimBatch([job])).get(job.id);
    // pg-boss's group limit is checked by concurrent fetches that can race; this check is
    // serialised by an advisory lock per plugin, so the limit holds across every worker.
    const outcome = await db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext(${`atelier-plugin:${row.style}`}))`.execute(trx);
      const running = await trx
        .selectFrom('jobs')
        .select(({ fn }) => fn.countAll<string>().as('n'))
        .where('style', '=', row.style)
        .where('status', '=', 'running')
        .where('id', '!=', row.id)
        .executeTakeFirstOrThrow();
      if (Number(running.n) >= limit) return 'busy' as const;
      return (await this.#claimBatch([job], trx)).get(job.id);
    });
    // At the limit: back to the queue for later (only if it still waits under this queue entry).
    if (outcome === 'busy') await this.#handBack(row, job.id, 1, false);
    return outcome;
  }

  async #handle(
    job: JobWithMetadata<RenderPayload>,
    claims: Map<string, ClaimedJob> | undefined,
    losses: number,
  ): Promise<JobResult> {
    const jobId = job.data.jobId;
    const { db } = this.#o;
    let claimed: ClaimedJob | undefined;
    if (claims) {
      claimed = claims.get(job.id);
    } else {
      losses = this.#losses;
      const outcome = await this.#claimLimited(job);
      if (outcome === 'busy') return { id: job.id, status: 'completed' };
      claimed = outcome;
    }
    // Cancelled, finished, deleted, or superseded by a retry: nothing to do.
    if (!claimed) return { id: job.id, status: 'completed' };

    const controller = new AbortController();
    this.#running.set(jobId, controller);
    // The event connection dropped while the claim was on its way: fail like the attempts running then.
    if (this.#losses !== losses && !this.#stopping) controller.abort(connectionLost());
    const onExpire = (): void =>
      controller.abort(new AtelierError('ABORTED', 'The queue gave up on this attempt.'));
    job.signal.addEventListener('abort', onExpire, { once: true });
    try {
      const output = await this.#render(claimed, controller.signal);
      // One statement: mark the job done (only if it is still ours) and record the cache entry.
      // Retried while Postgres is away (it only marks a job still ours): the output is stored.
      const done = await this.#whenDatabaseAnswers(() =>
        output.annotations.length === 0
          ? doneQuery(db, jobId, job.id, output, claimed.attempts).executeTakeFirst()
          : // With what analysis plugins found: stored with the image in the same transaction,
            // only when the job is still ours to mark done.
            db.transaction().execute(async (trx) => {
              const row = await doneQuery(trx, jobId, job.id, output, claimed.attempts).executeTakeFirst();
              if (row) await storeAnnotations(trx, claimed.image_id, jobId, output.annotations);
              return row;
            }),
      );
      if (!done) {
        this.#logger.info('job changed while it ran (cancelled?)', { job: jobId });
        await this.#recordSpent(jobId, output.costs, claimed.attempts);
      }
      return { id: job.id, status: 'completed' };
    } catch (error) {
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
      const err =
        isAtelierError(reason) && reason.code === 'DATABASE_UNAVAILABLE'
          ? reason // stopped when this worker lost its database connection (see start())
          : job.signal.aborted && !this.#stopping
            ? new AtelierError(
                'PLUGIN_TIMEOUT',
                'The job outlived its queue expiry (or lost its claim) and was stopped.',
              )
            : isAtelierError(error)
              ? error
              : (databaseUnavailable(error) ??
                // Not the plugin's (its errors arrive coded from the engine): a fault of this
                // worker's own statements, which another attempt may not meet.
                new AtelierError('INTERNAL', error instanceof Error ? error.message : String(error), {
                  cause: error,
                }));
      // Recording the failure waits for Postgres when it is away (a restart): the attempt then
      // fails and is retried per the retry rules, instead of sitting `running` until its heartbeat expires.
      const current = await this.#whenDatabaseAnswers(() =>
        db.selectFrom('jobs').select('status').where('id', '=', jobId).executeTakeFirst(),
      );
      if (!current || current.status === 'cancelled') {
        await this.#recordSpent(jobId, runCosts(error), claimed.attempts);
        return { id: job.id, status: 'completed' };
      }
      if (this.#stopping && err.code === 'ABORTED') {
        // Handed back at shutdown: queue it afresh so the interruption costs no attempt (but
        // what it spent stays recorded).
        await this.#recordSpent(jobId, runCosts(error), claimed.attempts);
        await this.#handBack(claimed, job.id, 0, true);
        return { id: job.id, status: 'completed' };
      }
      const permanent = !isRetryable(err);
      const last = job.retryCount >= job.retryLimit;
      const final = permanent || last;
      // Money an attempt spent before it failed is still spent: recorded with its error.
      const spent = costsJson(runCosts(error), claimed.attempts);
      await this.#whenDatabaseAnswers(() =>
        db
          .updateTable('jobs')
          .set({
            status: final ? 'failed' : 'queued',
            progress: 0,
            error_code: err.code,
            error_message: err.message.slice(0, 2000),
            costs: appendCosts(spent),
            ...(final ? { finished_at: new Date() } : {}),
            updated_at: new Date(),
          })
          .where('id', '=', jobId)
          .where('queue_job_id', '=', job.id)
          .where('status', '=', 'running')
          .executeTakeFirst(),
      );
      this.#logger.warn('job attempt failed', {
        job: jobId,
        code: err.code,
        attempt: job.retryCount + 1,
        final,
      });
      // A permanent failure goes straight to the dead-letter queue; others are retried with backoff.
      return {
        id: job.id,
        status: permanent ? 'deadletter' : 'failed',
        output: { code: err.code, message: err.message },
      };
    } finally {
      job.signal.removeEventListener('abort', onExpire);
      this.#running.delete(jobId);
    }
  }

  /**
   * Records what an attempt spent on a job whose outcome is not written by this worker (it was
   * cancelled meanwhile, or is handed back at shutdown): the money is spent all the same.
   */
  async #recordSpent(jobId: string, costs: readonly StepCost[], attempt: number): Promise<void> {
    if (costs.length === 0) return;
    await this.#whenDatabaseAnswers(() =>
      this.#o.db
        .updateTable('jobs')
        .set({ costs: appendCosts(costsJson(costs, attempt)) })
        .where('id', '=', jobId)
        .execute(),
    ).catch((error: unknown) =>
      this.#logger.warn('could not record the costs of an attempt', { job: jobId, error: String(error) }),
    );
  }

  async #render(job: ClaimedJob, signal: AbortSignal): Promise<Output> {
    const { db, storage, engine } = this.#o;
    const plan = parsePlan(job.plan);
    const format = plan.output.format;
    if (job.input_key === null)
      throw new AtelierError('IMAGE_NOT_FOUND', 'The image of this job was deleted.');
    // Another job of the same owner produced this very output meanwhile: reuse it.
    if (
      (this.#o.resultCache ?? true) &&
      job.cached_key &&
      job.cached_format &&
      (await storage.head(job.cached_key))
    ) {
      return {
        key: job.cached_key,
        bytes: job.cached_bytes ?? 0,
        width: job.cached_width ?? 0,
        height: job.cached_height ?? 0,
        format: job.cached_format,
        fromCache: true,
        timings: { totalMs: 0 },
        // Nothing ran: nothing spent; the annotations of the job that made it are stored already.
        costs: [],
        annotations: [],
      };
    }
    await this.#o.preparePlan?.(plan, signal);
    const input = await storage.get(job.input_key);
    // The claim already published progress 0; the first write comes one interval in, so a short
    // job costs no progress statement at all.
    let lastWrite = performance.now();
    let pending: Promise<unknown> = Promise.resolve();
    const interval = this.#o.progressIntervalMs ?? 250;
    // Read per job from Postgres: a grant or a revoke counts from the next job on, on every worker.
    const grants = await loadPlanGrants(db, this.#o.secretsKey, engine.registry, plan);
    const result = await engine.run(input, plan, {
      signal,
      grants,
      onProgress: (event) => {
        const now = performance.now();
        if (now - lastWrite < interval) return;
        lastWrite = now;
        pending = pending
          .then(async () => {
            await db
              .updateTable('jobs')
              .set({ progress: Math.round(event.fraction * 1000) / 1000, updated_at: new Date() })
              .where('id', '=', job.id)
              .where('status', '=', 'running')
              .execute();
          })
          .catch(() => {});
      },
    });
    await pending;
    const key = resultKey(job.plan_hash, job.input_sha256, format);
    await storage.put(key, result.data, { contentType: CONTENT_TYPES[format] });
    return {
      key,
      bytes: result.bytes,
      width: result.width,
      height: result.height,
      format,
      fromCache: false,
      costs: result.costs,
      annotations: result.annotations,
      timings: {
        queueMs: Math.max(0, Date.now() - job.created_at.getTime() - result.timings.totalMs),
        decodeMs: result.timings.decodeMs,
        // The wall-clock time alone: a step's cpuMs counts every thread of the process, other
        // jobs' included, which says nothing about this job on a busy worker.
        steps: result.timings.steps.map(({ plugin, ms }) => ({ plugin, ms })),
        encodeMs: result.timings.encodeMs,
        totalMs: result.timings.totalMs,
      },
    };
  }

  /**
   * Puts a job back on the queue under a fresh queue entry, without costing it an attempt: at
   * shutdown (`wasClaimed`: it ran here and is rewound) or when its plugin is at its limit.
   */
  async #handBack(
    claimed: Job,
    queueJobId: string,
    startAfterSeconds: number,
    wasClaimed: boolean,
  ): Promise<void> {
    const { db, queue } = this.#o;
    await db.transaction().execute(async (trx) => {
      const fresh = randomUUID();
      const row = await trx
        .updateTable('jobs')
        .set((eb) => ({
          status: 'queued',
          progress: 0,
          queue_job_id: fresh,
          ...(wasClaimed ? { attempts: eb('attempts', '-', 1) } : {}),
          updated_at: new Date(),
        }))
        .where('id', '=', claimed.id)
        .where('queue_job_id', '=', queueJobId)
        .where('status', 'in', wasClaimed ? ['running'] : ['queued', 'running'])
        .returningAll()
        .executeTakeFirst();
      if (!row) return;
      await enqueueRender(queue, trx, {
        queueJobId: fresh,
        jobId: row.id,
        style: row.style,
        priority: row.priority,
        startAfterSeconds,
      });
    });
    this.#logger.debug('handed a job back to the queue', {
      job: claimed.id,
      reason: wasClaimed ? 'shutdown' : 'plugin limit',
    });
  }

  /** A job whose retries are spent (or that expired on its last attempt) is failed for good. */
  async #buryDead(job: JobWithMetadata<RenderPayload>): Promise<void> {
    const output = (job.sourceOutput ?? {}) as { code?: string; message?: string };
    await this.#o.db
      .updateTable('jobs')
      .set({
        status: 'failed',
        progress: 0,
        error_code: output.code ?? 'PLUGIN_TIMEOUT',
        error_message: output.message ?? 'The job did not finish within its time limit on any attempt.',
        finished_at: new Date(),
        updated_at: new Date(),
      })
      .where('id', '=', job.data.jobId)
      .where('status', 'in', ['queued', 'running'])
      .where('queue_job_id', '=', job.sourceId ?? '')
      .executeTakeFirst();
  }

  /**
   * Stops taking jobs and waits up to `deadlineMs` for running ones; jobs still running then are
   * aborted and handed back to the queue, which retries them on another worker.
   */
  async stop(deadlineMs = 30_000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const boss = bossOf(this.#o.queue);
    for (const { queue, id } of this.#works) await boss.offWork(queue, { id, wait: false }).catch(() => {});
    const until = Date.now() + deadlineMs;
    while (this.#running.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    for (const controller of this.#running.values())
      controller.abort(new AtelierError('ABORTED', 'The worker is shutting down.'));
    while (this.#running.size > 0) await new Promise((r) => setTimeout(r, 20));
    await this.#listener.close();
    this.#logger.info('worker stopped', { worker: this.#id });
  }
}

/** Why an attempt fails when the worker's event connection drops (retryable). */
function connectionLost(): AtelierError {
  return new AtelierError(
    'DATABASE_UNAVAILABLE',
    'The worker lost its database connection during this attempt.',
  );
}
