// Watching what plugins are made of: the plugins folder (always, for a running serve) and, in
// development mode, the plugin code itself. PluginReloader turns a change into a reloaded registry
// and fresh engine threads; `apply --dev` and `bench --dev` wait for a change and run again.
import { existsSync, watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { createHash } from 'node:crypto';
import { mkdir, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '@atelier/core';
import type { Engine, Logger, PluginRegistry, PluginReplaceSummary } from '@atelier/core';
import type { AtelierConfig } from './config.ts';
import { WATCHED_FILES, pluginsFolderFingerprint, pluginsFolderHolder } from './plugins-folder.ts';
import { createRegistry } from './runtime.ts';
import { isDirectory } from './file-kind.ts';

/** The nearest directory at or above `dir` with a package.json; `dir` itself when there is none. */
function packageRoot(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) return dir;
  }
}

/**
 * The directories whose files are plugin code a developer edits: the local plugin directory, and
 * the package of each third-party plugin that does not live in a `node_modules` (a `--link`ed
 * package, a workspace package). Installed copies change only through the plugins folder.
 */
export async function pluginCodeDirs(config: AtelierConfig, registry: PluginRegistry): Promise<string[]> {
  const dirs = new Set<string>();
  const local = (await isDirectory(config.pluginDir)) ? await realpath(config.pluginDir) : undefined;
  if (local) dirs.add(local);
  for (const info of registry.list({ includeDisabled: true })) {
    if (info.builtin || !info.module.startsWith('file:')) continue;
    const url = new URL(info.module);
    url.search = '';
    const file = await realpath(fileURLToPath(url)).catch(() => undefined);
    if (!file || file.split(path.sep).includes('node_modules')) continue;
    // A file of the local plugin directory is watched with it (its package.json may be far above).
    if (local && file.startsWith(local + path.sep)) continue;
    dirs.add(packageRoot(path.dirname(file)));
  }
  // A directory inside another watched one is watched through it.
  const sorted = [...dirs].sort();
  return sorted.filter((d) => !sorted.some((o) => o !== d && d.startsWith(o + path.sep)));
}

/** Files that change without being code: editors' swap files, dot-directories, installed deps. */
function ignored(relative: string): boolean {
  return relative
    .split(/[\\/]/)
    .some((part) => part === 'node_modules' || part.startsWith('.') || part.endsWith('~'));
}

/**
 * What the code under `dirs` is now: a hash of every file's path, size and modification time
 * (`node_modules` and dot-entries left out), and the newest modification time. Events that change
 * neither (fs.watch reports some spuriously, e.g. when it starts) are not changes.
 */
async function codeState(dirs: readonly string[]): Promise<{ hash: string; newestMs: number }> {
  const hash = createHash('sha256');
  let newestMs = 0;
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (ignored(entry.name)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        const info = await stat(full).catch(() => undefined);
        if (!info) continue;
        hash.update(`${full}\0${info.size}\0${info.mtimeMs}\n`);
        newestMs = Math.max(newestMs, info.mtimeMs);
      }
    }
  };
  for (const dir of dirs) await walk(dir);
  return { hash: hash.digest('hex'), newestMs };
}

/** Options of {@link PluginWatcher}. */
export interface PluginWatcherOptions {
  readonly config: AtelierConfig;
  /** Also watch plugin code ({@link pluginCodeDirs}): development mode. @default false */
  readonly code?: boolean;
  /** Called once a burst of changes has settled; `reason` says what changed. */
  readonly onChange: (reason: 'plugins folder' | 'plugin code') => void;
  /** Quiet time after the last change before `onChange`. @default 300 */
  readonly debounceMs?: number;
  /**
   * A time (ms since the epoch) from which changes count even when they came before the watcher
   * started: a run that began then used the code as it was (`apply --dev` between runs).
   * @default changes from the start of watching only
   */
  readonly since?: number;
  readonly logger?: Logger;
}

/**
 * Watches the plugins folder (its `package.json`, lockfile and revision marker: not while an
 * `atelier plugins` command holds it, and not when a failed `add` put it back as it was) and, with
 * `code`, the plugin code directories; announces each settled change once. Uses `fs.watch`
 * (recursive directories on Linux need Node ≥ 20; Atelier runs on 24).
 *
 * @example
 * const watcher = new PluginWatcher({ config, code: true, onChange: (why) => reload(why) });
 * await watcher.start(registry);
 */
