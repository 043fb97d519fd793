/**
 * The Studio's pure logic (no DOM, no React): cache keys, the latest-answer guard of the live
 * preview, the "params" search value, job inputs and the sentences of a render's outcome.
 */
import type { AtelierInputs } from '@atelier/client';
import { sentenceFor } from '../../lib/errors.ts';

/** JSON with object keys sorted: the same parameters give the same key whatever their order. */
/**
 * Whether a style calls out over the network (an AI provider, docs/plugins.md): each preview of
 * it would be a paid call, so the studio previews it only on request, never by itself.
 */
export function isPaidStyle(style: {
  readonly capabilities?: { readonly network: readonly string[] };
}): boolean {
  return (style.capabilities?.network.length ?? 0) > 0;
}

export function stableKey(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1)))
      : v,
  );
}

/** The query key of a preview of one style on one image with some parameters (shared by thumbnails and the live preview). */
export function previewKey(imageId: string, styleId: string, params: Readonly<Record<string, unknown>>) {
  return ['studio', 'preview', imageId, styleId, stableKey(params)] as const;
}

/**
 * Hands out increasing numbers and tells whether one is still the latest: an answer that arrives
 * after a newer request was made is ignored, so a slow old preview never replaces a newer one.
 */
export class LatestOnly {
  #current = 0;
  /** A new request: every earlier number stops being current. */
  next(): number {
    this.#current += 1;
    return this.#current;
  }
  isCurrent(seq: number): boolean {
    return seq === this.#current;
  }
}

/** The `params` search value (JSON of an object), or undefined when absent or not an object. */
export function parseParams(json: string | undefined): Record<string, unknown> | undefined {
  if (!json) return undefined;
  try {
    const value: unknown = JSON.parse(json);
    return value && typeof value === 'object' && !Array.isArray(value)
      ? { ...(value as Record<string, unknown>) }
      : undefined;
  } catch {
    return undefined;
  }
}

/** The parameters to start a style with: its defaults, overridden by the known keys of `from`. */
export function initialParams(
  defaults: Readonly<Record<string, unknown>>,
  from: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> {
  return { ...defaults, ...(from ?? {}) };
}

export const OUTPUT_FORMATS = ['jpeg', 'png', 'webp', 'avif'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
/** The server's default quality per format (core's DEFAULT_QUALITY). */
export const DEFAULT_QUALITY: Record<OutputFormat, number> = { jpeg: 88, png: 100, webp: 85, avif: 60 };

export type CreateJobInput = AtelierInputs['jobs']['create'];

/**
 * The `jobs.create` input of a render. The parameters come from a form generated from a JSON
 * Schema, so they are an untyped record: they go as a one-step plan (which takes any plugin,
 * built-in or third-party, and is validated by the server against the plugin's schema exactly as
 * the typed `{ style, params }` form is), never through a cast.
 */
export function jobInput(args: {
  imageId: string;
  style: string;
  params: Readonly<Record<string, unknown>>;
  format: OutputFormat;
  quality: number;
  idempotencyKey: string;
}): CreateJobInput {
  return {
    imageId: args.imageId,
    plan: {
      steps: [{ plugin: args.style, params: { ...args.params } }],
      output: { format: args.format, quality: clampQuality(args.quality) },
    },
    idempotencyKey: args.idempotencyKey,
  };
}

export function clampQuality(quality: number): number {
  if (!Number.isFinite(quality)) return 80;
  return Math.min(100, Math.max(1, Math.round(quality)));
}

/** A job's progress (0..1) as a whole percentage for a progress bar. */
export function percentOf(progress: number): number {
  if (!Number.isFinite(progress)) return 0;
  return Math.min(100, Math.max(0, Math.round(progress * 100)));
}

/** What to tell the person when a render ended without a result. */
export function outcomeSentence(
  status: 'failed' | 'cancelled',
  error: { code?: string | undefined; message?: string | undefined } | null | undefined,
): string {
  if (status === 'cancelled' && (!error?.code || error.code === 'ABORTED'))
    return 'The render was cancelled.';
  const sentence = error?.code ? sentenceFor(error.code) : undefined;
  if (sentence) return sentence;
  if (error?.message) return error.message;
  return status === 'cancelled' ? 'The render was cancelled.' : 'The render failed.';
}
