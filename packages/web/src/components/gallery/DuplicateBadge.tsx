import { Link } from '@tanstack/react-router';
import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../trpc.ts';
import { useDuplicates } from './useDuplicates.ts';
import { distanceLabel, photoName } from '../../lib/gallery-search.ts';

/** Links named for at most this many duplicates; more are counted. */
const NAMED = 3;
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'short' });

/** A link to a duplicate, named as the photo is (its title or file name) once known. */
function DuplicateLink({ imageId, index, distance }: { imageId: string; index: number; distance: number }) {
  const trpc = useTRPC();
  const image = useQuery({ ...trpc.images.get.queryOptions({ id: imageId }), staleTime: 60_000 });
  return (
    <Link to="/gallery/photos/$imageId" params={{ imageId }}>
      {image.data ? photoName(image.data, (iso) => dateTime.format(new Date(iso))) : `copy ${index + 1}`}
      <span className="visually-hidden"> ({distanceLabel(distance)})</span>
    </Link>
  );
}

/**
 * "You already have this (or nearly)": the owner's near-duplicates of an image, each a link to
 * its page. While the image's analysis runs it says so (and keeps asking until it is done). With
 * `quietWhenNone`, nothing shows once the analysis finds none (grid cards); otherwise it says so.
 */
export function DuplicateBadge({
  imageId,
  quietWhenNone = false,
  showPending = true,
}: {
  imageId: string;
  quietWhenNone?: boolean;
  showPending?: boolean;
}) {
  const report = useDuplicates(imageId);
  if (!report.data) return null;
  const { analysis, duplicates } = report.data;
  if (analysis === 'pending')
    return showPending ? (
      <span className="dup-pending" role="status">
        Analysing for duplicates…
      </span>
    ) : null;
  if (analysis === 'failed')
    return quietWhenNone ? null : <span className="dup-pending">Could not analyse this photo.</span>;
  if (duplicates.length === 0)
    return quietWhenNone ? null : (
      <span className="dup-pending" role="status">
        No duplicates among your photos.
      </span>
    );
  return (
    <span className="dup-badge" role="status">
      <span className="dup-badge-label">
        {duplicates.length === 1 ? 'Duplicate' : `${duplicates.length} duplicates`}
      </span>
      <span>
        You already have {duplicates.length === 1 ? 'this photo' : 'it'}, or nearly:{' '}
        {duplicates.slice(0, NAMED).map((d, i) => (
          <span key={d.imageId}>
            {i > 0 && ', '}
            <DuplicateLink imageId={d.imageId} index={i} distance={d.distance} />
          </span>
        ))}
        {duplicates.length > NAMED && ` and ${duplicates.length - NAMED} more`}
      </span>
    </span>
  );
}