export class PluginWatcher {
  readonly #o: PluginWatcherOptions;
  readonly #logger: Logger;
  #folderWatcher: FSWatcher | undefined;
  readonly #codeWatchers = new Map<string, FSWatcher[]>();
  #fingerprint: string | undefined;
  #code: { hash: string; newestMs: number } = { hash: '', newestMs: 0 };
  #timer: NodeJS.Timeout | undefined;
  #folderDirty = false;
  #codeDirty = false;
  #closed = false;

  constructor(options: PluginWatcherOptions) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Starts watching: the folder (created if missing) and, with `code`, `registry`'s code dirs. */
  async start(registry: PluginRegistry): Promise<void> {
    const folder = this.#o.config.pluginsFolder;
    await mkdir(folder, { recursive: true });
    this.#fingerprint = await pluginsFolderFingerprint(folder);
    this.#folderWatcher = watch(folder, (_event, name) => {
      if (name !== null && WATCHED_FILES.has(name)) this.#touch('folder');
    });
    this.#folderWatcher.on('error', (error) =>
      this.#logger.warn('cannot watch the plugins folder', { folder, error: String(error) }),
    );
    if (this.#o.code) await this.watchCode(registry);
    const since = this.#o.since;
    if (since !== undefined && this.#code.newestMs > since) this.#touch('code', true);
  }

  /** Watches the code dirs of `registry` (after a reload: a new linked package, one gone). */
  async watchCode(registry: PluginRegistry): Promise<void> {
    if (!this.#o.code || this.#closed) return;
    const dirs = new Set(await pluginCodeDirs(this.#o.config, registry));
    for (const [dir, watchers] of this.#codeWatchers) {
      if (dirs.has(dir)) continue;
      for (const watcher of watchers) watcher.close();
      this.#codeWatchers.delete(dir);
    }
    for (const dir of dirs) {
      if (this.#codeWatchers.has(dir)) continue;
      // The directory's own files, then each sub-directory recursively, but never node_modules or
      // dot-directories: a recursive watch would put a watch on every directory of those (a
      // plugin's node_modules holds thousands), however its events are filtered.
      const watchers: FSWatcher[] = [];
      const add = (target: string, recursive: boolean): void => {
        const watcher = watch(target, { recursive }, (_event, name) => {
          if (name === null || !ignored(name)) this.#touch('code');
        });
        watcher.on('error', (error) =>
          this.#logger.warn('cannot watch plugin code', { dir: target, error: String(error) }),
        );
        watchers.push(watcher);
      };
      add(dir, false);
      for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => []))
        if (entry.isDirectory() && !ignored(entry.name)) add(path.join(dir, entry.name), true);
      this.#codeWatchers.set(dir, watchers);
    }
    this.#code = await codeState([...dirs]);
    this.#logger.debug('watching plugin code', { dirs: [...dirs] });
  }

  /** The directories watched for code changes. */
  get codeDirs(): string[] {
    return [...this.#codeWatchers.keys()];
  }

  #forced = false;

  #touch(what: 'folder' | 'code', forced = false): void {
    if (this.#closed) return;
    if (what === 'folder') this.#folderDirty = true;
    else this.#codeDirty = true;
    this.#forced ||= forced;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#settle(), this.#o.debounceMs ?? 300);
  }

  async #settle(): Promise<void> {
    const folder = this.#o.config.pluginsFolder;
    try {
      // An `atelier plugins` command is mid-way: its release of the folder is the next change.
      if (this.#folderDirty && (await pluginsFolderHolder(folder)) !== undefined) return;
      let reason: 'plugins folder' | 'plugin code' | undefined;
      if (this.#folderDirty) {
        this.#folderDirty = false;
        const fingerprint = await pluginsFolderFingerprint(folder);
        if (fingerprint !== this.#fingerprint) {
          this.#fingerprint = fingerprint;
          reason = 'plugins folder';
        }
      }
      if (this.#codeDirty) {
        this.#codeDirty = false;
        const code = await codeState(this.codeDirs);
        if (code.hash !== this.#code.hash || this.#forced) reason ??= 'plugin code';
        this.#code = code;
        this.#forced = false;
      }
      if (reason && !this.#closed) this.#o.onChange(reason);
    } catch (error) {
      this.#logger.warn('cannot read the plugins folder', { folder, error: String(error) });
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#folderWatcher?.close();
    for (const watchers of this.#codeWatchers.values()) for (const watcher of watchers) watcher.close();
    this.#codeWatchers.clear();
  }
}

/**
 * Resolves at the next settled change of the plugins folder or of `registry`'s plugin code (what
 * `apply --dev` and `bench --dev` wait for between runs); with `since`, code changed after that
 * time counts even if it changed before this call.
 */
export async function nextPluginChange(
  config: AtelierConfig,
  registry: PluginRegistry,
  options: { readonly since?: number; readonly logger?: Logger } = {},
): Promise<'plugins folder' | 'plugin code'> {
  const { since, logger } = options;
  let watcher: PluginWatcher | undefined;
  try {
    return await new Promise((resolve, reject) => {
      watcher = new PluginWatcher({
        config,
        code: true,
        onChange: resolve,
        ...(since === undefined ? {} : { since }),
        ...(logger ? { logger } : {}),
      });
      watcher.start(registry).catch(reject);
    });
  } finally {
    watcher?.close();
  }
}

/** Options of {@link PluginReloader}. */
export interface PluginReloaderOptions {
  readonly config: AtelierConfig;
  /** The registry every service holds: its third-party part is replaced in place. */
  readonly registry: PluginRegistry;
  /** Gets fresh threads after each reload, so workers run the new code. */
  readonly engine: Engine;
  /**
   * Runs on the freshly loaded registry before it replaces the live one: applies administrators'
   * stored state (enabled, defaults) to plugins that are new. @default nothing
   */
  readonly prepare?: (fresh: PluginRegistry) => Promise<void>;
  readonly logger?: Logger;
}

/**
 * Keeps a long-running process's plugins in step with the disk: when the plugins folder changes
 * (and, in development mode, when plugin code changes), loads the third-party plugins afresh,
 * swaps them into the live registry ({@link PluginRegistry.replacePlugins}: listeners, the styles
 * list's revision, enabled state all follow) and restarts the engine's threads (runs in progress
 * finish on the old ones). Reloads run one at a time; a failed reload keeps the plugins as they were.
 *
 * @example
 * const reloader = new PluginReloader({ config, registry, engine, logger });
 * await reloader.start();
 */
export class PluginReloader {
  readonly #o: PluginReloaderOptions;
  readonly #logger: Logger;
  readonly #watcher: PluginWatcher;
  #revision = 0;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: PluginReloaderOptions) {
    this.#o = options;
    this.#logger = options.logger ?? silentLogger;
    this.#watcher = new PluginWatcher({
      config: options.config,
      code: options.config.dev,
      logger: this.#logger,
      onChange: (reason) => void this.reload(reason),
    });
  }

  async start(): Promise<void> {
    await this.#watcher.start(this.#o.registry);
    this.#logger.info('watching plugins', {
      folder: this.#o.config.pluginsFolder,
      ...(this.#o.config.dev ? { dev: true, code: this.#watcher.codeDirs } : {}),
    });
  }

  /** Reloads now (after the reloads already queued). Resolves with what changed, or undefined on failure. */
  reload(reason: string): Promise<PluginReplaceSummary | undefined> {
    const next = this.#queue.then(() => this.#reload(reason));
    this.#queue = next;
    return next;
  }

  async #reload(reason: string): Promise<PluginReplaceSummary | undefined> {
    const { config, registry, engine } = this.#o;
    const revision = ++this.#revision;
    this.#logger.info('plugins: reloading', { reason, revision });
    try {
      const fresh = await createRegistry(config, { logger: this.#logger, revision, neverThrow: true });
      await this.#o.prepare?.(fresh);
      const summary = registry.replacePlugins(fresh);
      void engine.restartThreads();
      await this.#watcher.watchCode(registry);
      this.#logger.info('plugins reloaded', {
        reason,
        revision,
        added: summary.added,
        removed: summary.removed,
        replaced: summary.replaced,
        failed: registry.failures().map((f) => `${f.plugin ?? f.source}: ${f.code}`),
      });
      return summary;
    } catch (error) {
      this.#logger.error('plugin reload failed; the plugins loaded before stay', {
        reason,
        error: error instanceof Error ? error.message : String(error),
      });
      return undefined;
    }
  }

  /** Stops watching and waits for a reload in progress. */
  async close(): Promise<void> {
    this.#watcher.close();
    await this.#queue.catch(() => {});
  }
}
