// The analysis on upload (docs/gallery.md): the image_analysis rows, how one image is analysed and
// recorded, and which images `atelier analyse --all` still has to do. The worker that runs it from
// the queue is analysis-worker.ts.
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import { ANALYSIS_VERSION, analyseImage, fromSigned64, toSigned64 } from '@atelier/analysis';
import type { ImageAnalysis } from '@atelier/analysis';
import { AtelierError, isAtelierError, silentLogger } from '@atelier/core';
import type { ErrorCode, Logger, PlanLimits, Storage } from '@atelier/core';
import { databaseUnavailable, isUuid } from '@atelier/db';
import type { Database, GpsEntry, ImageAnalysisStatus, PaletteEntry } from '@atelier/db';
import { ANALYSIS_QUEUE, bossOf } from './queue.ts';
import type { AnalysisPayload, JobQueue, KyselyExecutor } from './queue.ts';
import { fromKysely } from 'pg-boss';

/** What the analysis found in an image, as services return it (the owner's view: GPS included). */
export interface ImageAnalysisRecord {
  readonly status: ImageAnalysisStatus;
  /** Why it failed (`failed`), or why the last attempt failed while it is retried (`pending`). */
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly attempts: number;
  /** The algorithms' version that made it; null until `done`. */
  readonly version: number | null;
  readonly analysedAt: Date | null;
  /** The rest is null until `done`. */
  readonly width: number | null;
  readonly height: number | null;
  readonly aspect: number | null;
  readonly brightness: number | null;
  /** Unsigned 64-bit pHash. */
  readonly phash: bigint | null;
  /** Unsigned 64-bit dHash. */
  readonly dhash: bigint | null;
  readonly blurhash: string | null;
  readonly palette: readonly PaletteEntry[] | null;
  readonly takenAt: Date | null;
  readonly camera: string | null;
  readonly orientation: number | null;
  /** Where the photo was taken: the owner's only; no other view, output or log may carry it. */
  readonly gps: GpsEntry | null;
}

/** The image_analysis columns a record is made of, hashes as text (int8 would lose bits as a Number). */
export function analysisColumns(db: Kysely<Database>) {
  return db
    .selectFrom('image_analysis')
    .select([
      'image_analysis.image_id',
      'image_analysis.status',
      'image_analysis.error_code',
      'image_analysis.error_message',
      'image_analysis.attempts',
      'image_analysis.analysis_version',
      'image_analysis.analysed_at',
      'image_analysis.width',
      'image_analysis.height',
      'image_analysis.aspect',
      'image_analysis.brightness',
      sql<string | null>`image_analysis.phash::text`.as('phash'),
      sql<string | null>`image_analysis.dhash::text`.as('dhash'),
      'image_analysis.blurhash',
      'image_analysis.palette',
      'image_analysis.taken_at',
      'image_analysis.camera',
      'image_analysis.orientation',
      'image_analysis.gps',
    ]);
}

type AnalysisRow = Awaited<ReturnType<ReturnType<typeof analysisColumns>['execute']>>[number];

export function toAnalysisRecord(row: AnalysisRow): ImageAnalysisRecord {
  return {
    status: row.status,
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    attempts: row.attempts,
    version: row.analysis_version,
    analysedAt: row.analysed_at,
    width: row.width,
    height: row.height,
    aspect: row.aspect,
    brightness: row.brightness,
    phash: row.phash === null ? null : fromSigned64(row.phash),
    dhash: row.dhash === null ? null : fromSigned64(row.dhash),
    blurhash: row.blurhash,
    palette: row.palette,
    takenAt: row.taken_at,
    camera: row.camera,
    orientation: row.orientation,
    gps: row.gps,
  };
}

/** The record of an analysis just queued (what an upload answers). */
export const PENDING_ANALYSIS: ImageAnalysisRecord = {
  status: 'pending',
  error: null,
  attempts: 0,
  version: null,
  analysedAt: null,
  width: null,
  height: null,
  aspect: null,
  brightness: null,
  phash: null,
  dhash: null,
  blurhash: null,
  palette: null,
  takenAt: null,
  camera: null,
  orientation: null,
  gps: null,
};

/**
 * Writes a `pending` row for a new image and puts its analysis on the queue, inside the caller's
 * transaction (the one that inserts the image): both commit with the image or not at all.
 */
