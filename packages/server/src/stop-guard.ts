import type { Logger } from '@atelier/core';

/**
 * Makes sure a long-running command (`atelier serve`, `atelier worker`) ends once it was asked to
 * stop: when closing takes longer than `deadlineMs`, or something it loaded (a plugin's timer or
 * socket, a library's connection) still holds the process open 5 s after everything was closed,
 * the process exits anyway and logs the kinds of what was still open. Its timers never keep the
 * process alive themselves.
 */
export class StopGuard {
  /** How long closing may take once a stop was asked for. @default 45 s */
  deadlineMs = 45_000;
  readonly #logger: Logger;
  #closed = false;
  #armed = false;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** A stop was asked for: closing starts now and gets {@link deadlineMs}. */
  closing(): void {
    if (this.#armed) return;
    this.#armed = true;
    setTimeout(() => this.#exit(), this.deadlineMs).unref();
  }

  /** Everything was closed: the process should end by itself within moments. */
  closed(): void {
    this.#closed = true;
    setTimeout(() => this.#exit(), 5_000).unref();
  }

  #exit(): void {
    const open = process.getActiveResourcesInfo().filter((kind) => kind !== 'TTYWrap');
    if (this.#closed) {
      this.#logger.warn('stopped, but something still held the process open; exiting', { open });
      process.exit(); // with the command's own exit code
    }
    this.#logger.error('shutdown did not finish in time; exiting', { open });
    process.exit(1);
  }
}
