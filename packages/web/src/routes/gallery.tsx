import { useEffect, useRef, useState } from 'react';
import { Link, createLazyRoute, useNavigate } from '@tanstack/react-router';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { AtelierOutputs } from '@atelier/client';
import { useTRPC } from '../trpc.ts';
import type { GallerySearch } from '../router.tsx';
import { JOB_STATUSES } from '../lib/jobs.ts';
import type { Job, JobStatus } from '../lib/jobs.ts';
import { hasFilters, jobListFilters, patchSearch } from '../lib/gallery.ts';
import type { SearchPatch } from '../lib/gallery.ts';
import { formatBytes } from '../lib/chart-data.ts';
import { ErrorMessage, Loading } from '../components/Feedback.tsx';
import { ConfirmDialog } from '../components/gallery/ConfirmDialog.tsx';
import { StatusBadge } from '../components/gallery/StatusBadge.tsx';
import { Thumb } from '../components/gallery/Thumb.tsx';
import './gallery.css';

export const Route = createLazyRoute('/gallery')({ component: Gallery });

type Image = AtelierOutputs['images']['get'];
const PAGE = 24;
const STATUS_LABELS: Record<JobStatus, string> = {
  queued: 'Queued',
  running: 'Running',
  succeeded: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'short' });
const when = (iso: string) => dateTime.format(new Date(iso));

function Gallery() {
  const search = Route.useSearch();
  const navigate = useNavigate({ from: '/gallery' });
  const tab = search.tab ?? 'results';
  const setTab = (next: 'results' | 'uploads') =>
    void navigate({ search: (prev) => patchSearch(prev, { tab: next === 'uploads' ? 'uploads' : '' }) });
  return (
    <section className="gallery">
      <h1>Gallery</h1>
      <div className="gallery-tabs" role="group" aria-label="Show">
        <button type="button" aria-pressed={tab === 'results'} onClick={() => setTab('results')}>
          Results
        </button>
        <button type="button" aria-pressed={tab === 'uploads'} onClick={() => setTab('uploads')}>
          Uploads
        </button>
      </div>
      {tab === 'results' ? <Results search={search} /> : <Uploads />}
    </section>
  );
}

/** A sentinel that asks for the next page when it scrolls into view (the button stays for keyboards). */
function LoadMore({
  hasNextPage,
  isFetchingNextPage,
  fetchNextPage,
  label,
}: {
  hasNextPage: boolean;
  isFetchingNextPage: boolean;
  fetchNextPage: () => unknown;
  label: string;
}) {
  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const node = sentinel.current;
    if (!node || !hasNextPage || typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting) && !isFetchingNextPage) void fetchNextPage();
      },
      { rootMargin: '400px 0px' },
    );
    observer.observe(node);
    return () => observer.disconnect();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);
  if (!hasNextPage) return null;
  return (
    <div ref={sentinel} className="gallery-more">
      <button type="button" onClick={() => void fetchNextPage()} disabled={isFetchingNextPage}>
        {isFetchingNextPage ? 'Loading…' : label}
      </button>
    </div>
  );
}

