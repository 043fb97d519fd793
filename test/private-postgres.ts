// A Postgres of a test's own, for the tests that stop and start it (stopping the test run's shared
// one would disturb the other files): an embedded server in a temporary directory, on a port it
// keeps across restarts, with the app's database made; all of it removed after the file's tests.
import path from 'node:path';
import { ensureDatabase, freePort, startEmbeddedPostgres } from '@atelier/db';
import type { EmbeddedServer } from '@atelier/db';
import { openTempDir } from './cleanups.ts';
import type { Defer } from './cleanups.ts';

export interface PrivatePostgres {
  /** The temporary directory: the cluster's data is in `pg/`, the rest is the test's to use. */
  readonly dir: string;
  /** The port, the same after a restart. */
  readonly port: number;
  /** The app's database (`atelier`, with its own role, as `atelier serve` makes it). */
  readonly url: string;
  /** Stops the server, as an outage would. */
  stop(): Promise<void>;
  /** Starts it again on the same data directory and port. */
  start(): Promise<void>;
}

/** Starts a private embedded Postgres; it is stopped and its directory removed through `defer`. */
export async function startPrivatePostgres(prefix: string, defer: Defer): Promise<PrivatePostgres> {
  const dir = await openTempDir(prefix, defer);
  const dataDir = path.join(dir, 'pg');
  const port = await freePort();
  let server: EmbeddedServer = await startEmbeddedPostgres({ dataDir, port });
  defer(() => server.stop());
  const url = await ensureDatabase(server.adminUrl, 'atelier');
  return {
    dir,
    port,
    url,
    stop: () => server.stop(),
    async start() {
      server = await startEmbeddedPostgres({ dataDir, port });
    },
  };
}
