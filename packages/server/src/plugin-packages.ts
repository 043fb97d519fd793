// Plugin packages installed for a whole cluster (docs/operations.md, "Installing and upgrading
// plugins on a cluster"). Postgres is the source of truth: `plugin_packages` keeps each version's
// tarball and sha512 integrity, one version per package active. An install validates the package
// by installing it into this process's plugins folder exactly as `atelier plugins add` does (pnpm,
// then loading every plugin as serve will), records it, and announces it on
// PLUGIN_PACKAGES_CHANNEL; every API and worker process then brings its own folder (a local cache)
// in step (plugin-package-sync.ts) and reloads its plugins without a restart.
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import type { Kysely } from 'kysely';
import semver from 'semver';
import { Parser } from 'tar';
import type { ReadEntry } from 'tar';
import { AtelierError, isAtelierError, silentLogger } from '@atelier/core';
import type { Logger } from '@atelier/core';
import type { Database, PluginPackageSource } from '@atelier/db';
import { PLUGIN_PACKAGES_CHANNEL } from '@atelier/jobs';
import { audit } from './audit.ts';
import type { Actor } from './audit.ts';
import { addPluginPackages, removePlugins } from './cli-plugins.ts';
import type { PluginsCommandIo } from './cli-plugins.ts';
import type { AtelierConfig } from './config.ts';
import { CORE_PACKAGE, readPluginsManifest } from './plugins-folder.ts';

/** The largest plugin tarball accepted (50 MiB): bigger is `PLUGIN_PACKAGE_INVALID`. */
export const PLUGIN_PACKAGE_MAX_BYTES = 50 * 1024 * 1024;

/** `sha512-<base64>` of `bytes`: the Subresource Integrity form npm's `dist.integrity` uses. */
export function integrityOf(bytes: Uint8Array): string {
  return `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
}

/**
 * The sha512 hashes of an integrity string (SRI: space-separated `algo-base64` entries; npm may
 * list sha1 and sha512 both). Only sha512 counts: sha1 alone is no proof.
 */
function sha512Of(integrity: string): string[] {
  return integrity
    .trim()
    .split(/\s+/)
    .filter((entry) => entry.startsWith('sha512-'))
    .map((entry) => entry.replace(/\?.*$/, ''));
}

/** Whether `bytes` match `integrity` (one of its sha512 entries). */
export function matchesIntegrity(bytes: Uint8Array, integrity: string): boolean {
  return sha512Of(integrity).includes(integrityOf(bytes));
}

/** npm's rule for package names (validate-npm-package-name, new packages): lower case, URL-safe. */
const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

const invalid = (message: string, details: Record<string, unknown> = {}): AtelierError =>
  new AtelierError('PLUGIN_PACKAGE_INVALID', `${message} Nothing was installed.`, { details });

/** A package's name and version, from the `package/package.json` of its tarball. */
export interface TarballManifest {
  readonly name: string;
  readonly version: string;
}

/**
 * Reads `package.json` from an npm tarball (gzipped tar; npm and pnpm put the package under
 * `package/`, a few old tools under another single top directory). Throws `PLUGIN_PACKAGE_INVALID`
 * when it is not a tarball, has no package.json, or its name or version is not valid.
 */
export async function readTarballManifest(bytes: Uint8Array): Promise<TarballManifest> {
  if (bytes.length === 0) throw invalid('The package is empty.');
  if (bytes.length > PLUGIN_PACKAGE_MAX_BYTES) {
    throw invalid(`The package is ${bytes.length} bytes; the limit is ${PLUGIN_PACKAGE_MAX_BYTES} bytes.`, {
      bytes: bytes.length,
      limit: PLUGIN_PACKAGE_MAX_BYTES,
    });
  }
  let text: string | undefined;
  let entries = 0;
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        entries++;
        // `package/package.json`: exactly one directory deep.
        if (text === undefined && /^[^/]+\/package\.json$/.test(entry.path) && entry.type === 'File') {
          const chunks: Buffer[] = [];
          entry.on('data', (chunk: Buffer) => chunks.push(chunk));
          entry.on('end', () => (text = Buffer.concat(chunks).toString('utf8')));
        } else entry.resume();
      },
    });
    parser.on('error', (error: Error) =>
      reject(invalid(`The upload is not a package tarball: ${error.message}.`)),
    );
    parser.on('end', () => resolve());
    parser.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
  if (entries === 0) throw invalid('The upload is not a package tarball (a gzipped tar from `npm pack`).');
  if (text === undefined) throw invalid('The tarball has no package/package.json.');
  let manifest: { name?: unknown; version?: unknown };
  try {
    manifest = JSON.parse(text) as typeof manifest;
  } catch (error) {
    throw invalid(`The tarball's package.json is not valid JSON: ${(error as Error).message}.`);
  }
  const { name, version } = manifest;
  if (typeof name !== 'string' || !PACKAGE_NAME.test(name) || name.length > 214)
    throw invalid(`The package's name ${JSON.stringify(name)} is not a valid npm package name.`);
  if (name === CORE_PACKAGE) throw invalid(`${CORE_PACKAGE} is the SDK, not a plugin package.`);
  if (typeof version !== 'string' || semver.valid(version) !== version)
    throw invalid(`The package's version ${JSON.stringify(version)} is not a valid semver version.`);
  return { name, version };
}

