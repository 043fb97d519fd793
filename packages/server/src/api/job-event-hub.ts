import { EventEmitter, on } from 'node:events';
import { JobEventListener } from '@atelier/jobs';
import type { JobEvent } from '@atelier/jobs';
import type { Logger } from '@atelier/core';
import type { EventBus } from '../tokens.ts';

/**
 * One LISTEN connection per API process, fanned out to every subscriber by job id, so a thousand
 * open progress streams cost one database connection.
 */
export class JobEventHub implements EventBus {
  readonly #listener: JobEventListener;
  readonly #bus = new EventEmitter<Record<string, [JobEvent | 'reconnect']>>();

  constructor(url: string, logger?: Logger) {
    this.#listener = new JobEventListener(url, logger, ['event']);
    this.#bus.setMaxListeners(0);
    this.#listener.on('event', (event) => this.#bus.emit(event.id, event));
    this.#listener.on('reconnect', () => {
      for (const name of this.#bus.eventNames()) this.#bus.emit(name as string, 'reconnect');
    });
  }

  start(): Promise<void> {
    return this.#listener.start();
  }

  /** Events of one job (or 'reconnect' when notifications may have been missed), until `signal` aborts. */
  subscribe(jobId: string, signal: AbortSignal): AsyncIterableIterator<[JobEvent | 'reconnect']> {
    return on(this.#bus, jobId, { signal }) as AsyncIterableIterator<[JobEvent | 'reconnect']>;
  }

  close(): Promise<void> {
    return this.#listener.close();
  }
}
