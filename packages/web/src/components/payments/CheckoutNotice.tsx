import { Link } from '@tanstack/react-router';
import type { ReturnState } from '../../lib/payments.ts';
import './payments.css';

/**
 * What the return from Stripe Checkout shows (`/gallery/<job>?checkout=…`), in a polite live
 * region that stays on the page while the sentence changes, so each change is announced: waiting
 * for Stripe's event, still waiting after a minute (calmly: the page keeps asking), the payment
 * received, or the Checkout cancelled. "Dismiss" leaves the return address (and its waiting).
 */
export function CheckoutNotice({
  state,
  cancelled,
  onDismiss,
}: {
  state: ReturnState;
  cancelled: boolean;
  onDismiss: () => void;
}) {
  const kind = cancelled ? 'cancelled' : state;
  if (kind === 'none') return null;
  return (
    <div className={`checkout-notice checkout-notice-${kind}`}>
      <div role="status" aria-live="polite">
        {kind === 'waiting' && <p>Waiting for Stripe to confirm your payment…</p>}
        {kind === 'slow' && (
          <p>
            Stripe has not confirmed your payment yet. This page updates by itself when it does, and you can
            leave it meanwhile: the payment is listed on{' '}
            <Link to="/account" hash="payments">
              your account’s payments
            </Link>
            .
          </p>
        )}
        {kind === 'confirmed' && <p>Payment received — your HD result is ready.</p>}
        {kind === 'cancelled' && <p>Checkout cancelled; nothing was charged.</p>}
      </div>
      {kind !== 'waiting' && (
        <button type="button" onClick={onDismiss}>
          Dismiss
        </button>
      )}
    </div>
  );
}