/** One installed version of a plugin package, as administrators see it. */
export interface PluginPackageInfo {
  readonly name: string;
  readonly version: string;
  readonly integrity: string;
  readonly size: number;
  readonly plugins: readonly string[];
  readonly source: PluginPackageSource;
  readonly origin: string | null;
  /** The administrator's email (null: the CLI, or an account since deleted). */
  readonly installedBy: string | null;
  readonly installedAt: string;
  readonly active: boolean;
  readonly deactivatedAt: string | null;
}

/** What an install did. */
export interface PluginInstallResult {
  readonly action: 'install' | 'upgrade' | 'reinstall';
  readonly name: string;
  readonly version: string;
  readonly integrity: string;
  readonly plugins: readonly string[];
  /** The version that was active before, when another. */
  readonly previousVersion: string | null;
}

/** What an uninstall did. */
export interface PluginUninstallResult {
  readonly name: string;
  readonly version: string;
  readonly plugins: readonly string[];
  /** Queued and running jobs that needed it (with `force`: they fail `PLUGIN_NOT_FOUND` when they run). */
  readonly jobs: { readonly queued: number; readonly running: number };
  readonly forced: boolean;
}

/** How an install or uninstall was asked for, for the audit log. */
export type PluginPackageVia = 'api' | 'cli';

/** A stream that keeps the last few kilobytes of pnpm's output, for the log. */
function tail(): Writable & { text(): string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text = (text + chunk.toString()).slice(-4000);
      done();
    },
  });
  return Object.assign(stream, { text: () => text });
}

let folderQueue: Promise<unknown> = Promise.resolve();

/**
 * Runs `task` when no other change of a plugins folder by this process is in progress (the
 * folder's own lock refuses a second holder, even in the same process). Other processes sharing
 * the folder are kept out by that lock.
 */
export function withPluginsFolder<T>(task: () => Promise<T>): Promise<T> {
  const next = folderQueue.then(task, task);
  folderQueue = next.catch(() => {});
  return next;
}

/**
 * Installs `bytes` (a package tarball) into the plugins folder of `config` as `atelier plugins add`
 * does, checking the bytes against `integrity` first. Returns the plugin ids the package provides.
 * On failure the folder is as it was and the coded error is thrown.
 */
