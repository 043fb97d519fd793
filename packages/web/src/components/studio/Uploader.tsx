import { useRef, useState } from 'react';
import type { DragEvent } from 'react';
import { fractionOf, uploadWithProgress } from '../../lib/upload.ts';
import type { UploadedImage } from '../../lib/upload.ts';
import { messageOf } from '../../lib/errors.ts';

interface UploadItem {
  readonly key: number;
  readonly name: string;
  readonly fraction: number;
  readonly state: 'uploading' | 'processing' | 'done' | 'failed';
  readonly error?: string;
}

/**
 * The drop zone and file input "Photos": each file is uploaded on its own with a progress bar
 * ("Uploading <name>"); a failure is a sentence next to its file. `onUploaded` is called for each
 * stored photo, in the order they finish.
 */
export function Uploader({ onUploaded }: { onUploaded: (image: UploadedImage) => void }) {
  const [items, setItems] = useState<readonly UploadItem[]>([]);
  const [dragging, setDragging] = useState(false);
  const nextKey = useRef(0);
  const input = useRef<HTMLInputElement>(null);

  const update = (key: number, patch: Partial<UploadItem>) =>
    setItems((all) => all.map((item) => (item.key === key ? { ...item, ...patch } : item)));

  const start = (files: readonly File[]) => {
    const added = files.map((file) => {
      nextKey.current += 1;
      return {
        file,
        item: { key: nextKey.current, name: file.name, fraction: 0, state: 'uploading' } as const,
      };
    });
    // The newest uploads first, as in the photo list; finished ones from earlier batches stay below.
    setItems((all) => [...added.map((a) => a.item).reverse(), ...all].slice(0, 20));
    for (const { file, item } of added) {
      uploadWithProgress(file, (progress) => {
        const fraction = fractionOf(progress);
        update(item.key, { fraction, state: fraction >= 1 ? 'processing' : 'uploading' });
      }).then(
        (image) => {
          update(item.key, { fraction: 1, state: 'done' });
          onUploaded(image);
        },
        (error: unknown) => update(item.key, { state: 'failed', error: messageOf(error) }),
      );
    }
  };

  const onDrop = (event: DragEvent<HTMLDivElement>) => {
    event.preventDefault();
    setDragging(false);
    const files = [...event.dataTransfer.files];
    if (files.length > 0) start(files);
  };

  return (
    <div className="studio-upload">
      <div
        className={dragging ? 'studio-dropzone studio-dropzone-active' : 'studio-dropzone'}
        onDragOver={(event) => {
          event.preventDefault();
          event.dataTransfer.dropEffect = 'copy';
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={onDrop}
      >
        <label htmlFor="studio-photos">Photos</label>
        <input
          ref={input}
          id="studio-photos"
          type="file"
          multiple
          accept="image/*"
          aria-describedby="studio-photos-hint"
          onChange={(event) => {
            const files = [...(event.currentTarget.files ?? [])];
            event.currentTarget.value = '';
            if (files.length > 0) start(files);
          }}
        />
        <span id="studio-photos-hint" className="hint">
          Drop photos here or choose them: JPEG, PNG, WebP, AVIF, GIF or TIFF.
        </span>
      </div>
      {items.length > 0 && (
        <ul className="studio-uploads" aria-label="Uploads">
          {items.map((item) => (
            <li key={item.key} className="studio-upload-item">
              <span className="studio-upload-name">{item.name}</span>
              {item.state === 'failed' ? (
                <p className="error studio-upload-error" role="alert">
                  {item.error}
                </p>
              ) : (
                <>
                  <progress
                    aria-label={`Uploading ${item.name}`}
                    max={1}
                    value={item.state === 'uploading' && item.fraction === 0 ? undefined : item.fraction}
                  />
                  <span className="hint" aria-live="polite">
                    {item.state === 'done'
                      ? 'Uploaded'
                      : item.state === 'processing'
                        ? 'Checking…'
                        : `${Math.round(item.fraction * 100)}%`}
                  </span>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
