import { useEffect, useRef, useState } from 'react';
import type { ReactNode } from 'react';
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
import { LoadMore } from '../components/gallery/LoadMore.tsx';
import { DuplicateBadge } from '../components/gallery/DuplicateBadge.tsx';
import { PaletteStrip } from '../components/gallery/Palette.tsx';
import {
  DEFAULT_TOLERANCE,
  FIRST_COLOUR,
  MAX_COLOURS,
  MAX_TOLERANCE,
  coloursParam,
  parseColours,
  nextColour,
  photoName,
  photoSearchOf,
} from '../lib/gallery-search.ts';
import type { PhotoSearch } from '../lib/gallery-search.ts';
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
      {tab === 'results' ? <Results search={search} /> : <Uploads search={search} />}
    </section>
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

/** One photo of a list: with its colour match (colour search), when the list has one. */
interface PhotoHit {
  readonly image: Image;
  readonly score?: number;
  readonly deltaE?: number;
}

/** The Photos (uploads) tab: the search form, then every photo, or the ones a search found. */
function Uploads({ search }: { search: GallerySearch }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const photoSearch = photoSearchOf(search);
  const [doomed, setDoomed] = useState<Image | null>(null);
  const remove = useMutation(
    trpc.images.delete.mutationOptions({
      onSuccess: async () => {
        setDoomed(null);
        await Promise.all([
          queryClient.invalidateQueries(trpc.images.list.pathFilter()),
          queryClient.invalidateQueries(trpc.gallery.pathFilter()),
          queryClient.invalidateQueries(trpc.jobs.list.pathFilter()),
          queryClient.invalidateQueries(trpc.stats.mine.pathFilter()),
        ]);
      },
    }),
  );
  // The deleted card (and its button) is gone: give the focus to the sentence that says so.
  const done = useRef<HTMLParagraphElement>(null);
  useEffect(() => {
    if (remove.isSuccess) done.current?.focus();
  }, [remove.isSuccess]);
  const onDelete = (image: Image) => {
    remove.reset();
    setDoomed(image);
  };
  return (
    <>
      <PhotoSearchForm search={search} photoSearch={photoSearch} />
      {photoSearch.kind !== 'all' && <Filters search={search} />}
      {remove.isSuccess && (
        <p role="status" className="success" tabIndex={-1} ref={done}>
          Photo deleted, with its results.
        </p>
      )}
      {photoSearch.kind === 'colour' ? (
        <ColourPhotos search={search} photoSearch={photoSearch} onDelete={onDelete} />
      ) : photoSearch.kind === 'text' ? (
        <TextPhotos search={search} q={photoSearch.q} onDelete={onDelete} />
      ) : (
        <AllPhotos onDelete={onDelete} />
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

/**
 * Find photos by words or by colours. The two are separate searches (the API answers each on its
 * own): searching by words clears the colours and the other way round; the filters apply to both.
 */
function PhotoSearchForm({ search, photoSearch }: { search: GallerySearch; photoSearch: PhotoSearch }) {
  const navigate = useNavigate({ from: '/gallery' });
  const set = (patch: SearchPatch) => void navigate({ search: (prev) => patchSearch(prev, patch) });
  const [words, setWords] = useState(search.q ?? '');
  const fromAddress = parseColours(search.colors);
  const [colours, setColours] = useState<string[]>(fromAddress.length > 0 ? fromAddress : [FIRST_COLOUR]);
  const [tolerance, setTolerance] = useState(search.tolerance ?? DEFAULT_TOLERANCE);
  // The address changed (back button, a palette swatch chosen elsewhere): show what it asks for.
  useEffect(() => setWords(search.q ?? ''), [search.q]);
  useEffect(() => {
    const list = parseColours(search.colors);
    if (list.length > 0) setColours(list);
  }, [search.colors]);
  useEffect(() => setTolerance(search.tolerance ?? DEFAULT_TOLERANCE), [search.tolerance]);
  return (
    <div className="photo-search">
      <form
        className="photo-search-words"
        role="search"
        aria-label="Search photos by words"
        onSubmit={(e) => {
          e.preventDefault();
          const q = words.trim();
          set({ q, colors: '', tolerance: '' });
        }}
      >
        <label htmlFor="photo-q">Words</label>
        <div className="photo-search-row">
          <input
            id="photo-q"
            type="search"
            value={words}
            maxLength={200}
            placeholder="Title, tag or file name"
            aria-describedby="photo-q-hint"
            onChange={(e) => setWords(e.target.value)}
          />
          <button type="submit" className="primary">
            Search
          </button>
        </div>
        <span id="photo-q-hint" className="hint">
          &quot;a phrase&quot;, -word to leave out, or between alternatives.
        </span>
      </form>
      <form
        className="photo-search-colours"
        aria-label="Search photos by colour"
        onSubmit={(e) => {
          e.preventDefault();
          set({ colors: coloursParam(colours), tolerance, q: '' });
        }}
      >
        <fieldset>
          <legend>Colours</legend>
          <div className="colour-row">
            <ul className="colour-pickers">
              {colours.map((colour, i) => (
                <li key={i}>
                  <input
                    type="color"
                    aria-label={`Colour ${i + 1}`}
                    value={colour}
                    onChange={(e) => {
                      const value = e.target.value;
                      setColours((all) => all.map((c, j) => (j === i ? value : c)));
                    }}
                  />
                  <code>{colour}</code>
                  {colours.length > 1 && (
                    <button
                      type="button"
                      className="colour-remove"
                      onClick={() => setColours((all) => all.filter((_, j) => j !== i))}
                    >
                      Remove<span className="visually-hidden"> colour {i + 1}</span>
                    </button>
                  )}
                </li>
              ))}
            </ul>
            {colours.length < MAX_COLOURS && (
              <button type="button" onClick={() => setColours((all) => [...all, nextColour(all)])}>
                Add a colour
              </button>
            )}
          </div>
        </fieldset>
        <div className="field photo-tolerance">
          <label htmlFor="photo-tolerance">
            Tolerance <output htmlFor="photo-tolerance">ΔE {tolerance}</output>
          </label>
          <input
            id="photo-tolerance"
            type="range"
            min={1}
            max={MAX_TOLERANCE}
            step={1}
            value={tolerance}
            aria-describedby="photo-tolerance-hint"
            onChange={(e) => setTolerance(Number(e.target.value))}
          />
          <span id="photo-tolerance-hint" className="hint">
            How far a photo&apos;s colour may be from yours: about 2 is barely visible, 12 close, 40 loose.
          </span>
        </div>
        <button type="submit" className="primary">
          Find by colour
        </button>
      </form>
      {photoSearch.kind !== 'all' && (
        <p className="photo-search-now" role="status">
          {photoSearch.kind === 'text' ? (
            <>
              Photos with <strong>{photoSearch.q}</strong>, newest first.
            </>
          ) : (
            <>
              Photos with{' '}
              {photoSearch.colours.map((c, i) => (
                <span key={c}>
                  {i > 0 && ' and '}
                  <span className="swatch-chip" style={{ background: c }} aria-hidden="true" /> {c}
                </span>
              ))}{' '}
              (ΔE {photoSearch.tolerance}), the closest share first.
            </>
          )}{' '}
          <button type="button" onClick={() => set({ q: '', colors: '', tolerance: '' })}>
            Show all photos
          </button>
        </p>
      )}
    </div>
  );
}

/** The gallery filters as the search procedures take them. */
function searchFilters(search: GallerySearch) {
  return jobListFilters(search);
}

function AllPhotos({ onDelete }: { onDelete: (image: Image) => void }) {
  const trpc = useTRPC();
  const images = useInfiniteQuery(
    trpc.images.list.infiniteQueryOptions(
      { limit: PAGE },
      { getNextPageParam: (last) => last.nextCursor ?? undefined },
    ),
  );
  const hits = images.data?.pages.flatMap((p) => p.items.map((image) => ({ image }))) ?? [];
  return (
    <PhotoGrid
      query={images}
      hits={hits}
      label="Uploads"
      empty={
        <div className="gallery-empty">
          <p>
            <strong>No uploads yet.</strong> Add photos in the studio.
          </p>
          <Link to="/studio" className="button primary">
            Go to the studio
          </Link>
        </div>
      }
      onDelete={onDelete}
    />
  );
}

function ColourPhotos({
  search,
  photoSearch,
  onDelete,
}: {
  search: GallerySearch;
  photoSearch: Extract<PhotoSearch, { kind: 'colour' }>;
  onDelete: (image: Image) => void;
}) {
  const trpc = useTRPC();
  const found = useInfiniteQuery(
    trpc.gallery.byColour.infiniteQueryOptions(
      {
        colors: photoSearch.colours.join(','),
        tolerance: photoSearch.tolerance,
        limit: PAGE,
        ...searchFilters(search),
      },
      { getNextPageParam: (last) => last.nextCursor ?? undefined },
    ),
  );
  const hits = found.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <PhotoGrid
      query={found}
      hits={hits}
      label="Photos by colour"
      empty={<NothingFound what="with these colours" hint="Raise the tolerance, or pick other colours." />}
      onDelete={onDelete}
    />
  );
}

function TextPhotos({
  search,
  q,
  onDelete,
}: {
  search: GallerySearch;
  q: string;
  onDelete: (image: Image) => void;
}) {
  const trpc = useTRPC();
  const found = useInfiniteQuery(
    trpc.gallery.text.infiniteQueryOptions(
      { q, limit: PAGE, ...searchFilters(search) },
      { getNextPageParam: (last) => last.nextCursor ?? undefined },
    ),
  );
  const hits = found.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <PhotoGrid
      query={found}
      hits={hits}
      label="Photos found"
      empty={<NothingFound what="with these words" hint="Try other words, or fewer of them." />}
      onDelete={onDelete}
    />
  );
}

function NothingFound({ what, hint }: { what: string; hint: string }) {
  return (
    <div className="gallery-empty">
      <p>
        <strong>No photos {what}.</strong> {hint}
      </p>
    </div>
  );
}

/** A list of photos, a page at a time, in the order the query gives them. */
function PhotoGrid({
  query,
  hits,
  label,
  empty,
  onDelete,
}: {
  query: {
    isPending: boolean;
    error: unknown;
    refetch: () => unknown;
    hasNextPage: boolean;
    isFetchingNextPage: boolean;
    fetchNextPage: () => unknown;
  };
  hits: readonly PhotoHit[];
  label: string;
  empty: ReactNode;
  onDelete: (image: Image) => void;
}) {
  return (
    <>
      {query.error ? <ErrorMessage error={query.error} onRetry={() => void query.refetch()} /> : null}
      {query.isPending ? (
        <Loading label="Loading your photos…" />
      ) : hits.length === 0 ? (
        !query.error && empty
      ) : (
        <>
          <ul aria-label={label} className="gallery-grid">
            {hits.map((hit) => (
              <PhotoCard key={hit.image.id} hit={hit} onDelete={onDelete} />
            ))}
          </ul>
          <LoadMore
            hasNextPage={query.hasNextPage}
            isFetchingNextPage={query.isFetchingNextPage}
            fetchNextPage={query.fetchNextPage}
            label="Load more photos"
          />
        </>
      )}
    </>
  );
}

function PhotoCard({ hit, onDelete }: { hit: PhotoHit; onDelete: (image: Image) => void }) {
  const { image } = hit;
  const label = photoName(image, when);
  const analysis = image.analysis;
  return (
    <li className="gallery-card photo-card">
      <Link to="/gallery/photos/$imageId" params={{ imageId: image.id }} className="gallery-card-link">
        <Thumb
          kind="image"
          id={image.id}
          alt=""
          blurhash={analysis?.blurhash}
          aspect={analysis?.aspect ?? image.width / image.height}
        />
        <span className="gallery-card-body">
          <span className="gallery-card-title">{label}</span>
        </span>
      </Link>
      <div className="gallery-card-body">
        {hit.score !== undefined && (
          <span className="gallery-card-meta photo-match">
            {Math.round(hit.score * 100)}% match
            {hit.deltaE !== undefined && <> · ΔE {hit.deltaE.toFixed(1)}</>}
          </span>
        )}
        <span className="gallery-card-meta">
          {image.width} × {image.height}, {formatBytes(image.bytes)} ·{' '}
          <time dateTime={image.createdAt}>{when(image.createdAt)}</time>
        </span>
        {analysis && <PaletteStrip palette={analysis.palette} />}
        {image.tags.length > 0 && (
          <ul className="tag-list" aria-label="Tags">
            {image.tags.map((tag) => (
              <li key={tag}>{tag}</li>
            ))}
          </ul>
        )}
        <DuplicateBadge imageId={image.id} quietWhenNone />
        <span className="gallery-card-actions">
          <Link to="/studio" search={{ image: image.id }} className="button primary">
            Style it<span className="visually-hidden"> ({label})</span>
          </Link>
          <Link
            to="/gallery/photos/$imageId"
            params={{ imageId: image.id }}
            hash="similar"
            className="button"
          >
            More like this<span className="visually-hidden"> ({label})</span>
          </Link>
          <button type="button" className="danger" onClick={() => onDelete(image)}>
            Delete<span className="visually-hidden"> {label}</span>
          </button>
        </span>
      </div>
    </li>
  );
}
