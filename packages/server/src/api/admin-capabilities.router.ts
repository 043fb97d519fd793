// The admin API of plugin capabilities: what each plugin asks for and was granted, granting and
// revoking, and the write-only secrets (docs/security.md). Spread into the admin router.
import { z } from 'zod';
import type { Actor } from '../audit.ts';
import type { ApiContext } from './context.ts';
import { adminProcedure } from './trpc.ts';

const actor = (ctx: ApiContext & { user: { id: string } }): Actor => ({
  id: ctx.user.id,
  requestId: ctx.requestId,
});

const lists = z.object({
  network: z.array(z.string()).readonly(),
  secrets: z.array(z.string()).readonly(),
});

/** One plugin's capabilities: requested, granted, missing. */
export const pluginCapabilitySchema = z.object({
  id: z.string(),
  name: z.string(),
  enabled: z.boolean(),
  requested: lists.meta({ description: 'What the plugin declares: hosts for ctx.fetch, names of secrets.' }),
  granted: lists.meta({ description: 'What an administrator granted (within `requested`).' }),
  missing: lists.meta({
    description: 'Requested and not granted: while not empty, jobs are refused with CAPABILITY_NOT_GRANTED.',
  }),
  unsetSecrets: z
    .array(z.string())
    .readonly()
    .meta({ description: 'Granted secrets with no value stored yet: jobs fail with SECRET_NOT_FOUND.' }),
  grantedAt: z.string().nullable(),
  grantedBy: z.string().nullable(),
});

/** A stored secret: name and dates, never the value. */
export const secretSchema = z.object({
  name: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  updatedBy: z.string().nullable(),
});

const hostList = z.array(z.string().max(253)).max(100);
const secretList = z.array(z.string().max(64)).max(100);

/** The capability procedures of `admin`: `capabilities`, `setPluginGrants`, `secrets`, `setSecret`, `removeSecret`. */
export const adminCapabilityProcedures = {
  /** Every plugin that declares capabilities, with what it asks for and what it was granted. */
  capabilities: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/capabilities',
        protect: true,
        tags: ['admin'],
        summary: 'What each plugin asks for (hosts, secrets) and what it was granted',
      },
    })
    .output(z.array(pluginCapabilitySchema))
    .query(({ ctx }) => ctx.api.capabilities.plugins()),

  /**
   * Sets exactly what a plugin is granted (empty lists revoke everything). Only what the plugin
   * declares can be granted (`CAPABILITY_DENIED`). Audited; counts from the next job on, on every
   * process.
   */
  setPluginGrants: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/plugins/{id}/grants',
        protect: true,
        tags: ['admin'],
        summary: 'Grant a plugin hosts and secrets it declares (replaces its grant)',
      },
    })
    .input(z.object({ id: z.string(), network: hostList, secrets: secretList }))
    .output(pluginCapabilitySchema)
    .mutation(({ ctx, input }) =>
      ctx.api.capabilities.setGrant(actor(ctx), {
        id: input.id,
        network: input.network,
        secrets: input.secrets,
      }),
    ),

  /** Stored secrets: names and dates. No API returns a value. */
  secrets: adminProcedure
    .meta({
      openapi: {
        method: 'GET',
        path: '/admin/secrets',
        protect: true,
        tags: ['admin'],
        summary: 'The stored secrets: names and dates, never values',
      },
    })
    .output(z.array(secretSchema))
    .query(({ ctx }) => ctx.api.capabilities.secrets()),

  /** Stores or replaces a secret, encrypted with ATELIER_SECRETS_KEY. Write-only: the answer has no value. */
  setSecret: adminProcedure
    .meta({
      openapi: {
        method: 'POST',
        path: '/admin/secrets/{name}',
        protect: true,
        tags: ['admin'],
        summary: 'Store or replace a secret (write-only)',
      },
    })
    .input(z.object({ name: z.string().max(64), value: z.string() }))
    .output(secretSchema)
    .mutation(({ ctx, input }) => ctx.api.capabilities.setSecret(actor(ctx), input.name, input.value)),

  /** Deletes a secret. */
  removeSecret: adminProcedure
    .meta({
      openapi: {
        method: 'DELETE',
        path: '/admin/secrets/{name}',
        protect: true,
        tags: ['admin'],
        summary: 'Delete a secret',
      },
    })
    .input(z.object({ name: z.string().max(64) }))
    .output(z.object({ name: z.string(), deleted: z.literal(true) }))
    .mutation(async ({ ctx, input }) => {
      await ctx.api.capabilities.removeSecret(actor(ctx), input.name);
      return { name: input.name, deleted: true as const };
    }),
};
