// Brings a process's plugins folder (its local cache) in step with the cluster's plugin packages in
// Postgres (plugin-packages.ts): at start-up, on every change announced on PLUGIN_PACKAGES_CHANNEL,
// after a lost connection comes back, and when a job's plan names a version this process lacks.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { Kysely } from 'kysely';
import { AtelierError, isAtelierError, silentLogger } from '@atelier/core';
import type { Logger, Plan, PluginRegistry } from '@atelier/core';
import type { Database } from '@atelier/db';
import { JobEventListener } from '@atelier/jobs';
import { keptTarball, removePlugins } from './cli-plugins.ts';
import type { AtelierConfig } from './config.ts';
import { installTarballLocally, withPluginsFolder } from './plugin-packages.ts';
import { readPluginsManifest } from './plugins-folder.ts';

/** What one sync changed in the folder. */
export interface PluginSyncSummary {
  /** `name@version` installed (new, or another version). */
  readonly installed: string[];
  /** Package names removed (uninstalled on the cluster). */
  readonly removed: string[];
  /** `name@version: CODE` of packages that could not be installed (the folder keeps what it had). */
  readonly failed: string[];
}

const discard = (): Writable =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

/** The sha512 integrity of the tarball a folder dependency was installed from, if `add` kept it. */
async function installedIntegrity(folder: string, spec: string | undefined): Promise<string | undefined> {
  const kept = keptTarball(spec);
  if (!kept) return undefined;
  const bytes = await readFile(path.join(folder, kept)).catch(() => undefined);
  return bytes ? `sha512-${createHash('sha512').update(bytes).digest('base64')}` : undefined;
}

/**
 * Makes the plugins folder of `config` hold exactly the active version of every package recorded in
 * `plugin_packages`: installs what is missing or another version (from the recorded tarball, its
 * integrity checked), removes packages the cluster uninstalled. Packages the database never
 * recorded (added to this folder alone with `atelier plugins add --local`) are left alone. A
 * package that fails is logged with its code and left as it was; the others still sync.
 */
