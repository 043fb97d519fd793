import { createHash, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import {
  AtelierError,
  CONTENT_TYPES,
  checkOutputSize,
  createPlan,
  inspectInput,
  planHash,
  DEFAULT_LIMITS,
} from '@atelier/core';
import type {
  InputInfo,
  Logger,
  Plan,
  PlanLimits,
  PlanRequest,
  PluginGrants,
  PluginRegistry,
  Storage,
} from '@atelier/core';
import { silentLogger } from '@atelier/core';
import { exactCreatedAt, isUuid, olderThan, pageOf, precompile } from '@atelier/db';
import type { Database, Image, Job, JobStatus, PrecompiledQuery } from '@atelier/db';
import { publishCancel } from './events.ts';
import type { JobEvent } from './events.ts';
import { RENDER_QUEUE, bossOf, enqueueRender } from './queue.ts';
import type { JobQueue } from './queue.ts';
import {
  TERMINAL_STATUSES,
  freeCopyKey,
  freeCopySource,
  originalKey,
  resultKeyParts,
  toAnnotationRecord,
  toImageRecord,
  toJobRecord,
} from './records.ts';
import type { ImageAnnotationRecord, ImageRecord, JobRecord } from './records.ts';
import { usageCost } from './quotas.ts';
import type { QuotaService } from './quotas.ts';
import { checkPlanGrants, loadPlanGrants } from './plugin-grants.ts';
import { AnalysisService, PENDING_ANALYSIS, enqueueAnalysis } from './image-analysis.ts';
import type { SecretsKey } from './plugin-grants.ts';

/** Options of {@link JobService}. */
export interface JobServiceOptions {
  readonly db: Kysely<Database>;
  /** The render queue ({@link createJobQueue}'s). */
  readonly queue: JobQueue;
  readonly storage: Storage;
  readonly registry: PluginRegistry;
  /** Defaults for every plan's limits. */
  readonly limits?: Partial<PlanLimits>;
  /** Attempts a job gets, the first included (must match the queue's retryLimit + 1). @default 3 */
  readonly maxAttempts?: number;
  readonly logger?: Logger;
  /**
   * The long side of results' free copies (paid HD, {@link freeCopyKey}): deleting a result
   * deletes its copy of this size too (copies of other sizes go with `collectOrphans`).
   */
  readonly freeMaxSide?: number;
  /**
   * Serve a job from the owner's result cache when the same plan already ran on the same input.
   * Off in development mode (`ATELIER_DEV=1`), where plugin code changes without a new version and
   * the cached image would be the old code's. @default true
   */
  readonly resultCache?: boolean;
  /** The key the plugins' secrets are sealed with, for {@link JobService.grantsFor} (previews). */
  readonly secretsKey?: SecretsKey;
}

/** What {@link JobService.storeImage} answers: the image, and whether these exact bytes were already one of the owner's. */
export type StoredImage = ImageRecord & {
  /** True when the owner had already uploaded these very bytes: the answer is that image, and nothing was stored. */
  readonly existed: boolean;
};

/** What {@link JobService.submit} takes. */
export interface SubmitJob {
  readonly ownerId: string;
  readonly imageId: string;
  readonly plan: PlanRequest;
  /** Higher runs first: interactive and paid work above batch work. @default 0 */
  readonly priority?: number;
  /** Submitting twice with the same key returns the first job. */
  readonly idempotencyKey?: string;
  /**
   * Charges the owner's quotas (jobs an hour, cost, and refuses when their storage is full) in the
   * transaction that creates the job. The API passes it; the operator's CLI does not.
   */
  readonly quota?: QuotaService;
}

/** Filters and paging of {@link JobService.list}. */
export interface ListJobs {
  readonly ownerId?: string;
  readonly status?: JobStatus;
  readonly style?: string;
  readonly createdAfter?: Date;
  readonly createdBefore?: Date;
  /** @default 50, at most 200 */
  readonly limit?: number;
  /** `nextCursor` of the previous page. */
  readonly cursor?: string;
}

/** The event a job row describes now: the same payload the database publishes on each change. */
export function eventOf(row: Job): JobEvent {
  return {
    id: row.id,
    ownerId: row.owner_id,
    status: row.status,
    progress: row.progress,
    style: row.style,
    seq: row.updated_at.getTime(),
    ...(row.error_code ? { errorCode: row.error_code } : {}),
    ...(row.from_cache ? { fromCache: true } : {}),
    at: row.updated_at.toISOString(),
  };
}

/**
 * Records uploads and jobs in Postgres, schedules jobs on pg-boss in the same transaction, serves
 * repeated work from the result cache, and cancels, retries and deletes. Ownership is enforced
 * here: pass `ownerId` and another user's rows are NOT_FOUND.
 */
export class JobService {
  readonly #db: Kysely<Database>;
  readonly #byId: PrecompiledQuery<Job>;
  readonly #byIdAndOwner: PrecompiledQuery<Job>;
  readonly #queue: JobQueue;
  readonly #storage: Storage;
  readonly #registry: PluginRegistry;
  readonly #secretsKey: SecretsKey | undefined;
  readonly #limits: Partial<PlanLimits>;
  readonly #maxAttempts: number;
  readonly #logger: Logger;
  readonly #freeMaxSide: number | undefined;
  readonly #resultCache: boolean;
  readonly #analysis: AnalysisService;

  constructor(options: JobServiceOptions) {
    this.#db = options.db;
    this.#analysis = new AnalysisService({
      db: options.db,
      storage: options.storage,
      ...(options.limits ? { limits: options.limits } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    // The lookups behind jobs.get (and every job procedure), compiled once.
    this.#byId = precompile(this.#db, (id) => this.#db.selectFrom('jobs').selectAll().where('id', '=', id));
    this.#byIdAndOwner = precompile(
      this.#db,
      (id, owner) =>
        this.#db.selectFrom('jobs').selectAll().where('id', '=', id).where('owner_id', '=', owner!),
      2,
    );
    this.#queue = options.queue;
    this.#storage = options.storage;
    this.#registry = options.registry;
    this.#secretsKey = options.secretsKey;
    this.#limits = options.limits ?? {};
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#logger = options.logger ?? silentLogger;
    this.#freeMaxSide = options.freeMaxSide;
    this.#resultCache = options.resultCache ?? true;
  }

  /** Finds or creates the user with this email (the CLI's operator account, for one). */
  async ensureUser(email: string, displayName = email.split('@')[0] ?? email): Promise<string> {
    const existing = await this.#db
      .selectFrom('users')
      .select('id')
      .where(sql`lower(email)`, '=', email.toLowerCase())
      .executeTakeFirst();
    if (existing) return existing.id;
    const row = await this.#db
      .insertInto('users')
      .values({ email, display_name: displayName })
      .onConflict((oc) => oc.expression(sql`lower(email)`).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (row) return row.id;
    return (
      await this.#db
        .selectFrom('users')
        .select('id')
        .where(sql`lower(email)`, '=', email.toLowerCase())
        .executeTakeFirstOrThrow()
    ).id;
  }

  /**
   * Stores an original: limits are checked from its bytes and header before anything is written;
   * the file is content-addressed (written before its row, so a crash leaves at most an orphan
   * file that {@link collectOrphans} removes). The same photo uploaded twice by one owner returns
   * the first image. A new image's analysis is queued in the transaction that writes its row
   * (docs/gallery.md): never run here, in the request.
   */
  async storeImage(args: {
    ownerId: string;
    bytes: Uint8Array;
    originalName?: string;
    /** Charges the owner's quotas (cost, stored bytes) in the transaction that writes the row. */
    quota?: QuotaService;
  }): Promise<StoredImage> {
    const limits: PlanLimits = { ...DEFAULT_LIMITS, ...this.#limits };
    const info = await inspectInput(args.bytes, limits);
    const sha256 = createHash('sha256').update(args.bytes).digest('hex');
    const quota = args.quota;
    if (!quota) return this.#storeImage(this.#db, args, info, sha256);
    const cost = usageCost({ kind: 'upload', bytes: args.bytes.length });
    return this.#db.transaction().execute(async (trx) => {
      const existing = await this.#imageBySha(trx, args.ownerId, sha256);
      await quota.charge(
        args.ownerId,
        { kind: 'upload', cost, bytes: existing ? 0 : args.bytes.length },
        trx,
      );
      return this.#storeImage(trx, args, info, sha256);
    });
  }

  #imageBySha(db: Kysely<Database>, ownerId: string, sha256: string) {
    return db
      .selectFrom('images')
      .selectAll()
      .where('owner_id', '=', ownerId)
      .where('sha256', '=', sha256)
      .executeTakeFirst();
  }

  async #storeImage(
    db: Kysely<Database>,
    args: { ownerId: string; bytes: Uint8Array; originalName?: string },
    info: InputInfo,
    sha256: string,
  ): Promise<StoredImage> {
    const existing = await this.#imageBySha(db, args.ownerId, sha256);
    if (existing) return { ...(await this.#withAnalysis(existing)), existed: true };
    const key = originalKey(sha256);
    // Written even when another owner's upload already stored these bytes (an atomic replace with
    // the same content): skipping the write would make this upload measurably faster, and so tell
    // the uploader that someone else holds the photo.
    await this.#storage.put(key, args.bytes, { contentType: CONTENT_TYPES[info.format] });
    const orientSwap = info.orientation >= 5 && info.orientation <= 8;
    const insert = (trx: Kysely<Database>) =>
      trx
        .insertInto('images')
        .values({
          owner_id: args.ownerId,
          sha256,
          bytes: args.bytes.length,
          width: orientSwap ? info.height : info.width,
          height: orientSwap ? info.width : info.height,
          format: info.format,
          storage_key: key,
          original_name: args.originalName ?? null,
        })
        .onConflict((oc) => oc.columns(['owner_id', 'sha256']).doNothing())
        .returningAll()
        .executeTakeFirst();
    // The row and its analysis job commit together: only the upload that inserted the row queues
    // one, so the same photo uploaded twice (or two uploads racing) is analysed once.
    const withAnalysis = async (trx: Kysely<Database>) => {
      const row = await insert(trx);
      if (row) await enqueueAnalysis(this.#queue, trx, { id: row.id, ownerId: row.owner_id });
      return row;
    };
    const row = db.isTransaction ? await withAnalysis(db) : await db.transaction().execute(withAnalysis);
    if (row) return { ...toImageRecord(row, PENDING_ANALYSIS), existed: false };
    const raced = await this.#imageBySha(db, args.ownerId, sha256);
    if (!raced) throw new Error(`image ${sha256} vanished after a conflicting insert`);
    return { ...(await this.#withAnalysis(raced)), existed: true };
  }

  async #withAnalysis(row: Image): Promise<ImageRecord> {
    return toImageRecord(row, (await this.#analysis.recordsOf([row.id])).get(row.id) ?? null);
  }

  async getImage(id: string, ownerId?: string): Promise<ImageRecord> {
    let query = this.#db.selectFrom('images').selectAll().where('id', '=', id);
    if (ownerId !== undefined) query = query.where('owner_id', '=', ownerId);
    // A malformed uuid is just another id that does not exist; a database failure stays one.
    const row = isUuid(id) ? await query.executeTakeFirst() : undefined;
    if (!row) throw new AtelierError('IMAGE_NOT_FOUND', `No image ${id}.`);
    return this.#withAnalysis(row);
  }

  /**
   * What analysis plugins found for these images (`ctx.annotate`), by image id, each image's
   * newest first. With `ownerId`, only that owner's images answer (others get no entry).
   */
  async annotationsOf(
    imageIds: readonly string[],
    ownerId?: string,
  ): Promise<Map<string, ImageAnnotationRecord[]>> {
    const ids = imageIds.filter(isUuid);
    const found = new Map<string, ImageAnnotationRecord[]>();
    if (ids.length === 0) return found;
    let query = this.#db
      .selectFrom('image_annotations')
      .innerJoin('images', 'images.id', 'image_annotations.image_id')
      .selectAll('image_annotations')
      .where('image_annotations.image_id', 'in', ids)
      .orderBy('image_annotations.created_at', 'desc')
      .orderBy('image_annotations.plugin');
    if (ownerId !== undefined) query = query.where('images.owner_id', '=', ownerId);
    for (const row of await query.execute()) {
      const list = found.get(row.image_id) ?? [];
      list.push(toAnnotationRecord(row));
      found.set(row.image_id, list);
    }
    return found;
  }

  /** An owner's images, newest first, with a cursor for the next page. */
  async listImages(args: {
    ownerId: string;
    limit?: number;
    cursor?: string;
  }): Promise<{ items: ImageRecord[]; nextCursor: string | null }> {
    const limit = Math.max(1, Math.min(200, args.limit ?? 50));
    let query = this.#db
      .selectFrom('images')
      .selectAll()
      .select(exactCreatedAt().as('cursor_at'))
      .where('owner_id', '=', args.ownerId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1);
    if (args.cursor !== undefined) query = query.where(olderThan(args.cursor));
    const page = pageOf(await query.execute(), limit, (row) => row);
    const analyses = await this.#analysis.recordsOf(page.items.map((i) => i.id));
    return {
      items: page.items.map((i) => toImageRecord(i, analyses.get(i.id) ?? null)),
      nextCursor: page.nextCursor,
    };
  }

  /**
   * What `Engine.run` needs as `grants` to run `plan` now (a preview): the granted hosts and
   * decrypted secrets of its plugins. Throws `CAPABILITY_NOT_GRANTED`, `SECRET_NOT_FOUND`,
   * `SECRETS_KEY_MISSING` as the render worker would.
   */
  grantsFor(plan: Plan): Promise<Record<string, PluginGrants>> {
    return loadPlanGrants(this.#db, this.#secretsKey, this.#registry, plan);
  }

  /** Makes the plan for a request with this service's registry and limits. */
  plan(request: PlanRequest): Plan {
    return createPlan(this.#registry, request, { limits: this.#limits });
  }

  /**
   * Creates a job. With an idempotency key seen before, returns that job. When the same plan
   * already ran on the same input, the job is born succeeded with the cached output
   * (`fromCache: true`). Otherwise the job row and its queue entry are written in one transaction.
   */
  async submit(args: SubmitJob): Promise<JobRecord> {
    if (args.idempotencyKey !== undefined) {
      const seen = await this.#findByKey(args.ownerId, args.idempotencyKey);
      if (seen) return toJobRecord(seen);
    }
    const image = await this.getImage(args.imageId, args.ownerId);
    const plan = this.plan(args.plan);
    // OUTPUT_TOO_LARGE before anything is written: the image row knows its (oriented) size.
    const sizes = await checkOutputSize(this.#registry, plan, image);
    // CAPABILITY_NOT_GRANTED / SECRET_NOT_FOUND before anything is written or charged.
    await checkPlanGrants(this.#db, this.#registry, plan);
    const hash = planHash(plan);
    const quota = args.quota;
    // Charged alike whether the cache answers or not, so the cost says nothing about the cache.
    const charge = (trx: Kysely<Database>): Promise<void> =>
      quota
        ? quota.charge(
            args.ownerId,
            {
              kind: 'job',
              cost: usageCost({ kind: 'job', stepPixels: sizes.steps.map((s) => s.width * s.height) }),
              // Its output will need room: refused once the owner's storage is full.
              bytes: 1,
            },
            trx,
          )
        : Promise.resolve();
    const style =
      plan.steps.find((s) => this.#registry.get(s.plugin).kind === 'style')?.plugin ??
      plan.steps[0]?.plugin ??
      'convert';
    const priority = Math.max(-100, Math.min(100, Math.trunc(args.priority ?? 0)));
    const base = {
      owner_id: args.ownerId,
      image_id: image.id,
      input_sha256: image.sha256,
      plan: JSON.stringify(plan),
      plan_hash: hash,
      style,
      priority,
      max_attempts: this.#maxAttempts,
      idempotency_key: args.idempotencyKey ?? null,
    };
    try {
      const cached = this.#resultCache
        ? await this.#cachedResult(args.ownerId, hash, image.sha256)
        : undefined;
      if (cached) {
        const insertHit = (db: Kysely<Database>) =>
          db
            .insertInto('jobs')
            .values({
              ...base,
              status: 'succeeded',
              progress: 1,
              from_cache: true,
              output_key: cached.output_key,
              output_bytes: cached.bytes,
              output_width: cached.width,
              output_height: cached.height,
              output_format: cached.format,
              timings: JSON.stringify({ totalMs: 0 }),
              started_at: new Date(),
              finished_at: new Date(),
              updated_at: new Date(),
            })
            .returningAll()
            .executeTakeFirstOrThrow();
        // One statement without a quota; with one, the charge and the row commit together.
        const row = quota
          ? await this.#db.transaction().execute(async (trx) => {
              await charge(trx);
              return insertHit(trx);
            })
          : await insertHit(this.#db);
        return toJobRecord(row);
      }
      const id = randomUUID();
      const row = await this.#db.transaction().execute(async (trx) => {
        await charge(trx);
        const inserted = await trx
          .insertInto('jobs')
          .values({ ...base, id, queue_job_id: id, updated_at: new Date() })
          .returningAll()
          .executeTakeFirstOrThrow();
        await this.#enqueue(trx, id, id, style, priority);
        return inserted;
      });
      return toJobRecord(row);
    } catch (error) {
      // Two submissions with one key raced: the unique index let one in; return it.
      if ((error as { code?: string }).code === '23505' && args.idempotencyKey !== undefined) {
        const seen = await this.#findByKey(args.ownerId, args.idempotencyKey);
        if (seen) return toJobRecord(seen);
      }
      throw error;
    }
  }

  #enqueue(
    trx: Kysely<Database>,
    queueJobId: string,
    jobId: string,
    style: string,
    priority: number,
  ): Promise<void> {
    return enqueueRender(this.#queue, trx, { queueJobId, jobId, style, priority });
  }

  #findByKey(ownerId: string, key: string): Promise<Job | undefined> {
    return this.#db
      .selectFrom('jobs')
      .selectAll()
      .where('owner_id', '=', ownerId)
      .where('idempotency_key', '=', key)
      .executeTakeFirst();
  }

  /**
   * The owner's own cache entry for this plan and input. Only the owner's: a hit on another user's
   * entry (`fromCache`, no time spent) would tell them that someone holds that photo.
   */
  async #cachedResult(ownerId: string, hash: string, sha256: string) {
    const cached = await this.#db
      .selectFrom('results')
      .selectAll()
      .where('owner_id', '=', ownerId)
      .where('plan_hash', '=', hash)
      .where('input_sha256', '=', sha256)
      .executeTakeFirst();
    if (!cached) return undefined;
    if (await this.#storage.head(cached.output_key)) return cached;
    // The file is gone (deleted with its last job): forget the entry and compute again.
    await this.#db
      .deleteFrom('results')
      .where('owner_id', '=', ownerId)
      .where('plan_hash', '=', hash)
      .where('input_sha256', '=', sha256)
      .execute();
    return undefined;
  }

  async #row(id: string, ownerId?: string): Promise<Job> {
    // A malformed uuid is just another id that does not exist; a database failure stays one.
    const rows = !isUuid(id)
      ? []
      : ownerId === undefined
        ? await this.#byId.execute([id])
        : await this.#byIdAndOwner.execute([id, ownerId]);
    const row = rows[0];
    if (!row) throw new AtelierError('JOB_NOT_FOUND', `No job ${id}.`);
    return row;
  }

  async get(id: string, ownerId?: string): Promise<JobRecord> {
    return toJobRecord(await this.#row(id, ownerId));
  }

  /** Jobs newest first, with a cursor for the next page. */
  async list(args: ListJobs = {}): Promise<{ items: JobRecord[]; nextCursor: string | null }> {
    const limit = Math.max(1, Math.min(200, args.limit ?? 50));
    let query = this.#db
      .selectFrom('jobs')
      .selectAll()
      .select(exactCreatedAt().as('cursor_at'))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1);
    if (args.ownerId !== undefined) query = query.where('owner_id', '=', args.ownerId);
    if (args.status !== undefined) query = query.where('status', '=', args.status);
    if (args.style !== undefined) query = query.where('style', '=', args.style);
    if (args.createdAfter !== undefined) query = query.where('created_at', '>=', args.createdAfter);
    if (args.createdBefore !== undefined) query = query.where('created_at', '<', args.createdBefore);
    if (args.cursor !== undefined) query = query.where(olderThan(args.cursor));
    return pageOf(await query.execute(), limit, toJobRecord);
  }

  /**
   * Cancels a queued or running job. A queued job never starts; a running one is stopped by its
   * worker (its plugin's AbortSignal fires). Finished jobs give `JOB_NOT_CANCELLABLE`.
   */
  async cancel(id: string, ownerId?: string): Promise<JobRecord> {
    const current = await this.#row(id, ownerId);
    const row = await this.#db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('jobs')
        .set({
          status: 'cancelled',
          finished_at: new Date(),
          updated_at: new Date(),
          error_code: 'ABORTED',
          error_message: 'Cancelled.',
        })
        .where('id', '=', current.id)
        .where('status', 'in', ['queued', 'running'])
        .returningAll()
        .executeTakeFirst();
      if (updated) await publishCancel(trx, updated.id);
      return updated;
    });
    if (!row) {
      throw new AtelierError('JOB_NOT_CANCELLABLE', `Job ${id} has already ${current.status}.`, {
        details: { status: current.status },
      });
    }
    if (row.queue_job_id) {
      await bossOf(this.#queue)
        .cancel(RENDER_QUEUE, row.queue_job_id)
        .catch((error: unknown) => {
          this.#logger.debug('queue cancel failed (the job may have finished)', { error: String(error) });
        });
    }
    return toJobRecord(row);
  }

  /** Queues a failed or cancelled job again, as a fresh attempt. */
  async retry(id: string, ownerId?: string): Promise<JobRecord> {
    const current = await this.#row(id, ownerId);
    if (current.status !== 'failed' && current.status !== 'cancelled') {
      throw new AtelierError(
        'JOB_NOT_RETRYABLE',
        `Job ${id} is ${current.status}; only failed or cancelled jobs can be retried.`,
      );
    }
    const queueJobId = randomUUID();
    const row = await this.#db.transaction().execute(async (trx) => {
      const updated = await trx
        .updateTable('jobs')
        .set({
          status: 'queued',
          progress: 0,
          attempts: 0,
          error_code: null,
          error_message: null,
          started_at: null,
          finished_at: null,
          queue_job_id: queueJobId,
          worker_id: null,
          updated_at: new Date(),
        })
        .where('id', '=', current.id)
        .where('status', 'in', ['failed', 'cancelled'])
        .returningAll()
        .executeTakeFirst();
      if (!updated) throw new AtelierError('JOB_NOT_RETRYABLE', `Job ${id} changed meanwhile; try again.`);
      await this.#enqueue(trx, queueJobId, updated.id, updated.style, updated.priority);
      return updated;
    });
    return toJobRecord(row);
  }

  /** Deletes a job (cancelling it first if needed) and its output file when nothing else uses it. */
  async deleteJob(id: string, ownerId?: string): Promise<void> {
    const row = await this.#row(id, ownerId);
    if (!TERMINAL_STATUSES.includes(row.status)) await this.cancel(id, ownerId).catch(() => {});
    await this.#db.deleteFrom('jobs').where('id', '=', row.id).execute();
    if (row.output_key) await this.#releaseFile(row.output_key, row.owner_id);
  }

  /** Deletes an image, its jobs, and every file no other row uses. */
  async deleteImage(id: string, ownerId?: string): Promise<void> {
    const image = await this.getImage(id, ownerId);
    const jobs = await this.#db
      .selectFrom('jobs')
      .select(['id', 'status', 'output_key'])
      .where('image_id', '=', image.id)
      .execute();
    for (const job of jobs)
      if (!TERMINAL_STATUSES.includes(job.status)) await this.cancel(job.id).catch(() => {});
    await this.#db.deleteFrom('images').where('id', '=', image.id).execute(); // jobs cascade
    for (const job of jobs) if (job.output_key) await this.#releaseFile(job.output_key, image.ownerId);
    await this.#releaseFile(image.storageKey, image.ownerId);
  }

  /**
   * After `ownerId` let go of stored `key`: drops their cache entry for it once none of their jobs
   * refers to it, and deletes the file (with every entry) once no image or job of anyone does.
   * The owner's entry goes even while others keep the file: it surviving would depend on, and so
   * reveal, another user holding the same output.
   */
  async #releaseFile(key: string, ownerId: string): Promise<void> {
    await this.#db
      .deleteFrom('results')
      .where('output_key', '=', key)
      .where('owner_id', '=', ownerId)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('jobs')
              .select(sql<number>`1`.as('one'))
              .where('jobs.output_key', '=', key)
              .where('jobs.owner_id', '=', ownerId),
          ),
        ),
      )
      .execute();
    if (await this.#referenced(key, false)) return;
    await this.#db.deleteFrom('results').where('output_key', '=', key).execute();
    await this.#storage.delete(key);
    const copy = this.#freeMaxSide === undefined ? undefined : freeCopyKey(key, this.#freeMaxSide);
    if (copy) await this.#storage.delete(copy);
  }

  /**
   * Whether an image or a job (and, with `orCache`, a result-cache entry) refers to stored `key`,
   * or an unfinished job will write it: results are shared by every owner's identical job, and
   * one may be rendering the file that another owner's deletion would otherwise remove.
   */
  async #referenced(key: string, orCache: boolean): Promise<boolean> {
    const one = sql<number>`1`.as('one');
    let query = this.#db
      .selectFrom('images')
      .select(one)
      .where('storage_key', '=', key)
      .unionAll(this.#db.selectFrom('jobs').select(one).where('output_key', '=', key));
    const parts = resultKeyParts(key);
    if (parts)
      query = query.unionAll(
        this.#db
          .selectFrom('jobs')
          .select(one)
          .where('plan_hash', '=', parts.planHash)
          .where('input_sha256', '=', parts.inputSha256)
          .where('status', 'in', ['queued', 'running']),
      );
    if (orCache)
      query = query.unionAll(this.#db.selectFrom('results').select(one).where('output_key', '=', key));
    return (await query.limit(1).executeTakeFirst()) !== undefined;
  }

  /**
   * Removes stored files that no image, job or cache entry refers to and that are older than
   * `olderThanMs` (a younger file may belong to an upload whose row is being written), and free
   * copies (`free/`) whose result is gone or whose size is no longer the configured one. Returns
   * the keys removed.
   */
  async collectOrphans(olderThanMs = 3600_000): Promise<string[]> {
    const removed: string[] = [];
    const cutoff = Date.now() - olderThanMs;
    for (const prefix of ['originals/', 'results/', 'free/']) {
      for await (const object of this.#storage.list(prefix)) {
        if (object.modified.getTime() > cutoff) continue;
        // A free copy lives as long as the result it was made from, and while its size is the
        // configured one (after ATELIER_FREE_MAX_SIDE changes, copies of the old size go).
        const source = prefix === 'free/' ? freeCopySource(object.key) : object.key;
        const current =
          prefix !== 'free/' ||
          (this.#freeMaxSide !== undefined && object.key.startsWith(`free/${this.#freeMaxSide}/`));
        const used = current && source !== undefined && (await this.#referenced(source, true));
        if (!used) {
          await this.#storage.delete(object.key);
          removed.push(object.key);
        }
      }
    }
    if (removed.length > 0) this.#logger.info('collected orphaned files', { count: removed.length });
    return removed;
  }
}
