// `atelier plugin new <dir>`: a new plugin package from this checkout's SDK, exactly as a plugin
// author gets it from a registry. The SDK packages are packed into `<data dir>/packages/` (again
// only when their files changed), then the packed scaffolder runs through `npm exec`, as
// `npm create atelier-plugin` would run it, with `--packages` pointing at those tarballs.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { AtelierError, PLUGIN_ID_PATTERN } from '@atelier/core';
import { readConfig } from './config.ts';

/** The checkout's root (this file is packages/server/src/cli-plugin-new.ts). */
const WORKSPACE = fileURLToPath(new URL('../../../', import.meta.url));

/** The packages a plugin author gets, by their directory under packages/. */
export const SDK_PACKAGE_DIRS = ['core', 'plugin-kit', 'create-atelier-plugin'] as const;

/** What goes into a package's tarball, so a change to any of it means packing again. */
const PACKED_FROM = /^(?:package\.json|tsconfig\.build\.json|README\.md|(?:src|template|assets)\/.+)$/;

interface Output {
  write(text: string): unknown;
}

/** A command's output, and its exit code (null when it could not start or was killed). */
interface RunResult {
  readonly code: number | null;
  readonly output: string;
  readonly error?: Error;
}

function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; echo?: { stdout: Output; stderr: Output } },
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString();
      options.echo?.stdout.write(d.toString());
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString();
      options.echo?.stderr.write(d.toString());
    });
    child.once('error', (error) => resolve({ code: null, output, error }));
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** pnpm: the one running this command when there is one (`pnpm atelier ...`), else pnpm 12 via npx. */
function pnpm(): { command: string; args: string[] } {
  const execpath = process.env['npm_execpath'];
  if (execpath && /^pnpm/.test(path.basename(execpath))) {
    return /\.[cm]?js$/.test(execpath)
      ? { command: process.execPath, args: [execpath] }
      : { command: execpath, args: [] };
  }
  return { command: 'npx', args: ['-y', 'pnpm@12'] };
}

async function filesOf(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await filesOf(path.join(dir, entry.name), rel)));
    else out.push(rel);
  }
  return out;
}

/** A hash of what a package's tarball is made from (its sources, template, build config). */
async function sourceHash(packageDir: string, root: string): Promise<string> {
  const hash = createHash('sha256');
  const files = (await filesOf(packageDir)).filter((f) => PACKED_FROM.test(f)).sort();
  for (const file of files) hash.update(`${file}\0`).update(await readFile(path.join(packageDir, file)));
  // The shared compiler options the packages build with.
  for (const shared of ['tsconfig.json', 'tsconfig.package.json']) {
    const file = path.join(root, shared);
    if (existsSync(file)) hash.update(`/${shared}\0`).update(await readFile(file));
  }
  return hash.digest('hex');
}

/**
 * Held (a directory: mkdir is atomic) while a package of the checkout is packed: a pack empties and
 * rebuilds the package's `dist/` in place, so two at once (two `plugin new`, or a test packing the
 * same package: test/pack-package.ts takes the same lock) could ship a half-built one.
 */
const PACK_LOCK = path.join(tmpdir(), 'atelier-pack.lock');
/** A lock older than this was left by a process that died. */
const PACK_LOCK_STALE_MS = 120_000;

/**
 * Runs `work` holding the pack lock (test/pack-package.ts takes it too).
 *
 * @example
 * const tarball = await withPackLock(() => packOne(dir));
 */
export async function withPackLock<T>(work: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      await mkdir(PACK_LOCK);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(PACK_LOCK).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > PACK_LOCK_STALE_MS) await rm(PACK_LOCK, { recursive: true, force: true });
      else await sleep(200);
    }
  }
  try {
    return await work();
  } finally {
    await rm(PACK_LOCK, { recursive: true, force: true });
  }
}

/** The file name `pnpm pack` gives a package: `@atelier/core` 1.0.0 → `atelier-core-1.0.0.tgz`. */
export function tarballName(name: string, version: string): string {
  return `${name.replace(/^@/, '').replace('/', '-')}-${version}.tgz`;
}

interface Packed {
  readonly name: string;
  readonly tarball: string;
  /** {@link sourceHash} of what it was packed from. */
  readonly hash: string;
}

/** Packs one package into `dest`, unless its tarball there is from the same sources (`stamps`). */
async function packOne(
  packageDir: string,
  dest: string,
  root: string,
  stamps: Readonly<Record<string, { hash: string; tarball: string }>>,
  log: Output | undefined,
): Promise<Packed> {
  const manifest = JSON.parse(await readFile(path.join(packageDir, 'package.json'), 'utf8')) as {
    name: string;
    version: string;
  };
  const tarball = path.join(dest, tarballName(manifest.name, manifest.version));
  const hash = await sourceHash(packageDir, root);
  const stamp = stamps[manifest.name];
  if (stamp?.hash === hash && stamp.tarball === tarball && existsSync(tarball)) {
    return { name: manifest.name, tarball, hash };
  }
  log?.write(`packing ${manifest.name}@${manifest.version}\n`);
  const { command, args } = pnpm();
  const result = await withPackLock(() =>
    run(command, [...args, 'pack', '--pack-destination', dest], { cwd: packageDir }),
  );
  if (result.code !== 0 || !existsSync(tarball)) {
    const output = result.output.trim().split('\n').slice(-5).join(' / ');
    throw new AtelierError(
      'PLUGIN_SCAFFOLD_FAILED',
      `packing ${manifest.name} failed (${result.error?.message ?? `exit code ${result.code}`}): ${output}`,
      { cause: result.error },
    );
  }
  return { name: manifest.name, tarball, hash };
}

