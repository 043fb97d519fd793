import type { ColumnType, Generated, Selectable } from 'kysely';

/** A timestamp column: read as Date, written as Date or ISO string, defaulted by the database. */
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T> = ColumnType<T, string, string>;

export type UserRole = 'user' | 'admin';

export interface UsersTable {
  id: Generated<string>;
  email: string;
  display_name: string;
  role: ColumnType<UserRole, UserRole | undefined, UserRole>;
  password_hash: string | null;
  disabled_at: NullableTimestamp;
  created_at: CreatedAt;
  /** Bumped when the user signs out everywhere: signed download URLs made before stop working. */
  session_epoch: ColumnType<number, number | undefined, number>;
  /** The user's own quotas; null means the server's default (0 means no limit). */
  quota_stored_bytes: ColumnType<number | null, number | null | undefined, number | null>;
  quota_jobs_per_hour: ColumnType<number | null, number | null | undefined, number | null>;
  quota_previews_per_minute: ColumnType<number | null, number | null | undefined, number | null>;
  quota_cost_per_minute: ColumnType<number | null, number | null | undefined, number | null>;
}

export interface ImagesTable {
  id: Generated<string>;
  owner_id: string;
  sha256: string;
  bytes: ColumnType<number, number, never>;
  width: number;
  height: number;
  format: string;
  storage_key: string;
  original_name: string | null;
  created_at: CreatedAt;
  /** The owner's own title (gallery search). */
  title: ColumnType<string | null, string | null | undefined, string | null>;
  /** The owner's own tags (gallery search); at most 50. */
  tags: ColumnType<string[], string[] | undefined, string[]>;
}

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

/** Per-step and total timings of a finished job, in milliseconds. */
export interface JobTimings {
  readonly queueMs?: number;
  readonly decodeMs?: number;
  readonly steps?: readonly { plugin: string; ms: number }[];
  readonly encodeMs?: number;
  readonly totalMs?: number;
}

/**
 * One cost a job's plugin reported (`ctx.reportCost`), as `jobs.costs` stores it: an estimate in
 * `currency`'s main unit, tagged with the attempt, step and plugin that spent it.
 */
export interface JobCost {
  readonly attempt: number;
  readonly step: number;
  readonly plugin: string;
  readonly version: string;
  readonly amount: number;
  readonly currency: string;
  readonly detail?: string;
}

export interface JobsTable {
  id: Generated<string>;
  owner_id: string;
  image_id: string;
  /** sha256 of the input, with `plan_hash` the key of the result cache. */
  input_sha256: string;
  /** The frozen plan, with plugin versions and parsed params. */
  plan: Json<unknown>;
  plan_hash: string;
  /** The first style step's plugin id (or the first step's), for filters and stats. */
  style: string;
  status: ColumnType<JobStatus, JobStatus | undefined, JobStatus>;
  progress: ColumnType<number, number | undefined, number>;
  priority: ColumnType<number, number | undefined, number>;
  attempts: ColumnType<number, number | undefined, number>;
  max_attempts: number;
  error_code: string | null;
  error_message: string | null;
  output_key: string | null;
  output_bytes: number | null;
  output_width: number | null;
  output_height: number | null;
  output_format: string | null;
  from_cache: ColumnType<boolean, boolean | undefined, boolean>;
  timings: ColumnType<JobTimings | null, string | null | undefined, string | null>;
  idempotency_key: string | null;
  queue_job_id: string | null;
  worker_id: string | null;
  created_at: CreatedAt;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  updated_at: Timestamp;
  /** When the full-resolution result was unlocked (paid, or granted); null while locked. */
  hd_unlocked_at: NullableTimestamp;
  hd_unlock_source: ColumnType<
    HdUnlockSource | null,
    HdUnlockSource | null | undefined,
    HdUnlockSource | null
  >;
  /** The payment that unlocked it (a refund of that payment locks it again). */
  hd_payment_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** What its plugins reported spending, over all attempts; null when none reported anything. */
  costs: ColumnType<readonly JobCost[] | null, string | null | undefined, string | null>;
}

