// `atelier plugins add|remove|list`: plugin packages in the plugins folder (docs/plugins-folder.md),
// installed with pnpm and checked by loading them exactly as `serve` will, so a bad one never
// stays: the folder is put back as it was and the command fails with the plugin's coded error.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { AtelierError } from '@atelier/core';
import type { PluginLoadFailure, PluginRegistry } from '@atelier/core';
import { collect } from './cli-args.ts';
import { readConfig } from './config.ts';
import type { AtelierConfig } from './config.ts';
import {
  CORE_PACKAGE,
  TARBALLS_DIR,
  ensurePluginsFolder,
  lockPluginsFolder,
  markPluginsFolderChanged,
  readPluginsManifest,
  runPnpm,
  writePnpmSettings,
} from './plugins-folder.ts';
import type { PluginsFolderManifest } from './plugins-folder.ts';
import { createRegistry } from './runtime.ts';
import { isDirectory, isFile } from './file-kind.ts';

/** Where the command writes: pnpm's output and warnings to `stderr`, its result to `stdout`. */
export interface PluginsCommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** Options of {@link addPlugins}. */
export interface AddPluginsOptions {
  /** A directory spec is symlinked (`link:`) instead of packed and copied: for development. @default false */
  readonly link?: boolean;
  /** Packages (dependencies included) whose build scripts pnpm may run. @default none */
  readonly allowBuilds?: readonly string[];
  /**
   * Refuse (`PLUGIN_PACKAGE_INVALID`, the folder put back) a package that provides no plugin: the
   * cluster's installs ask for it. @default false
   */
  readonly requirePlugins?: boolean;
}

/** What {@link addPluginPackages} installed. */
export interface AddedPackages {
  /** The plugins added or updated, as `id@version (kind)`. */
  readonly added: string[];
  /** The plugin ids each newly installed (or reinstalled) package provides, by package name. */
  readonly provided: ReadonlyMap<string, readonly string[]>;
}

/** What the folder holds before a change, to put it back byte for byte if the change fails. */
interface Snapshot {
  readonly manifest: string;
  readonly lockfile: string | undefined;
  readonly tarballs: ReadonlySet<string>;
}

async function tarballsIn(folder: string): Promise<string[]> {
  return readdir(path.join(folder, TARBALLS_DIR)).catch(() => []);
}

async function snapshot(folder: string): Promise<Snapshot> {
  return {
    manifest: await readFile(path.join(folder, 'package.json'), 'utf8'),
    lockfile: await readFile(path.join(folder, 'pnpm-lock.yaml'), 'utf8').catch(() => undefined),
    tarballs: new Set(await tarballsIn(folder)),
  };
}

/** Puts the folder back as `before` was: manifest, lockfile, tarballs, then node_modules. */
async function restore(folder: string, before: Snapshot, io: PluginsCommandIo): Promise<void> {
  await writeFile(path.join(folder, 'package.json'), before.manifest);
  const manifest = JSON.parse(before.manifest) as PluginsFolderManifest;
  await writePnpmSettings(folder, manifest.atelier?.allowBuilds ?? []);
  for (const name of await tarballsIn(folder))
    if (!before.tarballs.has(name)) await rm(path.join(folder, TARBALLS_DIR, name), { force: true });
  if (before.lockfile === undefined) {
    // Nothing was installed before: no lockfile and no node_modules either.
    await rm(path.join(folder, 'pnpm-lock.yaml'), { force: true });
    await rm(path.join(folder, 'node_modules'), { recursive: true, force: true });
    return;
  }
  await writeFile(path.join(folder, 'pnpm-lock.yaml'), before.lockfile);
  await runPnpm(folder, ['install', '--frozen-lockfile', '--prefer-offline'], io.stderr);
}

/** A tarball copied into the folder under a name that says its content, so a newer build is new. */
async function keepTarball(folder: string, tarball: string): Promise<string> {
  const hash = createHash('sha256')
    .update(await readFile(tarball))
    .digest('hex')
    .slice(0, 12);
  const name = `${path.basename(tarball).replace(/\.(?:tgz|tar\.gz|tar)$/, '')}-${hash}.tgz`;
  await copyFile(tarball, path.join(folder, TARBALLS_DIR, name));
  return `./${TARBALLS_DIR}/${name}`;
}

/**
 * Packs the package directory `dir` with `pnpm pack` (its `prepack` build runs, `files` and
 * `publishConfig` apply, as for a published package) into a temporary directory and calls `use`
 * with the tarball's path; the tarball is deleted after.
 */
