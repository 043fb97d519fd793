import { isIP } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { AtelierError, DEFAULT_LIMITS, describeIssues } from '@atelier/core';

const intFromEnv = z.coerce.number().int().positive();

const envSchema = z.object({
  ATELIER_PLUGINS: z.string().optional(),
  ATELIER_PLUGIN_DIR: z.string().optional(),
  ATELIER_PLUGINS_FOLDER: z.string().min(1).optional(),
  ATELIER_DEV: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['1', '0', 'true', 'false'], { message: '1 or 0' }))
    .optional(),
  ATELIER_STRICT_PLUGINS: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['1', '0', 'true', 'false'], { message: '1 or 0' }))
    .optional(),
  ATELIER_SANDBOX_BUILTINS: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['1', '0', 'true', 'false'], { message: '1 or 0' }))
    .optional(),
  ATELIER_THREADS: intFromEnv.optional(),
  // 0 turns the helpers off (docs/operations.md).
  ATELIER_BAND_THREADS: z.coerce.number().int().min(0).max(256).optional(),
  ATELIER_MAX_INPUT_BYTES: intFromEnv.optional(),
  ATELIER_MAX_INPUT_PIXELS: intFromEnv.optional(),
  ATELIER_UPLOAD_MAX_FILES: z.coerce.number().int().min(1).max(1000).optional(),
  ATELIER_UPLOAD_BATCH_MAX_BYTES: intFromEnv.optional(),
  ATELIER_MAX_OUTPUT_PIXELS: intFromEnv.optional(),
  ATELIER_STEP_TIMEOUT_MS: intFromEnv.optional(),
  ATELIER_MAX_MEMORY_MB: intFromEnv.optional(),
  DATABASE_URL: z.string().url().optional(),
  ATELIER_DATA_DIR: z.string().optional(),
  ATELIER_JOB_RETRIES: z.coerce.number().int().min(0).max(20).optional(),
  ATELIER_JOB_RETRY_DELAY_S: intFromEnv.optional(),
  ATELIER_JOB_EXPIRE_S: intFromEnv.optional(),
  ATELIER_QUEUE_SUPERVISE_S: intFromEnv.optional(),
  ATELIER_WORKER_CONCURRENCY: intFromEnv.optional(),
  ATELIER_PLUGIN_CONCURRENCY: z
    .string()
    .regex(/^\s*([a-z0-9:-]+=\d+\s*)(,\s*[a-z0-9:-]+=\d+\s*)*$/, 'a list like "oil-painting=2,watercolor=1"')
    .optional(),
  ATELIER_SHUTDOWN_DEADLINE_MS: intFromEnv.optional(),
  PORT: z.coerce.number().int().min(0).max(65535).optional(),
  ATELIER_HOST: z.string().optional(),
  ATELIER_ALLOWED_ORIGINS: z.string().optional(),
  ATELIER_PUBLIC_URL: z
    .url()
    .refine((u) => /^https?:\/\//i.test(u), 'an http:// or https:// URL, like https://atelier.example.org')
    .optional(),
  ATELIER_TRUST_PROXY: z
    .string()
    .refine(
      (v) =>
        /^\s*(true|false)\s*$/i.test(v) ||
        v.split(',').every((a) => isIP(a.trim().replace(/\/\d+$/, '')) !== 0),
      'true, or the proxies\' addresses/CIDRs like "127.0.0.1,10.0.0.0/8"',
    )
    .optional(),
  ATELIER_RATE_LIMIT_PER_MINUTE: intFromEnv.optional(),
  ATELIER_TRPC_MAX_BATCH: intFromEnv.optional(),
  ATELIER_REGISTRATIONS_PER_HOUR: intFromEnv.optional(),
  ATELIER_METRICS_TOKEN: z.string().min(16, 'at least 16 characters (use 32 random hex bytes)').optional(),
  ATELIER_QUOTA_STORED_BYTES: z.coerce.number().int().min(0).optional(),
  ATELIER_QUOTA_JOBS_PER_HOUR: z.coerce.number().int().min(0).optional(),
  ATELIER_QUOTA_PREVIEWS_PER_MINUTE: z.coerce.number().int().min(0).optional(),
  ATELIER_QUOTA_COST_PER_MINUTE: z.coerce.number().int().min(0).optional(),
  ATELIER_WEB: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['on', 'off'], { message: 'on or off' }))
    .optional(),
  ATELIER_WEB_DIR: z.string().min(1).optional(),
  ATELIER_WARMUP: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['on', 'off'], { message: 'on or off' }))
    .optional(),
  // Read by the engine's threads themselves (core's simd.ts); checked here so a typo is an error.
  ATELIER_SIMD: z
    .string()
    .trim()
    .toLowerCase()
    .pipe(z.enum(['on', 'off'], { message: 'on or off' }))
    .optional(),
  STRIPE_SECRET_KEY: z
    .string()
    .trim()
    .regex(
      /^(sk|rk)_(test|live)_[A-Za-z0-9_]{8,}$/,
      'a Stripe secret key (sk_test_…, sk_live_…, or a restricted rk_…)',
    )
    .optional(),
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .trim()
    .regex(/^whsec_[A-Za-z0-9+/=_-]+$/, "a webhook endpoint's signing secret (whsec_…)")
    .optional(),
  ATELIER_HD_PRICE: z
    .string()
    .trim()
    .regex(
      /^[1-9]\d{0,8}\s+[A-Za-z]{3}$/,
      'an amount in the currency\'s smallest unit and its ISO code, like "199 usd"',
    )
    .optional(),
  ATELIER_FREE_MAX_SIDE: z.coerce.number().int().min(64).max(65535).optional(),
  ATELIER_STRIPE_API_URL: z
    .url()
    .refine((u) => /^https?:\/\/[^/]+\/?$/i.test(u), 'an origin like http://127.0.0.1:12111 (no path)')
    .optional(),
  ATELIER_URL_SECRET: z
    .string()
    .regex(/^[0-9a-f]{64}$/i, '64 hex characters (32 random bytes)')
    .optional(),
  ATELIER_SECRETS_KEY: z
    .string()
    .trim()
    .regex(
      /^(?:[0-9a-fA-F]{64}|[A-Za-z0-9+/_-]{43}=?)?$/,
      '32 bytes as 64 hex digits or base64 (openssl rand -base64 32)',
    )
    .optional(),
});

