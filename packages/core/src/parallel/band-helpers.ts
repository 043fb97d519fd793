// The engine's band helper threads (band-helper.ts), shared by all of its runs.
import { randomUUID } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { ResourceLimits } from 'node:worker_threads';
import type { Logger } from '../logger.ts';

// From source (the workspace, on Node 24) the helper is band-helper.ts, from dist/ band-helper.js.
const HELPER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './band-helper.ts' : './band-helper.js',
  import.meta.url,
);

/** What a run's thread needs to reach the helpers. */
export interface BandHelpersRef {
  /** Name of the BroadcastChannel the helpers listen on. */
  readonly channel: string;
  /** Helpers a run may use. */
  readonly helpers: number;
  /** Int32Array over a SharedArrayBuffer: helper threads that stopped unexpectedly so far. */
  readonly exits: Int32Array;
}

/**
 * `count` helper threads listening on one channel, started on first use; one that stops
 * unexpectedly is counted (runs waiting on a band it held fail instead of waiting forever) and
 * replaced.
 */
export class BandHelpers {
  readonly #count: number;
  readonly #options: { env: NodeJS.ProcessEnv; resourceLimits: ResourceLimits };
  readonly #logger: Logger;
  readonly #channel = `atelier-bands-${randomUUID()}`;
  readonly #exits = new Int32Array(new SharedArrayBuffer(4));
  readonly #workers = new Set<Worker>();
  #started = false;
  #closed = false;

  constructor(
    count: number,
    options: { env: NodeJS.ProcessEnv; resourceLimits: ResourceLimits },
    logger: Logger,
  ) {
    this.#count = Math.max(0, Math.floor(count));
    this.#options = options;
    this.#logger = logger;
  }

  /** The helpers for a run, started if they were not; undefined when there are none. */
  ref(): BandHelpersRef | undefined {
    if (this.#count === 0 || this.#closed) return undefined;
    if (!this.#started) {
      this.#started = true;
      for (let i = 0; i < this.#count; i++) this.#spawn();
    }
    return { channel: this.#channel, helpers: this.#count, exits: this.#exits };
  }

  #spawn(): void {
    const worker = new Worker(HELPER_URL, {
      workerData: { channel: this.#channel },
      env: this.#options.env,
      resourceLimits: this.#options.resourceLimits,
    });
    worker.unref();
    this.#workers.add(worker);
    worker.on('error', (error) => this.#logger.error('band helper thread error', { error: String(error) }));
    worker.on('exit', () => {
      this.#workers.delete(worker);
      if (this.#closed) return;
      Atomics.add(this.#exits, 0, 1);
      this.#logger.warn('band helper thread stopped; starting another');
      this.#spawn();
    });
  }

  /** Stops the helpers. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#workers].map((w) => w.terminate()));
  }
}
