// What the API returns, as zod schemas: each procedure's `.output(...)`, so that the OpenAPI
// document describes every response. The objects the procedures build do not change; the schemas
// only describe them. A zod object drops keys it does not list, so the shapes of the named views
// are checked against their TypeScript types (`satisfies Record<keyof ...>`): a field added to a
// view and not here fails the build instead of vanishing from responses.
import { z } from 'zod';
import type { PluginInfo, PluginLoadFailure } from '@atelier/core';
import type { QuotaLimits, QuotaUsage } from '@atelier/jobs';
import type { UserRecord } from '../auth/index.ts';
import type {
  ApiImage,
  ApiImageAnalysis,
  ApiImageAnnotation,
  ApiJob,
  ApiJobCost,
  ApiPayment,
} from './views.ts';

/** Also the values the routers' inputs accept, so a filter and a response name the same ones. */
export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export const PLUGIN_KINDS = ['style', 'transform', 'analysis'] as const;
/** The roles a user may have. */
export const USER_ROLES = ['user', 'admin'] as const;

const isoDate = z.string().meta({ format: 'date-time' });

/** The states of a job's HD access and of a payment. */
export const HD_STATES = ['free', 'locked', 'unlocked'] as const;
export const PAYMENT_STATUSES = ['pending', 'paid', 'failed', 'expired', 'refunded'] as const;

export const priceSchema = z
  .object({
    amount: z.number().int().meta({ description: "In the currency's smallest unit (cents)." }),
    currency: z.string().meta({ description: 'ISO 4217, lower case.' }),
  })
  .meta({ id: 'Price' });
/** A JSON object whose keys are not fixed (plugin parameters, JSON Schemas, audit details). */
const jsonObject = z.record(z.string(), z.unknown());

const userShape = {
  id: z.string(),
  email: z.string(),
  displayName: z.string(),
  role: z.enum(USER_ROLES),
  createdAt: isoDate,
  disabled: z.boolean().meta({ description: 'True while an administrator has the account disabled.' }),
} satisfies Record<keyof UserRecord, z.ZodType>;
export const userSchema = z.object(userShape).meta({ id: 'User' });

export const sessionSchema = z
  .object({
    token: z.string().meta({ description: 'Send it as `Authorization: Bearer <token>`.' }),
    expiresAt: isoDate,
    user: userSchema,
  })
  .meta({ id: 'Session' });

export const okSchema = z.object({ ok: z.literal(true) });

const annotationShape = {
  plugin: z.string().meta({ description: 'The analysis plugin that found it.' }),
  version: z.string(),
  caption: z.string().nullable(),
  tags: z.array(z.string()).readonly().meta({ description: 'Lower case, without duplicates.' }),
  jobId: z.string().nullable().meta({ description: 'The job that found it; null once it was deleted.' }),
  createdAt: isoDate,
} satisfies Record<keyof ApiImageAnnotation, z.ZodType>;

const analysisShape = {
  status: z.enum(['pending', 'done', 'failed']).meta({
    description: '`pending` while queued or running; `done` with every field below; `failed` with `error`.',
  }),
  error: z
    .object({ code: z.string(), message: z.string() })
    .nullable()
    .meta({ description: 'Why it failed (or why the last attempt failed while it is retried).' }),
  analysedAt: isoDate.nullable(),
  width: z.number().int().nullable().meta({ description: 'As displayed (EXIF orientation applied).' }),
  height: z.number().int().nullable(),
  aspect: z.number().nullable().meta({ description: 'width / height' }),
  brightness: z.number().nullable().meta({ description: 'Mean luma, 0 (black) to 1 (white).' }),
  blurhash: z
    .string()
    .nullable()
    .meta({ description: 'A BlurHash (4x3 components) to show while the image loads.' }),
  palette: z
    .array(
      z.object({
        hex: z.string().meta({ description: '`#rrggbb`' }),
        l: z.number(),
        a: z.number(),
        b: z.number(),
        weight: z.number().meta({ description: 'Share of the image, 0..1; the weights sum to 1.' }),
      }),
    )
    .readonly()
    .meta({ description: 'Up to 5 dominant colours (CIELAB k-means), heaviest first; empty until done.' }),
  exif: z.object({
    takenAt: isoDate.nullable(),
    camera: z.string().nullable(),
    orientation: z.number().int().nullable().meta({ description: 'EXIF orientation 1..8' }),
  }),
  gps: z
    .object({ lat: z.number(), lon: z.number(), alt: z.number().nullable() })
    .nullable()
    .meta({ description: "Where the photo was taken (EXIF GPS): only ever in the owner's own view." }),
} satisfies Record<keyof ApiImageAnalysis, z.ZodType>;

