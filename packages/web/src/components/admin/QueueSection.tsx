import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { AtelierOutputs } from '@atelier/client';
import { useTRPC } from '../../trpc.ts';
import { JOB_STATUSES } from '../../lib/jobs.ts';
import { formatDateTime, shortId } from '../../lib/format.ts';
import { ErrorMessage, Loading } from '../Feedback.tsx';
import { TableScroll } from './TableScroll.tsx';
import { STATUS_LABELS } from './sections.ts';

type Job = AtelierOutputs['admin']['retryJob'];
/**
 * A row of the table: the owner is known for the jobs the failed list gave; `action` marks the jobs
 * retried or cancelled here (their status is what the action answered, and may have moved on since:
 * no admin endpoint reads another user's job).
 */
type Row = Job & { readonly ownerId?: string; readonly action?: 'retried' | 'cancelled' };

const REFRESH_MS = 5000;

/** Jobs by status, the queues' own counts, and the failed jobs with retry and cancel. */
export function QueueSection() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [live, setLive] = useState(true);
  const refetchInterval = live ? REFRESH_MS : false;
  const queue = useQuery({ ...trpc.admin.queue.queryOptions(), refetchInterval });
  const failed = useQuery({ ...trpc.admin.failedJobs.queryOptions({ limit: 50 }), refetchInterval });
  // Jobs retried or cancelled here: they leave the failed list, but stay in view with their new status.
  const [touched, setTouched] = useState<ReadonlyMap<string, Row>>(new Map());
  const [failure, setFailure] = useState<{ what: string; error: unknown } | null>(null);

  const settle = async () => {
    await queryClient.invalidateQueries({ queryKey: trpc.admin.queue.queryKey() });
    await queryClient.invalidateQueries({ queryKey: trpc.admin.failedJobs.queryKey() });
  };
  const keep = (job: Job, action: 'retried' | 'cancelled') =>
    setTouched((old) => {
      const ownerId = failed.data?.find((j) => j.id === job.id)?.ownerId ?? old.get(job.id)?.ownerId;
      return new Map(old).set(job.id, { ...job, action, ...(ownerId ? { ownerId } : {}) });
    });
  const retry = useMutation(
    trpc.admin.retryJob.mutationOptions({
      onMutate: () => setFailure(null),
      onSuccess: (job) => keep(job, 'retried'),
      onError: (error, input) => setFailure({ what: `retry job ${shortId(input.id)}`, error }),
      onSettled: settle,
    }),
  );
  const cancel = useMutation(
    trpc.admin.cancelJob.mutationOptions({
      onMutate: () => setFailure(null),
      onSuccess: (job) => keep(job, 'cancelled'),
      onError: (error, input) => setFailure({ what: `cancel job ${shortId(input.id)}`, error }),
      onSettled: settle,
    }),
  );

  // Server rows first (the truth), then the jobs acted on here that left the failed list.
  const failedIds = new Set((failed.data ?? []).map((j) => j.id));
  const rows: readonly Row[] = [
    ...(failed.data ?? []),
    ...[...touched.values()].filter((j) => !failedIds.has(j.id)),
  ];

  return (
    <section className="panel" aria-labelledby="admin-queue">
      <h2 id="admin-queue">Queue</h2>
      <label className="admin-inline">
        <input type="checkbox" checked={live} onChange={(e) => setLive(e.target.checked)} /> Refresh every 5
        seconds
      </label>

      <h3>Jobs by status</h3>
      {queue.isPending && <Loading label="Loading the queue…" />}
      {queue.error && <ErrorMessage error={queue.error} onRetry={() => void queue.refetch()} />}
      {queue.data && (
        <>
          <dl className="admin-counts">
            {JOB_STATUSES.map((status) => (
              <div key={status} className={`admin-count admin-count-${status}`}>
                <dt>{STATUS_LABELS[status]}</dt>
                <dd>{queue.data.jobs[status]}</dd>
              </div>
            ))}
          </dl>
          <h3>Queues</h3>
          {queue.data.queues.length === 0 ? (
            <p>No queues yet.</p>
          ) : (
            <TableScroll label="Queues">
              <table className="admin-table">
                <caption className="visually-hidden">
                  The queues’ own counts, the dead-letter queue included
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Queue</th>
                    <th scope="col" className="num">
                      Queued
                    </th>
                    <th scope="col" className="num">
                      Active
                    </th>
                    <th scope="col" className="num">
                      Failed
                    </th>
                    <th scope="col" className="num">
                      Total
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {queue.data.queues.map((q) => (
                    <tr key={q.name}>
                      <th scope="row">
                        <code>{q.name}</code>
                      </th>
                      <td className="num">{q.queued}</td>
                      <td className="num">{q.active}</td>
                      <td className="num">{q.failed}</td>
                      <td className="num">{q.total}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableScroll>
          )}
        </>
      )}

      <h3>Failed jobs</h3>
      {failure && (
        <div>
          <p className="admin-error-context">Could not {failure.what}:</p>
          <ErrorMessage error={failure.error} />
        </div>
      )}
      {failed.isPending && <Loading label="Loading failed jobs…" />}
      {failed.error && <ErrorMessage error={failed.error} onRetry={() => void failed.refetch()} />}
      {failed.data && rows.length === 0 && <p>No failed jobs. Everything ran fine.</p>}
      {rows.length > 0 && (
        <TableScroll label="Failed jobs">
          <table className="admin-table">
            <caption className="visually-hidden">Failed jobs, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Style</th>
                <th scope="col">Owner</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Attempts
                </th>
                <th scope="col">Error</th>
                <th scope="col">Finished</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((job) => {
                const id8 = shortId(job.id);
                // A retried job may have finished since: the server answers if it cannot be cancelled.
                const cancellable =
                  job.action === 'retried' || job.status === 'queued' || job.status === 'running';
                const retryable = job.status === 'failed' || job.status === 'cancelled';
                return (
                  <tr key={job.id}>
                    <th scope="row">
                      <code title={job.id}>{id8}</code>
                    </th>
                    <td>{job.style}</td>
                    <td>{job.ownerId ? <code title={job.ownerId}>{shortId(job.ownerId)}</code> : '—'}</td>
                    <td>{job.action ?? job.status}</td>
                    <td className="num">{job.attempts}</td>
                    <td className="admin-job-error">
                      {job.error ? (
                        <>
                          <code>{job.error.code}</code> {job.error.message}
                        </>
                      ) : (
                        '—'
                      )}
                    </td>
                    <td>
                      {job.finishedAt ? (
                        <time dateTime={job.finishedAt}>{formatDateTime(job.finishedAt)}</time>
                      ) : (
                        '—'
                      )}
                    </td>
                    <td>
                      <div className="admin-row-actions">
                        <button
                          type="button"
                          disabled={!retryable || retry.isPending}
                          onClick={() => retry.mutate({ id: job.id })}
                        >
                          Retry {id8}
                        </button>
                        <button
                          type="button"
                          className="danger"
                          disabled={!cancellable || cancel.isPending}
                          onClick={() => cancel.mutate({ id: job.id })}
                        >
                          Cancel {id8}
                        </button>
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableScroll>
      )}
      <p className="hint">
        {failed.dataUpdatedAt > 0 && `Updated ${new Date(failed.dataUpdatedAt).toLocaleTimeString()}.`} A
        failed job can be retried; a retried job can be cancelled while it waits or runs.
      </p>
    </section>
  );
}
