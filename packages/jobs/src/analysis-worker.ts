import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { JobResult, JobWithMetadata } from 'pg-boss';
import { isAtelierError, silentLogger } from '@atelier/core';
import type { Logger, PlanLimits, Storage } from '@atelier/core';
import type { Database } from '@atelier/db';
import { AnalysisService } from './image-analysis.ts';
import { ANALYSIS_QUEUE, bossOf } from './queue.ts';
import type { AnalysisPayload, JobQueue } from './queue.ts';

/** Options of {@link AnalysisWorker}. */
export interface AnalysisWorkerOptions {
  readonly db: Kysely<Database>;
  /** The job queue ({@link createJobQueue}'s): the analysis queue is one of its queues. */
  readonly queue: JobQueue;
  readonly storage: Storage;
  /** Upload limits, as the job service's. */
  readonly limits?: Partial<PlanLimits>;
  /** Images analysed at once in this process (each is a few milliseconds of libvips and JS). @default 2 */
  readonly concurrency?: number;
  /** Seconds between polls for retries coming due; new jobs wake it by NOTIFY. @default 2 */
  readonly pollIntervalSeconds?: number;
  readonly workerId?: string;
  readonly logger?: Logger;
}

/**
 * Takes analysis jobs from the `atelier-analysis` queue and records each image's analysis
 * ({@link AnalysisService.analyse}). Stateless and idempotent like the render worker: a job
 * delivered twice (after a crash, when its heartbeat lapsed) finds the image analysed and ends.
 * A failure another attempt may fix is retried by the queue with backoff; on the last attempt,
 * and for every other failure, the image's row is marked `failed` with its code.
 */
export class AnalysisWorker {
  readonly #o: AnalysisWorkerOptions;
  readonly #service: AnalysisService;
  readonly #logger: Logger;
  readonly #id: string;
  #workId: string | undefined;
  #running = 0;
  #stopping = false;

  constructor(options: AnalysisWorkerOptions) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
    this.#id = options.workerId ?? `${hostname()}:${process.pid}:analysis`;
    this.#service = new AnalysisService({
      db: options.db,
      storage: options.storage,
      logger: this.#logger,
      ...(options.limits ? { limits: options.limits } : {}),
    });
  }

  get id(): string {
    return this.#id;
  }

  async start(): Promise<void> {
    const poll = Math.max(0.5, this.#o.pollIntervalSeconds ?? 2);
    this.#workId = await bossOf(this.#o.queue).work(
      ANALYSIS_QUEUE,
      {
        batchSize: Math.max(1, this.#o.concurrency ?? 2),
        burstWhenBatchFull: true,
        includeMetadata: true,
        perJobResults: true,
        pollingIntervalSeconds: poll,
        notifyPollingIntervalSeconds: poll,
      },
      (jobs: JobWithMetadata<AnalysisPayload>[]) => Promise.all(jobs.map((job) => this.#handle(job))),
    );
  }

  async #handle(job: JobWithMetadata<AnalysisPayload>): Promise<JobResult> {
    this.#running++;
    try {
      const outcome = await this.#service.analyse(job.data.imageId, {
        final: job.retryCount >= job.retryLimit,
      });
      return { id: job.id, status: 'completed', output: outcome };
    } catch (error) {
      // Retryable (storage or the database away): recorded on the row; the queue tries again.
      const code = isAtelierError(error) ? error.code : 'INTERNAL';
      return { id: job.id, status: 'failed', output: { code } };
    } finally {
      this.#running--;
    }
  }

  /** Stops taking jobs and waits up to `deadlineMs` for the running ones (the queue retries the rest). */
  async stop(deadlineMs = 10_000): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#workId !== undefined)
      await bossOf(this.#o.queue)
        .offWork(ANALYSIS_QUEUE, { id: this.#workId, wait: false })
        .catch(() => {});
    const until = Date.now() + deadlineMs;
    while (this.#running > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }
}
