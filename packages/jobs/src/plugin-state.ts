import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import type { Logger, PluginRegistry } from '@atelier/core';
import { silentLogger } from '@atelier/core';
import type { Database } from '@atelier/db';
import { JobEventListener, PLUGIN_STATE_CHANNEL } from './events.ts';

/**
 * Keeps a process's registry in step with the plugin state administrators set in Postgres
 * (enabled, default parameters): read at start, then applied within milliseconds of each change
 * announced on {@link PLUGIN_STATE_CHANNEL}, on every API and worker process, without restarts.
 */
export class PluginStateSync {
  readonly #db: Kysely<Database>;
  readonly #registry: PluginRegistry;
  readonly #listener: JobEventListener;
  readonly #logger: Logger;

  constructor(args: { db: Kysely<Database>; registry: PluginRegistry; url: string; logger?: Logger }) {
    this.#db = args.db;
    this.#registry = args.registry;
    this.#logger = args.logger ?? silentLogger;
    this.#listener = new JobEventListener(args.url, this.#logger, ['plugin']);
  }

  async start(): Promise<void> {
    this.#listener.on('plugin', (id) => void this.#reload(id));
    // After a lost connection (Postgres restarting), re-read what may have changed meanwhile; if
    // Postgres is gone again, the next reconnect reads it (a rejection here would end the process).
    this.#listener.on('reconnect', () => {
      this.#reloadAll().catch((error: unknown) =>
        this.#logger.warn('could not reload plugin state', {
          error: error instanceof Error ? error.message : String(error),
        }),
      );
    });
    await this.#listener.start();
    await this.#reloadAll();
  }

  #reloadAll(): Promise<void> {
    return loadPluginState({ db: this.#db, registry: this.#registry, logger: this.#logger });
  }

  async #reload(id: string): Promise<void> {
    try {
      const row = await this.#db
        .selectFrom('plugin_state')
        .selectAll()
        .where('plugin_id', '=', id)
        .executeTakeFirst();
      this.#apply(id, row?.enabled ?? true, row?.defaults ?? {});
    } catch (error) {
      this.#logger.warn('could not reload plugin state', { plugin: id, error: String(error) });
    }
  }

  #apply(id: string, enabled: boolean, defaults: Record<string, unknown>): void {
    applyState(this.#registry, this.#logger, id, enabled, defaults);
  }

  close(): Promise<void> {
    return this.#listener.close();
  }
}

function applyState(
  registry: PluginRegistry,
  logger: Logger,
  id: string,
  enabled: boolean,
  defaults: Record<string, unknown>,
): void {
  if (!registry.has(id)) return; // state of a plugin this process does not have
  if (enabled) registry.enable(id);
  else registry.disable(id);
  try {
    registry.setDefaults(id, defaults);
  } catch (error) {
    logger.warn('stored defaults no longer fit the plugin; ignored', { plugin: id, error: String(error) });
    registry.setDefaults(id, {});
  }
}

/**
 * Applies the plugin state administrators stored (enabled, defaults) to `registry` once, without
 * following later changes: for short-lived processes such as `atelier styles` and `apply`.
 * {@link PluginStateSync} does the same at start, then keeps up.
 */
export async function loadPluginState(args: {
  readonly db: Kysely<Database>;
  readonly registry: PluginRegistry;
  readonly logger?: Logger;
}): Promise<void> {
  const rows = await args.db.selectFrom('plugin_state').selectAll().execute();
  for (const row of rows)
    applyState(args.registry, args.logger ?? silentLogger, row.plugin_id, row.enabled, row.defaults);
}

/** Records a plugin's state and announces it to every process, in the caller's transaction. */
export async function savePluginState(
  trx: Kysely<Database>,
  args: { pluginId: string; enabled: boolean; defaults: Record<string, unknown>; actorId: string | null },
): Promise<void> {
  await trx
    .insertInto('plugin_state')
    .values({
      plugin_id: args.pluginId,
      enabled: args.enabled,
      defaults: JSON.stringify(args.defaults),
      updated_at: new Date(),
      updated_by: args.actorId,
    })
    .onConflict((oc) =>
      oc.column('plugin_id').doUpdateSet({
        enabled: args.enabled,
        defaults: JSON.stringify(args.defaults),
        updated_at: new Date(),
        updated_by: args.actorId,
      }),
    )
    .execute();
  await sql`select pg_notify(${PLUGIN_STATE_CHANNEL}, ${args.pluginId})`.execute(trx);
}