export async function syncPluginPackages(args: {
  readonly db: Kysely<Database>;
  readonly config: AtelierConfig;
  readonly logger?: Logger;
}): Promise<PluginSyncSummary> {
  const { db, config } = args;
  const logger = args.logger ?? silentLogger;
  return withPluginsFolder(async () => {
    const folder = config.pluginsFolder;
    const rows = await db
      .selectFrom('plugin_packages')
      .select(['name', 'version', 'integrity', 'active'])
      .execute();
    const active = new Map(rows.filter((r) => r.active).map((r) => [r.name, r]));
    const managed = new Set(rows.map((r) => r.name));
    const deps = (await readPluginsManifest(folder))?.dependencies ?? {};
    const summary: PluginSyncSummary = { installed: [], removed: [], failed: [] };
    const io = { stdout: discard(), stderr: discard() };
    for (const [name, row] of active) {
      if ((await installedIntegrity(folder, deps[name])) === row.integrity) continue;
      try {
        const { tarball } = await db
          .selectFrom('plugin_packages')
          .select('tarball')
          .where('name', '=', name)
          .where('version', '=', row.version)
          .executeTakeFirstOrThrow();
        await installTarballLocally(
          config,
          { bytes: tarball, name, version: row.version, integrity: row.integrity },
          io,
        );
        summary.installed.push(`${name}@${row.version}`);
      } catch (error) {
        const code = isAtelierError(error) ? error.code : 'INTERNAL';
        summary.failed.push(`${name}@${row.version}: ${code}`);
        logger.error('plugin package not installed on this process', {
          package: name,
          version: row.version,
          code,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
    const gone = Object.keys(deps).filter((name) => managed.has(name) && !active.has(name));
    if (gone.length > 0) {
      try {
        await removePlugins(config, gone, io);
        summary.removed.push(...gone);
      } catch (error) {
        summary.failed.push(
          ...gone.map((name) => `${name}: ${isAtelierError(error) ? error.code : 'INTERNAL'}`),
        );
        logger.error('plugin packages not removed on this process', { packages: gone, error: String(error) });
      }
    }
    if (summary.installed.length + summary.removed.length + summary.failed.length > 0)
      logger.info('plugin packages synced', { ...summary });
    return summary;
  });
}

/** Options of {@link PluginPackageSync}. */
export interface PluginPackageSyncOptions {
  readonly db: Kysely<Database>;
  /** Connection string for the LISTEN connection. */
  readonly url: string;
  readonly config: AtelierConfig;
  /** The live registry (to tell whether a plan's versions are here). */
  readonly registry: PluginRegistry;
  /** Reloads the registry from the folder (PluginReloader.reload); resolves when done. */
  readonly reload: (reason: string) => Promise<unknown>;
  readonly logger?: Logger;
  /** Wait after a failed sync before trying again. @default 5000 */
  readonly retryMs?: number;
}

/**
 * Keeps a long-running process (`serve`, `worker`) in step with the cluster's plugin packages:
 * listens on PLUGIN_PACKAGES_CHANNEL and, on each change (and after a reconnect), syncs the folder
 * ({@link syncPluginPackages}) and reloads the plugins. Syncs run one at a time; a change that
 * arrives during one runs another after it.
 *
 * @example
 * const sync = new PluginPackageSync({ db, url, config, registry, reload: (why) => reloader.reload(why) });
 * await sync.start();
 */
export class PluginPackageSync {
  readonly #o: PluginPackageSyncOptions;
  readonly #logger: Logger;
  readonly #listener: JobEventListener;
  #running: Promise<PluginSyncSummary> | undefined;
  #again = false;
  #retry: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: PluginPackageSyncOptions) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
    this.#listener = new JobEventListener(options.url, this.#logger, ['packages']);
  }

  /** Listens for changes (the folder itself is synced before the registry loads: see openRoot). */
  async start(): Promise<void> {
    this.#listener.on('packages', () => void this.sync());
    this.#listener.on('reconnect', () => void this.sync());
    await this.#listener.start();
    // A change between the start-up sync and LISTEN would be missed otherwise.
    await this.sync();
  }

  /**
   * Syncs now, then reloads the plugins when the folder changed; a call during a sync runs one more
   * after it (and resolves with that one's summary).
   */
  sync(): Promise<PluginSyncSummary> {
    if (this.#running) {
      // The running sync loops once more, and its promise resolves after that pass.
      this.#again = true;
      return this.#running;
    }
    const run = (async (): Promise<PluginSyncSummary> => {
      let summary: PluginSyncSummary = { installed: [], removed: [], failed: [] };
      do {
        this.#again = false;
        try {
          summary = await syncPluginPackages({
            db: this.#o.db,
            config: this.#o.config,
            logger: this.#logger,
          });
          if (summary.installed.length + summary.removed.length > 0) await this.#o.reload('plugin packages');
          if (summary.failed.length > 0) this.#retryLater();
        } catch (error) {
          this.#logger.warn('plugin packages sync failed; retrying', { error: String(error) });
          this.#retryLater();
        }
      } while (this.#again && !this.#closed);
      return summary;
    })();
    this.#running = run;
    void run.finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    return run;
  }

  #retryLater(): void {
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      void this.sync();
    }, this.#o.retryMs ?? 5000);
    this.#retry.unref();
  }

  /**
   * Before a job runs: when its plan names a plugin version this process does not have, syncs (the
   * worker may have taken the job before the change's notification arrived) and reloads. The
   * engine then runs the plan, or refuses it with `PLUGIN_VERSION_MISMATCH` / `PLUGIN_NOT_FOUND`
   * when the cluster's active version is still another.
   */
  async preparePlan(plan: Plan): Promise<void> {
    const missing = (): boolean =>
      plan.steps.some((step) => {
        if (!this.#o.registry.has(step.plugin)) return true;
        return this.#o.registry.get(step.plugin).version !== step.version;
      });
    if (!missing()) return;
    await this.sync();
    if (missing()) {
      const step = plan.steps.find(
        (s) => !this.#o.registry.has(s.plugin) || this.#o.registry.get(s.plugin).version !== s.version,
      )!;
      const installed = this.#o.registry.has(step.plugin)
        ? this.#o.registry.get(step.plugin).version
        : undefined;
      throw installed === undefined
        ? new AtelierError(
            'PLUGIN_NOT_FOUND',
            `The plan needs ${step.plugin}@${step.version}, but no installed package provides ${step.plugin} (uninstalled?).`,
            { details: { plugin: step.plugin, requested: step.version } },
          )
        : new AtelierError(
            'PLUGIN_VERSION_MISMATCH',
            `The plan needs ${step.plugin}@${step.version}, but ${installed} is installed; the job was planned before an upgrade. Create it again to run it on ${installed}.`,
            { details: { plugin: step.plugin, requested: step.version, installed } },
          );
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    await this.#listener.close();
    await this.#running?.catch(() => {});
  }
}
