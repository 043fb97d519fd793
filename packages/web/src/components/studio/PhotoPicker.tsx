import { useInfiniteQuery, useQuery } from '@tanstack/react-query';
import type { AtelierOutputs } from '@atelier/client';
import { useTRPC } from '../../trpc.ts';
import { ErrorMessage, Loading } from '../Feedback.tsx';

type Image = AtelierOutputs['images']['list']['items'][number];

export const PHOTO_PAGE = 20;

/** The person's photos, newest first, as the radio group "Photo". */
export function PhotoPicker({
  selected,
  onSelect,
}: {
  selected: string | undefined;
  onSelect: (id: string) => void;
}) {
  const trpc = useTRPC();
  const images = useInfiniteQuery(
    trpc.images.list.infiniteQueryOptions(
      { limit: PHOTO_PAGE },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );
  const items = images.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <section className="studio-photos" aria-labelledby="studio-photo-heading">
      <h2 id="studio-photo-heading">Photo</h2>
      {images.isPending && <Loading label="Loading your photos…" />}
      {images.error && <ErrorMessage error={images.error} onRetry={() => void images.refetch()} />}
      {images.isSuccess && items.length === 0 && (
        <p className="hint">No photos yet: add one above to start.</p>
      )}
      <div role="radiogroup" aria-labelledby="studio-photo-heading" className="studio-photo-grid">
        {items.map((image) => (
          <PhotoOption
            key={image.id}
            image={image}
            checked={image.id === selected}
            onSelect={() => onSelect(image.id)}
          />
        ))}
      </div>
      {images.hasNextPage && (
        <button
          type="button"
          onClick={() => void images.fetchNextPage()}
          disabled={images.isFetchingNextPage}
        >
          {images.isFetchingNextPage ? 'Loading…' : 'More photos'}
        </button>
      )}
    </section>
  );
}

export function photoName(image: Pick<Image, 'originalName' | 'createdAt'>): string {
  return image.originalName ?? `Photo of ${new Date(image.createdAt).toLocaleString()}`;
}

function PhotoOption({ image, checked, onSelect }: { image: Image; checked: boolean; onSelect: () => void }) {
  const trpc = useTRPC();
  const url = useQuery({ ...trpc.images.downloadUrl.queryOptions({ id: image.id }), staleTime: 240_000 });
  const id = `studio-photo-${image.id}`;
  return (
    <div className="studio-photo-option">
      <input
        type="radio"
        id={id}
        name="studio-photo"
        value={image.id}
        checked={checked}
        onChange={onSelect}
        aria-labelledby={`${id}-name`}
      />
      <label htmlFor={id}>
        <span className="studio-thumb" style={{ aspectRatio: '1 / 1' }}>
          {url.data && <img src={url.data.url} alt="" loading="lazy" decoding="async" />}
        </span>
        <span id={`${id}-name`} className="studio-photo-name">
          {photoName(image)}
        </span>
      </label>
    </div>
  );
}