const imageShape = {
  id: z.string(),
  sha256: z.string(),
  bytes: z.number().int(),
  width: z.number().int(),
  height: z.number().int(),
  format: z.string(),
  originalName: z.string().nullable(),
  createdAt: isoDate,
  annotations: z
    .array(z.object(annotationShape).meta({ id: 'ImageAnnotation' }))
    .readonly()
    .meta({
      description:
        'What analysis plugins (e.g. openai-describe) found in the image: the latest per plugin, newest first.',
    }),
  title: z.string().nullable().meta({ description: "The owner's title." }),
  tags: z.array(z.string()).readonly().meta({ description: "The owner's tags." }),
  analysis: z
    .object(analysisShape)
    .meta({ id: 'ImageAnalysis' })
    .nullable()
    .meta({ description: 'What the analysis on upload found; null until the image has been queued for it.' }),
} satisfies Record<keyof ApiImage, z.ZodType>;
export const imageSchema = z.object(imageShape).meta({ id: 'Image' });

/** "You already have this, or nearly": the owner's near-duplicates of one image (gallery.duplicates). */
export const duplicatesSchema = z
  .object({
    analysis: z.enum(['pending', 'done', 'failed']).meta({
      description: "The image's analysis: duplicates are known once it is done.",
    }),
    threshold: z.number().int(),
    duplicates: z.array(z.object({ imageId: z.string(), distance: z.number().int() })),
  })
  .meta({ id: 'DuplicateReport' });

/** The answer to an upload: the image, and what is known of its near-duplicates among the owner's images. */
export const uploadedImageSchema = imageSchema
  .extend({
    alreadyUploaded: z.boolean().meta({
      description:
        'True when you had already uploaded these very bytes: the answer is that image, stored once and charged once.',
    }),
    duplicates: duplicatesSchema.meta({
      description:
        'The near-duplicates among your images. Known once the analysis is done: `analysis: "pending"` answers at once, unless the upload asked to wait for it (`waitForAnalysisMs`).',
    }),
  })
  .meta({ id: 'UploadedImage' });

const timingsSchema = z.object({
  queueMs: z.number().optional(),
  decodeMs: z.number().optional(),
  steps: z
    .array(z.object({ plugin: z.string(), ms: z.number() }))
    .readonly()
    .optional(),
  encodeMs: z.number().optional(),
  totalMs: z.number().optional(),
});

const costShape = {
  totals: z
    .array(z.object({ currency: z.string(), amount: z.number() }))
    .readonly()
    .meta({ description: 'The sum per currency (ISO 4217, upper case), over every attempt.' }),
  items: z
    .array(
      z.object({
        attempt: z.number().int(),
        step: z.number().int(),
        plugin: z.string(),
        version: z.string(),
        amount: z.number(),
        currency: z.string(),
        detail: z.string().nullable(),
      }),
    )
    .readonly(),
} satisfies Record<keyof ApiJobCost, z.ZodType>;