function Filters({ search }: { search: GallerySearch }) {
  const trpc = useTRPC();
  const navigate = useNavigate({ from: '/gallery' });
  const styles = useQuery({ ...trpc.styles.list.queryOptions(), staleTime: 5 * 60_000 });
  const set = (patch: SearchPatch) =>
    void navigate({ replace: true, search: (prev) => patchSearch(prev, patch) });
  return (
    <form className="gallery-filters" aria-label="Filters" onSubmit={(e) => e.preventDefault()}>
      <div className="field">
        <label htmlFor="gallery-style">Style</label>
        <select
          id="gallery-style"
          value={search.style ?? ''}
          onChange={(e) => set({ style: e.target.value })}
        >
          <option value="">All styles</option>
          {(styles.data ?? []).map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
          {search.style && styles.data && !styles.data.some((s) => s.id === search.style) && (
            <option value={search.style}>{search.style}</option>
          )}
        </select>
      </div>
      <div className="field">
        <label htmlFor="gallery-status">Status</label>
        <select
          id="gallery-status"
          value={search.status ?? ''}
          onChange={(e) => set({ status: JOB_STATUSES.find((s) => s === e.target.value) ?? '' })}
        >
          <option value="">Any status</option>
          {JOB_STATUSES.map((s) => (
            <option key={s} value={s}>
              {STATUS_LABELS[s]}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="gallery-from">From</label>
        <input
          id="gallery-from"
          type="date"
          value={search.from ?? ''}
          max={search.to}
          onChange={(e) => set({ from: e.target.value })}
        />
      </div>
      <div className="field">
        <label htmlFor="gallery-to">To</label>
        <input
          id="gallery-to"
          type="date"
          value={search.to ?? ''}
          min={search.from}
          onChange={(e) => set({ to: e.target.value })}
        />
      </div>
      {hasFilters(search) && (
        <button
          type="button"
          className="gallery-clear"
          onClick={() => set({ style: '', status: '', from: '', to: '' })}
        >
          Clear filters
        </button>
      )}
      {styles.error && <ErrorMessage error={styles.error} onRetry={() => void styles.refetch()} />}
    </form>
  );
}

function Results({ search }: { search: GallerySearch }) {
  const trpc = useTRPC();
  const styles = useQuery({ ...trpc.styles.list.queryOptions(), staleTime: 5 * 60_000 });
  const names = new Map((styles.data ?? []).map((s) => [s.id, s.name]));
  const jobs = useInfiniteQuery(
    trpc.jobs.list.infiniteQueryOptions(
      { limit: PAGE, ...jobListFilters(search) },
      { getNextPageParam: (last) => last.nextCursor ?? undefined },
    ),
  );
  const items = jobs.data?.pages.flatMap((p) => p.items) ?? [];
  // Jobs still queued or running: look again every few seconds until they end.
  const pending = items.some((j) => j.status === 'queued' || j.status === 'running');
  const { refetch } = jobs;
  useEffect(() => {
    if (!pending) return;
    const timer = setInterval(() => void refetch(), 4000);
    return () => clearInterval(timer);
  }, [pending, refetch]);
  return (
    <>
      <Filters search={search} />
      {jobs.error && <ErrorMessage error={jobs.error} onRetry={() => void jobs.refetch()} />}
      {jobs.isPending ? (
        <Loading label="Loading your results…" />
      ) : items.length === 0 ? (
        !jobs.error && (
          <div className="gallery-empty">
            <p>
              <strong>No results yet{hasFilters(search) ? ' for these filters' : ''}.</strong>{' '}
              {hasFilters(search)
                ? 'Try other filters, or style a photo.'
                : 'Style a photo and it appears here.'}
            </p>
            <Link to="/studio" className="button primary">
              Go to the studio
            </Link>
          </div>
        )
      ) : (
        <>
          <ul aria-label="Results" className="gallery-grid">
            {items.map((job) => (
              <JobCard key={job.id} job={job} styleName={names.get(job.style) ?? job.style} />
            ))}
          </ul>
          <LoadMore
            hasNextPage={jobs.hasNextPage}
            isFetchingNextPage={jobs.isFetchingNextPage}
            fetchNextPage={jobs.fetchNextPage}
            label="Load more results"
          />
          {!jobs.hasNextPage && items.length > PAGE && (
            <p className="hint gallery-end">That is all of them.</p>
          )}
        </>
      )}
    </>
  );
}

function JobCard({ job, styleName }: { job: Job; styleName: string }) {
  const done = job.status === 'succeeded';
  return (
    <li className="gallery-card">
      <Link to="/gallery/$jobId" params={{ jobId: job.id }} className="gallery-card-link">
        <Thumb kind={done ? 'job' : 'image'} id={done ? job.id : job.imageId} alt="" dim={!done} />
        <span className="gallery-card-body">
          <span className="gallery-card-title">{styleName}</span>
          <StatusBadge status={job.status} />
          <span className="gallery-card-meta">
            <time dateTime={job.createdAt}>{when(job.createdAt)}</time>
          </span>
        </span>
      </Link>
    </li>
  );
}

function Uploads() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const images = useInfiniteQuery(
    trpc.images.list.infiniteQueryOptions(
      { limit: PAGE },
      { getNextPageParam: (last) => last.nextCursor ?? undefined },
    ),
  );
  const [doomed, setDoomed] = useState<Image | null>(null);
  const remove = useMutation(
    trpc.images.delete.mutationOptions({
      onSuccess: async () => {
        setDoomed(null);
        await Promise.all([
          queryClient.invalidateQueries(trpc.images.list.pathFilter()),
          queryClient.invalidateQueries(trpc.jobs.list.pathFilter()),
          queryClient.invalidateQueries(trpc.stats.mine.pathFilter()),
        ]);
      },
    }),
  );
  const items = images.data?.pages.flatMap((p) => p.items) ?? [];
  // The deleted card (and its button) is gone: give the focus to the sentence that says so.
  const done = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (remove.isSuccess) done.current?.focus();
  }, [remove.isSuccess]);
  return (
    <>
      {remove.isSuccess && (
        <p role="status" className="success" tabIndex={-1} ref={done}>
          Photo deleted, with its results.
        </p>
      )}
      {images.error && <ErrorMessage error={images.error} onRetry={() => void images.refetch()} />}
      {images.isPending ? (
        <Loading label="Loading your uploads…" />
      ) : items.length === 0 ? (
        !images.error && (
          <div className="gallery-empty">
            <p>
              <strong>No uploads yet.</strong> Add photos in the studio.
            </p>
            <Link to="/studio" className="button primary">
              Go to the studio
            </Link>
          </div>
        )
      ) : (
        <>
          <ul aria-label="Uploads" className="gallery-grid">
            {items.map((image) => {
              const label = image.originalName ?? `Photo of ${when(image.createdAt)}`;
              return (
                <li key={image.id} className="gallery-card">
                  <Thumb kind="image" id={image.id} alt={label} />
                  <div className="gallery-card-body">
                    <span className="gallery-card-title">{label}</span>
                    <span className="gallery-card-meta">
                      {image.width} × {image.height}, {formatBytes(image.bytes)} ·{' '}
                      <time dateTime={image.createdAt}>{when(image.createdAt)}</time>
                    </span>
                    <span className="gallery-card-actions">
                      <Link to="/studio" search={{ image: image.id }} className="button primary">
                        Style it<span className="visually-hidden"> ({label})</span>
                      </Link>
                      <button
                        type="button"
                        className="danger"
                        onClick={() => {
                          remove.reset();
                          setDoomed(image);
                        }}
                      >
                        Delete<span className="visually-hidden"> {label}</span>
                      </button>
                    </span>
                  </div>
                </li>
              );
            })}
          </ul>
          <LoadMore
            hasNextPage={images.hasNextPage}
            isFetchingNextPage={images.isFetchingNextPage}
            fetchNextPage={images.fetchNextPage}
            label="Load more uploads"
          />
        </>
      )}
      <ConfirmDialog
        open={doomed !== null}
        title="Delete this photo?"
        pending={remove.isPending}
        error={remove.error}
        onClose={() => setDoomed(null)}
        onConfirm={() => doomed && remove.mutate({ id: doomed.id })}
      >
        <p>
          {doomed?.originalName ? <strong>{doomed.originalName}</strong> : 'This photo'} and{' '}
          <strong>every result made from it</strong> will be deleted. This cannot be undone.
        </p>
      </ConfirmDialog>
    </>
  );
}
