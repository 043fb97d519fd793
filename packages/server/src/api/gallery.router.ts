import { z } from 'zod';
import {
  DEFAULT_COLOUR_TOLERANCE,
  DEFAULT_SIMILAR_THRESHOLD,
  DUPLICATE_THRESHOLD,
  MAX_COLOUR_TOLERANCE,
  MAX_SEARCH_COLOURS,
  MAX_SIMILAR_THRESHOLD,
  MAX_TAGS,
  MAX_TAG_LENGTH,
  MAX_TITLE_LENGTH,
} from '@atelier/jobs';
import type { GalleryFilters, SearchPage } from '@atelier/jobs';
import type { ApiContext } from './context.ts';
import { authedProcedure, router } from './trpc.ts';
import { imageView } from './views.ts';
import type { ApiImage } from './views.ts';
import { JOB_STATUSES, duplicatesSchema, imageSchema } from './response-schemas.ts';

// Gallery search (docs/gallery.md "## Search", docs/api.md "Gallery search"): every procedure
// searches the caller's own images only, a page at a time, and takes the gallery's filters.

const filtersShape = {
  limit: z.number().int().min(1).max(100).default(20),
  cursor: z.string().nullish(),
  style: z.string().min(1).max(200).optional().meta({ description: 'Only images with a job of this style.' }),
  status: z
    .enum(JOB_STATUSES)
    .optional()
    .meta({ description: 'Only images with a job in this status (of `style`, when given).' }),
  createdAfter: z.string().datetime().optional().meta({ description: 'Uploaded at or after this time.' }),
  createdBefore: z.string().datetime().optional().meta({ description: 'Uploaded before this time.' }),
};

const nextCursor = z
  .string()
  .nullable()
  .meta({ description: 'Pass it as `cursor` for the next page; null on the last page.' });

function filtersOf(input: {
  style?: string | undefined;
  status?: GalleryFilters['status'] | undefined;
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
}): GalleryFilters {
  return {
    ...(input.style === undefined ? {} : { style: input.style }),
    ...(input.status === undefined ? {} : { status: input.status }),
    ...(input.createdAfter === undefined ? {} : { createdAfter: new Date(input.createdAfter) }),
    ...(input.createdBefore === undefined ? {} : { createdBefore: new Date(input.createdBefore) }),
  };
}

/** What every search takes besides its own query: the caller, the page and the gallery's filters. */
function pageArgsOf(
  ctx: { user: { id: string } },
  input: Parameters<typeof filtersOf>[0] & { limit: number; cursor?: string | null | undefined },
): { ownerId: string; limit: number; cursor?: string; filters: GalleryFilters } {
  return {
    ownerId: ctx.user.id,
    limit: input.limit,
    ...(input.cursor ? { cursor: input.cursor } : {}),
    filters: filtersOf(input),
  };
}

/** The hits of a page with their images (the caller's own, in the page's order). */
async function withImages<Hit extends { imageId: string }>(
  ctx: ApiContext & { user: { id: string } },
  page: SearchPage<Hit>,
): Promise<{ items: (Omit<Hit, 'imageId'> & { image: ApiImage })[]; nextCursor: string | null }> {
  const ids = page.items.map((hit) => hit.imageId);
  const images = await ctx.api.gallery.images(ids, ctx.user.id);
  const annotations = await ctx.api.jobs.annotationsOf(ids, ctx.user.id);
  const items = page.items.flatMap(({ imageId, ...rest }) => {
    const image = images.get(imageId);
    return image ? [{ ...rest, image: imageView(image, annotations.get(imageId) ?? []) }] : [];
  });
  return { items, nextCursor: page.nextCursor };
}

const colourPageSchema = z
  .object({
    items: z.array(
      z.object({
        image: imageSchema,
        score: z.number().meta({
          description:
            "0..1: the share of the image's palette near the colours, weighted by closeness (1 - ΔE/tolerance), averaged over the colours.",
        }),
        deltaE: z.number().meta({
          description:
            'The largest, over the colours asked, ΔE76 between a colour and its nearest palette colour.',
        }),
      }),
    ),
    nextCursor,
  })
  .meta({ id: 'ColourSearchPage' });

const similarPageSchema = z
  .object({
    items: z.array(
      z.object({
        image: imageSchema,
        distance: z
          .number()
          .int()
          .meta({ description: 'Hamming distance between the pHashes (0..64 bits).' }),
      }),
    ),
    nextCursor,
  })
  .meta({ id: 'SimilarSearchPage' });

const textPageSchema = z
  .object({ items: z.array(z.object({ image: imageSchema })), nextCursor })
  .meta({ id: 'TextSearchPage' });

