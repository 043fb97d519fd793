import { useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../trpc.ts';
import { formatDateTime, formatDetails } from '../../lib/format.ts';
import { ErrorMessage, Loading } from '../Feedback.tsx';
import { TableScroll } from './TableScroll.tsx';

const PAGE = 50;
/** The most admin.audit returns at once. */
const MAX = 500;

/** The audit log, newest first: who did what to what, and when. */
export function AuditSection() {
  const trpc = useTRPC();
  const [limit, setLimit] = useState(PAGE);
  const audit = useQuery({ ...trpc.admin.audit.queryOptions({ limit }), placeholderData: keepPreviousData });
  const entries = audit.data ?? [];
  const more = entries.length === limit && limit < MAX;
  return (
    <section className="panel" aria-labelledby="admin-audit">
      <h2 id="admin-audit">Audit log</h2>
      {audit.isPending && <Loading label="Loading the audit log…" />}
      {audit.error && <ErrorMessage error={audit.error} onRetry={() => void audit.refetch()} />}
      {audit.data && entries.length === 0 && (
        <p>Nothing recorded yet: administrators’ actions appear here.</p>
      )}
      {entries.length > 0 && (
        <TableScroll label="Audit log entries">
          <table className="admin-table" aria-busy={audit.isFetching}>
            <caption className="visually-hidden">
              The {entries.length} latest entries of the audit log, newest first
            </caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Actor</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {entries.map((entry) => (
                <tr key={entry.id}>
                  <th scope="row" className="admin-time">
                    <time dateTime={entry.at}>{formatDateTime(entry.at)}</time>
                  </th>
                  <td className="admin-email">{entry.actor ?? 'System'}</td>
                  <td>
                    <code>{entry.action}</code>
                  </td>
                  <td>
                    {entry.target.type}
                    {entry.target.id && (
                      <>
                        {' '}
                        <code className="admin-id">{entry.target.id}</code>
                      </>
                    )}
                  </td>
                  <td className="admin-details">{formatDetails(entry.details) || '—'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      <div className="admin-pager">
        <span>{entries.length > 0 ? `Showing the ${entries.length} latest entries.` : ''}</span>
        {more && (
          <button
            type="button"
            disabled={audit.isFetching}
            onClick={() => setLimit(Math.min(MAX, limit + PAGE))}
          >
            Show older entries
          </button>
        )}
        {!more && entries.length >= MAX && (
          <span className="hint">The console shows the {MAX} latest entries.</span>
        )}
      </div>
    </section>
  );
}
