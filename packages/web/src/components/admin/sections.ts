import type { AdminSection } from '../../router.tsx';
import type { JobStatus } from '../../lib/jobs.ts';

/** The admin console's sections in the order of its navigation, with their link texts. */
export const ADMIN_NAV: readonly { readonly section: AdminSection; readonly label: string }[] = [
  { section: 'plugins', label: 'Plugins' },
  { section: 'users', label: 'Users' },
  { section: 'queue', label: 'Queue' },
  { section: 'payments', label: 'Payments' },
  { section: 'audit', label: 'Audit log' },
  { section: 'stats', label: 'Statistics' },
];

/** Job statuses as the console's counters name them. */
export const STATUS_LABELS: Readonly<Record<JobStatus, string>> = {
  queued: 'Queued',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  cancelled: 'Cancelled',
};