async function withPacked<T>(
  dir: string,
  io: PluginsCommandIo,
  use: (tarball: string) => Promise<T>,
): Promise<T> {
  const packed = await mkdtemp(path.join(tmpdir(), 'atelier-pack-'));
  try {
    await runPnpm(dir, ['pack', '--pack-destination', packed], io.stderr);
    const [tarball] = (await readdir(packed)).filter((f) => f.endsWith('.tgz'));
    if (!tarball) throw new AtelierError('PLUGIN_INSTALL_FAILED', `pnpm pack made no tarball from ${dir}.`);
    return await use(path.join(packed, tarball));
  } finally {
    await rm(packed, { recursive: true, force: true });
  }
}

/**
 * `atelier plugins add` for a cluster (a DATABASE_URL, no `--local`): each spec (a tarball, a
 * directory, packed, or `name@version` from the npm registry) is installed through
 * {@link PluginPackageService}: validated in this folder, recorded in Postgres with its tarball and
 * integrity, audited, and installed by every serve and worker within seconds.
 */
async function addForCluster(
  config: AtelierConfig,
  specs: readonly string[],
  io: PluginsCommandIo,
): Promise<void> {
  const { openDatabaseRoot } = await import('./container.ts');
  const { PluginPackageService } = await import('./plugin-packages.ts');
  const root = await openDatabaseRoot(config);
  try {
    const service = root.container.resolve(PluginPackageService);
    for (const spec of specs) {
      const local = path.resolve(spec);
      const result = (await isDirectory(local))
        ? await withPacked(local, io, async (tarball) =>
            service.install({
              bytes: await readFile(tarball),
              source: 'folder',
              origin: local,
              actor: null,
              via: 'cli',
              io,
            }),
          )
        : (await isFile(local))
          ? await service.install({
              bytes: await readFile(local),
              source: 'upload',
              origin: path.basename(local),
              actor: null,
              via: 'cli',
              io,
            })
          : await service.installFromRegistry({ spec, actor: null, via: 'cli', io });
      io.stdout.write(
        `Recorded ${result.name}@${result.version} for the cluster (${result.action}` +
          (result.previousVersion ? ` from ${result.previousVersion}` : '') +
          `, ${result.integrity}); every serve and worker installs it within seconds.\n`,
      );
    }
  } finally {
    await root.close();
  }
}

/**
 * `atelier plugins remove` for a cluster: packages recorded in Postgres are uninstalled on every
 * process (`PLUGIN_IN_USE` while jobs need them, unless `force`); others only from this folder.
 */
async function removeForCluster(
  config: AtelierConfig,
  names: readonly string[],
  force: boolean,
  io: PluginsCommandIo,
): Promise<void> {
  const { openDatabaseRoot } = await import('./container.ts');
  const { PluginPackageService } = await import('./plugin-packages.ts');
  const root = await openDatabaseRoot(config);
  try {
    const service = root.container.resolve(PluginPackageService);
    for (const name of names) {
      if (!(await service.isRecorded(name))) {
        await removePlugins(config, [name], io);
        continue;
      }
      const result = await service.uninstall({ name, force, actor: null, via: 'cli', io });
      io.stdout.write(
        `Uninstalled ${result.name}@${result.version} from the cluster` +
          (result.forced && result.jobs.queued + result.jobs.running > 0
            ? ` (forced: ${result.jobs.queued} queued and ${result.jobs.running} running job(s) needed it; they fail with PLUGIN_NOT_FOUND)`
            : '') +
          '.\n',
      );
    }
  } finally {
    await root.close();
  }
}

/** `atelier plugins list --cluster`: the packages recorded in Postgres. */
async function listForCluster(config: AtelierConfig, all: boolean, json: boolean): Promise<void> {
  const { openDatabaseRoot } = await import('./container.ts');
  const { PluginPackageService } = await import('./plugin-packages.ts');
  const root = await openDatabaseRoot(config);
  try {
    const list = await root.container.resolve(PluginPackageService).list({ includeInactive: all });
    if (json) {
      process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return;
    }
    if (list.length === 0) process.stdout.write('No plugin packages are installed on the cluster.\n');
    for (const p of list) {
      process.stdout.write(
        `${p.name}@${p.version}  ${p.active ? 'active' : 'inactive'}  ${p.plugins.join(', ')}  ${p.integrity}  ` +
          `${p.source}  ${p.installedBy ?? 'cli'}  ${p.installedAt}\n`,
      );
    }
  } finally {
    await root.close();
  }
}

