import { useState } from 'react';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../trpc.ts';
import { ErrorMessage } from '../Feedback.tsx';
import { DEFAULT_QUALITY, OUTPUT_FORMATS, jobInput, outcomeSentence, percentOf } from './logic.ts';
import type { OutputFormat } from './logic.ts';
import type { Job } from '../../lib/jobs.ts';
import type { JobProgress } from './useJobProgress.ts';
import { HdDownloads, UnlockHint, useUnlockHd } from '../payments/HdDownloads.tsx';

const FORMAT_NAMES: Record<OutputFormat, string> = {
  jpeg: 'JPEG',
  png: 'PNG (lossless)',
  webp: 'WebP',
  avif: 'AVIF',
};

/**
 * Output settings, "Render", the progress of the render (from its live events), "Cancel render",
 * and the outcome: a "Download" link or the reason it has none.
 */
export function RenderPanel({
  imageId,
  styleId,
  params,
  jobId,
  progress,
  resultUrl,
  onStarted,
}: {
  imageId: string | undefined;
  styleId: string | undefined;
  params: Readonly<Record<string, unknown>>;
  jobId: string | undefined;
  progress: JobProgress;
  resultUrl: string | undefined;
  onStarted: (jobId: string) => void;
}) {
  const trpc = useTRPC();
  const [format, setFormat] = useState<OutputFormat>('jpeg');
  const [quality, setQuality] = useState(DEFAULT_QUALITY.jpeg);
  const create = useMutation(trpc.jobs.create.mutationOptions({ onSuccess: (job) => onStarted(job.id) }));
  const cancel = useMutation(trpc.jobs.cancel.mutationOptions());
  const { status, job } = progress;
  const active = status === 'queued' || status === 'running';
  const percent = percentOf(progress.progress);
  const outcome = job && job.status === status ? job : undefined;

  return (
    <section className="studio-render" aria-labelledby="studio-render-heading">
      <h2 id="studio-render-heading">Render</h2>
      <form
        className="studio-render-form"
        onSubmit={(event) => {
          event.preventDefault();
          if (!imageId || !styleId) return;
          create.mutate(
            // A new key per click: a double submit of one click is one job, a second click another.
            jobInput({
              imageId,
              style: styleId,
              params,
              format,
              quality,
              idempotencyKey: crypto.randomUUID(),
            }),
          );
        }}
      >
        <div className="field">
          <label htmlFor="studio-format">Format</label>
          <select
            id="studio-format"
            value={format}
            onChange={(event) => {
              const next = event.currentTarget.value as OutputFormat;
              setFormat(next);
              setQuality(DEFAULT_QUALITY[next]);
            }}
          >
            {OUTPUT_FORMATS.map((f) => (
              <option key={f} value={f}>
                {FORMAT_NAMES[f]}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="studio-quality">Quality</label>
          <input
            id="studio-quality"
            type="number"
            min={1}
            max={100}
            step={1}
            value={quality}
            aria-describedby="studio-quality-hint"
            onChange={(event) => {
              const n = Number(event.currentTarget.value);
              if (Number.isFinite(n)) setQuality(n);
            }}
          />
          <span id="studio-quality-hint" className="hint">
            1 to 100{format === 'png' ? ': PNG is lossless, quality only affects its compression' : ''}.
          </span>
        </div>
        <button type="submit" className="primary" disabled={!imageId || !styleId || create.isPending}>
          Render
        </button>
      </form>
      {create.error && <ErrorMessage error={create.error} />}

      {jobId && (
        <div className="studio-job">
          {active && (
            <>
              <div className="studio-job-progress">
                <div
                  role="progressbar"
                  aria-label="Render progress"
                  aria-valuemin={0}
                  aria-valuemax={100}
                  aria-valuenow={percent}
                  aria-valuetext={`${status === 'queued' ? 'Waiting' : 'Rendering'}: ${percent}%`}
                  className="studio-progressbar"
                >
                  <div className="studio-progressbar-fill" style={{ width: `${percent}%` }} />
                </div>
                <span className="hint">
                  {status === 'queued' ? 'Waiting for a worker…' : `Rendering… ${percent}%`}
                </span>
              </div>
              <button
                type="button"
                className="danger"
                onClick={() => cancel.mutate({ id: jobId })}
                disabled={cancel.isPending}
              >
                Cancel render
              </button>
            </>
          )}
          <p role="status" className="hint studio-reconnecting">
            {progress.reconnecting ? 'Reconnecting…' : ''}
          </p>
          {cancel.error && <ErrorMessage error={cancel.error} />}
          {progress.error !== null && progress.error !== undefined && <ErrorMessage error={progress.error} />}
          {status === 'succeeded' && <Finished job={outcome} resultUrl={resultUrl} />}
          {(status === 'failed' || status === 'cancelled') && (
            <ErrorMessage error={new Error(outcomeSentence(status, outcome?.error))} />
          )}
        </div>
      )}
    </section>
  );
}

/**
 * A finished render's downloads: "Download" (the standard file) and the full size, "Download HD"
 * or, while it is locked (paid HD, docs/payments.md), "Unlock HD — <price>".
 */
function Finished({ job, resultUrl }: { job: Job | undefined; resultUrl: string | undefined }) {
  const unlock = useUnlockHd(job?.id ?? '');
  return (
    <>
      <p className="studio-done">
        {resultUrl && job ? (
          <HdDownloads
            job={job}
            standardUrl={resultUrl}
            baseLabel="Download"
            standardClassName="button primary"
            unlock={unlock}
            describedBy="studio-hd-hint"
          />
        ) : (
          <span className="hint">Preparing the download…</span>
        )}{' '}
        {job?.output && (
          <span className="hint">
            {job.output.width} × {job.output.height} {job.output.format.toUpperCase()},{' '}
            {formatBytes(job.output.bytes)}
            {job.fromCache ? ' (reused from an identical render)' : ''}
          </span>
        )}
      </p>
      {job && <UnlockHint id="studio-hd-hint" job={job} />}
      {unlock.error !== null && unlock.error !== undefined && <ErrorMessage error={unlock.error} />}
      {unlock.notice && (
        <p role="status" className="success">
          {unlock.notice}
        </p>
      )}
    </>
  );
}

/** The signed result URL once the job succeeded (for the link and the picture). */
export function useResultUrl(jobId: string | undefined, succeeded: boolean): string | undefined {
  const trpc = useTRPC();
  const url = useQuery({
    ...trpc.jobs.downloadUrl.queryOptions({ id: jobId ?? '' }),
    enabled: jobId !== undefined && succeeded,
    // Signed for 5 minutes: ask again before that.
    staleTime: 240_000,
    refetchInterval: 240_000,
  });
  return jobId && succeeded ? url.data?.url : undefined;
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