const jobShape = {
  id: z.string(),
  imageId: z.string(),
  style: z.string(),
  status: z.enum(JOB_STATUSES),
  progress: z.number().meta({ description: 'From 0 to 1.' }),
  attempts: z.number().int(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  output: z
    .object({
      bytes: z.number().int(),
      width: z.number().int(),
      height: z.number().int(),
      format: z.string(),
    })
    .nullable()
    .meta({ description: 'The result, once the job has succeeded.' }),
  fromCache: z
    .boolean()
    .meta({ description: 'True when the result was reused from an earlier identical job.' }),
  plan: z
    .object({
      steps: z.array(z.object({ plugin: z.string(), version: z.string(), params: jsonObject })).readonly(),
      output: z.object({ format: z.string(), quality: z.number().int() }),
    })
    .nullable()
    .meta({ description: 'What ran: each step with its parameters (defaults filled in), and the output.' }),
  timings: timingsSchema.nullable(),
  hd: z
    .object({
      state: z.enum(HD_STATES).meta({
        description:
          "`free`: /files/jobs/{id}/hd downloads (payments off, a small result, or an administrator's job); `unlocked`: paid or granted; `locked`: it answers 402 until paid.",
      }),
      price: priceSchema.nullable().meta({ description: 'The price of unlocking, while `locked`.' }),
      standard: z
        .object({ width: z.number().int(), height: z.number().int() })
        .meta({ description: 'The size of the standard file, /files/jobs/{id}.' }),
    })
    .nullable()
    .meta({ description: 'Access to the full-resolution (HD) result; null until there is a result.' }),
  cost: z.object(costShape).nullable().meta({
    id: 'JobCost',
    description:
      "What the job's plugins (AI providers) reported spending: their estimates, not a bill; null when none reported anything.",
  }),
  createdAt: isoDate,
  startedAt: isoDate.nullable(),
  finishedAt: isoDate.nullable(),
} satisfies Record<keyof ApiJob, z.ZodType>;
export const jobSchema = z.object(jobShape).meta({ id: 'Job' });

const nextCursor = z
  .string()
  .nullable()
  .meta({ description: 'Pass it as `cursor` for the next page; null on the last page.' });
export const imagePageSchema = z.object({ items: z.array(imageSchema), nextCursor });
export const jobPageSchema = z.object({ items: z.array(jobSchema), nextCursor });

export const downloadUrlSchema = z.object({
  url: z.string().meta({
    description: 'A path under /files with `expires` and `sig`: valid for 5 minutes without a session.',
  }),
});
export const deletedSchema = z.object({ id: z.string(), deleted: z.literal(true) });

/** What a plugin asks an administrator to grant (docs/security.md, "Capabilities"). */
const capabilitiesSchema = z
  .object({
    network: z.array(z.string()).readonly(),
    secrets: z.array(z.string()).readonly(),
  })
  .meta({
    description:
      'What the plugin asks an administrator to grant: hosts its `ctx.fetch` may reach and names of secrets (never values). Empty lists when nothing.',
  });

export const styleSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    version: z.string(),
    kind: z.enum(PLUGIN_KINDS),
    tags: z.array(z.string()),
    paramsSchema: jsonObject.meta({ description: 'JSON Schema (2020-12) of `params`.' }),
    defaults: jsonObject.meta({ description: 'The parameters used when none are given.' }),
    capabilities: capabilitiesSchema,
  })
  .meta({ id: 'Style' });

export const previewSchema = z.object({
  dataUrl: z.string().meta({ description: '`data:image/jpeg;base64,...`' }),
  width: z.number().int(),
  height: z.number().int(),
  ms: z.number(),
});

const pluginInfoShape = {
  id: z.string(),
  name: z.string(),
  description: z.string(),
  version: z.string(),
  engine: z.string(),
  kind: z.enum(PLUGIN_KINDS),
  tags: z.array(z.string()).readonly(),
  enabled: z.boolean(),
  builtin: z.boolean(),
  module: z.string(),
  paramsSchema: jsonObject,
  defaults: jsonObject,
  capabilities: capabilitiesSchema,
} satisfies Record<keyof PluginInfo, z.ZodType>;
export const pluginInfoSchema = z.object(pluginInfoShape);

export const pluginUsageSchema = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  kind: z.enum(PLUGIN_KINDS),
  builtin: z.boolean(),
  enabled: z.boolean(),
  defaults: jsonObject,
  paramsSchema: jsonObject.meta({ description: 'JSON Schema (2020-12) of the parameters.' }),
  capabilities: capabilitiesSchema,
  jobs: z.number().int(),
});

