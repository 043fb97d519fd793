// What the API returns: plain response objects with ISO dates, never database rows.
import { planSchema } from '@atelier/core';
import type { ImageRecord, JobRecord } from '@atelier/jobs';
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
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
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
    createdAt: job.createdAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
  };
}

export function imageView(image: ImageRecord): ApiImage {
  return {
    id: image.id,
    sha256: image.sha256,
    bytes: image.bytes,
    width: image.width,
    height: image.height,
    format: image.format,
    originalName: image.originalName,
    createdAt: image.createdAt.toISOString(),
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
