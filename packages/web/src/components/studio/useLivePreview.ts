import { useEffect, useRef, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { AtelierOutputs } from '@atelier/client';
import { useTRPCClient } from '../../trpc.ts';
import { LatestOnly, previewKey, stableKey } from './logic.ts';

export type Preview = AtelierOutputs['styles']['preview'];

/** How long the parameters must rest before a preview is asked for. */
export const PREVIEW_DEBOUNCE_MS = 250;

export interface LivePreview {
  /** The newest preview that arrived for the current image and style (may be of older parameters while updating). */
  readonly preview: Preview | undefined;
  /** A newer preview is on its way. */
  readonly updating: boolean;
  readonly error: unknown;
}

/**
 * The preview of a style on the ≤ 512 px proxy, following the parameters: asked for once they
 * rest for {@link PREVIEW_DEBOUNCE_MS}, the superseded request aborted (its AbortSignal reaches the
 * server, which stops), and an answer that arrives after a newer request was made ignored (a
 * sequence number), so an old image never replaces a newer one. Answers are cached per
 * (image, style, parameters), shared with the style picker's thumbnails.
 */
export function useLivePreview(
  imageId: string | undefined,
  styleId: string | undefined,
  params: Readonly<Record<string, unknown>>,
): LivePreview {
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const latest = useRef(new LatestOnly());
  const [state, setState] = useState<LivePreview & { for: string }>({
    preview: undefined,
    updating: false,
    error: null,
    for: '',
  });
  const paramsKey = stableKey(params);
  const target = `${imageId ?? ''}\n${styleId ?? ''}`;
  // The parameters as of this render, read by the effect (which depends on their key, not identity).
  const paramsRef = useRef(params);
  paramsRef.current = params;

  useEffect(() => {
    const seq = latest.current.next();
    if (!imageId || !styleId) return;
    const key = previewKey(imageId, styleId, paramsRef.current);
    const cached = queryClient.getQueryData<Preview>(key);
    if (cached) {
      setState({ preview: cached, updating: false, error: null, for: target });
      return;
    }
    setState((s) => ({ ...s, updating: true, error: null }));
    const controller = new AbortController();
    const request = { imageId, style: styleId, params: { ...paramsRef.current } };
    const ask = async (): Promise<Preview> => {
      const preview = await client.styles.preview.mutate(request, { signal: controller.signal });
      queryClient.setQueryData(key, preview);
      return preview;
    };
    // The style picker may be asking for this very preview (the defaults): wait for its answer
    // instead of spending a second preview of the quota.
    const joining = queryClient.getQueryState(key)?.fetchStatus === 'fetching';
    const run = joining
      ? () => queryClient.fetchQuery({ queryKey: key, queryFn: ask, staleTime: Infinity })
      : ask;
    const timer = setTimeout(
      () => {
        run().then(
          (preview) => {
            if (latest.current.isCurrent(seq))
              setState({ preview, updating: false, error: null, for: target });
          },
          (error: unknown) => {
            if (latest.current.isCurrent(seq) && !controller.signal.aborted)
              setState((s) => ({ ...s, updating: false, error }));
          },
        );
      },
      joining ? 0 : PREVIEW_DEBOUNCE_MS,
    );
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [client, queryClient, imageId, styleId, paramsKey, target]);

  // A preview of another image or style is not shown while the new one comes.
  const preview = state.for === target ? state.preview : undefined;
  return { preview, updating: state.updating, error: state.error };
}