const PAYMENT_VARIABLES = new Set([
  'STRIPE_SECRET_KEY',
  'STRIPE_WEBHOOK_SECRET',
  'ATELIER_HD_PRICE',
  'ATELIER_FREE_MAX_SIDE',
  'ATELIER_STRIPE_API_URL',
]);

/**
 * Where `pnpm --filter @atelier/web build` puts the web app: `packages/web/dist` of this checkout,
 * found from this file, so it does not depend on the working directory.
 */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web/dist/', import.meta.url));

/** Process configuration, read once at start-up from the environment. */
export interface AtelierConfig {
  /**
   * `ATELIER_SECRETS_KEY` as given (checked to be 32 bytes in hex or base64): the key the plugins'
   * secrets are sealed with (docs/operations.md). Unset: secrets can be neither set nor used.
   */
  readonly secretsKey: string | undefined;
  /** npm packages whose exported plugins are registered after the built-ins. */
  readonly pluginPackages: readonly string[];
  /** Local directory of plugin files; a missing directory is fine. @default ./plugins */
  readonly pluginDir: string;
  /**
   * `ATELIER_STRICT_PLUGINS=1`: a bad third-party plugin stops start-up with its coded error (for
   * CI) instead of being skipped and reported. @default false
   */
  readonly strictPlugins: boolean;
  /**
   * `ATELIER_SANDBOX_BUILTINS=1`: run Atelier's built-in plugins in the sandbox too (third-party
   * plugins always run there; docs/security.md). @default false: built-ins run in the engine's threads
   */
  readonly sandboxBuiltins: boolean;
  /**
   * The plugins folder: a package of its own (`package.json`, lockfile, `node_modules`) where
   * `atelier plugins add` installs plugin packages with pnpm; every dependency it lists (but
   * `@atelier/core`) is loaded, and a running `serve` reloads when it changes
   * (docs/plugins-folder.md). `ATELIER_PLUGINS_FOLDER`. @default `<dataDir>/plugins`
   */
  readonly pluginsFolder: string;
  /**
   * Development mode (`ATELIER_DEV=1`, or `--dev` on `serve`, `apply`, `bench`): jobs skip the
   * result cache, and plugin code is reloaded when it changes on disk. @default false
   */
  readonly dev: boolean;
  /** Where plugin packages are resolved from. @default the working directory */
  readonly root: string;
  readonly threads?: number;
  /**
   * Helper threads that split one image's steps across cores (the engine's `bandThreads`).
   * `ATELIER_BAND_THREADS`. @default the number of cores minus one
   */
  readonly bandThreads?: number;
  /**
   * `atelier serve` runs each built-in style a few times as a preview on a synthetic photo once it
   * listens, on every engine thread (`Engine.warmUp`), so the first previews people ask for run at
   * their steady speed. False with `ATELIER_WARMUP=off`. @default true
   */
  readonly warmUp: boolean;
  /** External Postgres; without it an embedded server keeps its data in `dataDir/postgres`. */
  readonly databaseUrl: string | undefined;
  /** Where embedded Postgres and local storage keep their files. @default ./.atelier */
  readonly dataDir: string;
  readonly queue: {
    retryLimit: number;
    retryDelaySeconds: number;
    expireInSeconds: number;
    superviseIntervalSeconds: number;
  };
  readonly worker: {
    concurrency: number | undefined;
    pluginConcurrency: Record<string, number>;
    shutdownDeadlineMs: number;
  };
  readonly http: {
    port: number;
    host: string;
    allowedOrigins: string[];
    urlSecret: Uint8Array | undefined;
    /** The URL browsers use (behind a proxy): cookie `Secure` and the Origin check follow it. */
    publicUrl: string | undefined;
    /** Fastify's `trustProxy`: client IPs come from X-Forwarded-For only when set. @default false */
    trustProxy: boolean | string[];
    /** Requests (tRPC calls: each call of a batch counts) per minute per client IP. @default 600 */
    rateLimitPerMinute: number;
    /** The most calls one tRPC batch may have. @default 20 */
    maxBatchSize: number;
    /** Accounts one client IP may register per hour. @default 10 */
    registrationsPerHour: number;
    /** A bearer token that may read /metrics (admins' sessions may too). */
    metricsToken: string | undefined;
  };
  /** The web app `atelier serve` serves at `/` (see docs/operations.md). */
  readonly web: {
    /** False with `ATELIER_WEB=off`: the API alone. @default true */
    enabled: boolean;
    /** The built app (`ATELIER_WEB_DIR`). @default packages/web/dist beside this package */
    dir: string;
  };
  /** Paid HD through Stripe (docs/payments.md); off without STRIPE_SECRET_KEY. */
  readonly payments: PaymentsConfig;
  /** Per-user quotas' server defaults (0: no limit); unset fields take DEFAULT_QUOTAS. */
  readonly quotas: {
    storedBytes?: number;
    jobsPerHour?: number;
    previewsPerMinute?: number;
    costPerMinute?: number;
  };
  /** Batch uploads (`images.uploadMany`, `POST /api/images/batch`; docs/gallery.md). */
  readonly uploads: UploadBatchLimits;
  /** The raw environment, for factories with their own variables (storage). */
  readonly env: NodeJS.ProcessEnv;
  readonly limits: {
    maxInputBytes?: number;
    maxInputPixels?: number;
    /** @default maxInputPixels */
    maxOutputPixels?: number;
    stepTimeoutMs?: number;
    maxMemoryMb?: number;
  };
}

