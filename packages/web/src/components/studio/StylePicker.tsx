import { useQuery } from '@tanstack/react-query';
import type { AtelierOutputs } from '@atelier/client';
import { useTRPCClient } from '../../trpc.ts';
import { isPaidStyle, previewKey } from './logic.ts';
import { codeOf } from '../../lib/errors.ts';

export type Style = AtelierOutputs['styles']['list'][number];

/**
 * The radio group "Style": each style named by its name and shown on the chosen photo (a preview
 * with its defaults, cached per image and style for the session).
 */
export function StylePicker({
  styles,
  imageId,
  selected,
  onSelect,
}: {
  styles: readonly Style[];
  imageId: string | undefined;
  selected: string | undefined;
  onSelect: (id: string) => void;
}) {
  return (
    <section className="studio-styles" aria-labelledby="studio-style-heading">
      <h2 id="studio-style-heading">Style</h2>
      <div role="radiogroup" aria-labelledby="studio-style-heading" className="studio-style-grid">
        {styles.map((style) => (
          <StyleOption
            key={style.id}
            style={style}
            imageId={imageId}
            checked={style.id === selected}
            onSelect={() => onSelect(style.id)}
          />
        ))}
      </div>
    </section>
  );
}

function StyleOption({
  style,
  imageId,
  checked,
  onSelect,
}: {
  style: Style;
  imageId: string | undefined;
  checked: boolean;
  onSelect: () => void;
}) {
  const client = useTRPCClient();
  const preview = useQuery({
    queryKey: previewKey(imageId ?? '', style.id, style.defaults),
    queryFn: ({ signal }) =>
      client.styles.preview.mutate(
        { imageId: imageId ?? '', style: style.id, params: style.defaults },
        { signal },
      ),
    // Not for a style that calls a paid provider: a thumbnail would cost a call per photo.
    enabled: imageId !== undefined && !isPaidStyle(style),
    // A preview of fixed inputs never changes: keep it for the session (quotas count each one).
    staleTime: Infinity,
    gcTime: 30 * 60_000,
    // Over the preview quota: try again a little later (the quota is per minute); other refusals stay.
    retry: (failures, error) => codeOf(error) === 'QUOTA_EXCEEDED' && failures < 3,
    retryDelay: 20_000,
  });
  const id = `studio-style-${style.id}`;
  return (
    <div className="studio-style-option">
      <input
        type="radio"
        id={id}
        name="studio-style"
        value={style.id}
        checked={checked}
        onChange={onSelect}
        aria-labelledby={`${id}-name`}
        aria-describedby={style.description ? `${id}-desc` : undefined}
      />
      <label htmlFor={id}>
        <span className="studio-thumb" style={{ aspectRatio: '1 / 1' }}>
          {preview.data ? (
            <img src={preview.data.dataUrl} alt={`${style.name} on your photo`} decoding="async" />
          ) : (
            <span className="studio-thumb-placeholder" aria-hidden="true">
              {isPaidStyle(style) ? 'AI' : preview.isError ? '—' : imageId ? '…' : ''}
            </span>
          )}
        </span>
        <span id={`${id}-name`} className="studio-style-name">
          {style.name}
        </span>
        {style.description && (
          <span id={`${id}-desc`} className="visually-hidden">
            {style.description}
          </span>
        )}
      </label>
    </div>
  );
}
