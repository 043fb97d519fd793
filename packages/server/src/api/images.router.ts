import { z } from 'zod';
import { AtelierError, DEFAULT_LIMITS, isAtelierError } from '@atelier/core';
import { setTimeout as sleep } from 'node:timers/promises';
import { databaseUnavailable } from '@atelier/db';
import { DUPLICATE_THRESHOLD } from '@atelier/jobs';
import type { StoredImage } from '@atelier/jobs';
import type { ApiServices } from './context.ts';
import { atelierCause, imageTooLarge, toTRPCError, uploadBatchTooLarge } from './errors.ts';
import { authedProcedure, router } from './trpc.ts';
import { imageView } from './views.ts';
import { signPath } from './signed-url.ts';
import {
  deletedSchema,
  downloadUrlSchema,
  imagePageSchema,
  imageSchema,
  uploadManySchema,
  uploadedImageSchema,
} from './response-schemas.ts';
import type { duplicatesSchema, uploadResultSchema } from './response-schemas.ts';

/**
 * The upload cap of a request. A chunked body has no length to refuse it by, so tRPC stops reading
 * it at the cap (app.ts) with a bare PAYLOAD_TOO_LARGE: for an upload, that is IMAGE_TOO_LARGE.
 */
const uploadProcedure = authedProcedure.use(async ({ ctx, next }) => {
  const result = await next();
  if (!result.ok && result.error.code === 'PAYLOAD_TOO_LARGE' && !atelierCause(result.error))
    throw toTRPCError(imageTooLarge(ctx.api.limits.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes));
  return result;
});

/** A batch upload over the request cap, stopped by tRPC while reading it: UPLOAD_BATCH_TOO_LARGE. */
const batchUploadProcedure = authedProcedure.use(async ({ ctx, next }) => {
  const result = await next();
  if (!result.ok && result.error.code === 'PAYLOAD_TOO_LARGE' && !atelierCause(result.error))
    throw toTRPCError(uploadBatchTooLarge(ctx.api.uploads.maxBatchBytes));
  return result;
});

/** One file's answer in a batch upload. */
type UploadResult = z.infer<typeof uploadResultSchema>;
type DuplicateReport = z.infer<typeof duplicatesSchema>;

/** The longest an upload may wait for its analysis (form field or query `waitForAnalysisMs`). */
export const MAX_ANALYSIS_WAIT_MS = 10_000;
/** How often a waiting upload looks whether its analysis is done. */
const ANALYSIS_POLL_MS = 25;

/**
 * The upload's `waitForAnalysisMs` field: how long its answer may wait for the queued analysis, so
 * that it can say which of the owner's images it nearly duplicates. Absent or empty: 0, answer at once.
 */
function analysisWaitOf(form: FormData): number {
  const raw = form.get('waitForAnalysisMs');
  if (raw === null || raw === '') return 0;
  const ms = typeof raw === 'string' && /^\s*\d{1,6}\s*$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(ms <= MAX_ANALYSIS_WAIT_MS)) {
    const message = `waitForAnalysisMs must be a whole number of milliseconds from 0 to ${MAX_ANALYSIS_WAIT_MS}.`;
    throw new AtelierError('PARAMS_INVALID', message, {
      details: { issues: [{ path: ['waitForAnalysisMs'], message }] },
    });
  }
  return ms;
}

/**
 * The near-duplicates of freshly uploaded images among their owner's. The analysis that finds
 * them runs on the queue, never here: this only reads its outcome, and with `waitMs` > 0 looks
 * again every {@link ANALYSIS_POLL_MS} until every image's analysis is done or failed, the wait is
 * over or the request is gone. What is still pending then answers `analysis: 'pending'`.
 */
async function duplicatesOf(
  ctx: { api: ApiServices; user: { id: string } },
  ids: readonly string[],
  waitMs: number,
  signal: AbortSignal | undefined,
): Promise<Map<string, DuplicateReport>> {
  const deadline = Date.now() + waitMs;
  const reports = new Map<string, DuplicateReport>();
  for (const imageId of new Set(ids)) {
    for (;;) {
      const report = await ctx.api.gallery.duplicates({ ownerId: ctx.user.id, imageId });
      const left = deadline - Date.now();
      if (report.analysis !== 'pending' || left <= 0 || signal?.aborted) {
        reports.set(imageId, { ...report, threshold: DUPLICATE_THRESHOLD });
        break;
      }
      await sleep(Math.min(ANALYSIS_POLL_MS, left));
    }
  }
  return reports;
}

/**
 * Stores the files of a batch one after the other, each as `images.upload` stores one (its own
 * size cap, format sniffing, quota charge and row in one transaction), so a file that fails leaves
 * no row and no stored object, and the files before it stay. A failure that is not about the file
 * (a bug) ends the request; a lost database is a per-file DATABASE_UNAVAILABLE.
 */