/** The limits of one batch upload request. */
export interface UploadBatchLimits {
  /** `ATELIER_UPLOAD_MAX_FILES`: the most files in one request. @default 50 */
  readonly maxFiles: number;
  /**
   * `ATELIER_UPLOAD_BATCH_MAX_BYTES`: the most bytes of files in one request (the form's own parts
   * may add 1 MiB). Each file is still capped by `ATELIER_MAX_INPUT_BYTES`.
   * @default 100 MiB, or the single-file cap when that is larger
   */
  readonly maxBatchBytes: number;
}

/** Files in one batch upload when ATELIER_UPLOAD_MAX_FILES is not set. */
export const DEFAULT_UPLOAD_MAX_FILES = 50;
/** Bytes in one batch upload when ATELIER_UPLOAD_BATCH_MAX_BYTES is not set (at least one file's cap). */
export const DEFAULT_UPLOAD_BATCH_MAX_BYTES = 100 * 1024 * 1024;

/** Paid HD: the Stripe keys (none: payments off, HD free), the price and the free size. */
export interface PaymentsConfig {
  /** `STRIPE_SECRET_KEY`; undefined means payments are off. */
  readonly secretKey: string | undefined;
  /** `STRIPE_WEBHOOK_SECRET`: verifies `POST /webhooks/stripe`. */
  readonly webhookSecret: string | undefined;
  /** `ATELIER_HD_PRICE`, in the currency's smallest unit. @default { amount: 199, currency: 'usd' } */
  readonly price: { readonly amount: number; readonly currency: string };
  /** `ATELIER_FREE_MAX_SIDE`: the free file's long side when payments are on. @default 1024 */
  readonly freeMaxSide: number;
  /** `ATELIER_STRIPE_API_URL`: another Stripe API (a test fake, stripe-mock), as the SDK's host/port/protocol. */
  readonly apiUrl: string | undefined;
}

