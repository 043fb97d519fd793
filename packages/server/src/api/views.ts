// What the API returns: plain response objects with ISO dates, never database rows.
import { planSchema } from '@atelier/core';
import type { ImageAnalysisRecord, ImageAnnotationRecord, ImageRecord, JobRecord } from '@atelier/jobs';
import type { UserRecord } from '../auth/index.ts';
import type { HdView, PaymentRecord } from '../payments/index.ts';

export interface ApiJob {
  readonly id: string;
  readonly imageId: string;
  readonly style: string;
  readonly status: JobRecord['status'];
  readonly progress: number;
  readonly attempts: number;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly output: {
    readonly bytes: number;
    readonly width: number;
    readonly height: number;
    readonly format: string;
  } | null;
  readonly fromCache: boolean;
  /** What ran: each step's plugin, version and parameters (defaults filled in), and the output. */
  readonly plan: ApiPlan | null;
  readonly timings: JobRecord['timings'];
  /** Access to the full-resolution result (paid HD); null until there is a result. */
  readonly hd: HdView | null;
  /** What the job's plugins reported spending (estimates); null when none reported anything. */
  readonly cost: ApiJobCost | null;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

/** What a job's plugins reported spending (`ctx.reportCost`): the plugins' estimates, not a bill. */
export interface ApiJobCost {
  /** The sum per currency, over every attempt. */
  readonly totals: readonly { readonly currency: string; readonly amount: number }[];
  /** Each reported cost: its attempt, step, plugin and version. */
  readonly items: readonly {
    readonly attempt: number;
    readonly step: number;
    readonly plugin: string;
    readonly version: string;
    readonly amount: number;
    readonly currency: string;
    readonly detail: string | null;
  }[];
}

/** Sums in billionths, so that adding many small costs does not drift. */
function costView(costs: JobRecord['costs']): ApiJobCost | null {
  if (costs.length === 0) return null;
  const sums = new Map<string, number>();
  for (const c of costs) sums.set(c.currency, (sums.get(c.currency) ?? 0) + Math.round(c.amount * 1e9));
  return {
    totals: [...sums].map(([currency, units]) => ({ currency, amount: units / 1e9 })),
    items: costs.map((c) => ({
      attempt: c.attempt,
      step: c.step,
      plugin: c.plugin,
      version: c.version,
      amount: c.amount,
      currency: c.currency,
      detail: c.detail ?? null,
    })),
  };
}

export interface ApiPlan {
  readonly steps: readonly {
    readonly plugin: string;
    readonly version: string;
    readonly params: Readonly<Record<string, unknown>>;
  }[];
  readonly output: { readonly format: string; readonly quality: number };
}

/** The part of a stored plan a job's owner may see (its limits are the server's business). */
function planView(stored: unknown): ApiPlan | null {
  const plan = planSchema.safeParse(stored);
  if (!plan.success) return null;
  return {
    steps: plan.data.steps.map((s) => ({ plugin: s.plugin, version: s.version, params: s.params })),
    output: { format: plan.data.output.format, quality: plan.data.output.quality },
  };
}

export interface ApiImage {
  readonly id: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly width: number;
  readonly height: number;
  readonly format: string;
  readonly originalName: string | null;
  readonly createdAt: string;
  /** The owner's title and tags. */
  readonly title: string | null;
  readonly tags: readonly string[];
  /** What analysis plugins found in the image (caption, tags), the latest per plugin, newest first. */
  readonly annotations: readonly ApiImageAnnotation[];
  /** What the analysis on upload found; null until the image has an analysis row (back-fill). */
  readonly analysis: ApiImageAnalysis | null;
}

/** What the analysis on upload found in an image (docs/gallery.md). */
export interface ApiImageAnalysis {
  readonly status: ImageAnalysisRecord['status'];
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly analysedAt: string | null;
  readonly width: number | null;
  readonly height: number | null;
  readonly aspect: number | null;
  readonly brightness: number | null;
  readonly blurhash: string | null;
  readonly palette: readonly {
    readonly hex: string;
    readonly l: number;
    readonly a: number;
    readonly b: number;
    readonly weight: number;
  }[];
  readonly exif: {
    readonly takenAt: string | null;
    readonly camera: string | null;
    readonly orientation: number | null;
  };
  /** Where the photo was taken: in the owner's view only, null in any other. */
  readonly gps: { readonly lat: number; readonly lon: number; readonly alt: number | null } | null;
}

/**
 * Who a view is for: the image's `owner` sees everything; any other audience (a shared or public
 * view) never sees GPS.
 */
export type ImageAudience = 'owner' | 'other';

/** The analysis as the API shows it: hashes stay inside; GPS only for the owner. */
export function imageAnalysisView(analysis: ImageAnalysisRecord, audience: ImageAudience): ApiImageAnalysis {
  return {
    status: analysis.status,
    error: analysis.error,
    analysedAt: analysis.analysedAt?.toISOString() ?? null,
    width: analysis.width,
    height: analysis.height,
    aspect: analysis.aspect,
    brightness: analysis.brightness,
    blurhash: analysis.blurhash,
    palette: (analysis.palette ?? []).map((c) => ({ hex: c.hex, l: c.l, a: c.a, b: c.b, weight: c.weight })),
    exif: {
      takenAt: analysis.takenAt?.toISOString() ?? null,
      camera: analysis.camera,
      orientation: analysis.orientation,
    },
    gps: audience === 'owner' && analysis.gps ? { ...analysis.gps } : null,
  };
}

/** What one analysis plugin found in an image. */
export interface ApiImageAnnotation {
  readonly plugin: string;
  readonly version: string;
  readonly caption: string | null;
  readonly tags: readonly string[];
  readonly jobId: string | null;
  readonly createdAt: string;
}

/** A job as the API returns it, with its HD access (`PaymentsService.hd`). */
export function jobView(job: JobRecord, hd: HdView | null): ApiJob {
  return {
    id: job.id,
    imageId: job.imageId,
    style: job.style,
    status: job.status,
    progress: job.progress,
    attempts: job.attempts,
    error: job.error,
    output: job.output
      ? {
          bytes: job.output.bytes,
          width: job.output.width,
          height: job.output.height,
          format: job.output.format,
        }
      : null,
    fromCache: job.fromCache,
    plan: planView(job.plan),
    timings: job.timings,
    hd,
    cost: costView(job.costs),
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
  };
}

/**
 * An image as the API returns it, with what analysis plugins and the analysis on upload found in
 * it. The images API is owner-scoped, so its views are the owner's (`audience` 'owner', GPS
 * included); anything that shows an image to someone else must pass 'other'.
 */
export function imageView(
  image: ImageRecord,
  annotations: readonly ImageAnnotationRecord[],
  audience: ImageAudience = 'owner',
): ApiImage {
  return {
    id: image.id,
    sha256: image.sha256,
    bytes: image.bytes,
    width: image.width,
    height: image.height,
    format: image.format,
    originalName: image.originalName,
    createdAt: image.createdAt.toISOString(),
    annotations: annotations.map((a) => ({
      plugin: a.plugin,
      version: a.version,
      caption: a.caption,
      tags: a.tags,
      jobId: a.jobId,
      createdAt: a.createdAt.toISOString(),
    })),
    title: image.title,
    tags: image.tags,
    analysis: image.analysis ? imageAnalysisView(image.analysis, audience) : null,
  };
}

export function userView(user: UserRecord): Omit<UserRecord, 'createdAt'> & { readonly createdAt: string } {
  return { ...user, createdAt: user.createdAt.toISOString() };
}

export interface ApiPayment {
  readonly id: string;
  readonly jobId: string | null;
  readonly amount: number;
  readonly currency: string;
  readonly status: PaymentRecord['status'];
  readonly checkoutUrl: string | null;
  readonly failureReason: string | null;
  readonly createdAt: string;
  readonly settledAt: string | null;
  readonly expiresAt: string | null;
}

export function paymentView(payment: PaymentRecord): ApiPayment {
  return {
    id: payment.id,
    jobId: payment.jobId,
    amount: payment.amount,
    currency: payment.currency,
    status: payment.status,
    checkoutUrl: payment.checkoutUrl,
    failureReason: payment.failureReason,
    createdAt: payment.createdAt.toISOString(),
    settledAt: payment.settledAt?.toISOString() ?? null,
    expiresAt: payment.expiresAt?.toISOString() ?? null,
  };
}
