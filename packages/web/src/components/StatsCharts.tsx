// Charts: hand-written SVG, no chart library. Four simple charts (stacked bars, horizontal bars,
// one ratio) need ~250 lines of JSX, add ~3 KB gzip to a lazy route instead of 50-150 KB
// (recharts, echarts) or ~20 KB plus a canvas we would have to make accessible (uPlot). SVG takes
// the theme's CSS variables (light/dark without code), and text stays HTML so it never scales
// with the plot. Every chart has a summary as its accessible name and a "Show the numbers" table.
import type { ReactNode } from 'react';
import type { AtelierOutputs } from '@atelier/client';
import {
  dailySeries,
  formatBytes,
  formatMs,
  formatPercent,
  niceScale,
  successRate,
  totalJobs,
  totalsByStyle,
} from '../lib/chart-data.ts';
import './StatsCharts.css';

type Stats = AtelierOutputs['stats']['mine'];
const STATUSES = ['succeeded', 'failed', 'cancelled', 'running', 'queued'] as const;
const PALETTE_SIZE = 8;
const shortDay = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', timeZone: 'UTC' });
/** "Dec 3" for an axis label (days are UTC, as the server groups them). */
const axisDay = (day: string | undefined) => (day ? shortDay.format(new Date(`${day}T00:00:00Z`)) : '');

export interface StatsChartsProps {
  readonly stats: Stats;
  /** Names for style ids (from `styles.list`); ids are shown for styles not in it. */
  readonly styleNames?: ReadonlyMap<string, string>;
  /** Shown under the friendly sentence when there is nothing to chart (e.g. a link to the studio). */
  readonly emptyAction?: ReactNode;
  /** The date the range ends on (tests); now by default. */
  readonly today?: Date;
}

/** Jobs per day, jobs by style, success rate and processing time, each a <figure>. */
export function StatsCharts({ stats, styleNames, emptyAction, today }: StatsChartsProps) {
  const name = (style: string) => styleNames?.get(style) ?? style;
  const total = totalJobs(stats.outcomes);
  // Colours follow the styles' order by volume, the same in every chart.
  const order = totalsByStyle(stats).map((s) => s.style);
  for (const p of stats.processingMs) if (!order.includes(p.style)) order.push(p.style);
  const color = (style: string) => `var(--chart-${(Math.max(0, order.indexOf(style)) % PALETTE_SIZE) + 1})`;
  const range = `the last ${stats.days} ${stats.days === 1 ? 'day' : 'days'}`;
  return (
    <div className="stats-charts">
      {total === 0 && (
        <div className="stats-empty" role="status">
          <p>
            <strong>No jobs in {range} yet.</strong> Charts appear here once you render a photo.
          </p>
          {emptyAction}
        </div>
      )}
      <div className="stats-grid">
        <JobsPerDay stats={stats} today={today ?? new Date()} name={name} color={color} range={range} />
        <JobsByStyle stats={stats} name={name} color={color} />
        <SuccessRateChart stats={stats} />
        <ProcessingTime stats={stats} name={name} color={color} />
      </div>
      <p className="hint stats-storage">
        Storage: originals {formatBytes(stats.storageBytes.originals)}, results{' '}
        {formatBytes(stats.storageBytes.results)}.
      </p>
    </div>
  );
}

interface Named {
  readonly name: (style: string) => string;
  readonly color: (style: string) => string;
}

interface NumbersRow {
  readonly key: string;
  /** The row's header cell (a day, a style, a status). */
  readonly head: ReactNode;
  readonly cells: readonly ReactNode[];
}