/**
 * Reads the configuration from environment variables (see docs/operations.md). Bad values give
 * a `PLAN_INVALID`-free, clear `PARAMS_INVALID` error naming the variable.
 */
export function readConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): AtelierConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    // The payments' own variables get their own code: the start-up failure of a bad Stripe setup.
    const payments = parsed.error.issues.every((i) => PAYMENT_VARIABLES.has(String(i.path[0])));
    const secretsKey = parsed.error.issues.every((i) => i.path[0] === 'ATELIER_SECRETS_KEY');
    throw new AtelierError(
      secretsKey ? 'SECRETS_KEY_MISSING' : payments ? 'PAYMENTS_CONFIG_INVALID' : 'PARAMS_INVALID',
      `Bad environment: ${describeIssues(parsed.error.issues)}`,
    );
  }
  const e = parsed.data;
  const limits: AtelierConfig['limits'] = {};
  if (e.ATELIER_MAX_INPUT_BYTES !== undefined) limits.maxInputBytes = e.ATELIER_MAX_INPUT_BYTES;
  if (e.ATELIER_MAX_INPUT_PIXELS !== undefined) limits.maxInputPixels = e.ATELIER_MAX_INPUT_PIXELS;
  if (e.ATELIER_MAX_OUTPUT_PIXELS !== undefined) limits.maxOutputPixels = e.ATELIER_MAX_OUTPUT_PIXELS;
  if (e.ATELIER_STEP_TIMEOUT_MS !== undefined) limits.stepTimeoutMs = e.ATELIER_STEP_TIMEOUT_MS;
  if (e.ATELIER_MAX_MEMORY_MB !== undefined) limits.maxMemoryMb = e.ATELIER_MAX_MEMORY_MB;
  const dataDir = path.resolve(cwd, e.ATELIER_DATA_DIR ?? '.atelier');
  return {
    pluginPackages: (e.ATELIER_PLUGINS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    pluginDir: path.resolve(cwd, e.ATELIER_PLUGIN_DIR ?? 'plugins'),
    strictPlugins: e.ATELIER_STRICT_PLUGINS === '1' || e.ATELIER_STRICT_PLUGINS === 'true',
    sandboxBuiltins: e.ATELIER_SANDBOX_BUILTINS === '1' || e.ATELIER_SANDBOX_BUILTINS === 'true',
    databaseUrl: e.DATABASE_URL,
    dataDir,
    pluginsFolder: path.resolve(cwd, e.ATELIER_PLUGINS_FOLDER ?? path.join(dataDir, 'plugins')),
    dev: e.ATELIER_DEV === '1' || e.ATELIER_DEV === 'true',
    queue: {
      retryLimit: e.ATELIER_JOB_RETRIES ?? 2,
      retryDelaySeconds: e.ATELIER_JOB_RETRY_DELAY_S ?? 2,
      expireInSeconds: e.ATELIER_JOB_EXPIRE_S ?? 900,
      superviseIntervalSeconds: e.ATELIER_QUEUE_SUPERVISE_S ?? 10,
    },
    worker: {
      concurrency: e.ATELIER_WORKER_CONCURRENCY,
      pluginConcurrency: Object.fromEntries(
        (e.ATELIER_PLUGIN_CONCURRENCY ?? '')
          .split(',')
          .filter((pair) => pair.includes('='))
          .map((pair) => {
            const [id, n] = pair.split('=');
            return [id!.trim(), Number(n)];
          }),
      ),
      shutdownDeadlineMs: e.ATELIER_SHUTDOWN_DEADLINE_MS ?? 30_000,
    },
    http: {
      port: e.PORT ?? 3000,
      host: e.ATELIER_HOST ?? '127.0.0.1',
      allowedOrigins: (e.ATELIER_ALLOWED_ORIGINS ?? '')
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
      urlSecret: e.ATELIER_URL_SECRET ? Uint8Array.from(Buffer.from(e.ATELIER_URL_SECRET, 'hex')) : undefined,
      publicUrl: e.ATELIER_PUBLIC_URL,
      trustProxy: trustProxyOf(e.ATELIER_TRUST_PROXY),
      rateLimitPerMinute: e.ATELIER_RATE_LIMIT_PER_MINUTE ?? 600,
      maxBatchSize: e.ATELIER_TRPC_MAX_BATCH ?? 20,
      registrationsPerHour: e.ATELIER_REGISTRATIONS_PER_HOUR ?? 10,
      metricsToken: e.ATELIER_METRICS_TOKEN,
    },
    web: {
      enabled: e.ATELIER_WEB !== 'off',
      dir: e.ATELIER_WEB_DIR === undefined ? DEFAULT_WEB_DIR : path.resolve(cwd, e.ATELIER_WEB_DIR),
    },
    payments: paymentsOf(e),
    secretsKey:
      e.ATELIER_SECRETS_KEY === undefined || e.ATELIER_SECRETS_KEY === '' ? undefined : e.ATELIER_SECRETS_KEY,
    quotas: {
      ...(e.ATELIER_QUOTA_STORED_BYTES === undefined ? {} : { storedBytes: e.ATELIER_QUOTA_STORED_BYTES }),
      ...(e.ATELIER_QUOTA_JOBS_PER_HOUR === undefined ? {} : { jobsPerHour: e.ATELIER_QUOTA_JOBS_PER_HOUR }),
      ...(e.ATELIER_QUOTA_PREVIEWS_PER_MINUTE === undefined
        ? {}
        : { previewsPerMinute: e.ATELIER_QUOTA_PREVIEWS_PER_MINUTE }),
      ...(e.ATELIER_QUOTA_COST_PER_MINUTE === undefined
        ? {}
        : { costPerMinute: e.ATELIER_QUOTA_COST_PER_MINUTE }),
    },
    uploads: {
      maxFiles: e.ATELIER_UPLOAD_MAX_FILES ?? DEFAULT_UPLOAD_MAX_FILES,
      maxBatchBytes:
        e.ATELIER_UPLOAD_BATCH_MAX_BYTES ??
        Math.max(DEFAULT_UPLOAD_BATCH_MAX_BYTES, limits.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes),
    },
    env,
    root: cwd,
    ...(e.ATELIER_THREADS === undefined ? {} : { threads: e.ATELIER_THREADS }),
    ...(e.ATELIER_BAND_THREADS === undefined ? {} : { bandThreads: e.ATELIER_BAND_THREADS }),
    warmUp: e.ATELIER_WARMUP !== 'off',
    limits,
  };
}

