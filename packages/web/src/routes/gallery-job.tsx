import { useEffect, useState } from 'react';
import { Link, createLazyRoute, useNavigate } from '@tanstack/react-router';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../trpc.ts';
import { isFinal } from '../lib/jobs.ts';
import { codeOf } from '../lib/errors.ts';
import type { Job } from '../lib/jobs.ts';
import { formatParam, paramsOf, runAgainSearch, timingRows } from '../lib/gallery.ts';
import { formatBytes, formatMs } from '../lib/chart-data.ts';
import { ErrorMessage, Loading } from '../components/Feedback.tsx';
import { returnPollInterval, returnState, CONFIRM_WAIT_MS } from '../lib/payments.ts';
import type { ReturnState } from '../lib/payments.ts';
import { HdDownloads, UnlockHint, useUnlockHd } from '../components/payments/HdDownloads.tsx';
import { CheckoutNotice } from '../components/payments/CheckoutNotice.tsx';
import { ConfirmDialog } from '../components/gallery/ConfirmDialog.tsx';
import { StatusBadge } from '../components/gallery/StatusBadge.tsx';
import { useSignedUrl } from '../components/gallery/signed-urls.ts';
import './gallery-job.css';

export const Route = createLazyRoute('/gallery/$jobId')({ component: Result });

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const when = (iso: string | null) => (iso ? dateTime.format(new Date(iso)) : '–');

/** Whether `ms` have passed since `key` (not null) was first seen; false while key is null. */
function useElapsed(ms: number, key: string | null): boolean {
  const [elapsed, setElapsed] = useState<string | null>(null);
  useEffect(() => {
    if (key === null) return undefined;
    const timer = setTimeout(() => setElapsed(key), ms);
    return () => clearTimeout(timer);
  }, [ms, key]);
  return key !== null && elapsed === key;
}

function Result() {
  const { jobId } = Route.useParams();
  const search = Route.useSearch();
  const navigate = useNavigate();
  const trpc = useTRPC();
  // Back from Stripe: ask every second for about a minute, then now and then (the event may come
  // late: Stripe retries for days), until the job's HD is unlocked.
  const returning = search.checkout === 'success' ? `${jobId} ${search.session_id ?? ''}` : null;
  const timedOut = useElapsed(CONFIRM_WAIT_MS, returning);
  const job = useQuery({
    ...trpc.jobs.get.queryOptions({ id: jobId }),
    refetchInterval: (query) => {
      const data = query.state.data;
      if (!data) return false;
      // Until it ends, follow it.
      if (!isFinal(data.status)) return 2000;
      return returnPollInterval(returnState(data.hd, search.checkout, timedOut));
    },
  });
  const styles = useQuery({ ...trpc.styles.list.queryOptions(), staleTime: 5 * 60_000 });
  if (job.error)
    return (
      <section className="panel">
        <h1>Result</h1>
        <ErrorMessage
          error={job.error}
          // A render that is gone stays gone: no point in trying again.
          {...(codeOf(job.error) === 'JOB_NOT_FOUND' ? {} : { onRetry: () => void job.refetch() })}
        />
        <p>
          <Link to="/gallery">Back to the gallery</Link>
        </p>
      </section>
    );
  if (!job.data) return <Loading label="Loading this result…" />;
  const names = new Map((styles.data ?? []).map((s) => [s.id, s.name]));
  return (
    <Detail
      job={job.data}
      name={(id) => names.get(id) ?? id}
      checkout={{
        state: returnState(job.data.hd, search.checkout, timedOut),
        cancelled: search.checkout === 'cancelled',
        onDismiss: () =>
          void navigate({ to: '/gallery/$jobId', params: { jobId }, search: {}, replace: true }),
      }}
    />
  );
}