/**
 * Turns a command-line spec into what `pnpm add` gets in the folder: a tarball is copied into
 * `tarballs/`; a directory is packed (`pnpm pack`: its `prepack` build runs, `files` and
 * `publishConfig` apply, as for a published package) into `tarballs/`, or linked with `link`;
 * anything else (`name`, `name@version`, a URL) goes to pnpm as it is.
 */
async function pnpmSpec(folder: string, spec: string, link: boolean, io: PluginsCommandIo): Promise<string> {
  const local = path.resolve(spec);
  if (await isDirectory(local)) {
    if (link) return `link:${local}`;
    return withPacked(local, io, (tarball) => keepTarball(folder, tarball));
  }
  if (await isFile(local)) {
    if (!/\.(?:tgz|tar\.gz|tar)$/.test(local)) {
      throw new AtelierError(
        'PLUGIN_INSTALL_FAILED',
        `${spec} is a file but not a package tarball (.tgz); give a tarball, a directory or name@version.`,
      );
    }
    return keepTarball(folder, local);
  }
  return spec;
}

/** The folder-relative path of the tarball a dependency spec installs from, if it is one `add` kept. */
export function keptTarball(spec: string | undefined): string | undefined {
  return /^file:(?:\.\/)?(tarballs\/[^/]+)$/.exec(spec ?? '')?.[1];
}

/** A failure's identity, to tell the failures a change brought from those already there. */
const failureKey = (f: PluginLoadFailure): string => `${f.code}|${f.plugin ?? ''}|${f.source}`;

function describeFailures(failures: readonly PluginLoadFailure[]): string {
  return failures.map((f) => `  ${f.plugin ?? f.source}  ${f.code}: ${f.message}`).join('\n');
}

/** Loads the folder's plugins as `serve` does (skipping bad ones), in this process. */
function load(config: AtelierConfig, revision?: number): Promise<PluginRegistry> {
  return createRegistry(config, { neverThrow: true, ...(revision === undefined ? {} : { revision }) });
}

const thirdParty = (registry: PluginRegistry): Map<string, string> =>
  new Map(
    registry
      .list({ includeDisabled: true })
      .filter((p) => !p.builtin)
      .map((p) => [p.id, `${p.id}@${p.version} (${p.kind})`]),
  );

/**
 * `atelier plugins add`: installs `specs` into the plugins folder with pnpm, then loads every
 * plugin as `serve` would. When pnpm fails, or the change brings a plugin that does not load (bad
 * manifest, import error, duplicate id, no plugin exported), the folder is put back as it was and
 * the coded error is thrown. Otherwise the folder is marked changed (a running serve reloads) and
 * the plugins added are returned.
 *
 * @example
 * await addPlugins(readConfig(), ['./acme-mosaic-1.0.0.tgz'], {}, { stdout, stderr });
 */
export async function addPlugins(
  config: AtelierConfig,
  specs: readonly string[],
  options: AddPluginsOptions,
  io: PluginsCommandIo,
): Promise<string[]> {
  return (await addPluginPackages(config, specs, options, io)).added;
}

