import { useId, useMemo, useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTRPC } from '../../trpc.ts';
import { JOB_STATUSES } from '../../lib/jobs.ts';
import { STATUS_LABELS } from './sections.ts';
import { ErrorMessage, Loading } from '../Feedback.tsx';
import { StatsCharts } from '../StatsCharts.tsx';

const PERIODS = [7, 30, 90, 365] as const;

/** Everyone's statistics over a period: totals, storage, and the dashboard's charts. */
export function StatsSection() {
  const trpc = useTRPC();
  const id = useId();
  const [days, setDays] = useState<number>(30);
  const stats = useQuery({ ...trpc.stats.global.queryOptions({ days }), placeholderData: keepPreviousData });
  // Every plugin's name, the disabled ones' too (styles.list has only the enabled).
  const plugins = useQuery(trpc.admin.plugins.queryOptions());
  const styleNames = useMemo(() => new Map((plugins.data ?? []).map((p) => [p.id, p.name])), [plugins.data]);
  return (
    <section className="panel" aria-labelledby="admin-stats">
      <h2 id="admin-stats">Statistics</h2>
      <div className="field admin-period">
        <label htmlFor={`${id}-days`}>Period</label>
        <select id={`${id}-days`} value={days} onChange={(e) => setDays(Number(e.target.value))}>
          {PERIODS.map((d) => (
            <option key={d} value={d}>
              Last {d} days
            </option>
          ))}
        </select>
      </div>
      {stats.isPending && <Loading label="Loading statistics…" />}
      {stats.error && <ErrorMessage error={stats.error} onRetry={() => void stats.refetch()} />}
      {stats.data && (
        <div aria-busy={stats.isFetching}>
          <dl className="admin-counts">
            {JOB_STATUSES.map((status) => (
              <div key={status} className={`admin-count admin-count-${status}`}>
                <dt>{STATUS_LABELS[status]}</dt>
                <dd>{stats.data.outcomes[status]}</dd>
              </div>
            ))}
          </dl>
          <StatsCharts stats={stats.data} styleNames={styleNames} />
        </div>
      )}
    </section>
  );
}
