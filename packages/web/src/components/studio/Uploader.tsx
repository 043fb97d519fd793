import { useRef, useState } from 'react';
import type { DragEvent } from 'react';
import { batchesOf, fileFractions, uploadManyWithProgress } from '../../lib/upload.ts';
import type { UploadedImage } from '../../lib/upload.ts';
import { messageOf, sentenceFor } from '../../lib/errors.ts';
import { DuplicateBadge } from '../gallery/DuplicateBadge.tsx';
import { Link } from '@tanstack/react-router';

interface UploadItem {
  readonly key: number;
  readonly name: string;
  /** The stored image, once uploaded: its duplicate check shows under the row. */
  readonly imageId?: string;
  /** The very same file was already one of the person's photos (the answer is that photo). */
  readonly sameFile?: boolean;
  readonly fraction: number;
  readonly state: 'waiting' | 'uploading' | 'processing' | 'done' | 'failed';
  readonly error?: string;
}

/**
 * The drop zone and file input "Photos": the files chosen or dropped together go up in batch
 * uploads (`images.uploadMany`, a few requests for a large selection), one row per file with its
 * progress bar ("Uploading <name>") and then its own result: "Uploaded", or the sentence for its
 * error (a bad file fails alone, the others are stored). Once a stored photo's analysis is done,
 * its row says whether the person already has it, or nearly (with links). `onUploaded` is called
 * for each stored photo, in the order of the files.
 */
export function Uploader({ onUploaded }: { onUploaded: (image: UploadedImage) => void }) {
  const [items, setItems] = useState<readonly UploadItem[]>([]);
  const [dragging, setDragging] = useState(false);
  const nextKey = useRef(0);
  const input = useRef<HTMLInputElement>(null);

  const update = (key: number, patch: Partial<UploadItem>) =>
    setItems((all) => all.map((item) => (item.key === key ? { ...item, ...patch } : item)));

  const send = async (batch: readonly { file: File; item: UploadItem }[]) => {
    const sizes = batch.map((b) => b.file.size);
    for (const { item } of batch) update(item.key, { state: 'uploading' });
    try {
      const results = await uploadManyWithProgress(
        batch.map((b) => b.file),
        (progress) => {
          const fractions = fileFractions(sizes, progress);
          batch.forEach(({ item }, i) => {
            const fraction = fractions[i] ?? 0;
            update(item.key, { fraction, state: fraction >= 1 ? 'processing' : 'uploading' });
          });
        },
      );
      for (const result of results) {
        const entry = batch[result.index];
        if (!entry) continue;
        if (result.ok) {
          update(entry.item.key, {
            fraction: 1,
            state: 'done',
            imageId: result.image.id,
            // The server says so: these very bytes were already one of this person's images.
            sameFile: result.image.alreadyUploaded,
          });
          onUploaded(result.image);
        } else {
          update(entry.item.key, {
            state: 'failed',
            error: sentenceFor(result.error.code) ?? result.error.message,
          });
        }
      }
    } catch (error) {
      // The request as a whole failed (signed out, too large, offline): every file of it did.
      for (const { item } of batch) update(item.key, { state: 'failed', error: messageOf(error) });
    }
  };

  const start = (files: readonly File[]) => {
    const added = files.map((file) => {
      nextKey.current += 1;
      return {
        file,
        item: { key: nextKey.current, name: file.name, fraction: 0, state: 'waiting' } as const,
      };
    });
    // The newest selection first, in the order of its files; earlier ones stay below.
    setItems((all) => [...added.map((a) => a.item), ...all].slice(0, 50));
    void (async () => {
      for (const batch of batchesOf(added.map((a) => ({ ...a, size: a.file.size })))) await send(batch);
    })();
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
                    value={
                      (item.state === 'uploading' || item.state === 'waiting') && item.fraction === 0
                        ? undefined
                        : item.fraction
                    }
                  />
                  <span className="hint" aria-live="polite">
                    {item.state === 'done'
                      ? 'Uploaded'
                      : item.state === 'processing'
                        ? 'Checking…'
                        : item.state === 'waiting'
                          ? 'Waiting…'
                          : `${Math.round(item.fraction * 100)}%`}
                  </span>
                  {item.imageId && (
                    <span className="studio-upload-dups">
                      {item.sameFile && (
                        <span className="dup-badge">
                          <span className="dup-badge-label">Already yours</span>
                          <span>
                            You uploaded this very file before:{' '}
                            <Link to="/gallery/photos/$imageId" params={{ imageId: item.imageId }}>
                              open it<span className="visually-hidden"> ({item.name})</span>
                            </Link>
                          </span>
                        </span>
                      )}{' '}
                      <DuplicateBadge imageId={item.imageId} quietWhenNone />
                    </span>
                  )}
                </>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