const detailsSchema = z
  .object({ id: z.string(), title: z.string().nullable(), tags: z.array(z.string()) })
  .meta({ id: 'ImageDetails' });

export const galleryRouter = router({
  /**
   * Your images with colours near every one of `colors` (comma-separated `#rrggbb`), within
   * `tolerance` ΔE76, the largest close share first.
   */
  byColour: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/gallery/colour',
        protect: true,
        tags: ['gallery'],
        summary: 'Your images by colour, closest share first',
      },
    })
    .input(
      z.object({
        colors: z
          .string()
          .min(1)
          .max(200)
          .meta({
            description: `1 to ${MAX_SEARCH_COLOURS} colours, comma-separated, as #rrggbb or rrggbb.`,
          }),
        tolerance: z.number().gt(0).max(MAX_COLOUR_TOLERANCE).default(DEFAULT_COLOUR_TOLERANCE).meta({
          description: 'The largest ΔE76 (CIELAB distance) a palette colour may be from a colour asked.',
        }),
        ...filtersShape,
      }),
    )
    .output(colourPageSchema)
    .query(async ({ ctx, input }) => {
      const page = await ctx.api.gallery.byColour({
        ...pageArgsOf(ctx, input),
        colours: input.colors.split(',').map((c) => c.trim()),
        tolerance: input.tolerance,
      });
      return withImages(ctx, page);
    }),

  /** Your images that look like this one (pHash within `threshold` bits), nearest first. */
  similar: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/images/{id}/similar',
        protect: true,
        tags: ['gallery'],
        summary: 'Your images that look like this one, nearest first',
      },
    })
    .input(
      z.object({
        id: z.string(),
        threshold: z
          .number()
          .int()
          .min(0)
          .max(MAX_SIMILAR_THRESHOLD)
          .default(DEFAULT_SIMILAR_THRESHOLD)
          .meta({ description: 'The largest Hamming distance between pHashes, in bits of 64.' }),
        ...filtersShape,
      }),
    )
    .output(similarPageSchema)
    .query(async ({ ctx, input }) => {
      const page = await ctx.api.gallery.similar({
        ...pageArgsOf(ctx, input),
        imageId: input.id,
        threshold: input.threshold,
      });
      return withImages(ctx, page);
    }),

  /**
   * "You already have this, or nearly": your other images within the duplicate threshold. Known
   * once the image's analysis is done (`analysis: 'pending'` until then). Only your images are
   * compared: the answer never says whether anyone else has the same photo.
   */
  duplicates: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/images/{id}/duplicates',
        protect: true,
        tags: ['gallery'],
        summary: 'Your near-duplicates of this image',
      },
    })
    .input(z.object({ id: z.string() }))
    .output(duplicatesSchema)
    .query(async ({ ctx, input }) => {
      const report = await ctx.api.gallery.duplicates({ ownerId: ctx.user.id, imageId: input.id });
      return { ...report, threshold: DUPLICATE_THRESHOLD };
    }),

  /**
   * Your images whose file name, title, tags or analysis captions and tags hold the words of `q`
   * (web-search syntax, english stemming), newest first.
   */
  text: authedProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/gallery/search',
        protect: true,
        tags: ['gallery'],
        summary: 'Your images by words, newest first',
      },
    })
    .input(
      z.object({
        q: z.string().min(1).max(200).meta({
          description: 'Words to find; "a phrase" in quotes, -word to leave out, or between alternatives.',
        }),
        ...filtersShape,
      }),
    )
    .output(textPageSchema)
    .query(async ({ ctx, input }) => {
      const page = await ctx.api.gallery.text({
        ...pageArgsOf(ctx, input),
        query: input.q,
      });
      return withImages(ctx, page);
    }),

  /** Sets your title and tags of an image (text search finds them). Leave a field out to keep it. */
  setDetails: authedProcedure
    .meta({
      openapi: {
        method: 'PATCH',
        path: '/images/{id}/details',
        protect: true,
        tags: ['gallery'],
        summary: 'Set the title and tags of your image',
      },
    })
    .input(
      z.object({
        id: z.string(),
        title: z.string().max(MAX_TITLE_LENGTH).nullish().meta({ description: 'null or "" clears it.' }),
        tags: z
          .array(z.string().min(1).max(MAX_TAG_LENGTH))
          .max(MAX_TAGS)
          .optional()
          .meta({ description: 'Replaces the tags; stored trimmed, lower case, without duplicates.' }),
      }),
    )
    .output(detailsSchema)
    .mutation(({ ctx, input }) =>
      ctx.api.gallery.setDetails({
        ownerId: ctx.user.id,
        imageId: input.id,
        ...(input.title === undefined ? {} : { title: input.title }),
        ...(input.tags === undefined ? {} : { tags: input.tags }),
      }),
    ),
});
