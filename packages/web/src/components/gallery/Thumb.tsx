import { useMemo, useState } from 'react';
import { useSignedUrl } from './signed-urls.ts';
import { blurhashDataUrl } from './blurhash-url.ts';
import './gallery-parts.css';

/**
 * A picture in a fixed 4:3 box (the grid never moves when it arrives): a job's result, or an
 * image's original. `alt` empty when the surrounding link already names it. With a `blurhash`
 * (an image's analysis), its blurred colours fill the box until the picture has loaded
 * (`data-loaded` says when).
 */
export function Thumb({
  kind,
  id,
  alt,
  dim,
  blurhash,
  aspect,
  natural,
}: {
  kind: 'job' | 'image';
  id: string;
  alt: string;
  dim?: boolean;
  blurhash?: string | null | undefined;
  aspect?: number | null | undefined;
  /** The box takes the picture's own `aspect` instead of 4:3 (a photo's own page). */
  natural?: boolean;
}) {
  const url = useSignedUrl(kind, id);
  // Loaded once for this picture: a fresh signed URL later (every few minutes) keeps showing the
  // picture while it reloads, never the placeholder again.
  const [loaded, setLoaded] = useState<string | null>(null);
  const placeholder = useMemo(
    () => (blurhash ? blurhashDataUrl(blurhash, aspect) : null),
    [blurhash, aspect],
  );
  const isLoaded = loaded === `${kind}:${id}`;
  return (
    <span
      className={dim ? 'thumb thumb-dim' : 'thumb'}
      data-loaded={isLoaded ? 'true' : 'false'}
      style={natural && aspect ? { aspectRatio: String(aspect) } : undefined}
    >
      {placeholder && !isLoaded && (
        <span className="thumb-blur" aria-hidden="true" style={{ backgroundImage: `url(${placeholder})` }} />
      )}
      {url.data ? (
        <img
          src={url.data.url}
          alt={alt}
          loading="lazy"
          decoding="async"
          onLoad={() => setLoaded(`${kind}:${id}`)}
        />
      ) : url.error ? (
        <span className="thumb-missing">Picture unavailable</span>
      ) : null}
    </span>
  );
}
