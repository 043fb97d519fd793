import { Link } from '@tanstack/react-router';
import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../trpc.ts';
import { formatDateTime, shortId } from '../../lib/format.ts';
import { formatPrice } from '../../lib/payments.ts';
import { ErrorMessage, Loading } from '../Feedback.tsx';
import { PaymentBadge } from './PaymentBadge.tsx';
import './payments.css';

const PAGE = 10;

/**
 * The account's "Payments": your HD unlocks, newest first, a page at a time (`payments.list`),
 * with "Continue to checkout" for one still open. Not shown when payments are off and you never
 * paid (a self-hosted Atelier without Stripe says nothing about money).
 */
export function AccountPayments() {
  const trpc = useTRPC();
  const config = useQuery({ ...trpc.payments.config.queryOptions(), staleTime: 5 * 60_000 });
  const payments = useInfiniteQuery(
    trpc.payments.list.infiniteQueryOptions(
      { limit: PAGE },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );
  const items = payments.data?.pages.flatMap((page) => page.items) ?? [];
  const enabled = config.data?.enabled ?? false;
  // Off, or not known yet: say nothing unless there is history to show.
  if (!enabled && items.length === 0 && !payments.error) return null;
  return (
    <section className="panel" aria-labelledby="payments">
      <h2 id="payments" tabIndex={-1}>
        Payments
      </h2>
      {!enabled && config.data && (
        <p className="hint">Payments are off on this server now: every result is free at full size.</p>
      )}
      {payments.isPending && <Loading label="Loading your payments…" />}
      {payments.error && <ErrorMessage error={payments.error} onRetry={() => void payments.refetch()} />}
      {payments.isSuccess && items.length === 0 && (
        <p>
          No payments yet. When you unlock the full-size (HD) download of a result, its payment is listed
          here.
        </p>
      )}
      {items.length > 0 && (
        <div className="table-scroll payments-scroll" role="region" aria-label="Your payments" tabIndex={0}>
          <table className="payments-table" aria-busy={payments.isFetching}>
            <caption className="visually-hidden">Your payments, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Date</th>
                <th scope="col">Result</th>
                <th scope="col" className="num">
                  Amount
                </th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="visually-hidden">Action</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((payment) => (
                <tr key={payment.id}>
                  <th scope="row">
                    <time dateTime={payment.createdAt}>{formatDateTime(payment.createdAt)}</time>
                  </th>
                  <td>
                    {payment.jobId ? (
                      <Link to="/gallery/$jobId" params={{ jobId: payment.jobId }}>
                        Result <code>{shortId(payment.jobId)}</code>
                      </Link>
                    ) : (
                      <span className="hint">Deleted result</span>
                    )}
                  </td>
                  <td className="num">{formatPrice(payment)}</td>
                  <td>
                    <PaymentBadge status={payment.status} />
                  </td>
                  <td>
                    {payment.status === 'pending' && payment.checkoutUrl && (
                      <a href={payment.checkoutUrl}>Continue to checkout</a>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {payments.hasNextPage && (
        <button
          type="button"
          className="payments-more"
          disabled={payments.isFetchingNextPage}
          onClick={() => void payments.fetchNextPage()}
        >
          {payments.isFetchingNextPage ? 'Loading…' : 'Load more'}
        </button>
      )}
    </section>
  );
}
