// Pure shaping of `stats.mine` for the dashboard's charts (no DOM: unit tested under Node).
import type { AtelierOutputs } from '@atelier/client';

export type Stats = AtelierOutputs['stats']['mine'];
export type Outcomes = Stats['outcomes'];

/** `YYYY-MM-DD` of a date in UTC (the server groups jobs by UTC day). */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function addDays(day: string, n: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + n);
  return utcDay(date);
}

/** Every day from `first` to `last` inclusive (YYYY-MM-DD); empty when `last` is before `first`. */
export function daysBetween(first: string, last: string): string[] {
  const out: string[] = [];
  for (let day = first; day <= last && out.length < 1000; day = addDays(day, 1)) out.push(day);
  return out;
}

export interface DailySeries {
  /** One entry per day, oldest first, with no gaps. */
  readonly days: readonly string[];
  /** Styles with at least one job, most jobs first. */
  readonly styles: readonly string[];
  /** counts[dayIndex][styleIndex] */
  readonly counts: readonly (readonly number[])[];
  /** Jobs per day, all styles together. */
  readonly totals: readonly number[];
  readonly max: number;
}

/**
 * The sparse per-style points as a dense grid: the last `stats.days` days up to `today` (and any
 * earlier day a point names), every style on every day (0 where it had no job).
 */
export function dailySeries(stats: Pick<Stats, 'days' | 'jobsPerDay'>, today: Date): DailySeries {
  const styles = totalsByStyle(stats).map((s) => s.style);
  let first = addDays(utcDay(today), -(Math.max(1, stats.days) - 1));
  let last = utcDay(today);
  for (const series of stats.jobsPerDay)
    for (const point of series.points) {
      if (point.day < first) first = point.day;
      if (point.day > last) last = point.day;
    }
  const days = daysBetween(first, last);
  const index = new Map(days.map((day, i) => [day, i]));
  const counts = days.map(() => styles.map(() => 0));
  stats.jobsPerDay.forEach((series) => {
    const s = styles.indexOf(series.style);
    if (s < 0) return;
    for (const point of series.points) {
      const d = index.get(point.day);
      const row = d === undefined ? undefined : counts[d];
      if (row) row[s] = (row[s] ?? 0) + point.count;
    }
  });
  const totals = counts.map((row) => row.reduce((a, b) => a + b, 0));
  return { days, styles, counts, totals, max: Math.max(0, ...totals) };
}

/** Jobs per style over the whole range, most first (ties by name), styles with none left out. */
export function totalsByStyle(
  stats: Pick<Stats, 'jobsPerDay'>,
): { readonly style: string; readonly count: number }[] {
  const totals = new Map<string, number>();
  for (const series of stats.jobsPerDay) {
    const sum = series.points.reduce((a, p) => a + p.count, 0);
    totals.set(series.style, (totals.get(series.style) ?? 0) + sum);
  }
  return [...totals.entries()]
    .filter(([, count]) => count > 0)
    .map(([style, count]) => ({ style, count }))
    .sort((a, b) => b.count - a.count || a.style.localeCompare(b.style));
}

export interface SuccessRate {
  /** Jobs that ended: succeeded, failed or cancelled. */
  readonly finished: number;
  readonly succeeded: number;
  /** succeeded / finished, from 0 to 1; null when nothing finished yet. */
  readonly rate: number | null;
}

export function successRate(outcomes: Outcomes): SuccessRate {
  const finished = outcomes.succeeded + outcomes.failed + outcomes.cancelled;
  return {
    finished,
    succeeded: outcomes.succeeded,
    rate: finished > 0 ? outcomes.succeeded / finished : null,
  };
}

/** All jobs in the range, whatever their status. */
export function totalJobs(outcomes: Outcomes): number {
  return outcomes.queued + outcomes.running + outcomes.succeeded + outcomes.failed + outcomes.cancelled;
}

/**
 * A round upper bound for an axis (steps of 1, 2, 5 × 10^n, at least 1) at or above `max`, and
 * the ticks up to it. `max` ≤ 0 gives an axis up to 1.
 */
export function niceScale(
  max: number,
  wanted = 4,
): { readonly top: number; readonly ticks: readonly number[] } {
  if (!(max > 0)) return { top: 1, ticks: [0, 1] };
  const rough = max / wanted;
  const power = 10 ** Math.floor(Math.log10(rough));
  // Whole steps only: the axes count jobs and milliseconds (half a job is meaningless).
  const step = Math.max(1, [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power);
  const top = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let t = 0; t <= top; t += step) ticks.push(t);
  return { top, ticks };
}

/** A duration for people: "850 ms", "1.2 s", "2 min 5 s". */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

/** A size for people: "930 B", "12.4 KB", "3.1 MB" (powers of 1024). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** A percentage for people: 0.9734 → "97%", 0.995 → "99.5%". */
export function formatPercent(rate: number): string {
  const pct = rate * 100;
  return `${pct >= 99 && pct < 100 ? pct.toFixed(1) : Math.round(pct)}%`;
}
