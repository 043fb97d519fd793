// The plugins folder (`<ATELIER_DATA_DIR>/plugins`): a package of its own where `atelier plugins
// add` installs plugin packages with pnpm, so a deployment adds plugins without a diff against
// Atelier's checkout. This module knows its files; cli-plugins.ts changes it, runtime.ts loads
// from it and plugin-watcher.ts watches it. See docs/plugins-folder.md.
import { execFile, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AtelierError } from '@atelier/core';

/** The SDK: linked to the host's own copy, so that installed plugins share it. Never a plugin. */
export const CORE_PACKAGE = '@atelier/core';

/** The folder's `package.json`: only the fields Atelier reads and writes. */
export interface PluginsFolderManifest {
  name?: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  /** Atelier's own settings of the folder. */
  atelier?: {
    /** Packages whose build scripts pnpm may run (`atelier plugins add --allow-build`). */
    allowBuilds?: string[];
  };
}

/** Files in the folder that say its plugins changed; the serve watcher compares them. */
const MANIFEST = 'package.json';
const LOCKFILE = 'pnpm-lock.yaml';
/** Rewritten after each successful `plugins add` / `remove`: a change that serve reloads on. */
export const REVISION_FILE = '.revision';
/** Held (with the holder's pid) while `plugins add` / `remove` changes the folder. */
export const BUSY_FILE = '.installing';
/** Where `plugins add` keeps the tarballs it installs, so a reinstall needs nothing outside. */
export const TARBALLS_DIR = 'tarballs';
/** The files whose change makes a running serve reload its plugins. */
export const WATCHED_FILES: ReadonlySet<string> = new Set([MANIFEST, LOCKFILE, REVISION_FILE, BUSY_FILE]);

/**
 * The directory of the host's `@atelier/core` package (its `package.json`), found from where this
 * process resolves it.
 */
export function hostCoreDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.resolve(CORE_PACKAGE)));
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest)) {
      const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (pkg.name === CORE_PACKAGE) return dir;
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`Cannot find the directory of ${CORE_PACKAGE}.`);
    dir = parent;
  }
}

