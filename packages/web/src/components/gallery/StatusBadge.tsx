import type { JobStatus } from '../../lib/jobs.ts';
import './gallery-parts.css';

const LABELS: Record<JobStatus, string> = {
  queued: 'Queued',
  running: 'Running',
  succeeded: 'Done',
  failed: 'Failed',
  cancelled: 'Cancelled',
};

/** A job's status as a small coloured label (the word is always there, colour is only a hint). */
export function StatusBadge({ status }: { status: JobStatus }) {
  return <span className={`badge status-${status}`}>{LABELS[status]}</span>;
}
