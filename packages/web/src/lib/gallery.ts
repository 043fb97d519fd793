// Pure logic of the gallery screens (no DOM: unit tested under Node).
import type { Job, JobStatus } from './jobs.ts';

export interface GalleryFilters {
  readonly style?: string;
  readonly status?: JobStatus;
  /** Day (YYYY-MM-DD), inclusive. */
  readonly from?: string;
  /** Day (YYYY-MM-DD), inclusive. */
  readonly to?: string;
}

export interface GallerySearchLike extends GalleryFilters {
  readonly tab?: 'results' | 'uploads';
  /** Words to find in the photos (gallery.text). */
  readonly q?: string;
  /** Colours to find (gallery.byColour): `#rrggbb`, comma-separated. */
  readonly colors?: string;
  /** ΔE tolerance of the colour search. */
  readonly tolerance?: number;
}
/** A gallery search being built, key by key. */
export type GallerySearchDraft = { -readonly [K in keyof GallerySearchLike]?: GallerySearchLike[K] };

/** Keys to change; '' removes one. */
export type SearchPatch = { readonly [K in keyof GallerySearchLike]?: GallerySearchLike[K] | '' };

/** The gallery's search with some keys changed (the address then shows only the ones set). */
export function patchSearch(prev: GallerySearchLike, patch: SearchPatch): GallerySearchLike {
  const merged = { ...prev, ...patch };
  const out: GallerySearchDraft = {};
  if (merged.style) out.style = merged.style;
  if (merged.status) out.status = merged.status;
  if (merged.from) out.from = merged.from;
  if (merged.to) out.to = merged.to;
  if (merged.tab) out.tab = merged.tab;
  if (merged.q) out.q = merged.q;
  if (merged.colors) out.colors = merged.colors;
  if (typeof merged.tolerance === 'number') out.tolerance = merged.tolerance;
  return out;
}

export interface JobListFilters {
  style?: string;
  status?: JobStatus;
  createdAfter?: string;
  createdBefore?: string;
}

/** Midnight at the start of a YYYY-MM-DD day in the browser's time zone; undefined if not a real day. */
export function localMidnight(day: string, addDays = 0): Date | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!match) return undefined;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(y, m - 1, d + addDays);
  // 2026-02-31 rolls over to March: not a day anyone picked.
  const check = new Date(y, m - 1, d);
  if (check.getFullYear() !== y || check.getMonth() !== m - 1 || check.getDate() !== d) return undefined;
  return date;
}

/**
 * The `jobs.list` filters of the gallery's search: the From/To days (the person's own days, in
 * their time zone) become `createdAfter` (From's midnight) and `createdBefore` (the midnight after
 * To), so both days are included whole.
 */
export function jobListFilters(search: GalleryFilters): JobListFilters {
  const out: JobListFilters = {};
  if (search.style) out.style = search.style;
  if (search.status) out.status = search.status;
  const after = search.from ? localMidnight(search.from) : undefined;
  const before = search.to ? localMidnight(search.to, 1) : undefined;
  if (after) out.createdAfter = after.toISOString();
  if (before) out.createdBefore = before.toISOString();
  return out;
}

/** Whether any filter is set (the empty state then says so). */
export function hasFilters(search: GalleryFilters): boolean {
  return Boolean(search.style || search.status || search.from || search.to);
}

/**
 * The parameters the job's style ran with (defaults filled in): its step in the job's `plan`, or
 * the first step when no step is the style's. Null for a job without a plan.
 */
export function paramsOf(job: Pick<Job, 'style' | 'plan'>): Readonly<Record<string, unknown>> | null {
  const steps = job.plan?.steps ?? [];
  return (steps.find((step) => step.plugin === job.style) ?? steps[0])?.params ?? null;
}

/** A parameter's value for people: numbers as they are, booleans as yes/no, the rest as JSON. */
export function formatParam(value: unknown): string {
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return JSON.stringify(value) ?? String(value);
}

export interface TimingRow {
  readonly label: string;
  readonly ms: number;
}

interface Timings {
  readonly queueMs?: number | undefined;
  readonly decodeMs?: number | undefined;
  readonly steps?: readonly { readonly plugin: string; readonly ms: number }[] | undefined;
  readonly encodeMs?: number | undefined;
  readonly totalMs?: number | undefined;
}

/** The job's timings as labelled rows, in the order they happen; missing ones are left out. */
export function timingRows(
  timings: Timings | null,
  name: (plugin: string) => string = (p) => p,
): TimingRow[] {
  if (!timings) return [];
  const rows: TimingRow[] = [];
  if (timings.queueMs !== undefined) rows.push({ label: 'Queue', ms: timings.queueMs });
  if (timings.decodeMs !== undefined) rows.push({ label: 'Decode', ms: timings.decodeMs });
  (timings.steps ?? []).forEach((step, i, all) =>
    rows.push({
      label: all.length > 1 ? `Step ${i + 1}: ${name(step.plugin)}` : name(step.plugin),
      ms: step.ms,
    }),
  );
  if (timings.encodeMs !== undefined) rows.push({ label: 'Encode', ms: timings.encodeMs });
  if (timings.totalMs !== undefined) rows.push({ label: 'Total', ms: timings.totalMs });
  return rows;
}

/** The search of the studio's "Run again": the same photo, style and (when known) parameters. */
export function runAgainSearch(
  job: { readonly imageId: string; readonly style: string },
  params: Record<string, unknown> | null,
): { image: string; style: string; params?: string } {
  return {
    image: job.imageId,
    style: job.style,
    ...(params && Object.keys(params).length > 0 ? { params: JSON.stringify(params) } : {}),
  };
}