/** A chart's numbers as a table behind "Show the numbers": the first column heads each row. */
function Numbers({
  label,
  columns,
  rows,
}: {
  label: string;
  columns: readonly string[];
  rows: readonly NumbersRow[];
}) {
  return (
    <details className="stats-numbers">
      <summary>Show the numbers</summary>
      {/* Focusable, so a keyboard can scroll a table wider than the screen. */}
      <div className="table-scroll" role="region" aria-label={label} tabIndex={0}>
        <table>
          <caption className="visually-hidden">{label}</caption>
          <thead>
            <tr>
              {columns.map((column, i) => (
                <th scope="col" key={i}>
                  {column}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.key}>
                <th scope="row">{row.head}</th>
                {row.cells.map((cell, i) => (
                  <td key={i}>{cell}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

function Empty() {
  return <p className="stats-none">Nothing to chart yet.</p>;
}

function Legend({ styles, name, color }: Named & { styles: readonly string[] }) {
  return (
    <ul className="stats-legend" aria-hidden="true">
      {styles.map((style) => (
        <li key={style}>
          <span className="stats-swatch" style={{ background: color(style) }} />
          {name(style)}
        </li>
      ))}
    </ul>
  );
}

function JobsPerDay({
  stats,
  today,
  name,
  color,
  range,
}: Named & { stats: Stats; today: Date; range: string }) {
  const data = dailySeries(stats, today);
  const { top, ticks } = niceScale(data.max);
  const total = data.totals.reduce((a, b) => a + b, 0);
  const busiest = data.totals.indexOf(data.max);
  const summary =
    total === 0
      ? `No jobs in ${range}.`
      : `${total} ${total === 1 ? 'job' : 'jobs'} in ${range}; the busiest day, ${data.days[busiest]}, had ${data.max}.`;
  const n = data.days.length;
  const mid = data.days[Math.floor((n - 1) / 2)];
  return (
    <figure className="stats-figure stats-wide">
      <figcaption>Jobs per day</figcaption>
      {total === 0 ? (
        <Empty />
      ) : (
        <>
          <Legend styles={data.styles} name={name} color={color} />
          <div className="stats-plot">
            <div className="stats-yaxis" aria-hidden="true">
              {ticks.map((t) => (
                <span key={t} style={{ bottom: `${(t / top) * 100}%` }}>
                  {t}
                </span>
              ))}
            </div>
            <svg
              className="stats-svg"
              viewBox={`0 0 ${n} ${top}`}
              preserveAspectRatio="none"
              role="img"
              aria-label={summary}
            >
              {ticks.map((t) => (
                <line
                  key={t}
                  className="stats-grid-line"
                  x1={0}
                  x2={n}
                  y1={top - t}
                  y2={top - t}
                  vectorEffect="non-scaling-stroke"
                />
              ))}
              {data.counts.map((row, d) => {
                let y = top;
                return row.map((count, s) => {
                  if (count === 0) return null;
                  y -= count;
                  const style = data.styles[s] ?? '';
                  return (
                    <rect
                      key={`${d}-${s}`}
                      x={d + 0.12}
                      width={0.76}
                      y={y}
                      height={count}
                      fill={color(style)}
                    >
                      <title>{`${data.days[d]}, ${name(style)}: ${count}`}</title>
                    </rect>
                  );
                });
              })}
            </svg>
            <div className="stats-xaxis" aria-hidden="true">
              <span>{axisDay(data.days[0])}</span>
              {n > 2 && <span>{axisDay(mid)}</span>}
              <span>{axisDay(data.days[n - 1])}</span>
            </div>
          </div>
          <Numbers
            label="Jobs per day and style (days with jobs)"
            columns={['Day', ...data.styles.map(name), 'Total']}
            rows={data.days.flatMap((day, d) =>
              data.totals[d]
                ? [
                    {
                      key: day,
                      head: day,
                      cells: [...data.styles.map((_, s) => data.counts[d]?.[s] ?? 0), data.totals[d]],
                    },
                  ]
                : [],
            )}
          />
        </>
      )}
    </figure>
  );
}

/** One horizontal bar from 0 to `value / max`, drawn in SVG, decorative (the numbers are text). */
function Bar({ value, max, fill, thin }: { value: number; max: number; fill: string; thin?: boolean }) {
  const width = max > 0 ? Math.max(0.5, (value / max) * 100) : 0;
  return (
    <svg
      className={thin ? 'stats-bar stats-bar-thin' : 'stats-bar'}
      viewBox="0 0 100 10"
      preserveAspectRatio="none"
      aria-hidden="true"
    >
      <rect x={0} y={0} width={100} height={10} className="stats-bar-track" />
      <rect x={0} y={0} width={width} height={10} fill={fill} />
    </svg>
  );
}

function JobsByStyle({ stats, name, color }: Named & { stats: Stats }) {
  const rows = totalsByStyle(stats);
  const max = Math.max(0, ...rows.map((r) => r.count));
  return (
    <figure className="stats-figure">
      <figcaption>Jobs by style</figcaption>
      {rows.length === 0 ? (
        <Empty />
      ) : (
        <>
          <ul className="stats-rows">
            {rows.map((r) => (
              <li key={r.style}>
                <span className="stats-label">{name(r.style)}</span>
                <Bar value={r.count} max={max} fill={color(r.style)} />
                <span className="stats-value">{r.count}</span>
              </li>
            ))}
          </ul>
          <Numbers
            label="Jobs by style"
            columns={['Style', 'Jobs']}
            rows={rows.map((r) => ({ key: r.style, head: name(r.style), cells: [r.count] }))}
          />
        </>
      )}
    </figure>
  );
}

function SuccessRateChart({ stats }: { stats: Stats }) {
  const rate = successRate(stats.outcomes);
  const total = totalJobs(stats.outcomes);
  let x = 0;
  return (
    <figure className="stats-figure">
      <figcaption>Success rate</figcaption>
      {total === 0 ? (
        <Empty />
      ) : (
        <>
          <p className="stats-big">
            {rate.rate === null ? 'None finished yet' : formatPercent(rate.rate)}
            <span className="hint">
              {' '}
              {rate.succeeded} of {rate.finished} finished {rate.finished === 1 ? 'job' : 'jobs'} succeeded
            </span>
          </p>
          <svg
            className="stats-bar stats-bar-tall"
            viewBox="0 0 100 10"
            preserveAspectRatio="none"
            aria-hidden="true"
          >
            {STATUSES.map((status) => {
              const w = (stats.outcomes[status] / total) * 100;
              const rect =
                w > 0 ? (
                  <rect key={status} x={x} width={w} y={0} height={10} className={`stats-${status}`} />
                ) : null;
              x += w;
              return rect;
            })}
          </svg>
          <ul className="stats-legend">
            {STATUSES.filter((status) => stats.outcomes[status] > 0).map((status) => (
              <li key={status}>
                <span className={`stats-swatch stats-${status}`} aria-hidden="true" />
                {status}: {stats.outcomes[status]}
              </li>
            ))}
          </ul>
          <Numbers
            label="Jobs by outcome"
            columns={['Status', 'Jobs']}
            rows={STATUSES.map((status) => ({ key: status, head: status, cells: [stats.outcomes[status]] }))}
          />
        </>
      )}
    </figure>
  );
}

function ProcessingTime({ stats, name, color }: Named & { stats: Stats }) {
  const rows = [...stats.processingMs].sort((a, b) => b.jobs - a.jobs || a.style.localeCompare(b.style));
  const max = Math.max(0, ...rows.map((r) => r.p90));
  return (
    <figure className="stats-figure">
      <figcaption>Processing time</figcaption>
      {rows.length === 0 ? (
        <Empty />
      ) : (
        <>
          <p className="hint stats-note">Median (p50, thin) and p90 per style, rendered jobs only.</p>
          <ul className="stats-rows stats-rows-two">
            {rows.map((r) => (
              <li key={r.style}>
                <span className="stats-label">{name(r.style)}</span>
                <span className="stats-pair">
                  <Bar value={r.p50} max={max} fill={color(r.style)} thin />
                  <Bar value={r.p90} max={max} fill={color(r.style)} />
                </span>
                <span className="stats-value">
                  {formatMs(r.p50)} / {formatMs(r.p90)}
                </span>
              </li>
            ))}
          </ul>
          <Numbers
            label="Processing time per style"
            columns={['Style', 'Jobs', 'p50', 'p90', 'p99']}
            rows={rows.map((r) => ({
              key: r.style,
              head: name(r.style),
              cells: [r.jobs, formatMs(r.p50), formatMs(r.p90), formatMs(r.p99)],
            }))}
          />
        </>
      )}
    </figure>
  );
}