/** {@link addPlugins}, also saying which plugins each installed package provides. */
export async function addPluginPackages(
  config: AtelierConfig,
  specs: readonly string[],
  options: AddPluginsOptions,
  io: PluginsCommandIo,
): Promise<AddedPackages> {
  const folder = config.pluginsFolder;
  await ensurePluginsFolder(folder);
  const release = await lockPluginsFolder(folder);
  try {
    const before = await snapshot(folder);
    const loadedBefore = await load(config);
    let changed = false;
    try {
      await mkdir(path.join(folder, TARBALLS_DIR), { recursive: true });
      if ((options.allowBuilds ?? []).length > 0) {
        const manifest = JSON.parse(before.manifest) as PluginsFolderManifest;
        const allowed = [
          ...new Set([...(manifest.atelier?.allowBuilds ?? []), ...(options.allowBuilds ?? [])]),
        ];
        manifest.atelier = { ...manifest.atelier, allowBuilds: allowed.sort() };
        await writeFile(path.join(folder, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
        await writePnpmSettings(folder, allowed);
      }
      changed = true;
      const pnpmSpecs: string[] = [];
      for (const spec of specs) pnpmSpecs.push(await pnpmSpec(folder, spec, options.link ?? false, io));
      await runPnpm(folder, ['add', ...pnpmSpecs], io.stderr);
      const loadedAfter = await load(config, Date.now());
      const known = new Set(loadedBefore.failures().map(failureKey));
      const brought = loadedAfter.failures().filter((f) => !known.has(failureKey(f)));
      const manifestAfter = await readPluginsManifest(folder);
      const beforeDeps = (JSON.parse(before.manifest) as PluginsFolderManifest).dependencies ?? {};
      const newPackages = Object.keys(manifestAfter?.dependencies ?? {}).filter(
        (name) => name !== CORE_PACKAGE && beforeDeps[name] !== manifestAfter?.dependencies?.[name],
      );
      if (brought.length > 0) {
        const first = brought[0]!;
        throw new AtelierError(
          first.code,
          `${first.message} Not installed: the plugins folder is as it was.` +
            (brought.length > 1 ? `\nAlso:\n${describeFailures(brought.slice(1))}` : ''),
          { details: { source: first.source, ...(first.plugin ? { plugin: first.plugin } : {}) } },
        );
      }
      const had = thirdParty(loadedBefore);
      const now = thirdParty(loadedAfter);
      const provided = new Map(
        newPackages.map((name) => [
          name,
          loadedAfter
            .list({ includeDisabled: true })
            .filter((p) => !p.builtin && p.module.includes(`/node_modules/${name}/`))
            .map((p) => p.id)
            .sort(),
        ]),
      );
      const empty = [...provided].find(([, ids]) => ids.length === 0);
      if (options.requirePlugins && empty) {
        throw new AtelierError(
          'PLUGIN_PACKAGE_INVALID',
          `Package "${empty[0]}" provides no plugin (its main module exports none). Not installed: the plugins folder is as it was.`,
          { details: { package: empty[0] } },
        );
      }
      // New or other versions, and everything the installed packages provide (new code, same version).
      const fromPackages = new Set([...provided.values()].flat());
      const added = [...now]
        .filter(([id, label]) => had.get(id) !== label || fromPackages.has(id))
        .map(([, label]) => label);
      // A package installed again from a new tarball no longer needs its old one.
      for (const name of newPackages) {
        const kept = keptTarball(beforeDeps[name]);
        if (kept && kept !== keptTarball(manifestAfter?.dependencies?.[name]))
          await rm(path.join(folder, kept), { force: true });
      }
      await markPluginsFolderChanged(folder);
      io.stdout.write(
        `Installed ${newPackages.join(', ') || specs.join(', ')} in ${folder}\n` +
          (added.length > 0
            ? `Plugins added or updated:\n${added.map((p) => `  ${p}`).join('\n')}\n`
            : 'No plugin changed.\n'),
      );
      if (loadedAfter.failures().length > 0)
        io.stderr.write(
          `atelier: warning: plugins that were already not loading:\n${describeFailures(loadedAfter.failures())}\n`,
        );
      return { added, provided };
    } catch (error) {
      if (changed) {
        io.stderr.write('atelier: putting the plugins folder back as it was\n');
        await restore(folder, before, io);
      }
      throw error;
    }
  } finally {
    await release();
  }
}

/**
 * `atelier plugins remove`: uninstalls packages from the plugins folder (and the tarballs kept for
 * them), then marks it changed. Returns the plugins removed. Unknown names are `PLUGIN_NOT_FOUND`.
 */
export async function removePlugins(
  config: AtelierConfig,
  names: readonly string[],
  io: PluginsCommandIo,
): Promise<string[]> {
  const folder = config.pluginsFolder;
  const manifest = await readPluginsManifest(folder);
  const deps = manifest?.dependencies ?? {};
  for (const name of names) {
    if (name === CORE_PACKAGE || !(name in deps)) {
      throw new AtelierError(
        'PLUGIN_NOT_FOUND',
        `No plugin package "${name}" in ${folder}; \`atelier plugins list\` shows them.`,
        { details: { package: name } },
      );
    }
  }
  await ensurePluginsFolder(folder);
  const release = await lockPluginsFolder(folder);
  try {
    const before = await snapshot(folder);
    const loadedBefore = await load(config);
    try {
      await runPnpm(folder, ['remove', ...names], io.stderr);
    } catch (error) {
      await restore(folder, before, io);
      throw error;
    }
    for (const name of names) {
      const kept = keptTarball(deps[name]);
      if (kept) await rm(path.join(folder, kept), { force: true });
    }
    const now = thirdParty(await load(config, Date.now()));
    const removed = [...thirdParty(loadedBefore)].filter(([id]) => !now.has(id)).map(([, label]) => label);
    await markPluginsFolderChanged(folder);
    io.stdout.write(
      `Removed ${names.join(', ')} from ${folder}\n` +
        (removed.length > 0 ? `Plugins removed:\n${removed.map((p) => `  ${p}`).join('\n')}\n` : ''),
    );
    return removed;
  } finally {
    await release();
  }
}

/** One package of the plugins folder, as `atelier plugins list` shows it. */
export interface FolderPackage {
  readonly name: string;
  /** What package.json says: `file:tarballs/…`, `link:/…`, a version range. */
  readonly spec: string;
  /** The plugins it registered. */
  readonly plugins: readonly string[];
  /** Why it (or some of its plugins) did not load. */
  readonly failures: readonly PluginLoadFailure[];
}

/** The packages of the plugins folder with the plugins each registered and each failure. */
export async function listPlugins(config: AtelierConfig): Promise<FolderPackage[]> {
  const manifest = await readPluginsManifest(config.pluginsFolder);
  const registry = await load(config);
  const infos = registry.list({ includeDisabled: true });
  return Object.entries(manifest?.dependencies ?? {})
    .filter(([name]) => name !== CORE_PACKAGE)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, spec]) => {
      const marker = `/node_modules/${name}/`;
      return {
        name,
        spec,
        plugins: infos.filter((p) => p.module.includes(marker)).map((p) => p.id),
        failures: registry.failures().filter((f) => f.source === name || f.source.includes(marker)),
      };
    });
}

