import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { DEFAULT_LIMITS } from '@atelier/core';
import { authedProcedure, router } from './trpc.ts';
import { imageView } from './views.ts';
import { signPath } from './signed-url.ts';
import { deletedSchema, downloadUrlSchema, imagePageSchema, imageSchema } from './response-schemas.ts';

export const imagesRouter = router({
  /**
   * Uploads a photo as multipart form data: field `file` (the image), optional `name`. The size
   * cap and format sniffing run before any decoding; a rejected upload stores nothing. Over REST it is
   * `POST /api/images` with the raw bytes (rest-api.ts).
   */
  upload: authedProcedure
    .input(z.instanceof(FormData))
    .output(imageSchema)
    .mutation(async ({ ctx, input }) => {
      const file = input.get('file');
      if (!(file instanceof Blob)) {
        throw new TRPCError({ code: 'BAD_REQUEST', message: 'Send the image as the form field "file".' });
      }
      const limit = ctx.api.core.config.limits.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes;
      if (file.size > limit) {
        throw new TRPCError({
          code: 'PAYLOAD_TOO_LARGE',
          message: `The file is ${file.size} bytes; the limit is ${limit} bytes.`,
        });
      }
      const nameField = input.get('name');
      const name = typeof nameField === 'string' ? nameField : file instanceof File ? file.name : undefined;
      const bytes = new Uint8Array(await file.arrayBuffer());
      const image = await ctx.api.core.jobs.storeImage({
        ownerId: ctx.user.id,
        bytes,
        quota: ctx.api.quotas,
        ...(name ? { originalName: name.slice(0, 255) } : {}),
      });
      return imageView(image);
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
    .query(async ({ ctx, input }) => imageView(await ctx.api.core.jobs.getImage(input.id, ctx.user.id))),

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
      const page = await ctx.api.core.jobs.listImages({
        ownerId: ctx.user.id,
        limit: input.limit,
        ...(input.cursor ? { cursor: input.cursor } : {}),
      });
      return { items: page.items.map(imageView), nextCursor: page.nextCursor };
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
      const image = await ctx.api.core.jobs.getImage(input.id, ctx.user.id);
      return { url: signPath(ctx.api.urlSecret, `/files/images/${image.id}`) };
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
      await ctx.api.core.jobs.deleteImage(input.id, ctx.user.id);
      return { id: input.id, deleted: true as const };
    }),
});
