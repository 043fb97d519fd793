// What the API returns: plain response objects with ISO dates, never database rows.
import { planSchema } from '@atelier/core';
import type { ImageAnnotationRecord, ImageRecord, JobRecord } from '@atelier/jobs';
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
  /** What analysis plugins found in the image (caption, tags), the latest per plugin, newest first. */
  readonly annotations: readonly ApiImageAnnotation[];
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

/** An image as the API returns it, with what analysis plugins found in it (only ever its owner's view). */
export function imageView(image: ImageRecord, annotations: readonly ImageAnnotationRecord[]): ApiImage {
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