/** The folder's `package.json`, or undefined when there is none (the folder was never used). */
export async function readPluginsManifest(folder: string): Promise<PluginsFolderManifest | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(folder, MANIFEST), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as PluginsFolderManifest;
  } catch (error) {
    throw new AtelierError(
      'PLUGIN_LOAD_FAILED',
      `The plugins folder's ${path.join(folder, MANIFEST)} is not valid JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** The plugin packages the folder lists: every dependency but `@atelier/core`, in name order. */
export async function pluginPackagesIn(folder: string): Promise<string[]> {
  const manifest = await readPluginsManifest(folder);
  return Object.keys(manifest?.dependencies ?? {})
    .filter((name) => name !== CORE_PACKAGE)
    .sort();
}

async function writeIfChanged(file: string, text: string): Promise<void> {
  const current = await readFile(file, 'utf8').catch(() => undefined);
  if (current !== text) await writeFile(file, text);
}

/**
 * Creates the folder on first use, and keeps what Atelier owns in it current: `package.json` with
 * `@atelier/core` linked to this host's copy (a moved checkout gets the new path), pnpm's settings
 * (`pnpm-workspace.yaml`: dependencies' build scripts denied unless allowed; its own workspace root,
 * so pnpm never climbs to a workspace above) and a `.gitignore` for `node_modules`.
 */
export async function ensurePluginsFolder(folder: string): Promise<PluginsFolderManifest> {
  await mkdir(folder, { recursive: true });
  const manifest: PluginsFolderManifest = (await readPluginsManifest(folder)) ?? {
    name: 'atelier-plugins',
    private: true,
  };
  manifest.dependencies = { ...manifest.dependencies, [CORE_PACKAGE]: `link:${hostCoreDir()}` };
  await writeIfChanged(path.join(folder, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  await writePnpmSettings(folder, manifest.atelier?.allowBuilds ?? []);
  await writeIfChanged(path.join(folder, '.gitignore'), `node_modules/\n${BUSY_FILE}\n`);
  return manifest;
}

/** pnpm's settings in the folder, from the packages allowed to run build scripts. */
export async function writePnpmSettings(folder: string, allowBuilds: readonly string[]): Promise<void> {
  // YAML is a superset of JSON: the map is written as JSON so any package name is quoted right.
  const allowed = JSON.stringify(Object.fromEntries([...allowBuilds].sort().map((name) => [name, true])));
  await writeIfChanged(
    path.join(folder, 'pnpm-workspace.yaml'),
    [
      '# Written by `atelier plugins` (docs/plugins-folder.md); edits here are overwritten.',
      '# Build scripts of dependencies (postinstall) run only for the packages allowed here,',
      '# with `atelier plugins add --allow-build <name>`; the others are skipped, not fatal.',
      'strictDepBuilds: false',
      `allowBuilds: ${allowed}`,
      '',
    ].join('\n'),
  );
}

/**
 * A fingerprint of what the folder installs: its manifest, lockfile and revision marker. Equal
 * fingerprints mean nothing to reload (an `add` that failed puts the folder back exactly).
 */
export async function pluginsFolderFingerprint(folder: string): Promise<string> {
  const hash = createHash('sha256');
  for (const name of [MANIFEST, LOCKFILE, REVISION_FILE]) {
    hash.update(name);
    hash.update((await readFile(path.join(folder, name)).catch(() => undefined)) ?? '\0missing');
  }
  return hash.digest('hex');
}

/** Tells a running serve that the folder changed and is complete. */
export async function markPluginsFolderChanged(folder: string): Promise<void> {
  await writeFile(path.join(folder, REVISION_FILE), `${new Date().toISOString()} ${randomUUID()}\n`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The pid holding the folder, when a live process holds it. */
export async function pluginsFolderHolder(folder: string): Promise<number | undefined> {
  const file = path.join(folder, BUSY_FILE);
  const text = await readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  // A holder that died long ago may have left its pid to an unrelated process: no install takes this long.
  const age = Date.now() - ((await stat(file).catch(() => undefined))?.mtimeMs ?? 0);
  if (age > STALE_HOLD_MS) return undefined;
  const pid = Number.parseInt(text, 10);
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

/** After this long, a hold on the folder is taken for a crashed command's. */
const STALE_HOLD_MS = 30 * 60_000;

/**
 * Takes the folder for one `plugins add` / `remove`: a running serve does not reload meanwhile,
 * and a second command is refused. A holder that died is taken over. Returns the release function.
 */
export async function lockPluginsFolder(folder: string): Promise<() => Promise<void>> {
  const file = path.join(folder, BUSY_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return () => rm(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = await pluginsFolderHolder(folder);
      if (holder !== undefined) {
        throw new AtelierError(
          'PLUGIN_INSTALL_FAILED',
          `Another atelier plugins command (pid ${holder}) is changing ${folder}; wait for it to finish.`,
        );
      }
      await rm(file, { force: true });
    }
  }
  throw new AtelierError('PLUGIN_INSTALL_FAILED', `Cannot take ${file}.`);
}

/**
 * How to run pnpm: the pnpm that runs this command (`npm_execpath`, under `pnpm atelier ...`),
 * else `ATELIER_PNPM` (a command, e.g. `/usr/local/bin/pnpm`), else a `pnpm` on PATH, else
 * `npx -y pnpm@12`.
 */
export function pnpmCommand(env: NodeJS.ProcessEnv = process.env): { command: string; args: string[] } {
  const execPath = env['npm_execpath'];
  if (execPath && /pnpm/i.test(path.basename(execPath))) {
    return /\.(?:c?js|mjs)$/.test(execPath)
      ? { command: process.execPath, args: [execPath] }
      : { command: execPath, args: [] };
  }
  const configured = env['ATELIER_PNPM'];
  if (configured) return { command: configured, args: [] };
  for (const dir of (env['PATH'] ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'pnpm'))) return { command: path.join(dir, 'pnpm'), args: [] };
  }
  return { command: 'npx', args: ['-y', 'pnpm@12'] };
}

let fromNpx: Promise<{ command: string; args: string[] }> | undefined;

/**
 * {@link pnpmCommand}, with `npx -y pnpm@12` replaced by the pnpm binary npx installed (found once
 * per process): each `npx` start asks the registry again and costs seconds, several per `add`.
 */
export function resolvePnpm(
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ command: string; args: string[] }> {
  const chosen = pnpmCommand(env);
  if (chosen.command !== 'npx') return Promise.resolve(chosen);
  fromNpx ??= new Promise((resolve) => {
    // npx puts the package's bin directory first on the PATH of what it runs.
    execFile(
      'npx',
      [...chosen.args.slice(0, -1), '-p', 'pnpm@12', 'node', '-p', 'process.env.PATH'],
      { env },
      (error, stdout) => {
        const dir = error
          ? undefined
          : stdout
              .trim()
              .split(path.delimiter)
              .find((d) => d !== '' && existsSync(path.join(d, 'pnpm')));
        resolve(dir ? { command: path.join(dir, 'pnpm'), args: [] } : chosen);
      },
    );
  });
  return fromNpx;
}

/**
 * Runs pnpm with `args` in `cwd`; its output goes to `output` as it comes. Fails with
 * `PLUGIN_INSTALL_FAILED` and the end of pnpm's output.
 */
export async function runPnpm(
  cwd: string,
  args: readonly string[],
  output: NodeJS.WritableStream,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const { command, args: prefix } = await resolvePnpm(env);
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...prefix, ...args], {
      cwd,
      // CI=1 keeps pnpm from asking questions; the folder's own settings are in its workspace file.
      env: { ...env, CI: env['CI'] ?? '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let text = '';
    const take = (chunk: Buffer): void => {
      text += chunk.toString();
      output.write(chunk);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', (error) =>
      reject(
        new AtelierError('PLUGIN_INSTALL_FAILED', `Cannot run pnpm (${command}): ${error.message}`, {
          cause: error,
        }),
      ),
    );
    child.once('close', (code) => {
      if (code === 0) return resolve(text);
      const tail = text.trim().split('\n').slice(-12).join('\n');
      reject(
        new AtelierError(
          'PLUGIN_INSTALL_FAILED',
          `pnpm ${args.join(' ')} failed (exit ${code}) in ${cwd}:\n${tail}`,
          { details: { exitCode: code } },
        ),
      );
    });
  });
}
