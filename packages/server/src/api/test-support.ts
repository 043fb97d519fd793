// Test helpers of the HTTP layer (not exported from the package).
import type { Kysely } from 'kysely';
import type { Database } from '@atelier/db';
import { HealthService } from '../health.service.ts';
import { StatsService } from '../stats.service.ts';
import type { OpsProbe } from './ops-probe.ts';

/** The probe as buildApp wires it: HealthService's readiness and StatsService's counts, on real Postgres. */
export function opsProbeOver(db: Kysely<Database>, ping: () => Promise<void> = async () => {}): OpsProbe {
  const database = { db, url: 'postgres://unused', embedded: undefined, close: async () => {} };
  const queue = { start: async () => {}, stop: async () => {}, ping, counts: async () => [] };
  const health = new HealthService(database, queue);
  const stats = new StatsService(database);
  return {
    ready: () => health.ready(),
    jobCounts: () => stats.jobCounts(),
    jobDurations: () => stats.jobDurations(),
    jobFailures: () => stats.jobFailures(),
  };
}
