import type { ReactNode } from 'react';

/**
 * A wide table's horizontal scroller (390 px screens): a named region that takes keyboard focus,
 * so the arrow keys scroll it even when the table holds no button or link.
 */
export function TableScroll({ label, children }: { label: string; children: ReactNode }) {
  return (
    <div className="table-scroll admin-table-scroll" role="region" aria-label={label} tabIndex={0}>
      {children}
    </div>
  );
}