export async function enqueueAnalysis(
  queue: JobQueue,
  trx: Kysely<Database>,
  image: { readonly id: string; readonly ownerId: string },
): Promise<void> {
  await trx
    .insertInto('image_analysis')
    .values({ image_id: image.id, owner_id: image.ownerId, status: 'pending' })
    .onConflict((oc) => oc.column('image_id').doNothing())
    .execute();
  await sendAnalysis(queue, trx, image.id);
}

async function sendAnalysis(queue: JobQueue, db: KyselyExecutor, imageId: string): Promise<void> {
  const payload: AnalysisPayload = { imageId };
  await bossOf(queue).send(ANALYSIS_QUEUE, payload, { db: fromKysely(db) });
}

/**
 * Failures another attempt may fix: storage and the database being away, or a fault of our own.
 * A file that does not decode (IMAGE_*) or is gone (STORAGE_NOT_FOUND) fails at once.
 */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'STORAGE_FAILED',
  'DATABASE_UNAVAILABLE',
  'INTERNAL',
]);

/** How one image's analysis ended. */
export type AnalysisOutcome =
  | { readonly status: 'done' }
  /** Already analysed by the current version (a second delivery, or a duplicate upload). */
  | { readonly status: 'current' }
  /** The image was deleted meanwhile. */
  | { readonly status: 'gone' }
  | { readonly status: 'failed'; readonly code: ErrorCode; readonly message: string };

/** Options of {@link AnalysisService}. */
export interface AnalysisServiceOptions {
  readonly db: Kysely<Database>;
  readonly storage: Storage;
  /** Upload limits (bytes, pixels, formats), as the job service's. */
  readonly limits?: Partial<PlanLimits>;
  readonly logger?: Logger;
}

/**
 * Analyses stored images and records what it found in image_analysis: used by the analysis
 * worker (from the queue) and by `atelier analyse --all` (the back-fill). Every step is
 * idempotent: an image analysed by the current version is left alone.
 */
export class AnalysisService {
  readonly #db: Kysely<Database>;
  readonly #storage: Storage;
  readonly #limits: Partial<PlanLimits>;
  readonly #logger: Logger;

