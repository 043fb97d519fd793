import type { AdminSection } from '../../router.tsx';

/** The admin console's sections in the order of its navigation, with their link texts. */
export const ADMIN_NAV: readonly { readonly section: AdminSection; readonly label: string }[] = [
  { section: 'plugins', label: 'Plugins' },
  { section: 'users', label: 'Users' },
  { section: 'queue', label: 'Queue' },
  { section: 'audit', label: 'Audit log' },
  { section: 'stats', label: 'Statistics' },
];
