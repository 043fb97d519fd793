/** Jobs by status, for the `atelier_queue_jobs` gauge. */
export interface JobCount {
  readonly status: string;
  readonly count: number;
}

/** Total processing seconds of finished (not cached) jobs by style. */
export interface JobDuration {
  readonly style: string;
  readonly seconds: number;
}

/** Failed jobs by style and error code (`unknown` when none was recorded). */
export interface JobFailures {
  readonly style: string;
  readonly code: string;
  readonly count: number;
}

/**
 * What /readyz and /metrics ask of the system, and nothing more: the HTTP layer does not see the
 * database or the queue. `HealthService` gives `ready`, `StatsService` the three counts.
 */
export interface OpsProbe {
  /** Resolves when the database answers and the render queue exists; rejects with why not. */
  ready(): Promise<void>;
  jobCounts(): Promise<readonly JobCount[]>;
  jobDurations(): Promise<readonly JobDuration[]>;
  jobFailures(): Promise<readonly JobFailures[]>;
}
