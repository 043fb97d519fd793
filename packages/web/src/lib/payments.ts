/**
 * Paid HD in the web app (docs/payments.md): prices, payment statuses, the labels of a result's
 * downloads, and the return page's state. Pure: no DOM, no React.
 */
import type { AtelierOutputs } from '@atelier/client';
import type { Job } from './jobs.ts';

export type Payment = AtelierOutputs['payments']['list']['items'][number];
export type AdminPayment = AtelierOutputs['admin']['payments']['items'][number];
export type PaymentStatus = Payment['status'];
export type HdView = NonNullable<Job['hd']>;
export interface Price {
  readonly amount: number;
  readonly currency: string;
}

/** Every status a payment can have (the server's list; a type error here means the API changed). */
export const PAYMENT_STATUSES = [
  'pending',
  'paid',
  'failed',
  'expired',
  'refunded',
] as const satisfies readonly PaymentStatus[];

/** A payment's status as a word (the badge's text: colour is only a hint). */
export const PAYMENT_STATUS_LABELS: Readonly<Record<PaymentStatus, string>> = {
  pending: 'Pending',
  paid: 'Paid',
  failed: 'Failed',
  expired: 'Expired',
  refunded: 'Refunded',
};

/**
 * An amount in the currency's minor unit (as Stripe and the API count it) as money:
 * `{ amount: 199, currency: 'usd' }` → "$1.99" (en-US), `{ amount: 500, currency: 'jpy' }` → "¥500".
 * The number of minor digits is the currency's own (Intl knows that JPY has none).
 */
export function formatPrice(price: Price, locale?: string): string {
  const currency = price.currency.toUpperCase();
  let format: Intl.NumberFormat;
  try {
    format = new Intl.NumberFormat(locale, { style: 'currency', currency });
  } catch {
    // A code Intl does not know: the amount as the API gives it, with the code.
    return `${price.amount} ${currency}`;
  }
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(price.amount / 10 ** digits);
}

/** "1024 × 683" */
export const formatSize = (size: { readonly width: number; readonly height: number }): string =>
  `${size.width} × ${size.height}`;

/** What a finished result offers: the standard download, and the HD download or its unlock. */
export interface ResultDownloads {
  /** The standard file's link text: `base` when it is the full size, else "Download (W × H)". */
  readonly standardLabel: string;
  /** "Download HD (W × H)" when the full size may be downloaded, else null. */
  readonly hdLabel: string | null;
  /** "Unlock HD — $1.99" when the full size is locked, else null. */
  readonly unlockLabel: string | null;
  /** The full size, "W × H". */
  readonly fullSize: string | null;
}

/**
 * The labels of a finished job's downloads. `base` is the screen's own name for the standard
 * download ("Download result" in the gallery): kept when the standard file is the full output
 * (payments off, a small result), so the screen reads as it always did, plus the HD link.
 */
export function resultDownloads(
  job: Pick<Job, 'output' | 'hd'>,
  base: string,
  locale?: string,
): ResultDownloads {
  const { hd, output } = job;
  if (!hd || !output) return { standardLabel: base, hdLabel: null, unlockLabel: null, fullSize: null };
  const fullSize = formatSize(output);
  const smaller = hd.standard.width !== output.width || hd.standard.height !== output.height;
  const standardLabel = smaller ? `Download (${formatSize(hd.standard)})` : base;
  if (hd.state === 'locked')
    return {
      standardLabel,
      hdLabel: null,
      unlockLabel: hd.price ? `Unlock HD — ${formatPrice(hd.price, locale)}` : 'Unlock HD',
      fullSize,
    };
  return { standardLabel, hdLabel: `Download HD (${fullSize})`, unlockLabel: null, fullSize };
}

/** The same-origin address of a job's full-size file (the owner's session cookie goes along). */
export const hdPath = (jobId: string): string => `/files/jobs/${encodeURIComponent(jobId)}/hd`;

/** How long the return page asks every second before it says it will keep waiting quietly. */
export const CONFIRM_WAIT_MS = 60_000;
/** Polling while Stripe's confirmation is awaited, then after {@link CONFIRM_WAIT_MS}. */
export const CONFIRM_POLL_MS = 1000;
export const SLOW_POLL_MS = 15_000;

/** Where the return page is: waiting for Stripe's event, waiting longer than expected, or done. */
export type ReturnState = 'waiting' | 'slow' | 'confirmed' | 'none';

/**
 * The return page's state after `?checkout=success`: only the job's own HD state (decided by the
 * server from Stripe's signed event) counts; the return address proves nothing.
 */
export function returnState(
  hd: Job['hd'],
  checkout: 'success' | 'cancelled' | undefined,
  timedOut: boolean,
): ReturnState {
  if (checkout !== 'success' || !hd) return 'none';
  if (hd.state === 'unlocked') return 'confirmed';
  // Free: nothing was needed (payments turned off meanwhile, or an administrator's job).
  if (hd.state === 'free') return 'none';
  return timedOut ? 'slow' : 'waiting';
}

/** How often the job is asked for in a return state (false: not polled for the payment). */
export function returnPollInterval(state: ReturnState): number | false {
  if (state === 'waiting') return CONFIRM_POLL_MS;
  if (state === 'slow') return SLOW_POLL_MS;
  return false;
}