  constructor(options: AnalysisServiceOptions) {
    this.#db = options.db;
    this.#storage = options.storage;
    this.#limits = options.limits ?? {};
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Analyses one image and records the outcome. A failure another attempt may fix
   * (`STORAGE_FAILED`, `DATABASE_UNAVAILABLE`, `INTERNAL`) is recorded on the row (still `pending`)
   * and thrown, for the queue to retry, unless `final`: then, like every other failure, it marks
   * the row `failed` with its code. The image itself is never touched.
   */
  async analyse(imageId: string, options: { readonly final?: boolean } = {}): Promise<AnalysisOutcome> {
    const db = this.#db;
    const image = isUuid(imageId)
      ? await db
          .selectFrom('images')
          .leftJoin('image_analysis', 'image_analysis.image_id', 'images.id')
          .select([
            'images.id',
            'images.owner_id',
            'images.storage_key',
            'image_analysis.status',
            'image_analysis.analysis_version',
          ])
          .where('images.id', '=', imageId)
          .executeTakeFirst()
      : undefined;
    if (!image) return { status: 'gone' };
    if (image.status === 'done' && (image.analysis_version ?? 0) >= ANALYSIS_VERSION)
      return { status: 'current' };
    let found: ImageAnalysis;
    try {
      const bytes = await this.#storage.get(image.storage_key);
      found = await analyseImage(bytes, { limits: this.#limits });
    } catch (cause) {
      const error = isAtelierError(cause)
        ? cause
        : (databaseUnavailable(cause) ??
          new AtelierError('INTERNAL', cause instanceof Error ? cause.message : String(cause), { cause }));
      const retry = RETRYABLE.has(error.code) && !options.final;
      await this.#recordFailure(image, error, retry);
      // The code only: never the image's content or metadata.
      this.#logger.warn('image analysis failed', { image: image.id, code: error.code, retry });
      if (retry) throw error;
      return { status: 'failed', code: error.code, message: error.message };
    }
    const [b0, b1, b2, b3] = found.phashBands;
    const values = {
      status: 'done' as const,
      error_code: null,
      error_message: null,
      analysis_version: found.version,
      analysed_at: new Date(),
      width: found.width,
      height: found.height,
      aspect: found.aspect,
      brightness: found.brightness,
      phash: toSigned64(found.phash).toString(),
      dhash: toSigned64(found.dhash).toString(),
      phash_b0: b0,
      phash_b1: b1,
      phash_b2: b2,
      phash_b3: b3,
      blurhash: found.blurhash,
      palette: JSON.stringify(found.palette),
      taken_at: found.exif.takenAt,
      camera: found.exif.camera,
      orientation: found.exif.orientation,
      gps: found.exif.gps ? JSON.stringify(found.exif.gps) : null,
      updated_at: new Date(),
    };
    try {
      await db
        .insertInto('image_analysis')
        .values({ image_id: image.id, owner_id: image.owner_id, attempts: 1, ...values })
        .onConflict((oc) =>
          oc
            .column('image_id')
            .doUpdateSet((eb) => ({ ...values, attempts: eb('image_analysis.attempts', '+', 1) })),
        )
        .execute();
    } catch (error) {
      if (isForeignKeyViolation(error)) return { status: 'gone' };
      throw databaseUnavailable(error) ?? error;
    }
    return { status: 'done' };
  }

  async #recordFailure(
    image: { readonly id: string; readonly owner_id: string },
    error: AtelierError,
    retry: boolean,
  ): Promise<void> {
    const values = {
      status: retry ? ('pending' as const) : ('failed' as const),
      error_code: error.code,
      error_message: error.message.slice(0, 2000),
      updated_at: new Date(),
    };
    await this.#db
      .insertInto('image_analysis')
      .values({ image_id: image.id, owner_id: image.owner_id, attempts: 1, ...values })
      .onConflict((oc) =>
        oc
          .column('image_id')
          .doUpdateSet((eb) => ({ ...values, attempts: eb('image_analysis.attempts', '+', 1) }))
          // A row another attempt marked done meanwhile stays done.
          .where('image_analysis.status', '<>', 'done'),
      )
      .execute()
      .catch((cause: unknown) => {
        if (!isForeignKeyViolation(cause)) throw databaseUnavailable(cause) ?? cause;
      });
  }

  /**
   * Images that have no current analysis, in id order after `after`: no row, `pending`, `done` by
   * an older version, and with `retryFailed`, `failed`. What `atelier analyse --all` works through;
   * resuming is starting again (done rows drop out).
   */
  async todo(args: { after?: string; limit: number; retryFailed?: boolean }): Promise<string[]> {
    let query = this.#todoQuery(args.retryFailed ?? false)
      .select('images.id')
      .orderBy('images.id')
      .limit(args.limit);
    if (args.after !== undefined) query = query.where('images.id', '>', args.after);
    return (await query.execute()).map((r) => r.id);
  }

  /** How many images {@link todo} would list from the start. */
  async countTodo(args: { retryFailed?: boolean } = {}): Promise<number> {
    const row = await this.#todoQuery(args.retryFailed ?? false)
      .select(({ fn }) => fn.countAll<string>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  #todoQuery(retryFailed: boolean) {
    return this.#db
      .selectFrom('images')
      .leftJoin('image_analysis', 'image_analysis.image_id', 'images.id')
      .where((eb) =>
        eb.or([
          eb('image_analysis.image_id', 'is', null),
          eb('image_analysis.status', '=', 'pending'),
          eb.and([
            eb('image_analysis.status', '=', 'done'),
            eb('image_analysis.analysis_version', '<', ANALYSIS_VERSION),
          ]),
          ...(retryFailed ? [eb('image_analysis.status', '=', 'failed')] : []),
        ]),
      );
  }

  /** The analysis of these images, by image id (none for an image without a row). */
  async recordsOf(imageIds: readonly string[]): Promise<Map<string, ImageAnalysisRecord>> {
    const ids = imageIds.filter(isUuid);
    const found = new Map<string, ImageAnalysisRecord>();
    if (ids.length === 0) return found;
    for (const row of await analysisColumns(this.#db).where('image_analysis.image_id', 'in', ids).execute())
      found.set(row.image_id, toAnalysisRecord(row));
    return found;
  }
}

function isForeignKeyViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '23503';
}