export async function installTarballLocally(
  config: AtelierConfig,
  args: {
    readonly bytes: Uint8Array;
    readonly name: string;
    readonly version: string;
    readonly integrity: string;
  },
  io: PluginsCommandIo,
): Promise<readonly string[]> {
  if (!matchesIntegrity(args.bytes, args.integrity)) {
    throw new AtelierError(
      'PLUGIN_INTEGRITY_MISMATCH',
      `The tarball of ${args.name}@${args.version} does not match its recorded integrity ${args.integrity}.`,
      {
        details: {
          package: args.name,
          version: args.version,
          expected: args.integrity,
          actual: integrityOf(args.bytes),
        },
      },
    );
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'atelier-plugin-package-'));
  try {
    const file = path.join(dir, `${args.name.replace(/^@/, '').replace('/', '-')}-${args.version}.tgz`);
    await writeFile(file, args.bytes);
    const { provided } = await addPluginPackages(config, [file], { requirePlugins: true }, io);
    return provided.get(args.name) ?? [];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Options of {@link PluginPackageService}. */
export interface PluginPackageServiceOptions {
  readonly db: Kysely<Database>;
  readonly config: AtelierConfig;
  readonly logger?: Logger;
  /**
   * The npm registry `name@version` installs ask: `ATELIER_NPM_REGISTRY`, else npm's configured
   * registry (`npm_config_registry`), else https://registry.npmjs.org/.
   */
  readonly registryUrl?: string;
}

/**
 * Installs, upgrades and uninstalls plugin packages for the cluster: validates in this process's
 * plugins folder, records in `plugin_packages` (with the tarball), audits, and announces the change
 * on {@link PLUGIN_PACKAGES_CHANNEL} in the same transaction.
 *
 * @example
 * const packages = new PluginPackageService({ db, config });
 * await packages.install({ bytes, source: 'upload', actor, via: 'api' });
 */
export class PluginPackageService {
  readonly #db: Kysely<Database>;
  readonly #config: AtelierConfig;
  readonly #logger: Logger;
  readonly #registryUrl: string;

  constructor(options: PluginPackageServiceOptions) {
    this.#db = options.db;
    this.#config = options.config;
    this.#logger = options.logger ?? silentLogger;
    this.#registryUrl = options.registryUrl ?? npmRegistryUrl(options.config.env);
  }

  /** The npm registry `name@version` installs use. */
  get registryUrl(): string {
    return this.#registryUrl;
  }

  /**
   * Installs a package tarball for the cluster (a new package, another version of one: an upgrade,
   * or the active version again: a reinstall). `integrity`, when given (a registry's
   * `dist.integrity`), must match the bytes. Throws `PLUGIN_PACKAGE_INVALID`,
   * `PLUGIN_INTEGRITY_MISMATCH`, or the plugin's own load error (`PLUGIN_ENGINE_MISMATCH`, ...);
   * a failure leaves no row, no audit entry and the plugins folder as it was.
   */
  async install(args: {
    readonly bytes: Uint8Array;
    readonly source: PluginPackageSource;
    readonly origin?: string;
    readonly integrity?: string;
    readonly actor: Actor | null;
    readonly via: PluginPackageVia;
    /** Where pnpm's output and the plugins added go (the CLI's terminal). @default the log, on failure */
    readonly io?: PluginsCommandIo;
  }): Promise<PluginInstallResult> {
    const { bytes } = args;
    const { name, version } = await readTarballManifest(bytes);
    const integrity = integrityOf(bytes);
    if (args.integrity !== undefined && !matchesIntegrity(bytes, args.integrity)) {
      throw new AtelierError(
        'PLUGIN_INTEGRITY_MISMATCH',
        `The tarball of ${name}@${version} is ${integrity}, but the registry says ${args.integrity}. Nothing was installed.`,
        { details: { package: name, version, expected: args.integrity, actual: integrity } },
      );
    }
    return withPluginsFolder(() =>
      this.#db.transaction().execute(async (trx) => {
        // One change of the cluster's packages at a time, on every process.
        await sql`select pg_advisory_xact_lock(hashtext(${PLUGIN_PACKAGES_CHANNEL}))`.execute(trx);
        const same = await trx
          .selectFrom('plugin_packages')
          .select(['integrity'])
          .where('name', '=', name)
          .where('version', '=', version)
          .executeTakeFirst();
        if (same && same.integrity !== integrity) {
          throw invalid(
            `${name}@${version} is already recorded with other bytes (${same.integrity}); a published version never changes: give the new build another version.`,
            { package: name, version, recorded: same.integrity, uploaded: integrity },
          );
        }
        const previous = await trx
          .selectFrom('plugin_packages')
          .select(['version', 'integrity'])
          .where('name', '=', name)
          .where('active', '=', true)
          .executeTakeFirst();
        const io = tail();
        let plugins: readonly string[];
        try {
          plugins = await installTarballLocally(
            this.#config,
            { bytes, name, version, integrity },
            args.io ?? { stdout: io, stderr: io },
          );
        } catch (error) {
          this.#logger.warn('plugin package refused', {
            package: name,
            version,
            code: isAtelierError(error) ? error.code : undefined,
            pnpm: io.text().slice(-1000),
          });
          throw error;
        }
        try {
          await trx
            .updateTable('plugin_packages')
            .set({ active: false, deactivated_at: new Date() })
            .where('name', '=', name)
            .where('active', '=', true)
            .where('version', '!=', version)
            .execute();
          if (same) {
            await trx
              .updateTable('plugin_packages')
              .set({ active: true, deactivated_at: null, plugins: [...plugins] })
              .where('name', '=', name)
              .where('version', '=', version)
              .execute();
          } else {
            await trx
              .insertInto('plugin_packages')
              .values({
                name,
                version,
                integrity,
                tarball: bytes,
                size: bytes.length,
                plugins: [...plugins],
                source: args.source,
                origin: args.origin ?? null,
                installed_by: args.actor?.id ?? null,
                active: true,
              })
              .execute();
          }
          const action =
            previous === undefined ? 'install' : previous.version === version ? 'reinstall' : 'upgrade';
          await audit(
            trx,
            args.actor,
            `plugin.${action}`,
            { type: 'plugin-package', id: name },
            {
              package: name,
              version,
              integrity,
              plugins,
              source: args.source,
              ...(args.origin ? { origin: args.origin } : {}),
              ...(previous && previous.version !== version ? { previousVersion: previous.version } : {}),
              via: args.via,
            },
          );
          await sql`select pg_notify(${PLUGIN_PACKAGES_CHANNEL}, ${name})`.execute(trx);
          return {
            action,
            name,
            version,
            integrity,
            plugins,
            previousVersion: previous && previous.version !== version ? previous.version : null,
          } satisfies PluginInstallResult;
        } catch (error) {
          // The row could not be written: put the folder back to what the database says.
          await this.#putBack(trx, name, previous).catch((e: unknown) =>
            this.#logger.error('could not put the plugins folder back; the next sync will', {
              package: name,
              error: String(e),
            }),
          );
          throw error;
        }
      }),
    );
  }

  async #putBack(
    db: Kysely<Database>,
    name: string,
    previous: { version: string; integrity: string } | undefined,
  ): Promise<void> {
    const io = tail();
    if (!previous) {
      await removePlugins(this.#config, [name], { stdout: io, stderr: io });
      return;
    }
    const row = await db
      .selectFrom('plugin_packages')
      .select(['tarball', 'integrity'])
      .where('name', '=', name)
      .where('version', '=', previous.version)
      .executeTakeFirstOrThrow();
    await installTarballLocally(
      this.#config,
      { bytes: row.tarball, name, version: previous.version, integrity: row.integrity },
      { stdout: io, stderr: io },
    );
  }

  /**
   * Installs `name@version` (or a dist-tag, `name@latest`; `name` alone means latest) from the npm
   * registry: reads the packument, downloads the tarball, checks it against the registry's
   * `dist.integrity` (`PLUGIN_INTEGRITY_MISMATCH`), then {@link install}s it.
   */
  async installFromRegistry(args: {
    readonly spec: string;
    readonly actor: Actor | null;
    readonly via: PluginPackageVia;
    readonly io?: PluginsCommandIo;
  }): Promise<PluginInstallResult> {
    const { tarball, integrity, url } = await fetchFromRegistry(this.#registryUrl, args.spec);
    return this.install({
      bytes: tarball,
      integrity,
      source: 'registry',
      origin: url,
      actor: args.actor,
      via: args.via,
      ...(args.io ? { io: args.io } : {}),
    });
  }

  /** Queued and running jobs whose plans use one of `plugins` at `version`. */
  async jobsNeeding(
    plugins: readonly string[],
    version: string,
  ): Promise<{ queued: number; running: number }> {
    if (plugins.length === 0) return { queued: 0, running: 0 };
    const rows = await this.#db
      .selectFrom('jobs')
      .select(['status', (eb) => eb.fn.countAll<string>().as('n')])
      .where('status', 'in', ['queued', 'running'])
      .where((eb) =>
        eb.or(
          plugins.map(
            (plugin) => sql<boolean>`plan->'steps' @> ${JSON.stringify([{ plugin, version }])}::jsonb`,
          ),
        ),
      )
      .groupBy('status')
      .execute();
    const count = (status: string): number => Number(rows.find((r) => r.status === status)?.n ?? 0);
    return { queued: count('queued'), running: count('running') };
  }

  /**
   * Uninstalls a package from the cluster: refused with `PLUGIN_IN_USE` while queued or running jobs
   * need its active version, unless `force` (those jobs then fail with `PLUGIN_NOT_FOUND` when a
   * worker takes them; one already running finishes). The rows stay (inactive) as history; every
   * process removes the package from its folder. `PLUGIN_NOT_FOUND` when no version is active.
   */
  async uninstall(args: {
    readonly name: string;
    readonly force?: boolean;
    readonly actor: Actor | null;
    readonly via: PluginPackageVia;
    /** Where pnpm's output and the plugins removed go (the CLI's terminal). */
    readonly io?: PluginsCommandIo;
  }): Promise<PluginUninstallResult> {
    const { name } = args;
    const forced = args.force ?? false;
    return withPluginsFolder(() =>
      this.#db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(hashtext(${PLUGIN_PACKAGES_CHANNEL}))`.execute(trx);
        const row = await trx
          .selectFrom('plugin_packages')
          .select(['version', 'integrity', 'plugins'])
          .where('name', '=', name)
          .where('active', '=', true)
          .executeTakeFirst();
        if (!row) {
          throw new AtelierError(
            'PLUGIN_NOT_FOUND',
            `No plugin package "${name}" is installed on the cluster; the admin list of plugin packages shows them.`,
            { details: { package: name } },
          );
        }
        const jobs = await this.jobsNeeding(row.plugins, row.version);
        if (jobs.queued + jobs.running > 0 && !forced) {
          throw new AtelierError(
            'PLUGIN_IN_USE',
            `${name}@${row.version} is needed by ${jobs.queued} queued and ${jobs.running} running job(s); wait for them, cancel them, or uninstall with force (they then fail with PLUGIN_NOT_FOUND).`,
            { details: { package: name, version: row.version, ...jobs } },
          );
        }
        await trx
          .updateTable('plugin_packages')
          .set({ active: false, deactivated_at: new Date() })
          .where('name', '=', name)
          .where('active', '=', true)
          .execute();
        await audit(
          trx,
          args.actor,
          'plugin.uninstall',
          { type: 'plugin-package', id: name },
          {
            package: name,
            version: row.version,
            integrity: row.integrity,
            plugins: row.plugins,
            forced,
            jobs,
            via: args.via,
          },
        );
        // This process's folder first (a failure rolls the uninstall back); the others on the
        // notification, sent at commit.
        const deps = (await readPluginsManifest(this.#config.pluginsFolder))?.dependencies ?? {};
        if (name in deps) {
          const io = tail();
          await removePlugins(this.#config, [name], args.io ?? { stdout: io, stderr: io });
        }
        await sql`select pg_notify(${PLUGIN_PACKAGES_CHANNEL}, ${name})`.execute(trx);
        return { name, version: row.version, plugins: row.plugins, jobs, forced };
      }),
    );
  }

  /** Whether `name` was ever recorded for the cluster (installed, active or not). */
  async isRecorded(name: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('plugin_packages')
      .select('name')
      .where('name', '=', name)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** Every recorded version of every package, the active ones first, newest install first. */
  async list(options: { readonly includeInactive?: boolean } = {}): Promise<PluginPackageInfo[]> {
    let query = this.#db
      .selectFrom('plugin_packages as p')
      .leftJoin('users as u', 'u.id', 'p.installed_by')
      .select([
        'p.name',
        'p.version',
        'p.integrity',
        'p.size',
        'p.plugins',
        'p.source',
        'p.origin',
        'u.email',
        'p.installed_at',
        'p.active',
        'p.deactivated_at',
      ])
      .orderBy('p.name')
      .orderBy('p.active', 'desc')
      .orderBy('p.installed_at', 'desc');
    if (!options.includeInactive) query = query.where('p.active', '=', true);
    const rows = await query.execute();
    return rows.map((r) => ({
      name: r.name,
      version: r.version,
      integrity: r.integrity,
      size: r.size,
      plugins: r.plugins,
      source: r.source,
      origin: r.origin,
      installedBy: r.email,
      installedAt: r.installed_at.toISOString(),
      active: r.active,
      deactivatedAt: r.deactivated_at?.toISOString() ?? null,
    }));
  }
}

/** `ATELIER_NPM_REGISTRY`, else npm's `npm_config_registry`, else the public registry; ends with `/`. */
export function npmRegistryUrl(
  env: NodeJS.ProcessEnv | Readonly<Record<string, string | undefined>>,
): string {
  const url = env['ATELIER_NPM_REGISTRY'] || env['npm_config_registry'] || 'https://registry.npmjs.org/';
  return url.endsWith('/') ? url : `${url}/`;
}

/** How long one registry request may take. */
const REGISTRY_TIMEOUT_MS = 60_000;

/**
 * Resolves `name@version` (or `name@tag`, `name`) against an npm registry and downloads its
 * tarball: the registry protocol's packument (`GET <registry>/<name>`), `versions[v].dist`.
 */
export async function fetchFromRegistry(
  registryUrl: string,
  spec: string,
): Promise<{ name: string; version: string; tarball: Uint8Array; integrity: string; url: string }> {
  const at = spec.lastIndexOf('@');
  const [name, wanted] = at > 0 ? [spec.slice(0, at), spec.slice(at + 1)] : [spec, 'latest'];
  if (!PACKAGE_NAME.test(name)) throw invalid(`"${spec}" is not name@version (an npm package name).`);
  const get = async (url: string, accept: string): Promise<Response> => {
    let response: Response;
    try {
      response = await fetch(url, { headers: { accept }, signal: AbortSignal.timeout(REGISTRY_TIMEOUT_MS) });
    } catch (error) {
      throw new AtelierError(
        'PLUGIN_INSTALL_FAILED',
        `Cannot reach the npm registry at ${url}: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    return response;
  };
  const packumentUrl = new URL(name.replace('/', '%2f'), registryUrl).href;
  const response = await get(packumentUrl, 'application/json');
  if (response.status === 404)
    throw new AtelierError('PLUGIN_NOT_FOUND', `The registry ${registryUrl} has no package "${name}".`, {
      details: { package: name },
    });
  if (!response.ok)
    throw new AtelierError(
      'PLUGIN_INSTALL_FAILED',
      `The registry answered ${response.status} for ${packumentUrl}.`,
    );
  const packument = (await response.json()) as {
    'dist-tags'?: Record<string, string>;
    versions?: Record<string, { dist?: { tarball?: string; integrity?: string } }>;
  };
  const version = semver.valid(wanted) ?? packument['dist-tags']?.[wanted];
  const dist = version ? packument.versions?.[version]?.dist : undefined;
  if (!version || !dist?.tarball) {
    throw new AtelierError('PLUGIN_NOT_FOUND', `The registry has no version "${wanted}" of ${name}.`, {
      details: { package: name, version: wanted, versions: Object.keys(packument.versions ?? {}) },
    });
  }
  if (!dist.integrity || sha512Of(dist.integrity).length === 0) {
    throw new AtelierError(
      'PLUGIN_INTEGRITY_MISMATCH',
      `The registry gives no sha512 integrity for ${name}@${version}; it cannot be checked, so it is not installed.`,
      { details: { package: name, version } },
    );
  }
  const download = await get(dist.tarball, 'application/octet-stream');
  if (!download.ok)
    throw new AtelierError(
      'PLUGIN_INSTALL_FAILED',
      `The registry answered ${download.status} for ${dist.tarball}.`,
    );
  const length = Number(download.headers.get('content-length') ?? 0);
  if (length > PLUGIN_PACKAGE_MAX_BYTES)
    throw invalid(`${name}@${version} is ${length} bytes; the limit is ${PLUGIN_PACKAGE_MAX_BYTES} bytes.`);
  const tarball = new Uint8Array(await download.arrayBuffer());
  if (!matchesIntegrity(tarball, dist.integrity)) {
    throw new AtelierError(
      'PLUGIN_INTEGRITY_MISMATCH',
      `The tarball of ${name}@${version} from ${dist.tarball} is ${integrityOf(tarball)}, but the registry says ${dist.integrity}. Nothing was installed.`,
      { details: { package: name, version, expected: dist.integrity, actual: integrityOf(tarball) } },
    );
  }
  return { name, version, tarball, integrity: dist.integrity, url: dist.tarball };
}