/** `config` with development mode on when a command's `--dev` flag says so (ATELIER_DEV also does). */
export function withDevFlag(config: AtelierConfig, dev: boolean | undefined): AtelierConfig {
  return dev && !config.dev ? { ...config, dev: true } : config;
}

/**
 * The payments part: both Stripe secrets or neither (a secret key without its webhook secret could
 * take money and never hear that it arrived).
 */
function paymentsOf(e: z.infer<typeof envSchema>): PaymentsConfig {
  if (e.STRIPE_SECRET_KEY !== undefined && e.STRIPE_WEBHOOK_SECRET === undefined)
    throw new AtelierError(
      'PAYMENTS_CONFIG_INVALID',
      "STRIPE_SECRET_KEY is set but STRIPE_WEBHOOK_SECRET is not: payments would never hear that they succeeded. Set the webhook endpoint's signing secret (docs/payments.md), or unset both to turn payments off.",
    );
  if (e.STRIPE_SECRET_KEY === undefined && e.STRIPE_WEBHOOK_SECRET !== undefined)
    throw new AtelierError(
      'PAYMENTS_CONFIG_INVALID',
      'STRIPE_WEBHOOK_SECRET is set but STRIPE_SECRET_KEY is not; set both to turn payments on, or neither.',
    );
  const [amount, currency] = (e.ATELIER_HD_PRICE ?? '199 usd').split(/\s+/);
  return {
    secretKey: e.STRIPE_SECRET_KEY,
    webhookSecret: e.STRIPE_WEBHOOK_SECRET,
    price: { amount: Number(amount), currency: currency!.toLowerCase() },
    freeMaxSide: e.ATELIER_FREE_MAX_SIDE ?? 1024,
    apiUrl: e.ATELIER_STRIPE_API_URL,
  };
}

/** `ATELIER_TRUST_PROXY` as Fastify's `trustProxy` takes it: off, every peer, or the proxies' addresses. */
function trustProxyOf(value: string | undefined): boolean | string[] {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  return v.split(',').map((a) => a.trim());
}

/**
 * Where the database is, as `openDatabase` takes it: the external `DATABASE_URL`, or else the
 * embedded server's files under `dataDir/postgres`. Every command opens the same one through this.
 */
export function databaseLocation(config: AtelierConfig): { url: string } | { dataDir: string } {
  return config.databaseUrl
    ? { url: config.databaseUrl }
    : { dataDir: path.join(config.dataDir, 'postgres') };
}