/**
 * Whether `plugins add` / `remove` work on the cluster (Postgres, every process) rather than this
 * folder alone: with an external database (DATABASE_URL), unless `local` asks otherwise.
 */
function clusterMode(config: AtelierConfig, local: boolean | undefined): boolean {
  return config.databaseUrl !== undefined && !local;
}

export function registerPluginsCommands(program: Command): void {
  const plugins = program
    .command('plugins')
    .description('install and remove plugin packages in the plugins folder (ATELIER_PLUGINS_FOLDER)');
  const io: PluginsCommandIo = { stdout: process.stdout, stderr: process.stderr };
  plugins
    .command('add')
    .description(
      'install plugin packages with pnpm: a tarball, a directory (packed, or linked with --link) or name@version',
    )
    .argument('<spec...>', 'a .tgz file, a package directory, or name@version')
    .option('--link', 'symlink a directory instead of packing and copying it (development)')
    .option(
      '--allow-build <name>',
      'let this package run its build scripts (repeatable; others are skipped; implies --local)',
      collect,
      [],
    )
    .option(
      '--local',
      'install into this plugins folder only, not for the cluster (the default without DATABASE_URL)',
    )
    .action(async (specs: string[], opts: { link?: boolean; allowBuild: string[]; local?: boolean }) => {
      const config = readConfig();
      if (clusterMode(config, opts.local || opts.link || opts.allowBuild.length > 0)) {
        await addForCluster(config, specs, io);
        return;
      }
      await addPlugins(config, specs, { link: opts.link ?? false, allowBuilds: opts.allowBuild }, io);
    });
  plugins
    .command('remove')
    .description('uninstall plugin packages from the plugins folder')
    .argument('<name...>', 'package names, as `atelier plugins list` shows them')
    .option('--force', 'uninstall from the cluster even while queued or running jobs need it')
    .option('--local', 'remove from this plugins folder only (the default without DATABASE_URL)')
    .action(async (names: string[], opts: { force?: boolean; local?: boolean }) => {
      const config = readConfig();
      if (clusterMode(config, opts.local)) {
        await removeForCluster(config, names, opts.force ?? false, io);
        return;
      }
      await removePlugins(config, names, io);
    });
  plugins
    .command('list')
    .description('the packages of the plugins folder and the plugins each provides')
    .option('--json', 'print JSON: [{ name, spec, plugins, failures }]')
    .option('--cluster', 'the packages recorded for the cluster in Postgres, with integrity, who and when')
    .option('--all', 'with --cluster: every recorded version, inactive ones too')
    .action(async (opts: { json?: boolean; cluster?: boolean; all?: boolean }) => {
      const config = readConfig();
      if (opts.cluster) {
        await listForCluster(config, opts.all ?? false, opts.json ?? false);
        return;
      }
      const list = await listPlugins(config);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      if (list.length === 0) {
        process.stdout.write(`No plugin packages in ${config.pluginsFolder}.\n`);
        return;
      }
      for (const p of list) {
        const state =
          p.failures.length > 0
            ? p.failures.map((f) => `NOT LOADED ${f.code}: ${f.message}`).join('; ')
            : p.plugins.join(', ');
        process.stdout.write(`${p.name}  ${p.spec}  ${state}\n`);
      }
    });
}