function Detail({
  job,
  name,
  checkout,
}: {
  job: Job;
  name: (id: string) => string;
  checkout: { state: ReturnState; cancelled: boolean; onDismiss: () => void };
}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const done = job.status === 'succeeded';
  const image = useQuery(trpc.images.get.queryOptions({ id: job.imageId }));
  const original = useSignedUrl('image', job.imageId, { keepFresh: true });
  const result = useSignedUrl('job', job.id, { enabled: done, keepFresh: true });
  const [confirming, setConfirming] = useState(false);
  const unlock = useUnlockHd(job.id);
  // Paid, the confirmation on its way: no second checkout meanwhile.
  const awaiting = checkout.state === 'waiting' || checkout.state === 'slow';
  const remove = useMutation(
    trpc.jobs.delete.mutationOptions({
      onSuccess: async () => {
        setConfirming(false);
        queryClient.removeQueries(trpc.jobs.get.queryFilter({ id: job.id }));
        await Promise.all([
          queryClient.invalidateQueries(trpc.jobs.list.pathFilter()),
          queryClient.invalidateQueries(trpc.stats.mine.pathFilter()),
        ]);
        await navigate({ to: '/gallery' });
      },
    }),
  );
  const params = paramsOf(job);
  const timings = timingRows(job.timings, name);
  const styleName = name(job.style);
  const originalRatio = image.data ? `${image.data.width} / ${image.data.height}` : '4 / 3';
  const resultRatio = job.output ? `${job.output.width} / ${job.output.height}` : originalRatio;
  return (
    <article className="job">
      <p className="job-back">
        <Link to="/gallery">← Gallery</Link>
      </p>
      <header className="job-head">
        <h1>{styleName}</h1>
        <StatusBadge status={job.status} />
      </header>
      <CheckoutNotice {...checkout} />
      {job.error && (
        <div className="error job-error">
          <p>
            <strong>This render failed:</strong> {job.error.message}{' '}
            <span className="hint">({job.error.code})</span>
          </p>
        </div>
      )}
      <div className="job-actions">
        <button
          type="button"
          className="primary"
          onClick={() => void navigate({ to: '/studio', search: runAgainSearch(job, params) })}
        >
          Run again
        </button>
        {done && (
          <HdDownloads
            job={job}
            standardUrl={result.data?.url}
            baseLabel="Download result"
            unlock={unlock}
            describedBy="job-hd-hint"
            awaitingPayment={awaiting}
          />
        )}
        {original.data && (
          <a className="button" href={original.data.url} download={image.data?.originalName ?? true}>
            Download original
          </a>
        )}
        <button
          type="button"
          className="danger"
          onClick={() => {
            remove.reset();
            setConfirming(true);
          }}
        >
          Delete
        </button>
      </div>
      {done && <UnlockHint id="job-hd-hint" job={job} awaitingPayment={awaiting} />}
      {unlock.error !== null && unlock.error !== undefined && <ErrorMessage error={unlock.error} />}
      {unlock.notice && (
        <p role="status" className="success">
          {unlock.notice}
        </p>
      )}
      {original.error && <ErrorMessage error={original.error} onRetry={() => void original.refetch()} />}
      {result.error && <ErrorMessage error={result.error} onRetry={() => void result.refetch()} />}
      {image.error && <ErrorMessage error={image.error} onRetry={() => void image.refetch()} />}
      <div className="job-pictures">
        <figure className="job-figure">
          <div className="job-frame" style={{ aspectRatio: originalRatio }}>
            {original.data && <img src={original.data.url} alt="Original" />}
          </div>
          <figcaption>
            Original
            {image.data && (
              <span className="hint">
                {' '}
                · {image.data.originalName ? `${image.data.originalName}, ` : ''}
                {image.data.width} × {image.data.height}, {formatBytes(image.data.bytes)}
              </span>
            )}
          </figcaption>
        </figure>
        <figure className="job-figure">
          <div className="job-frame" style={{ aspectRatio: resultRatio }}>
            {done && result.data ? (
              <img src={result.data.url} alt="Result" />
            ) : (
              <p className="job-frame-note">
                {job.status === 'failed'
                  ? 'No result: the render failed.'
                  : job.status === 'cancelled'
                    ? 'No result: the render was cancelled.'
                    : `Rendering… ${Math.round(job.progress * 100)}%`}
              </p>
            )}
          </div>
          <figcaption>
            Result
            {job.output && (
              <span className="hint">
                {' '}
                · {job.output.format.toUpperCase()}, {job.output.width} × {job.output.height},{' '}
                {formatBytes(job.output.bytes)}
                {job.fromCache ? ', reused from an identical earlier render' : ''}
              </span>
            )}
          </figcaption>
        </figure>
      </div>
      <div className="job-facts">
        <section className="job-section" aria-labelledby="job-params">
          <h2 id="job-params">Parameters</h2>
          {params === null ? (
            <p className="hint">Atelier does not report the parameters of this render.</p>
          ) : Object.keys(params).length === 0 ? (
            <p className="hint">The style’s defaults.</p>
          ) : (
            <dl className="job-dl">
              {Object.entries(params).map(([key, value]) => (
                <div key={key}>
                  <dt>{key}</dt>
                  <dd>{formatParam(value)}</dd>
                </div>
              ))}
            </dl>
          )}
        </section>
        <section className="job-section" aria-labelledby="job-timings">
          <h2 id="job-timings">Timings</h2>
          {timings.length === 0 ? (
            <p className="hint">{isFinal(job.status) ? 'No timings were recorded.' : 'Not finished yet.'}</p>
          ) : (
            <dl className="job-dl">
              {timings.map((row) => (
                <div key={row.label} className={row.label === 'Total' ? 'job-total' : undefined}>
                  <dt>{row.label}</dt>
                  <dd>{formatMs(row.ms)}</dd>
                </div>
              ))}
            </dl>
          )}
        </section>
        <section className="job-section" aria-labelledby="job-status">
          <h2 id="job-status">Status</h2>
          <dl className="job-dl">
            <div>
              <dt>Status</dt>
              <dd>
                <StatusBadge status={job.status} />
              </dd>
            </div>
            <div>
              <dt>Created</dt>
              <dd>{when(job.createdAt)}</dd>
            </div>
            <div>
              <dt>Started</dt>
              <dd>{when(job.startedAt)}</dd>
            </div>
            <div>
              <dt>Finished</dt>
              <dd>{when(job.finishedAt)}</dd>
            </div>
            <div>
              <dt>Attempts</dt>
              <dd>{job.attempts}</dd>
            </div>
          </dl>
        </section>
      </div>
      <ConfirmDialog
        open={confirming}
        title="Delete this result?"
        pending={remove.isPending}
        error={remove.error}
        onClose={() => setConfirming(false)}
        onConfirm={() => remove.mutate({ id: job.id })}
      >
        <p>The rendered picture and its details will be deleted. The original photo stays in your uploads.</p>
      </ConfirmDialog>
    </article>
  );
}
