import { tracked } from '@trpc/server';
import { z } from 'zod';
import { registryRevisions } from './registry-revisions.ts';
import { authedProcedure, publicProcedure, router } from './trpc.ts';
import { PLUGIN_KINDS, previewSchema, styleSchema } from './response-schemas.ts';

export const stylesRouter = router({
  /** Enabled plugins with their JSON Schema and defaults: enough for a frontend to build a form. */
  list: publicProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/styles',
        protect: false,
        tags: ['styles'],
        summary: 'Enabled plugins with their parameters as JSON Schema',
      },
    })
    .input(z.object({ kind: z.enum(PLUGIN_KINDS).optional() }).optional())
    .output(z.array(styleSchema))
    .query(({ ctx, input }) =>
      ctx.api.registry.list(input?.kind ? { kind: input.kind } : {}).map((p) => ({
        id: p.id,
        name: p.name,
        description: p.description,
        version: p.version,
        kind: p.kind,
        tags: [...p.tags],
        paramsSchema: p.paramsSchema,
        defaults: p.defaults,
        capabilities: p.capabilities,
      })),
    ),

  /**
   * Server-Sent Events telling that `styles.list` may have changed: an event `{ version }` at once
   * when the stream opens, then one after each change of this process's plugins (an
   * administrator enabling or disabling a plugin, or changing its defaults, on any process: every
   * process applies it within milliseconds). Refetch `styles.list` on each event. `version`
   * counts this process's changes; the event id is the same number, as a string.
   */
  onChange: authedProcedure
    .input(z.object({ lastEventId: z.string().nullish() }).optional())
    .subscription(async function* ({ ctx, signal }) {
      for await (const version of registryRevisions(ctx.api.registry, signal))
        yield tracked(String(version), { version });
    }),

  /** Runs a style on a ≤ 512 px proxy of an uploaded image, without queueing, for parameter tuning. */
  preview: authedProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/styles/preview',
        protect: true,
        tags: ['styles'],
        summary: 'Run a style on a small proxy of an image, without queueing',
      },
    })
    .input(
      z.object({
        imageId: z.string(),
        style: z.string(),
        params: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .output(previewSchema)
    .mutation(({ ctx, input, signal }) =>
      ctx.api.previews.preview({
        ownerId: ctx.user.id,
        imageId: input.imageId,
        request: { steps: [{ plugin: input.style, params: input.params ?? {} }] },
        ...(signal ? { signal } : {}),
      }),
    ),
});
