import { useSignedUrl } from './signed-urls.ts';
import './gallery-parts.css';

/**
 * A picture in a fixed 4:3 box (the grid never moves when it arrives): a job's result, or an
 * image's original. `alt` empty when the surrounding link already names it.
 */
export function Thumb({
  kind,
  id,
  alt,
  dim,
}: {
  kind: 'job' | 'image';
  id: string;
  alt: string;
  dim?: boolean;
}) {
  const url = useSignedUrl(kind, id);
  return (
    <span className={dim ? 'thumb thumb-dim' : 'thumb'}>
      {url.data ? (
        <img src={url.data.url} alt={alt} loading="lazy" decoding="async" />
      ) : url.error ? (
        <span className="thumb-missing">Picture unavailable</span>
      ) : null}
    </span>
  );
}
