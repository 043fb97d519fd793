import { useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../trpc.ts';

/** Signed URLs live 5 minutes: use one for at most 4, then ask again. */
const FRESH_MS = 4 * 60_000;

/**
 * The signed URL of a job's result or an image's original, usable as <img src> and download link.
 * `keepFresh` refetches it before it expires (for links that may be clicked much later).
 */
export function useSignedUrl(
  kind: 'job' | 'image',
  id: string,
  options: { enabled?: boolean; keepFresh?: boolean } = {},
) {
  const trpc = useTRPC();
  const base =
    kind === 'job'
      ? trpc.jobs.downloadUrl.queryOptions({ id })
      : trpc.images.downloadUrl.queryOptions({ id });
  return useQuery({
    ...base,
    staleTime: FRESH_MS,
    gcTime: FRESH_MS,
    enabled: options.enabled ?? true,
    ...(options.keepFresh ? { refetchInterval: FRESH_MS, refetchIntervalInBackground: true } : {}),
  });
}
