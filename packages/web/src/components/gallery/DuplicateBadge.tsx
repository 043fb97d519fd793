import { Link } from '@tanstack/react-router';
import { useDuplicates } from './useDuplicates.ts';
import { distanceLabel } from '../../lib/gallery-search.ts';

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
        {duplicates.map((d, i) => (
          <span key={d.imageId}>
            {i > 0 && ', '}
            <Link to="/gallery/photos/$imageId" params={{ imageId: d.imageId }}>
              copy {i + 1}
              <span className="visually-hidden"> ({distanceLabel(d.distance)})</span>
            </Link>
          </span>
        ))}
      </span>
    </span>
  );
}