async function storeEach(
  ctx: { api: ApiServices; user: { id: string } },
  files: readonly (File | string)[],
  names: readonly (File | string)[],
  waitMs: number,
  signal: AbortSignal | undefined,
): Promise<UploadResult[]> {
  const limit = ctx.api.limits.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes;
  const results: (UploadResult | { index: number; name: string | null; ok: true; stored: StoredImage })[] =
    [];
  for (const [index, file] of files.entries()) {
    const given = names[index];
    const name =
      (typeof given === 'string' && given !== '' ? given : file instanceof File ? file.name : '').slice(
        0,
        255,
      ) || null;
    try {
      if (signal?.aborted) throw new AtelierError('ABORTED', 'The upload was cancelled before this file.');
      if (typeof file === 'string') {
        throw new AtelierError(
          'PARAMS_INVALID',
          `Form field "file" number ${index + 1} is text, not a file.`,
          {
            details: { issues: [{ path: ['file', index], message: 'Expected a file' }] },
          },
        );
      }
      if (file.size > limit) throw imageTooLarge(limit, file.size);
      const stored = await ctx.api.jobs.storeImage({
        ownerId: ctx.user.id,
        bytes: new Uint8Array(await file.arrayBuffer()),
        quota: ctx.api.quotas,
        ...(name ? { originalName: name } : {}),
      });
      results.push({ index, name, ok: true, stored });
    } catch (error) {
      const coded = databaseUnavailable(error) ?? error;
      if (!isAtelierError(coded)) throw error;
      results.push({
        index,
        name,
        ok: false,
        error: {
          code: coded.code,
          message: coded.message,
          details: coded.details ? { ...coded.details } : null,
        },
      });
    }
  }
  const stored = results.flatMap((r) => ('stored' in r ? [r.stored] : []));
  const answers = await uploadAnswers(ctx, stored, waitMs, signal);
  let next = 0;
  return results.map((r) => {
    if (!('stored' in r)) return r;
    const image = answers[next++];
    if (!image) throw new Error(`no upload answer for image ${r.stored.id}`);
    return { index: r.index, name: r.name, ok: true as const, image };
  });
}

/**
 * The answers to stored uploads, in their order: each image's view, whether its bytes were already
 * uploaded (the same photo twice in one batch is one image, new the first time and already yours
 * the second), and its near-duplicates ({@link duplicatesOf}, waiting up to `waitMs` for the
 * analyses). An image whose analysis finished during the wait is read again, so its view and its
 * report agree.
 */
async function uploadAnswers(
  ctx: { api: ApiServices; user: { id: string } },
  stored: readonly StoredImage[],
  waitMs: number,
  signal: AbortSignal | undefined,
): Promise<z.infer<typeof uploadedImageSchema>[]> {
  const ids = stored.map((image) => image.id);
  const reports = await duplicatesOf(ctx, ids, waitMs, signal);
  const changed = stored
    .filter((image) => image.analysis?.status !== reports.get(image.id)?.analysis)
    .map((image) => image.id);
  const fresh = changed.length > 0 ? await ctx.api.gallery.images(changed, ctx.user.id) : new Map();
  const annotations = await ctx.api.jobs.annotationsOf(ids, ctx.user.id);
  return stored.map((image) => {
    const report = reports.get(image.id);
    if (!report) throw new Error(`no duplicate report for image ${image.id}`);
    return {
      ...imageView(fresh.get(image.id) ?? image, annotations.get(image.id) ?? []),
      alreadyUploaded: image.existed,
      duplicates: report,
    };
  });
}

