import { useId, useState } from 'react';
import { Link, createLazyRoute, useNavigate } from '@tanstack/react-router';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import type { AtelierOutputs } from '@atelier/client';
import { useTRPC } from '../trpc.ts';
import { codeOf } from '../lib/errors.ts';
import { formatBytes } from '../lib/chart-data.ts';
import {
  MAX_TAGS,
  MAX_TITLE_LENGTH,
  detailsProblem,
  distanceLabel,
  parseTags,
  photoName,
} from '../lib/gallery-search.ts';
import { ErrorMessage, Loading } from '../components/Feedback.tsx';
import { Thumb } from '../components/gallery/Thumb.tsx';
import { LoadMore } from '../components/gallery/LoadMore.tsx';
import { DuplicateBadge } from '../components/gallery/DuplicateBadge.tsx';
import { PaletteButtons } from '../components/gallery/Palette.tsx';
import { useDuplicates } from '../components/gallery/useDuplicates.ts';
import './gallery.css';
import './gallery-photo.css';

export const Route = createLazyRoute('/gallery/photos/$imageId')({ component: PhotoPage });

type Image = AtelierOutputs['images']['get'];

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const when = (iso: string) => dateTime.format(new Date(iso));

/** How alike "More like this" goes: bits of 64 that may differ (the API's default is 22). */
const THRESHOLDS = [
  { bits: 6, label: 'Near-identical' },
  { bits: 12, label: 'Very close' },
  { bits: 22, label: 'Similar' },
  { bits: 28, label: 'Loosely similar' },
] as const;
const SIMILAR_PAGE = 12;

/** One photo: its picture, title and tags (editable), colours, duplicates and similar photos. */
function PhotoPage() {
  const { imageId } = Route.useParams();
  const trpc = useTRPC();
  const image = useQuery(trpc.images.get.queryOptions({ id: imageId }));
  // Follows the analysis (and refreshes the image once it is done).
  useDuplicates(imageId);
  if (image.error)
    return (
      <section className="panel">
        <h1>Photo</h1>
        <ErrorMessage
          error={image.error}
          {...(codeOf(image.error) === 'IMAGE_NOT_FOUND' ? {} : { onRetry: () => void image.refetch() })}
        />
        <p>
          <Link to="/gallery" search={{ tab: 'uploads' }}>
            Back to your photos
          </Link>
        </p>
      </section>
    );
  if (!image.data) return <Loading label="Loading this photo…" />;
  return <Photo key={image.data.id} image={image.data} />;
}

function Photo({ image }: { image: Image }) {
  const navigate = useNavigate();
  const name = photoName(image, when);
  const analysis = image.analysis;
  const findColour = (hex: string) =>
    void navigate({ to: '/gallery', search: { tab: 'uploads', colors: hex } });
  return (
    <section className="photo-page">
      <p className="photo-back">
        <Link to="/gallery" search={{ tab: 'uploads' }}>
          ← Your photos
        </Link>
      </p>
      <h1>{name}</h1>
      <div className="photo-layout">
        <figure className="photo-figure">
          <Thumb
            kind="image"
            id={image.id}
            alt={name}
            blurhash={analysis?.blurhash}
            aspect={analysis?.aspect ?? image.width / image.height}
            natural
          />
          <figcaption className="hint">
            {image.originalName ?? 'Photo'} · {image.width} × {image.height}, {formatBytes(image.bytes)} ·
            uploaded <time dateTime={image.createdAt}>{when(image.createdAt)}</time>
          </figcaption>
        </figure>
        <div className="photo-side">
          <DetailsForm image={image} />
          <section className="panel photo-analysis" aria-labelledby="photo-analysis-h">
            <h2 id="photo-analysis-h">Colours and duplicates</h2>
            {!analysis || analysis.status === 'pending' ? (
              <p className="dup-pending" role="status">
                Analysing this photo: its colours and duplicates appear in a moment.
              </p>
            ) : analysis.status === 'failed' ? (
              <p className="error">
                This photo could not be analysed{analysis.error ? ` (${analysis.error.message})` : ''}: it
                cannot be found by colour or likeness.
              </p>
            ) : (
              <>
                <PaletteButtons palette={analysis.palette} onPick={findColour} />
                <dl className="photo-facts">
                  {analysis.exif.takenAt && (
                    <>
                      <dt>Taken</dt>
                      <dd>{when(analysis.exif.takenAt)}</dd>
                    </>
                  )}
                  {analysis.exif.camera && (
                    <>
                      <dt>Camera</dt>
                      <dd>{analysis.exif.camera}</dd>
                    </>
                  )}
                  {analysis.brightness !== null && (
                    <>
                      <dt>Brightness</dt>
                      <dd>{Math.round(analysis.brightness * 100)}%</dd>
                    </>
                  )}
                </dl>
              </>
            )}
            <p className="photo-dups">
              <DuplicateBadge imageId={image.id} showPending={false} />
            </p>
          </section>
          <p className="photo-actions">
            <Link to="/studio" search={{ image: image.id }} className="button primary">
              Style it
            </Link>
          </p>
        </div>
      </div>
      <Similar image={image} />
    </section>
  );
}

