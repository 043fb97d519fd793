import { useRef, useState } from 'react';
import { createLazyRoute, useNavigate } from '@tanstack/react-router';
import { useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useTRPC } from '../trpc.ts';
import { ErrorMessage, Loading } from '../components/Feedback.tsx';
import { SchemaForm } from '../components/SchemaForm.tsx';
import { Uploader } from '../components/studio/Uploader.tsx';
import { PHOTO_PAGE, PhotoPicker } from '../components/studio/PhotoPicker.tsx';
import { StylePicker } from '../components/studio/StylePicker.tsx';
import { CompareSlider } from '../components/studio/CompareSlider.tsx';
import { RenderPanel, useResultUrl } from '../components/studio/RenderPanel.tsx';
import { useLivePreview } from '../components/studio/useLivePreview.ts';
import { useJobProgress } from '../components/studio/useJobProgress.ts';
import { initialParams, isPaidStyle, parseParams } from '../components/studio/logic.ts';
import type { StudioSearch } from '../router.tsx';
import './studio.css';

export const Route = createLazyRoute('/studio')({ component: Studio });

function Studio() {
  const search: StudioSearch = Route.useSearch();
  const navigate = useNavigate({ from: '/studio' });
  const trpc = useTRPC();
  const queryClient = useQueryClient();

  // Styles: the enabled plugins of kind "style", refetched whenever an administrator changes one
  // (styles.onChange sends the registry's version on connect and after each change).
  const stylesQuery = useQuery(trpc.styles.list.queryOptions());
  const seenVersion = useRef<number | null>(null);
  useSubscription(
    trpc.styles.onChange.subscriptionOptions(undefined, {
      onData: ({ data }) => {
        const first = seenVersion.current === null;
        if (!first && seenVersion.current === data.version) return;
        seenVersion.current = data.version;
        if (!first) void queryClient.invalidateQueries(trpc.styles.list.pathFilter());
      },
    }),
  );
  const styles = (stylesQuery.data ?? []).filter((s) => s.kind === 'style');
  const style = styles.find((s) => s.id === search.style) ?? styles[0];
  const styleGone = search.style !== undefined && stylesQuery.isSuccess && style?.id !== search.style;

  // The photo: the one in the address, else the newest.
  const images = useInfiniteQuery(
    trpc.images.list.infiniteQueryOptions(
      { limit: PHOTO_PAGE },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );
  const imageId = search.image ?? images.data?.pages[0]?.items[0]?.id;
  const image = useQuery({ ...trpc.images.get.queryOptions({ id: imageId ?? '' }), enabled: !!imageId });
  const original = useQuery({
    ...trpc.images.downloadUrl.queryOptions({ id: imageId ?? '' }),
    enabled: !!imageId,
    staleTime: 240_000,
    refetchInterval: 240_000,
  });

  // Parameters: the style's defaults, or the address's (run again from the gallery), then edits.
  const [edited, setEdited] = useState<{ styleId: string; params: Record<string, unknown> } | null>(null);
  const params =
    style && edited?.styleId === style.id
      ? edited.params
      : initialParams(
          style?.defaults ?? {},
          style?.id === search.style ? parseParams(search.params) : undefined,
        );

  // A style that calls a paid AI provider is not previewed as its parameters change: Render runs it.
  const paid = style !== undefined && isPaidStyle(style);
  const live = useLivePreview(imageId, paid ? undefined : style?.id, params);

  // The render in the address: a reload resumes its progress bar.
  const progress = useJobProgress(search.job);
  const resultUrl = useResultUrl(search.job, progress.status === 'succeeded');
  // The result stands in the preview's place until the parameters change.
  const [editedAfter, setEditedAfter] = useState<string | undefined>(undefined);
  const job = progress.job;
  const showResult =
    resultUrl !== undefined &&
    editedAfter !== search.job &&
    job !== undefined &&
    job.imageId === imageId &&
    job.style === style?.id;

  const ratio = image.data ? `${image.data.width} / ${image.data.height}` : '4 / 3';
  const wide = image.data ? image.data.width / image.data.height : 4 / 3;

  return (
    <div className="studio">
      <h1>Studio</h1>
      <div className="studio-layout">
        <div className="studio-left">
          <div className="panel">
            <Uploader
              onUploaded={(uploaded) => {
                void queryClient.invalidateQueries(trpc.images.list.pathFilter());
                void navigate({
                  search: (prev) => ({
                    image: uploaded.id,
                    ...(prev.style ? { style: prev.style } : {}),
                    ...(prev.params ? { params: prev.params } : {}),
                  }),
                });
              }}
            />
            <PhotoPicker
              selected={imageId}
              onSelect={(id) =>
                void navigate({
                  search: (prev) => ({
                    image: id,
                    ...(prev.style ? { style: prev.style } : {}),
                    ...(prev.params ? { params: prev.params } : {}),
                  }),
                  replace: true,
                })
              }
            />
          </div>
          <section className="panel studio-stage-panel" aria-labelledby="studio-stage-heading">
            <h2 id="studio-stage-heading">Before and after</h2>
            <div
              className="studio-stage"
              style={{ aspectRatio: ratio, width: `min(100%, calc(65vh * ${wide}))` }}
            >
              {!imageId ? (
                <p className="hint studio-stage-empty">Add a photo to start.</p>
              ) : (
                <CompareSlider
                  label={showResult ? 'Compare original and result' : 'Compare original and preview'}
                  before={original.data ? <img src={original.data.url} alt="Original" /> : null}
                  after={
                    showResult ? (
                      <img src={resultUrl} alt="Result" />
                    ) : live.preview ? (
                      <img src={live.preview.dataUrl} alt="Preview" />
                    ) : null
                  }
                />
              )}
              {!showResult && paid && (
                <p className="hint studio-stage-error">
                  {style.name} calls a paid AI provider, so it has no live preview: render it to see the
                  result.
                </p>
              )}
              {!showResult && live.error !== null && live.error !== undefined && (
                // Over the picture, not below it: in view, and nothing moves.
                <div className="studio-stage-error">
                  <ErrorMessage error={live.error} />
                </div>
              )}
              <p role="status" className="studio-updating">
                {live.updating && !showResult ? 'Updating…' : ''}
              </p>
            </div>
            {image.error && <ErrorMessage error={image.error} />}
          </section>
        </div>
        <div className="studio-right">
          <div className="panel">
            {stylesQuery.isPending && <Loading label="Loading styles…" />}
            {stylesQuery.error && (
              <ErrorMessage error={stylesQuery.error} onRetry={() => void stylesQuery.refetch()} />
            )}
            {styleGone && (
              <p className="hint" role="status">
                The style you had chosen is no longer available: an administrator turned it off.
              </p>
            )}
            <StylePicker
              styles={styles}
              imageId={imageId}
              selected={style?.id}
              onSelect={(id) => {
                setEdited(null);
                void navigate({
                  search: (prev) => ({ ...(prev.image ? { image: prev.image } : {}), style: id }),
                  replace: true,
                });
              }}
            />
          </div>
          {style && (
            <div className="panel">
              <SchemaForm
                key={style.id}
                schema={style.paramsSchema}
                value={params}
                defaults={style.defaults}
                idPrefix={`studio-param-${style.id}`}
                onChange={(next) => {
                  setEdited({ styleId: style.id, params: next });
                  if (search.job) setEditedAfter(search.job);
                }}
              />
            </div>
          )}
          <div className="panel">
            <RenderPanel
              imageId={imageId}
              styleId={style?.id}
              params={params}
              jobId={search.job}
              progress={progress}
              resultUrl={resultUrl}
              onStarted={(jobId) =>
                void navigate({
                  search: {
                    ...(imageId ? { image: imageId } : {}),
                    ...(style ? { style: style.id } : {}),
                    job: jobId,
                    params: JSON.stringify(params),
                  },
                })
              }
            />
          </div>
        </div>
      </div>
    </div>
  );
}