/** The caption and tags an analysis plugin found for an image: one row per image and plugin, the latest wins. */
export interface ImageAnnotationsTable {
  image_id: string;
  plugin: string;
  plugin_version: string;
  caption: string | null;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  /** The job that wrote it (null once that job is deleted). */
  job_id: string | null;
  created_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

/** Where an image's analysis stands: queued or running, finished, or failed with a code. */
export type ImageAnalysisStatus = 'pending' | 'done' | 'failed';

/** One dominant colour of an image as `image_analysis.palette` stores it. */
export interface PaletteEntry {
  readonly hex: string;
  readonly l: number;
  readonly a: number;
  readonly b: number;
  /** Share of the image, 0..1; a palette's weights sum to 1. */
  readonly weight: number;
}

/** Where a photo was taken (EXIF GPS), as `image_analysis.gps` stores it: the owner's only. */
export interface GpsEntry {
  readonly lat: number;
  readonly lon: number;
  readonly alt: number | null;
}

type Nullable<T> = ColumnType<T | null, T | null | undefined, T | null>;

/**
 * What the analysis on upload found in an image (migration 0010): one row per image, `pending`
 * from the upload's transaction until the analysis worker (or `atelier analyse --all`) marks it
 * `done` with every measure, or `failed` with a code. Measures are null until `done`.
 */
export interface ImageAnalysisTable {
  image_id: string;
  owner_id: string;
  status: ColumnType<ImageAnalysisStatus, ImageAnalysisStatus | undefined, ImageAnalysisStatus>;
  error_code: Nullable<string>;
  error_message: Nullable<string>;
  /** Attempts the analysis worker made (`analyse --all` counts too). */
  attempts: ColumnType<number, number | undefined, number>;
  /** The ANALYSIS_VERSION of @atelier/analysis that made a `done` row. */
  analysis_version: Nullable<number>;
  analysed_at: NullableTimestamp;
  width: Nullable<number>;
  height: Nullable<number>;
  aspect: Nullable<number>;
  brightness: Nullable<number>;
  /**
   * 64-bit pHash as a signed bigint. pg's int8 parser (database.ts) reads bigint as a Number,
   * which loses bits: select it as text (`phash::text`) and read it with fromSigned64; write the
   * signed value's decimal text.
   */
  phash: ColumnType<number | null, string | null | undefined, string | null>;
  /** 64-bit dHash as a signed bigint: as `phash`, select it as text. */
  dhash: ColumnType<number | null, string | null | undefined, string | null>;
  /** The pHash's 16-bit bands, most significant first (0..65535), for multi-index hashing. */
  phash_b0: Nullable<number>;
  phash_b1: Nullable<number>;
  phash_b2: Nullable<number>;
  phash_b3: Nullable<number>;
  blurhash: Nullable<string>;
  palette: ColumnType<PaletteEntry[] | null, string | null | undefined, string | null>;
  taken_at: NullableTimestamp;
  camera: Nullable<string>;
  orientation: Nullable<number>;
  /** The owner's only: never in another user's view, a shared output or a log. */
  gps: ColumnType<GpsEntry | null, string | null | undefined, string | null>;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export type HdUnlockSource = 'payment' | 'grant';

export type PaymentStatus = 'pending' | 'paid' | 'failed' | 'expired' | 'refunded';

/** One attempt to pay for a job's HD result through a Stripe Checkout Session. */
export interface PaymentsTable {
  id: Generated<string>;
  user_id: string | null;
  job_id: string | null;
  /** 1 for a job's first checkout, then one more for each after an expired or failed one. */
  attempt: number;
  amount: number;
  currency: string;
  status: ColumnType<PaymentStatus, PaymentStatus | undefined, PaymentStatus>;
  /** Sent to Stripe with the session's creation: a retry gets the same session. */
  idempotency_key: string;
  stripe_session_id: string | null;
  stripe_payment_intent_id: string | null;
  checkout_url: string | null;
  success_url: string;
  cancel_url: string;
  session_expires_at: NullableTimestamp;
  failure_reason: string | null;
  created_at: CreatedAt;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
  settled_at: NullableTimestamp;
}

/** A verified Stripe webhook event, stored when applied: each id is applied once. */
export interface StripeEventsTable {
  id: string;
  type: string;
  object_id: string | null;
  payment_intent: string | null;
  outcome: ColumnType<string, string | undefined, string>;
  received_at: CreatedAt;
}

/**
 * The result cache: a plan hash and an input hash that already produced an output for this owner.
 * Entries are per owner (a hit must not tell anyone that another user holds a photo); entries of
 * several owners may share one stored file.
 */
export interface ResultsTable {
  owner_id: string;
  plan_hash: string;
  input_sha256: string;
  output_key: string;
  bytes: number;
  width: number;
  height: number;
  format: string;
  created_at: CreatedAt;
}

export interface PluginStateTable {
  plugin_id: string;
  enabled: boolean;
  defaults: ColumnType<Record<string, unknown>, string | undefined, string>;
  updated_at: Timestamp;
  updated_by: string | null;
}

export interface AuditLogTable {
  id: Generated<string>;
  actor_id: string | null;
  action: string;
  target_type: string;
  target_id: string | null;
  details: ColumnType<Record<string, unknown>, string | undefined, never>;
  created_at: CreatedAt;
}

/** A signed-in session. `id` is the hex SHA-256 of the token; the token itself is never stored. */
export interface SessionsTable {
  id: string;
  user_id: string;
  expires_at: Timestamp;
  created_at: CreatedAt;
  last_seen_ip: string | null;
  user_agent: string | null;
}

/** Failed sign-ins per key (`account:<email>` or `ip:<address>`), shared by every API process. */
export interface LoginThrottleTable {
  key: string;
  failures: ColumnType<number, number | undefined, number>;
  window_started_at: Timestamp;
  locked_until: NullableTimestamp;
}

/** What to charge a user's quotas for. */
export type UsageKind = 'preview' | 'upload' | 'job';

/** One charged call: a preview, an upload or a job, with its cost in budget units. */
export interface UsageEventsTable {
  id: Generated<string>;
  user_id: string;
  kind: UsageKind;
  cost: number;
  at: CreatedAt;
}

/**
 * A secret a plugin may be granted, encrypted with AES-256-GCM under `ATELIER_SECRETS_KEY`; the
 * value itself is never stored in clear nor returned by any API.
 */
export interface PluginSecretsTable {
  name: string;
  ciphertext: Buffer;
  /** 12 random bytes, new for every write. */
  iv: Buffer;
  /** The 16-byte GCM authentication tag. */
  auth_tag: Buffer;
  /** Which key sealed it: a hash of the key (never the key), to tell a wrong key from a damaged row. */
  key_id: string;
  created_at: CreatedAt;
  updated_at: Timestamp;
  updated_by: string | null;
}

/** What an administrator granted a plugin: hosts for `ctx.fetch`, names of secrets for `ctx.secret`. */
export interface PluginGrantsTable {
  plugin_id: string;
  network: ColumnType<string[], string[] | undefined, string[]>;
  secrets: ColumnType<string[], string[] | undefined, string[]>;
  granted_by: string | null;
  granted_at: Timestamp;
}

/** Where an installed plugin package came from. */
export type PluginPackageSource = 'upload' | 'registry' | 'folder';

/**
 * One version of a plugin package installed for the cluster, with its tarball (the source every
 * process installs from). At most one version per package is active.
 */
export interface PluginPackagesTable {
  id: Generated<string>;
  name: string;
  version: string;
  /** `sha512-<base64>` of `tarball`, as npm's `dist.integrity` writes it. */
  integrity: string;
  tarball: ColumnType<Uint8Array, Uint8Array, never>;
  size: number;
  /** The plugin ids the package provides. */
  plugins: ColumnType<string[], string[], string[]>;
  source: PluginPackageSource;
  /** The registry's tarball URL, or the uploaded file's name. */
  origin: string | null;
  installed_by: string | null;
  installed_at: CreatedAt;
  active: boolean;
  deactivated_at: NullableTimestamp;
}

/** Every table Atelier owns (pg-boss keeps its own schema). */
export interface Database {
  users: UsersTable;
  images: ImagesTable;
  jobs: JobsTable;
  results: ResultsTable;
  plugin_state: PluginStateTable;
  audit_log: AuditLogTable;
  sessions: SessionsTable;
  login_throttle: LoginThrottleTable;
  usage_events: UsageEventsTable;
  payments: PaymentsTable;
  stripe_events: StripeEventsTable;
  image_annotations: ImageAnnotationsTable;
  image_analysis: ImageAnalysisTable;
  plugin_secrets: PluginSecretsTable;
  plugin_grants: PluginGrantsTable;
  plugin_packages: PluginPackagesTable;
}

export type User = Selectable<UsersTable>;
export type Image = Selectable<ImagesTable>;
export type Job = Selectable<JobsTable>;
export type Payment = Selectable<PaymentsTable>;
export type ImageAnnotation = Selectable<ImageAnnotationsTable>;
export type ImageAnalysisRow = Selectable<ImageAnalysisTable>;
export type LoginThrottleRow = Selectable<LoginThrottleTable>;
