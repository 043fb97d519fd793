// The real `atelier serve` for the browser tests: a child process on the test run's Postgres (a
// database of its own), local storage in a temporary directory, serving the built web app at `/`.
// One per test file, shared by the file's tests; an administrator made with `atelier users create`.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { Defer } from '../cleanups.ts';
import { openTempDir } from '../cleanups.ts';
import { root } from '../helpers.ts';
import { serveEnv, spawnServe } from '../serve-process.ts';
import type { ServeProcess } from '../serve-process.ts';

const exec = promisify(execFile);
export const webDist = path.join(root, 'packages/web/dist');

export const ADMIN = { email: 'admin@example.org', password: 'an admin password 123' } as const;

export interface WebServer {
  readonly url: string;
  readonly serve: ServeProcess;
  /** The environment `atelier` commands need to reach the same database and storage. */
  readonly env: NodeJS.ProcessEnv;
  readonly dir: string;
  /** Starts a separate `atelier worker` (for servers started with `worker: false`). */
  startWorker(): ServeProcess;
}

/** Fails, with what to do, when the web app was not built: never skip the browser tests silently. */
export function requireBuiltWebApp(): void {
  if (!existsSync(path.join(webDist, 'index.html')))
    throw new Error(
      `${path.relative(root, webDist)}/index.html is missing: the browser tests need the built web app. ` +
        'Run `npx -y pnpm@12 --filter @atelier/client build && npx -y pnpm@12 --filter @atelier/web build` ' +
        '(`pnpm test` does it first).',
    );
}

/**
 * Starts `atelier serve` for this file. `worker: false` runs it with --no-worker, so that jobs wait
 * in the queue until `startWorker()`.
 */
export async function startWebServer(
  defer: Defer,
  options: { readonly worker?: boolean; readonly env?: Record<string, string> } = {},
): Promise<WebServer> {
  requireBuiltWebApp();
  const database = await createTestDatabase(inject('pgAdminUrl'));
  defer(() => database.drop());
  const dir = await openTempDir('atelier-web-', defer);
  const env = serveEnv(database, dir, {
    ATELIER_PLUGIN_DIR: path.join(dir, 'plugins'),
    ATELIER_LOG_LEVEL: 'warn',
    // The built app at / (spawnServe turns it off unless asked: most tests need the API alone).
    ATELIER_WEB: 'on',
    // A browser session makes many small requests (previews as a slider moves, several people
    // signing up from one address): the production limits would make the tests flaky.
    ATELIER_RATE_LIMIT_PER_MINUTE: '100000',
    ATELIER_REGISTRATIONS_PER_HOUR: '1000',
    ATELIER_QUOTA_PREVIEWS_PER_MINUTE: '100000',
    ATELIER_QUOTA_JOBS_PER_HOUR: '100000',
    ...options.env,
  });
  const serve = spawnServe({
    cwd: dir,
    env,
    args: options.worker === false ? ['--no-worker'] : [],
    defer,
  });
  const url = await serve.url;
  await exec(
    process.execPath,
    [
      path.join(root, 'packages/server/src/cli.ts'),
      'users',
      'create',
      ADMIN.email,
      '--admin',
      '--name',
      'Admin',
    ],
    { cwd: dir, env: { ...env, ATELIER_PASSWORD: ADMIN.password } },
  );
  const index = await fetch(`${url}/`);
  const html = await index.text();
  if (!index.ok || !html.includes('<div id="root">'))
    throw new Error(`atelier serve does not serve the web app at / (${index.status}): ${html.slice(0, 200)}`);
  return {
    url,
    serve,
    env,
    dir,
    startWorker: () => spawnServe({ command: 'worker', cwd: dir, env, defer }),
  };
}
