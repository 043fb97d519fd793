/**
 * Small formatting helpers of the account and admin screens. Pure: no DOM, no React.
 */

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'] as const;

/** 1536 → "1.5 KB", 0 → "0 B" (powers of 1024, one decimal below 10). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** "3 of 100" or "3 (no limit)" when the limit is 0 (the API's "no limit"). */
export function formatUsage(used: number, limit: number, format: (n: number) => string = String): string {
  return limit === 0 ? `${format(used)} (no limit)` : `${format(used)} of ${format(limit)}`;
}

/** Share of a limit used, 0..1, or null when there is no limit. */
export function usageRatio(used: number, limit: number): number | null {
  if (limit <= 0) return null;
  return Math.min(1, Math.max(0, used / limit));
}

/** An ISO date as a local date and time ("3 Dec 2026, 22:13"); the input when it is not a date. */
export function formatDateTime(iso: string, locale?: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short' });
}

/** An ISO date as a local date ("3 Dec 2026"). */
export function formatDate(iso: string, locale?: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleDateString(locale, { dateStyle: 'medium' });
}

/** The first 8 characters of an id, as the admin console names jobs ("Retry 1a2b3c4d"). */
export function shortId(id: string): string {
  return id.slice(0, 8);
}

/** Audit details as one readable line: `{"enabled":false}` → "enabled: false". Empty → "". */
export function formatDetails(details: Readonly<Record<string, unknown>>): string {
  return Object.entries(details)
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
}