/** One recorded version of a plugin package installed for the cluster. */
export const pluginPackageSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    integrity: z
      .string()
      .meta({ description: 'sha512-<base64> of the tarball (npm `dist.integrity` form).' }),
    size: z.number().int().meta({ description: 'Bytes of the tarball.' }),
    plugins: z.array(z.string()).readonly().meta({ description: 'The plugin ids the package provides.' }),
    source: z.enum(['upload', 'registry', 'folder']),
    origin: z
      .string()
      .nullable()
      .meta({ description: "The registry's tarball URL, or the uploaded file's name." }),
    installedBy: z.string().nullable().meta({ description: "The administrator's email; null for the CLI." }),
    installedAt: z.string(),
    active: z.boolean().meta({ description: 'The version every process runs; one per package.' }),
    deactivatedAt: z.string().nullable(),
  })
  .meta({ id: 'PluginPackage' });

/** What installing a plugin package did. */
export const pluginInstallSchema = z
  .object({
    action: z.enum(['install', 'upgrade', 'reinstall']),
    name: z.string(),
    version: z.string(),
    integrity: z.string(),
    plugins: z.array(z.string()).readonly(),
    previousVersion: z.string().nullable(),
  })
  .meta({ id: 'PluginInstall' });

/** What uninstalling a plugin package did. */
export const pluginUninstallSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    plugins: z.array(z.string()).readonly(),
    jobs: z.object({ queued: z.number().int(), running: z.number().int() }).meta({
      description: 'Jobs that needed it; with force they fail PLUGIN_NOT_FOUND when a worker takes them.',
    }),
    forced: z.boolean(),
  })
  .meta({ id: 'PluginUninstall' });

/** A third-party plugin skipped at start-up, with the coded error that kept it out. */
const pluginFailureShape = {
  source: z.string().meta({ description: "The module's file: URL, or the npm package name." }),
  plugin: z.string().optional().meta({ description: 'The plugin id, when it was known.' }),
  code: z.string().meta({ description: 'PLUGIN_INVALID, PLUGIN_ENGINE_MISMATCH, PLUGIN_LOAD_FAILED, …' }),
  message: z.string(),
} satisfies Record<keyof PluginLoadFailure, z.ZodType>;
export const pluginFailureSchema = z.object(pluginFailureShape).meta({ id: 'PluginFailure' });

export const adminUserSchema = z.object({
  id: z.string(),
  email: z.string(),
  displayName: z.string(),
  role: z.enum(USER_ROLES),
  disabled: z.boolean(),
  jobs: z.number().int(),
  createdAt: isoDate,
});

const countsByStatus = z.object({
  queued: z.number().int(),
  running: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  cancelled: z.number().int(),
});

export const queueSchema = z.object({
  jobs: countsByStatus,
  queues: z.array(
    z.object({
      name: z.string(),
      queued: z.number().int(),
      active: z.number().int(),
      failed: z.number().int(),
      total: z.number().int(),
    }),
  ),
});

export const ownedJobSchema = jobSchema.extend({ ownerId: z.string() });

export const auditEntrySchema = z.object({
  id: z.string(),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string().nullable() }),
  actor: z.string().nullable().meta({ description: 'The email of the administrator.' }),
  details: jsonObject,
  at: isoDate,
});

export const statsSchema = z
  .object({
    days: z.number().int(),
    jobsPerDay: z.array(
      z.object({
        style: z.string(),
        points: z.array(z.object({ day: z.string(), count: z.number().int() })),
      }),
    ),
    outcomes: countsByStatus,
    processingMs: z.array(
      z.object({
        style: z.string(),
        jobs: z.number().int(),
        p50: z.number(),
        p90: z.number(),
        p99: z.number(),
      }),
    ),
    storageBytes: z.object({ originals: z.number(), results: z.number() }),
  })
  .meta({ id: 'Stats' });

