import { useEffect, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../../trpc.ts';
import { hdPath, resultDownloads } from '../../lib/payments.ts';
import type { Job } from '../../lib/jobs.ts';
import './payments.css';

const NOTHING_TO_PAY = {
  paid: 'This result is already paid for: its HD download is ready.',
  granted: 'An administrator unlocked this result: its HD download is ready.',
  free: 'This result is free at full size: its HD download is ready.',
} as const;

export interface UnlockHd {
  /** Asks for a Checkout and sends the browser to it (or refreshes the job when nothing is due). */
  readonly start: () => void;
  /** Asking, or already on the way to Stripe's page: the button stays disabled. */
  readonly busy: boolean;
  readonly leaving: boolean;
  readonly error: unknown;
  /** A sentence when the server answered that there is nothing to pay. */
  readonly notice: string | null;
}

/**
 * "Unlock HD": `payments.createCheckout`, then `window.location.assign` to Stripe's hosted page.
 * Clicking twice is harmless (the server answers the same Checkout). When the server says there
 * is nothing to pay (paid meanwhile, granted, or free), the job is read again and the HD link shows.
 */
export function useUnlockHd(jobId: string): UnlockHd {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [leaving, setLeaving] = useState(false);
  // Back from Stripe with the browser's back button (a page restored from the back/forward
  // cache keeps its state): the button works again.
  useEffect(() => {
    const restored = (event: PageTransitionEvent) => {
      if (event.persisted) setLeaving(false);
    };
    window.addEventListener('pageshow', restored);
    return () => window.removeEventListener('pageshow', restored);
  }, []);
  const checkout = useMutation(
    trpc.payments.createCheckout.mutationOptions({
      onSuccess: async (answer) => {
        if (answer.status === 'open') {
          setLeaving(true);
          window.location.assign(answer.url);
          return;
        }
        await queryClient.invalidateQueries(trpc.jobs.get.queryFilter({ id: jobId }));
      },
    }),
  );
  const answer = checkout.data;
  return {
    start: () => checkout.mutate({ jobId }),
    busy: checkout.isPending || leaving,
    leaving,
    error: checkout.error,
    notice: answer?.status === 'unlocked' ? NOTHING_TO_PAY[answer.reason] : null,
  };
}

/**
 * A finished result's downloads, for a row of actions: the standard file (`standardUrl`, named
 * `baseLabel` while it is the full size, else by its size), and the full size: "Download HD (W × H)"
 * when it may be downloaded, or the "Unlock HD — $1.99" button while it is locked. With payments
 * off this is the screen's usual link plus the HD link, with no word of payment.
 */
export function HdDownloads({
  job,
  standardUrl,
  baseLabel,
  unlock,
  standardClassName = 'button',
  describedBy,
  awaitingPayment = false,
}: {
  job: Pick<Job, 'id' | 'output' | 'hd'>;
  standardUrl: string | undefined;
  baseLabel: string;
  unlock: UnlockHd;
  standardClassName?: string;
  /** The id of a sentence that explains the unlock (its price, the sizes). */
  describedBy?: string;
  /** Back from a paid Checkout, Stripe's confirmation awaited: no second "Unlock HD" meanwhile. */
  awaitingPayment?: boolean;
}) {
  const labels = resultDownloads(job, baseLabel);
  const locked = labels.unlockLabel !== null;
  return (
    <>
      {labels.unlockLabel && !awaitingPayment && (
        <button
          type="button"
          className="primary"
          disabled={unlock.busy}
          aria-describedby={describedBy}
          onClick={unlock.start}
        >
          {unlock.leaving ? 'Opening Stripe Checkout…' : labels.unlockLabel}
        </button>
      )}
      {standardUrl && (
        <a className={locked ? 'button' : standardClassName} href={standardUrl} download>
          {labels.standardLabel}
        </a>
      )}
      {labels.hdLabel && (
        <a className="button" href={hdPath(job.id)} download>
          {labels.hdLabel}
        </a>
      )}
    </>
  );
}

/** The sentence under a locked result's actions: what is free, what the unlock buys. */
export function UnlockHint({
  id,
  job,
  awaitingPayment = false,
}: {
  id: string;
  job: Pick<Job, 'output' | 'hd'>;
  awaitingPayment?: boolean;
}) {
  const labels = resultDownloads(job, '');
  if (!labels.unlockLabel || !job.hd || awaitingPayment) return null;
  return (
    <p id={id} className="hint hd-hint">
      The free download is {job.hd.standard.width} × {job.hd.standard.height} pixels. Unlock the full size,{' '}
      {labels.fullSize}, with a one-time payment through Stripe.
    </p>
  );
}
