import { useId, useState } from 'react';
import type { FormEvent } from 'react';
import { keepPreviousData, useMutation, useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../trpc.ts';
import { formatDateTime, shortId } from '../../lib/format.ts';
import { PAYMENT_STATUSES, PAYMENT_STATUS_LABELS, formatPrice } from '../../lib/payments.ts';
import type { PaymentStatus } from '../../lib/payments.ts';
import { ErrorMessage, Loading } from '../Feedback.tsx';
import { PaymentBadge } from '../payments/PaymentBadge.tsx';
import { Pager } from './Pager.tsx';
import { TableScroll } from './TableScroll.tsx';
import { Dialog } from './Dialog.tsx';

const PAGE = 20;

/**
 * Every user's payments (`admin.payments`), newest first, by status, a cursor page at a time; and
 * granting or revoking a job's HD without a payment (`admin.grantHd`/`revokeHd`, both audited).
 */
export function PaymentsSection() {
  const trpc = useTRPC();
  const config = useQuery({ ...trpc.payments.config.queryOptions(), staleTime: 60_000 });
  const [status, setStatus] = useState<PaymentStatus | ''>('');
  // The cursors of the pages seen so far: the last one is the page shown ("Previous" pops it).
  const [cursors, setCursors] = useState<readonly (string | null)[]>([null]);
  const cursor = cursors.at(-1) ?? null;
  const payments = useQuery({
    ...trpc.admin.payments.queryOptions({ limit: PAGE, cursor, ...(status ? { status } : {}) }),
    placeholderData: keepPreviousData,
  });
  const rows = payments.data?.items ?? [];
  const nextCursor = payments.data?.nextCursor ?? null;
  const first = (cursors.length - 1) * PAGE + 1;
  const filterId = useId();

  return (
    <>
      <section className="panel" aria-labelledby="admin-payments">
        <h2 id="admin-payments">Payments</h2>
        {config.data && (
          <p className="hint">
            {config.data.enabled
              ? `Stripe in ${config.data.mode} mode. HD unlock: ${
                  config.data.price ? formatPrice(config.data.price) : '—'
                }; results up to ${config.data.freeMaxSide} px on their long side are free.`
              : 'Payments are off on this server (no STRIPE_SECRET_KEY): every result is free at full size. Payments recorded earlier stay listed.'}
          </p>
        )}
        <div className="field admin-period">
          <label htmlFor={filterId}>Status</label>
          <select
            id={filterId}
            value={status}
            onChange={(event) => {
              setStatus(event.currentTarget.value as PaymentStatus | '');
              setCursors([null]);
            }}
          >
            <option value="">All statuses</option>
            {PAYMENT_STATUSES.map((s) => (
              <option key={s} value={s}>
                {PAYMENT_STATUS_LABELS[s]}
              </option>
            ))}
          </select>
        </div>
        {payments.isPending && <Loading label="Loading payments…" />}
        {payments.error && <ErrorMessage error={payments.error} onRetry={() => void payments.refetch()} />}
        {payments.data && rows.length === 0 && (
          <p>
            {cursors.length > 1
              ? 'No more payments.'
              : status
                ? `No ${PAYMENT_STATUS_LABELS[status].toLowerCase()} payments.`
                : 'No payments yet.'}
          </p>
        )}
        {rows.length > 0 && (
          <TableScroll label="Payments">
            <table className="admin-table" aria-busy={payments.isFetching}>
              <caption className="visually-hidden">
                Payments {first} to {first + rows.length - 1}, newest first
                {status ? `, ${PAYMENT_STATUS_LABELS[status].toLowerCase()} only` : ''}
              </caption>
              <thead>
                <tr>
                  <th scope="col">User</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">
                    Amount
                  </th>
                  <th scope="col">Job</th>
                  <th scope="col">Created</th>
                  <th scope="col">Settled</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((payment) => (
                  <tr key={payment.id}>
                    <th scope="row" className="admin-email">
                      {payment.userEmail ?? <span className="admin-badge">Deleted user</span>}
                    </th>
                    <td>
                      <PaymentBadge status={payment.status} />
                      {payment.failureReason && (
                        <div className="hint admin-details">{payment.failureReason}</div>
                      )}
                    </td>
                    <td className="num">{formatPrice(payment)}</td>
                    <td>
                      {payment.jobId ? (
                        <code className="admin-job-id">{payment.jobId}</code>
                      ) : (
                        <span className="admin-badge">Deleted</span>
                      )}
                    </td>
                    <td className="admin-time">
                      <time dateTime={payment.createdAt}>{formatDateTime(payment.createdAt)}</time>
                    </td>
                    <td className="admin-time">
                      {payment.settledAt ? (
                        <time dateTime={payment.settledAt}>{formatDateTime(payment.settledAt)}</time>
                      ) : (
                        '—'
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableScroll>
        )}
        <Pager
          noun="Payments"
          first={first}
          count={rows.length}
          canPrevious={cursors.length > 1}
          canNext={nextCursor !== null && !payments.isPlaceholderData}
          onPrevious={() => setCursors(cursors.slice(0, -1))}
          onNext={() => setCursors([...cursors, nextCursor])}
        />
      </section>
      <GrantHd />
    </>
  );
}

type Action = { kind: 'grant' | 'revoke'; jobId: string };

/** Unlock or lock a job's HD by its id, after a confirmation. */
function GrantHd() {
  const trpc = useTRPC();
  const [jobId, setJobId] = useState('');
  const [confirming, setConfirming] = useState<Action | null>(null);
  const [done, setDone] = useState<string>('');
  const options = {
    onMutate: () => setDone(''),
    onSuccess: (result: { jobId: string; unlocked: boolean }) => {
      setConfirming(null);
      setDone(
        result.unlocked
          ? `The HD result of job ${shortId(result.jobId)} is unlocked: its owner can download the full size.`
          : `The HD result of job ${shortId(result.jobId)} is locked: its owner can download the standard size only.`,
      );
    },
  };
  const grant = useMutation(trpc.admin.grantHd.mutationOptions(options));
  const revoke = useMutation(trpc.admin.revokeHd.mutationOptions(options));
  const pending = grant.isPending || revoke.isPending;
  const ask = (kind: Action['kind']) => (event?: FormEvent) => {
    event?.preventDefault();
    const id = jobId.trim();
    if (!id) return;
    grant.reset();
    revoke.reset();
    setConfirming({ kind, jobId: id });
  };
  const mutation = confirming?.kind === 'revoke' ? revoke : grant;
  return (
    <section className="panel" aria-labelledby="admin-grant-hd">
      <h2 id="admin-grant-hd">Grant or revoke HD</h2>
      <p className="hint" id="admin-grant-hd-hint">
        Granting unlocks a job’s full-size result without a payment; revoking locks it again, whatever
        unlocked it. Both are recorded in the audit log.
      </p>
      <form className="admin-grant" onSubmit={ask('grant')} aria-labelledby="admin-grant-hd">
        <div className="field">
          <label htmlFor="admin-grant-job">Job id</label>
          <input
            id="admin-grant-job"
            name="jobId"
            type="text"
            required
            autoComplete="off"
            spellCheck={false}
            aria-describedby="admin-grant-hd-hint"
            value={jobId}
            onChange={(event) => setJobId(event.currentTarget.value)}
          />
        </div>
        <div className="admin-row-actions">
          <button type="submit" disabled={pending}>
            Grant HD
          </button>
          <button type="button" className="danger" disabled={pending} onClick={ask('revoke')}>
            Revoke HD
          </button>
        </div>
      </form>
      <p role="status" className="success">
        {done}
      </p>
      {confirming && (
        <Dialog
          title={`${confirming.kind === 'grant' ? 'Grant' : 'Revoke'} HD for job ${shortId(confirming.jobId)}?`}
          onClose={() => setConfirming(null)}
        >
          <p>
            {confirming.kind === 'grant'
              ? 'Its owner will be able to download the full-size result without paying.'
              : 'Its owner will no longer be able to download the full-size result, even if they paid: refund such a payment in Stripe.'}{' '}
            Job <code className="admin-id">{confirming.jobId}</code>.
          </p>
          {mutation.error && <ErrorMessage error={mutation.error} />}
          <div className="admin-dialog-actions">
            <button
              type="button"
              className={confirming.kind === 'grant' ? 'primary' : 'danger'}
              disabled={pending}
              onClick={() => mutation.mutate({ jobId: confirming.jobId })}
            >
              {confirming.kind === 'grant' ? 'Grant HD' : 'Revoke HD'}
            </button>
            <button type="button" onClick={() => setConfirming(null)}>
              Cancel
            </button>
          </div>
        </Dialog>
      )}
    </section>
  );
}
