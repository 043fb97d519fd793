import { PAYMENT_STATUS_LABELS } from '../../lib/payments.ts';
import type { PaymentStatus } from '../../lib/payments.ts';
import './payments.css';

/** A payment's status as a small coloured label (the word is always there, colour is only a hint). */
export function PaymentBadge({ status }: { status: PaymentStatus }) {
  return <span className={`badge payment-${status}`}>{PAYMENT_STATUS_LABELS[status]}</span>;
}