/** Title and tags: saved with gallery.setDetails; a refused field says why beside it. */
function DetailsForm({ image }: { image: Image }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const id = useId();
  const [title, setTitle] = useState(image.title ?? '');
  const [tagText, setTagText] = useState(image.tags.join(', '));
  const save = useMutation(
    trpc.gallery.setDetails.mutationOptions({
      onSuccess: async (saved) => {
        setTitle(saved.title ?? '');
        setTagText(saved.tags.join(', '));
        await Promise.all([
          queryClient.invalidateQueries(trpc.images.get.queryFilter({ id: image.id })),
          queryClient.invalidateQueries(trpc.images.list.pathFilter()),
          queryClient.invalidateQueries(trpc.gallery.pathFilter()),
        ]);
      },
    }),
  );
  const tags = parseTags(tagText);
  const problem = detailsProblem(save.error, tags);
  const titleError = problem?.field === 'title' ? problem.message : undefined;
  const tagsError = problem?.field === 'tags' ? problem.message : undefined;
  // Typing again after a save or a refusal: the note no longer describes the form.
  const edited = () => {
    if (save.isSuccess) save.reset();
  };
  return (
    <form
      className="panel photo-details"
      aria-labelledby={`${id}-h`}
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        save.mutate({ id: image.id, title: title.trim() === '' ? null : title, tags });
      }}
    >
      <h2 id={`${id}-h`}>Title and tags</h2>
      <div className="field">
        <label htmlFor={`${id}-title`}>Title</label>
        <input
          id={`${id}-title`}
          value={title}
          onChange={(e) => {
            setTitle(e.target.value);
            edited();
          }}
          aria-invalid={titleError ? true : undefined}
          aria-describedby={titleError ? `${id}-title-error` : undefined}
        />
        {titleError && (
          <p id={`${id}-title-error`} className="error" role="alert">
            {titleError}
          </p>
        )}
      </div>
      <div className="field">
        <label htmlFor={`${id}-tags`}>Tags</label>
        <input
          id={`${id}-tags`}
          value={tagText}
          onChange={(e) => {
            setTagText(e.target.value);
            edited();
          }}
          aria-invalid={tagsError ? true : undefined}
          aria-describedby={tagsError ? `${id}-tags-error ${id}-tags-hint` : `${id}-tags-hint`}
        />
        <span id={`${id}-tags-hint`} className="hint">
          Separated by commas, at most {MAX_TAGS}. The title (up to {MAX_TITLE_LENGTH} characters) and tags
          are found by the gallery&apos;s word search.
        </span>
        {tagsError && (
          <p id={`${id}-tags-error`} className="error" role="alert">
            {tagsError}
          </p>
        )}
      </div>
      {save.error && !problem && <ErrorMessage error={save.error} />}
      <div className="photo-details-actions">
        <button type="submit" className="primary" disabled={save.isPending}>
          {save.isPending ? 'Saving…' : 'Save'}
        </button>
        {save.isSuccess && (
          <span role="status" className="success">
            Saved.
          </span>
        )}
      </div>
    </form>
  );
}

/** "More like this": the owner's photos that look like this one, nearest first, a page at a time. */
function Similar({ image }: { image: Image }) {
  const trpc = useTRPC();
  const [threshold, setThreshold] = useState<number>(22);
  const ready = image.analysis?.status === 'done';
  const similar = useInfiniteQuery({
    ...trpc.gallery.similar.infiniteQueryOptions(
      { id: image.id, threshold, limit: SIMILAR_PAGE },
      { getNextPageParam: (last) => last.nextCursor ?? undefined },
    ),
    enabled: ready,
  });
  const hits = similar.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section id="similar" className="photo-similar" aria-labelledby="photo-similar-h">
      <div className="photo-similar-head">
        <h2 id="photo-similar-h">More like this</h2>
        <div className="field">
          <label htmlFor="photo-similar-threshold">How alike</label>
          <select
            id="photo-similar-threshold"
            value={threshold}
            onChange={(e) => setThreshold(Number(e.target.value))}
          >
            {THRESHOLDS.map((t) => (
              <option key={t.bits} value={t.bits}>
                {t.label} (up to {t.bits} bits)
              </option>
            ))}
          </select>
        </div>
      </div>
      {!ready ? (
        <p className="hint">
          {image.analysis?.status === 'failed'
            ? 'This photo could not be analysed, so nothing can be compared with it.'
            : 'Similar photos show once this photo has been analysed.'}
        </p>
      ) : similar.error ? (
        <ErrorMessage error={similar.error} onRetry={() => void similar.refetch()} />
      ) : similar.isPending ? (
        <Loading label="Looking for similar photos…" />
      ) : hits.length === 0 ? (
        <p className="gallery-empty">
          <strong>No other photo of yours looks like this one</strong> at this setting. Try a looser one.
        </p>
      ) : (
        <>
          <ul aria-label="Similar photos" className="gallery-grid">
            {hits.map((hit) => {
              const label = photoName(hit.image, when);
              return (
                <li key={hit.image.id} className="gallery-card">
                  <Link
                    to="/gallery/photos/$imageId"
                    params={{ imageId: hit.image.id }}
                    className="gallery-card-link"
                  >
                    <Thumb
                      kind="image"
                      id={hit.image.id}
                      alt=""
                      blurhash={hit.image.analysis?.blurhash}
                      aspect={hit.image.analysis?.aspect ?? hit.image.width / hit.image.height}
                    />
                    <span className="gallery-card-body">
                      <span className="gallery-card-title">{label}</span>
                      <span className="gallery-card-meta photo-distance">{distanceLabel(hit.distance)}</span>
                    </span>
                  </Link>
                </li>
              );
            })}
          </ul>
          <LoadMore
            hasNextPage={similar.hasNextPage}
            isFetchingNextPage={similar.isFetchingNextPage}
            fetchNextPage={similar.fetchNextPage}
            label="Load more similar photos"
          />
        </>
      )}
    </section>
  );
}
