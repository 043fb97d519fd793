import { z } from 'zod';
import { AtelierError, DEFAULT_LIMITS } from '@atelier/core';
import { atelierCause, imageTooLarge, toTRPCError } from './errors.ts';
import { authedProcedure, router } from './trpc.ts';
import { imageView } from './views.ts';
import { signPath } from './signed-url.ts';
import { deletedSchema, downloadUrlSchema, imagePageSchema, imageSchema } from './response-schemas.ts';

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

export const imagesRouter = router({
  /**
   * Uploads a photo as multipart form data: field `file` (the image), optional `name`. The size
   * cap and format sniffing run before any decoding; a rejected upload stores nothing. Over REST it is
   * `POST /api/images` with the raw bytes (rest-api.ts).
   */
  upload: uploadProcedure
    .input(z.instanceof(FormData))
    .output(imageSchema)
    .mutation(async ({ ctx, input }) => {
      const file = input.get('file');
      if (!(file instanceof Blob)) {
        throw new AtelierError('PARAMS_INVALID', 'Send the image as the form field "file".', {
          details: { issues: [{ path: ['file'], message: 'Required: the image file' }] },
        });
      }
      const limit = ctx.api.limits.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes;
      if (file.size > limit) throw imageTooLarge(limit, file.size);
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
      const annotations = await ctx.api.jobs.annotationsOf([image.id], ctx.user.id);
      return imageView(image, annotations.get(image.id) ?? []);
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