/**
 * Packs the SDK packages of the checkout at `root` into `dest` with pnpm (which applies their
 * `publishConfig` and builds them through `prepack`); a tarball whose sources have not changed
 * since it was packed is kept. Returns the tarballs' paths by package name.
 *
 * @example
 * const tarballs = await packSdk('.atelier/packages');
 * tarballs['create-atelier-plugin']; // '/.../.atelier/packages/create-atelier-plugin-1.0.0.tgz'
 */
export async function packSdk(
  dest: string,
  options: { readonly root?: string; readonly log?: Output } = {},
): Promise<Record<string, string>> {
  const root = options.root ?? WORKSPACE;
  await mkdir(dest, { recursive: true });
  const stampFile = path.join(dest, 'packed.json');
  const stamps = JSON.parse(await readFile(stampFile, 'utf8').catch(() => '{}')) as Record<
    string,
    { hash: string; tarball: string }
  >;
  const packed: Packed[] = [];
  for (const dirName of SDK_PACKAGE_DIRS) {
    packed.push(await packOne(path.join(root, 'packages', dirName), dest, root, stamps, options.log));
  }
  const next = { ...stamps };
  for (const p of packed) next[p.name] = { hash: p.hash, tarball: p.tarball };
  await writeFile(stampFile, `${JSON.stringify(next, null, 2)}\n`);
  return Object.fromEntries(packed.map((p) => [p.name, p.tarball]));
}

/** What `atelier plugin new` takes. */
export interface PluginNewOptions {
  readonly dir: string;
  readonly id?: string;
  readonly name?: string;
  /** @default true */
  readonly install?: boolean;
  /** Where the tarballs go: `<dataDir>/packages`. */
  readonly dataDir: string;
  readonly stdout: Output;
  readonly stderr: Output;
}

/**
 * Writes a new plugin package in `dir` with the scaffolder packed from this checkout, run as a
 * user runs it (`npm exec` of the tarball), its SDK dependencies on the packed tarballs.
 *
 * @example
 * await pluginNew({ dir: '../my-style', id: 'acme:my-style', dataDir: '.atelier', stdout, stderr });
 */
export async function pluginNew(options: PluginNewOptions): Promise<void> {
  const dir = path.resolve(options.dir);
  // The scaffolder checks these too; checking first saves packing for nothing.
  if (options.id !== undefined && !PLUGIN_ID_PATTERN.test(options.id)) {
    throw new AtelierError(
      'USAGE_INVALID',
      `"${options.id}" is not a plugin id: use lowercase words joined by "-", with a scope, e.g. acme:my-style`,
    );
  }
  if (existsSync(dir) && (await readdir(dir).catch(() => ['(a file)'])).length > 0) {
    throw new AtelierError('TARGET_NOT_EMPTY', `${dir} exists and is not empty; choose a new directory`);
  }
  const packages = path.join(options.dataDir, 'packages');
  const tarballs = await packSdk(packages, { log: options.stderr });
  const create = tarballs['create-atelier-plugin']!;
  const env = { ...process.env };
  // The scaffolder installs with the package manager that runs it: npm here, whatever ran atelier.
  delete env['npm_config_user_agent'];
  const result = await run(
    'npm',
    [
      'exec',
      '--yes',
      `--package=${create}`,
      '--',
      'create-atelier-plugin',
      dir,
      '--packages',
      packages,
      ...(options.id === undefined ? [] : ['--id', options.id]),
      ...(options.name === undefined ? [] : ['--name', options.name]),
      ...(options.install === false ? ['--no-install'] : []),
    ],
    { cwd: process.cwd(), env, echo: { stdout: options.stdout, stderr: options.stderr } },
  );
  if (result.code !== 0) {
    const last = /create-atelier-plugin: ([A-Z_]+): (.*)$/m.exec(result.output);
    throw new AtelierError(
      last?.[1] === 'TARGET_NOT_EMPTY' ? 'TARGET_NOT_EMPTY' : 'PLUGIN_SCAFFOLD_FAILED',
      last?.[2] ?? `create-atelier-plugin failed (${result.error?.message ?? `exit code ${result.code}`})`,
      { cause: result.error },
    );
  }
}

/**
 * Adds `new` to the `plugin` command: `atelier plugin new <dir> [--id] [--name] [--no-install]`.
 */
export function registerPluginNewCommand(plugin: Command): void {
  plugin
    .command('new')
    .description("write a new plugin package in <dir> from this checkout's SDK, installed and tested")
    .argument('<dir>', 'the directory to create (new or empty)')
    .option('--id <scope:name>', 'the plugin id, e.g. acme:my-style (default: local:<dir name>)')
    .option('--name <text>', 'the name shown in catalogues (default: from the id)')
    .option('--no-install', 'write the files only')
    .action(async (dir: string, opts: { id?: string; name?: string; install: boolean }) => {
      await pluginNew({
        dir,
        ...(opts.id === undefined ? {} : { id: opts.id }),
        ...(opts.name === undefined ? {} : { name: opts.name }),
        install: opts.install,
        dataDir: readConfig().dataDir,
        stdout: process.stdout,
        stderr: process.stderr,
      });
    });
}
