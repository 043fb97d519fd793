import { useEffect, useRef, useState } from 'react';
import { skipToken, useQuery, useQueryClient } from '@tanstack/react-query';
import { useSubscription } from '@trpc/tanstack-react-query';
import { useTRPC } from '../../trpc.ts';
import { isFinal } from '../../lib/jobs.ts';
import { codeOf } from '../../lib/errors.ts';
import type { Job, JobStatus } from '../../lib/jobs.ts';

export interface JobProgress {
  readonly job: Job | undefined;
  readonly status: JobStatus | undefined;
  /** 0..1 */
  readonly progress: number;
  /** The stream was open and is connecting again (the client resumes after the last event it saw). */
  readonly reconnecting: boolean;
  /** Loading the job or its stream failed. */
  readonly error: unknown;
}

interface LastEvent {
  readonly jobId: string;
  readonly status: JobStatus;
  readonly progress: number;
}

/**
 * A render's status and progress: the job (`jobs.get`) and its live events (`jobs.onUpdate`, which
 * sends the current state first, so a reloaded page resumes the bar; tRPC reconnects by itself
 * with the last event id). The stream closes once the job is final; the job is then read again
 * for its result or error.
 */
export function useJobProgress(jobId: string | undefined): JobProgress {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const job = useQuery({
    ...trpc.jobs.get.queryOptions({ id: jobId ?? '' }),
    enabled: jobId !== undefined,
  });
  const [last, setLast] = useState<LastEvent | null>(null);
  const event = last && last.jobId === jobId ? last : null;
  const jobData = job.data && job.data.id === jobId ? job.data : undefined;
  const status = event?.status ?? jobData?.status;
  const finished = status !== undefined && isFinal(status);

  const subscription = useSubscription(
    trpc.jobs.onUpdate.subscriptionOptions(jobId && !finished ? { id: jobId } : skipToken, {
      onData: ({ data }) => {
        setLast({ jobId: data.id, status: data.status, progress: data.progress });
        if (isFinal(data.status))
          void queryClient.invalidateQueries({ queryKey: trpc.jobs.get.queryKey({ id: data.id }) });
      },
    }),
  );

  // "Reconnecting…" only after the stream had been open: not while it first connects.
  const [wasOpen, setWasOpen] = useState<string | null>(null);
  useEffect(() => {
    if (subscription.status === 'pending' && jobId) setWasOpen(jobId);
  }, [subscription.status, jobId]);

  // The browser's EventSource retries a dropped stream by itself (tRPC then resumes after the last
  // event id), but gives up for good when a reconnection gets an error response (e.g. the server
  // restarting behind a proxy). A lost connection (no API code) is then subscribed again, with a
  // growing pause; the server sends the job's current state first. Refusals (codes) are shown.
  const lostConnection =
    subscription.status === 'error' && codeOf(subscription.error) === undefined && !finished;
  const attempts = useRef(0);
  const { reset } = subscription;
  useEffect(() => {
    if (subscription.status === 'pending') attempts.current = 0;
    if (!lostConnection) return;
    const delay = Math.min(5000, 500 * 2 ** attempts.current);
    attempts.current += 1;
    const timer = setTimeout(() => {
      reset();
      void queryClient.invalidateQueries({ queryKey: trpc.jobs.get.queryKey() });
    }, delay);
    return () => clearTimeout(timer);
  }, [lostConnection, subscription.status, reset, queryClient, trpc]);

  const reconnecting =
    wasOpen === jobId &&
    !finished &&
    (subscription.status === 'connecting' || (subscription.status === 'error' && lostConnection));

  return {
    job: jobData,
    status,
    progress: event?.progress ?? jobData?.progress ?? 0,
    reconnecting,
    error: job.error ?? (subscription.status === 'error' && !lostConnection ? subscription.error : null),
  };
}
