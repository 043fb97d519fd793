import type { AtelierOutputs } from '@atelier/client';

export type Job = AtelierOutputs['jobs']['get'];
export type JobStatus = Job['status'];

/** Every status a job can have (the server's list; a type error here means the API changed). */
export const JOB_STATUSES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'cancelled',
] as const satisfies readonly JobStatus[];

/** Whether a job will not change any more. */
export function isFinal(status: JobStatus): boolean {
  return status === 'succeeded' || status === 'failed' || status === 'cancelled';
}
