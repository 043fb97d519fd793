// TEMPORARY until @atelier/jobs exports JobQueue (the contract in issue 10): the same interface.
/** The render queue as the rest of Atelier sees it. */
export interface JobQueue {
  start(): Promise<void>;
  stop(): Promise<void>;
  ping(): Promise<void>;
  counts(): Promise<readonly QueueCounts[]>;
}
export interface QueueCounts {
  readonly name: string;
  readonly queued: number;
  readonly active: number;
  readonly failed: number;
  readonly total: number;
}