export const imagesRouter = router({
  /**
   * Uploads a photo as multipart form data: field `file` (the image), optional `name`. The size
   * cap and format sniffing run before any decoding; a rejected upload stores nothing. Over REST it is
   * `POST /api/images` with the raw bytes (rest-api.ts).
   */
  upload: uploadProcedure
    .input(z.instanceof(FormData))
    .output(uploadedImageSchema)
    .mutation(async ({ ctx, input, signal }) => {
      const file = input.get('file');
      if (!(file instanceof Blob)) {
        throw new AtelierError('PARAMS_INVALID', 'Send the image as the form field "file".', {
          details: { issues: [{ path: ['file'], message: 'Required: the image file' }] },
        });
      }
      const limit = ctx.api.limits.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes;
      if (file.size > limit) throw imageTooLarge(limit, file.size);
      const waitMs = analysisWaitOf(input);
      const nameField = input.get('name');
      const name = typeof nameField === 'string' ? nameField : file instanceof File ? file.name : undefined;
      const bytes = new Uint8Array(await file.arrayBuffer());
      const image = await ctx.api.jobs.storeImage({
        ownerId: ctx.user.id,
        bytes,
        quota: ctx.api.quotas,
        ...(name ? { originalName: name.slice(0, 255) } : {}),
      });
      // The same photo uploaded again is the same image, with what was found in it already.
      const [answer] = await uploadAnswers(ctx, [image], waitMs, signal);
      if (!answer) throw new Error(`no upload answer for image ${image.id}`);
      return answer;
    }),

  /**
   * Uploads several photos in one request: form fields `file` (one per photo, in order) and
   * optionally `name` (the n-th names the n-th file; an empty one keeps the file's own name).
   * Answers one result per file, in order: `{ ok: true, image }` or `{ ok: false, error: { code,
   * message, details } }`. A failed file stores nothing; the others are stored all the same. The
   * request itself is refused, with nothing stored, over ATELIER_UPLOAD_MAX_FILES files
   * (UPLOAD_TOO_MANY_FILES) or ATELIER_UPLOAD_BATCH_MAX_BYTES (UPLOAD_BATCH_TOO_LARGE). Over REST
   * it is `POST /api/images/batch` (rest-api.ts).
   */
  uploadMany: batchUploadProcedure
    .input(z.instanceof(FormData))
    .output(uploadManySchema)
    .mutation(async ({ ctx, input, signal }) => {
      const files = input.getAll('file');
      if (files.length === 0) {
        throw new AtelierError(
          'PARAMS_INVALID',
          'Send the images as multipart/form-data, each in a form field "file".',
          { details: { issues: [{ path: ['file'], message: 'Required: at least one image file' }] } },
        );
      }
      const { maxFiles } = ctx.api.uploads;
      if (files.length > maxFiles) {
        throw new AtelierError(
          'UPLOAD_TOO_MANY_FILES',
          `This upload has ${files.length} files; one request takes at most ${maxFiles}. Send them in several requests.`,
          { details: { files: files.length, maxFiles } },
        );
      }
      const names = input.getAll('name');
      if (names.length > files.length) {
        throw new AtelierError(
          'PARAMS_INVALID',
          `The upload has ${names.length} "name" fields for ${files.length} files: give at most one name per file, in the order of the files.`,
          { details: { issues: [{ path: ['name'], message: 'More names than files' }] } },
        );
      }
      return { results: await storeEach(ctx, files, names, analysisWaitOf(input), signal) };
    }),

  get: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/images/{id}',
        protect: true,
        tags: ['images'],
        summary: 'An uploaded image',
      },
    })
    .input(z.object({ id: z.string() }))
    .output(imageSchema)
    .query(async ({ ctx, input }) => {
      const image = await ctx.api.jobs.getImage(input.id, ctx.user.id);
      const annotations = await ctx.api.jobs.annotationsOf([image.id], ctx.user.id);
      return imageView(image, annotations.get(image.id) ?? []);
    }),

  list: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/images',
        protect: true,
        tags: ['images'],
        summary: 'Your images, newest first, a page at a time',
      },
    })
    .input(z.object({ limit: z.number().int().min(1).max(100).default(20), cursor: z.string().nullish() }))
    .output(imagePageSchema)
    .query(async ({ ctx, input }) => {
      const page = await ctx.api.jobs.listImages({
        ownerId: ctx.user.id,
        limit: input.limit,
        ...(input.cursor ? { cursor: input.cursor } : {}),
      });
      const annotations = await ctx.api.jobs.annotationsOf(
        page.items.map((i) => i.id),
        ctx.user.id,
      );
      return {
        items: page.items.map((i) => imageView(i, annotations.get(i.id) ?? [])),
        nextCursor: page.nextCursor,
      };
    }),

  /** A URL that downloads the original for 5 minutes without a session (for <img> and links). */
  downloadUrl: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/images/{id}/download-url',
        protect: true,
        tags: ['images'],
        summary: 'A signed URL that downloads the original for 5 minutes',
      },
    })
    .input(z.object({ id: z.string() }))
    .output(downloadUrlSchema)
    .query(async ({ ctx, input }) => {
      const image = await ctx.api.jobs.getImage(input.id, ctx.user.id);
      const signer = { userId: ctx.user.id, epoch: ctx.session.epoch };
      return { url: signPath(ctx.api.urlSecret, `/files/images/${image.id}`, signer) };
    }),

  /** Deletes the image, its jobs, and every file nothing else uses. */
  delete: authedProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/images/{id}',
        protect: true,
        tags: ['images'],
        summary: 'Delete an image, its jobs and their files',
      },
    })
    .input(z.object({ id: z.string() }))
    .output(deletedSchema)
    .mutation(async ({ ctx, input }) => {
      await ctx.api.jobs.deleteImage(input.id, ctx.user.id);
      return { id: input.id, deleted: true as const };
    }),
});
