import { OUTPUT_EXTENSIONS } from '@atelier/core';
import type {
  HdUnlockSource,
  Image,
  ImageAnnotation,
  Job,
  JobCost,
  JobStatus,
  JobTimings,
} from '@atelier/db';
import type { ImageAnalysisRecord } from './image-analysis.ts';

/** A job as services and the API return it: plain data, never a database row. */
export interface JobRecord {
  readonly id: string;
  readonly ownerId: string;
  readonly imageId: string;
  readonly style: string;
  readonly status: JobStatus;
  readonly progress: number;
  readonly priority: number;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly output: {
    readonly key: string;
    readonly bytes: number;
    readonly width: number;
    readonly height: number;
    readonly format: string;
  } | null;
  /** True when the output was reused from an earlier identical job, without recomputing. */
  readonly fromCache: boolean;
  readonly timings: JobTimings | null;
  readonly plan: unknown;
  readonly planHash: string;
  readonly idempotencyKey: string | null;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly finishedAt: Date | null;
  /** When the full-resolution result was unlocked (paid or granted); null while it is not. */
  readonly hdUnlockedAt: Date | null;
  readonly hdUnlockSource: HdUnlockSource | null;
  /** What the job's plugins reported spending (estimates), over every attempt; empty when none did. */
  readonly costs: readonly JobCost[];
}

/** What an analysis plugin found for an image (`ctx.annotate`): the latest job's, per plugin. */
export interface ImageAnnotationRecord {
  readonly plugin: string;
  readonly version: string;
  readonly caption: string | null;
  readonly tags: readonly string[];
  /** The job that found it; null once that job was deleted. */
  readonly jobId: string | null;
  readonly createdAt: Date;
}

/** An uploaded original. */
export interface ImageRecord {
  readonly id: string;
  readonly ownerId: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly storageKey: string;
  readonly originalName: string | null;
  readonly createdAt: Date;
  /** The owner's title and tags. */
  readonly title: string | null;
  readonly tags: readonly string[];
  /**
   * What the analysis on upload found (the owner's view: GPS included); null when the image has
   * no analysis row yet (uploaded before analysis existed: `atelier analyse --all` back-fills).
   */
  readonly analysis: ImageAnalysisRecord | null;
}

export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export function toJobRecord(row: Job): JobRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    imageId: row.image_id,
    style: row.style,
    status: row.status,
    progress: row.progress,
    priority: row.priority,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    error: row.error_code ? { code: row.error_code, message: row.error_message ?? '' } : null,
    output:
      row.output_key && row.output_format
        ? {
            key: row.output_key,
            bytes: Number(row.output_bytes ?? 0),
            width: row.output_width ?? 0,
            height: row.output_height ?? 0,
            format: row.output_format,
          }
        : null,
    fromCache: row.from_cache,
    timings: row.timings,
    plan: row.plan,
    planHash: row.plan_hash,
    idempotencyKey: row.idempotency_key,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    hdUnlockedAt: row.hd_unlocked_at ?? null,
    hdUnlockSource: row.hd_unlock_source ?? null,
    costs: row.costs ?? [],
  };
}

export function toAnnotationRecord(row: ImageAnnotation): ImageAnnotationRecord {
  return {
    plugin: row.plugin,
    version: row.plugin_version,
    caption: row.caption,
    tags: row.tags,
    jobId: row.job_id,
    createdAt: row.created_at,
  };
}

export function toImageRecord(row: Image, analysis: ImageAnalysisRecord | null = null): ImageRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    sha256: row.sha256,
    bytes: Number(row.bytes),
    width: row.width,
    height: row.height,
    format: row.format,
    storageKey: row.storage_key,
    originalName: row.original_name,
    createdAt: row.created_at,
    title: row.title,
    tags: row.tags,
    analysis,
  };
}

/** Where an original lives: content-addressed, so one photo uploaded twice is stored once. */
export function originalKey(sha256: string): string {
  return `originals/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}

/**
 * Where a result lives: addressed by what determines it (plan hash and input hash), so a retried
 * or repeated job writes the same bytes to the same key and never leaves a second output.
 */
export function resultKey(planHash: string, inputSha256: string, format: string): string {
  return `results/${planHash.slice(0, 2)}/${planHash}/${inputSha256}.${(OUTPUT_EXTENSIONS as Record<string, string>)[format] ?? format}`;
}

/** The plan hash and input hash a {@link resultKey} was made from; undefined for any other key. */
export function resultKeyParts(key: string): { planHash: string; inputSha256: string } | undefined {
  const match = /^results\/[0-9a-f]{2}\/([0-9a-f]+)\/([0-9a-f]+)\.[a-z0-9]+$/.exec(key);
  return match ? { planHash: match[1]!, inputSha256: match[2]! } : undefined;
}

/**
 * Where the free (downscaled) copy of result `outputKey` fitted inside `maxSide` is kept: beside
 * nothing else, under `free/<maxSide>/`, so that it is found again without a row and swept (by
 * {@link freeCopySource}) once its result is gone. Undefined for a key that is not a result's.
 */
export function freeCopyKey(outputKey: string, maxSide: number): string | undefined {
  return outputKey.startsWith('results/')
    ? `free/${maxSide}/${outputKey.slice('results/'.length)}`
    : undefined;
}

/** The result a {@link freeCopyKey} was made from; undefined for any other key. */
export function freeCopySource(key: string): string | undefined {
  const match = /^free\/\d+\/(.+)$/.exec(key);
  return match ? `results/${match[1]!}` : undefined;
}
