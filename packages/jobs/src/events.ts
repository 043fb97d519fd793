import { EventEmitter } from 'node:events';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import pg from 'pg';
import type { Logger } from '@atelier/core';
import { silentLogger } from '@atelier/core';
import type { Database, JobStatus } from '@atelier/db';

/** The Postgres channel job updates travel on. */
export const JOB_EVENTS_CHANNEL = 'atelier_job_events';
/** The channel that asks the worker running a job to stop it. */
export const JOB_CANCEL_CHANNEL = 'atelier_job_cancel';
/** The channel that announces a change of a plugin's state (enabled, defaults); payload: the plugin id. */
export const PLUGIN_STATE_CHANNEL = 'atelier_plugin_state';
/**
 * The channel that announces a change of the cluster's plugin packages (an install, upgrade or
 * uninstall recorded in `plugin_packages`); payload: the package name.
 */
export const PLUGIN_PACKAGES_CHANNEL = 'atelier_plugin_packages';

/** A change of a job's status or progress, as any process sees it. Small: NOTIFY payloads are. */
export interface JobEvent {
  readonly id: string;
  readonly ownerId: string;
  readonly status: JobStatus;
  readonly progress: number;
  readonly style: string;
  /** Increases with every event of a job; a client that reconnects asks for events after it. */
  readonly seq: number;
  readonly errorCode?: string;
  readonly fromCache?: boolean;
  readonly at: string;
}

/** Publishes an event (inside the caller's transaction when given one: it is sent at commit). */
export async function publishJobEvent(db: Kysely<Database>, event: JobEvent): Promise<void> {
  await sql`select pg_notify(${JOB_EVENTS_CHANNEL}, ${JSON.stringify(event)})`.execute(db);
}

/** Asks every worker to stop the job if it runs it. */
export async function publishCancel(db: Kysely<Database>, jobId: string): Promise<void> {
  await sql`select pg_notify(${JOB_CANCEL_CHANNEL}, ${jobId})`.execute(db);
}

/** The kinds of notification a {@link JobEventListener} can subscribe to. */
export type JobEventKind = 'event' | 'cancel' | 'plugin' | 'packages';

const CHANNEL_OF: Readonly<Record<JobEventKind, string>> = {
  event: JOB_EVENTS_CHANNEL,
  cancel: JOB_CANCEL_CHANNEL,
  plugin: PLUGIN_STATE_CHANNEL,
  packages: PLUGIN_PACKAGES_CHANNEL,
};

/**
 * Listens to job events and cancellations on one dedicated connection, reconnecting with backoff
 * when Postgres goes away. Emits `event` (JobEvent), `cancel` (job id), `plugin` (plugin id) and
 * `lost` (the connection dropped) and `reconnect` (after a lost connection came back: listeners
 * should re-read state they may have missed). `kinds` limits what it subscribes to: Postgres sends every notification of a channel
 * to every connection listening on it, so a worker that only needs cancellations should not
 * receive (and parse) every job's progress.
 */
export class JobEventListener extends EventEmitter<{
  event: [JobEvent];
  cancel: [string];
  plugin: [string];
  /** A plugin package changed (its name). */
  packages: [string];
  reconnect: [];
  /** The connection dropped (Postgres went away): it is being re-established. */
  lost: [];
  error: [Error];
}> {
  readonly #url: string;
  readonly #logger: Logger;
  #client: pg.Client | undefined;
  #closed = false;
  #retryMs = 100;
  #ready: Promise<void> | undefined;
  readonly #channels: readonly string[];

  constructor(
    url: string,
    logger: Logger = silentLogger,
    kinds: readonly JobEventKind[] = ['event', 'cancel', 'plugin'],
  ) {
    super();
    this.#url = url;
    this.#logger = logger;
    this.#channels = [...new Set(kinds)].map((kind) => CHANNEL_OF[kind]);
  }

  /** Connects and subscribes; resolves once notifications flow. */
  start(): Promise<void> {
    this.#ready ??= this.#connect(false);
    return this.#ready;
  }

  async #connect(isReconnect: boolean): Promise<void> {
    const client = new pg.Client({
      connectionString: this.#url,
      application_name: 'atelier-events',
      keepAlive: true,
    });
    client.on('notification', (message) => {
      if (!message.payload) return;
      if (message.channel === JOB_CANCEL_CHANNEL) this.emit('cancel', message.payload);
      else if (message.channel === PLUGIN_STATE_CHANNEL) this.emit('plugin', message.payload);
      else if (message.channel === PLUGIN_PACKAGES_CHANNEL) this.emit('packages', message.payload);
      else if (message.channel === JOB_EVENTS_CHANNEL) {
        try {
          this.emit('event', JSON.parse(message.payload) as JobEvent);
        } catch {
          this.#logger.warn('unreadable job event', { payload: message.payload.slice(0, 200) });
        }
      }
    });
    client.on('error', (error) => {
      this.#logger.warn('job event connection lost', { error: error.message });
      this.#scheduleReconnect(client);
    });
    client.on('end', () => this.#scheduleReconnect(client));
    await client.connect();
    for (const channel of this.#channels) await client.query(`listen ${channel}`);
    this.#client = client;
    this.#retryMs = 100;
    if (isReconnect) this.emit('reconnect');
  }

  #scheduleReconnect(client: pg.Client): void {
    if (this.#closed || this.#client !== client) return;
    this.#client = undefined;
    this.emit('lost');
    client.removeAllListeners('end');
    client.end().catch(() => {});
    const attempt = (): void => {
      if (this.#closed) return;
      this.#connect(true).catch((error: Error) => {
        this.#logger.debug('job event reconnect failed', { error: error.message });
        this.#retryMs = Math.min(this.#retryMs * 2, 5000);
        setTimeout(attempt, this.#retryMs).unref();
      });
    };
    setTimeout(attempt, this.#retryMs).unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
    this.removeAllListeners();
  }
}
