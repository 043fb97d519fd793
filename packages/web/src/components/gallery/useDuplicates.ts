import { useEffect, useRef } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useTRPC } from '../../trpc.ts';
import { analysisPollMs } from '../../lib/gallery-search.ts';

/**
 * An image's duplicate report (gallery.duplicates). While its analysis is pending it asks again,
 * 1 s at first and less often after (at most every 10 s), and stops once the analysis is done or
 * failed; at that moment the image's views are refreshed too, so that its palette and placeholder
 * appear wherever it shows.
 */
export function useDuplicates(imageId: string, options: { enabled?: boolean } = {}) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const report = useQuery({
    ...trpc.gallery.duplicates.queryOptions({ id: imageId }),
    enabled: options.enabled ?? true,
    staleTime: 30_000,
    refetchInterval: (query) =>
      query.state.data?.analysis === 'pending' ? analysisPollMs(query.state.dataUpdateCount - 1) : false,
  });
  const status = report.data?.analysis;
  const previous = useRef(status);
  useEffect(() => {
    if (previous.current === 'pending' && status !== undefined && status !== 'pending') {
      void queryClient.invalidateQueries(trpc.images.get.queryFilter({ id: imageId }));
      void queryClient.invalidateQueries(trpc.images.list.pathFilter());
      void queryClient.invalidateQueries(trpc.gallery.pathFilter());
    }
    previous.current = status;
  }, [status, imageId, queryClient, trpc]);
  return report;
}
