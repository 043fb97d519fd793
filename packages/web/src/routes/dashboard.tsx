import { useState } from 'react';
import { Link, createLazyRoute } from '@tanstack/react-router';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useTRPC } from '../trpc.ts';
import { ErrorMessage, Loading } from '../components/Feedback.tsx';
import { StatsCharts } from '../components/StatsCharts.tsx';
import './dashboard.css';

export const Route = createLazyRoute('/dashboard')({ component: Dashboard });

const RANGES = [7, 30, 90] as const;

function Dashboard() {
  const trpc = useTRPC();
  const [days, setDays] = useState<number>(30);
  const stats = useQuery({ ...trpc.stats.mine.queryOptions({ days }), placeholderData: keepPreviousData });
  const styles = useQuery({ ...trpc.styles.list.queryOptions(), staleTime: 5 * 60_000 });
  const names = new Map((styles.data ?? []).map((s) => [s.id, s.name]));
  return (
    <section className="dashboard">
      <div className="dashboard-head">
        <h1>Dashboard</h1>
        <div className="field dashboard-range">
          <label htmlFor="dashboard-range">Range</label>
          <select id="dashboard-range" value={days} onChange={(e) => setDays(Number(e.target.value))}>
            {RANGES.map((n) => (
              <option key={n} value={n}>
                Last {n} days
              </option>
            ))}
          </select>
        </div>
      </div>
      {stats.error ? (
        <ErrorMessage error={stats.error} onRetry={() => void stats.refetch()} />
      ) : stats.data ? (
        <div
          aria-busy={stats.isPlaceholderData}
          className={stats.isPlaceholderData ? 'dashboard-stale' : undefined}
        >
          <StatsCharts
            stats={stats.data}
            styleNames={names}
            emptyAction={
              <Link to="/studio" className="button primary">
                Style a photo in the studio
              </Link>
            }
          />
        </div>
      ) : (
        <Loading label="Loading your statistics…" />
      )}
      {styles.error && <ErrorMessage error={styles.error} onRetry={() => void styles.refetch()} />}
    </section>
  );
}