const quotaLimitsShape = {
  storedBytes: z
    .number()
    .int()
    .meta({ description: 'Bytes of originals and results you may keep; 0: no limit.' }),
  jobsPerHour: z.number().int().meta({ description: 'Jobs you may create in any hour; 0: no limit.' }),
  previewsPerMinute: z
    .number()
    .int()
    .meta({ description: 'Previews you may run in any minute; 0: no limit.' }),
  costPerMinute: z
    .number()
    .int()
    .meta({ description: 'Cost units previews, uploads and jobs may spend in any minute; 0: no limit.' }),
} satisfies Record<keyof QuotaLimits, z.ZodType>;

/** A user's quotas and what they used; the same shape for the user (users.quota) and admins. */
export const quotaSchema = z
  .object({
    limits: z.object(quotaLimitsShape),
    usage: z.object({
      storedBytes: z.number().int(),
      jobsLastHour: z.number().int(),
      previewsLastMinute: z.number().int(),
      costLastMinute: z.number().int(),
    } satisfies Record<keyof QuotaUsage, z.ZodType>),
    overrides: z
      .object(quotaLimitsShape)
      .partial()
      .meta({ description: "The limits an administrator set for this user; the others are the server's." }),
  })
  .meta({ id: 'Quota' });

/** An admin's view of one user's quota. */
export const userQuotaSchema = quotaSchema.extend({ userId: z.string() });

const paymentShape = {
  id: z.string(),
  jobId: z.string().nullable().meta({ description: 'Null once the job was deleted.' }),
  amount: z.number().int(),
  currency: z.string(),
  status: z.enum(PAYMENT_STATUSES),
  checkoutUrl: z
    .string()
    .nullable()
    .meta({ description: "Stripe's hosted page, while the payment is pending and its checkout open." }),
  failureReason: z.string().nullable(),
  createdAt: isoDate,
  settledAt: isoDate.nullable(),
  expiresAt: isoDate.nullable().meta({ description: 'When the checkout closes.' }),
} satisfies Record<keyof ApiPayment, z.ZodType>;
export const paymentSchema = z.object(paymentShape).meta({ id: 'Payment' });
export const paymentPageSchema = z.object({ items: z.array(paymentSchema), nextCursor });
export const adminPaymentPageSchema = z.object({
  items: z.array(paymentSchema.extend({ userId: z.string().nullable(), userEmail: z.string().nullable() })),
  nextCursor,
});
export const paymentSettingsSchema = z.object({
  enabled: z.boolean().meta({ description: 'False: no Stripe keys; every HD result is free.' }),
  mode: z.enum(['off', 'test', 'live']),
  price: priceSchema.nullable(),
  freeMaxSide: z
    .number()
    .int()
    .meta({ description: 'The long side of standard files while payments are on.' }),
});
export const checkoutSchema = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('open'),
    url: z.string().meta({ description: "Send the browser here: Stripe's hosted checkout." }),
    payment: paymentSchema,
  }),
  z.object({
    status: z.literal('unlocked'),
    reason: z.enum(['paid', 'granted', 'free']),
  }),
]);
export const hdUnlockSchema = z.object({ jobId: z.string(), unlocked: z.boolean() });

/** One file's result in a batch upload (`images.uploadMany`, `POST /api/images/batch`). */
export const uploadResultSchema = z
  .discriminatedUnion('ok', [
    z.object({
      index: z.number().int().meta({ description: 'The position of the file in the request, from 0.' }),
      name: z.string().nullable().meta({ description: 'Its name (the `name` field, or the file name).' }),
      ok: z.literal(true),
      image: uploadedImageSchema,
    }),
    z.object({
      index: z.number().int(),
      name: z.string().nullable(),
      ok: z.literal(false),
      error: z.object({
        code: z.string().meta({
          description: 'The Atelier code: IMAGE_TOO_LARGE, IMAGE_CORRUPT, STORAGE_QUOTA_EXCEEDED, …',
          example: 'IMAGE_CORRUPT',
        }),
        message: z.string(),
        details: jsonObject.nullable(),
      }),
    }),
  ])
  .meta({ id: 'UploadResult' });
export const uploadManySchema = z.object({
  results: z
    .array(uploadResultSchema)
    .meta({ description: 'One per file, in the order the files were sent; a failed file stored nothing.' }),
});
