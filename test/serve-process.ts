// `atelier serve` as a child process, for the tests that start the real command: its output
// collected as it comes, the URL it announces, and a kill after the file's tests if it still runs.
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import type { Defer } from './cleanups.ts';
import { root } from './helpers.ts';

export interface ServeProcess {
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  /** The API's address once it listens; rejects if the process ends first. */
  readonly url: Promise<string>;
  /**
   * The exit code, once the process ends; for a process a signal ended (a crash: SIGSEGV, SIGABRT),
   * `killed by <signal>` and the end of its stderr, so that a failing test says what happened.
   */
  readonly exited: Promise<number | string>;
  stdout(): string;
  stderr(): string;
  /** Resolves when stderr has shown `pattern`; rejects if the process ends first. */
  waitFor(pattern: RegExp): Promise<void>;
  /** The exit code, or 'still running' after `ms`. */
  exitedWithin(ms: number): Promise<number | string>;
}

/**
 * The environment of a served test process: this process's, the test database, storage under
 * `dir`, any free port (`worker` listens on none), then `extra`.
 */
export function serveEnv(
  database: { readonly url: string },
  dir: string,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: database.url,
    ATELIER_STORAGE_DIR: path.join(dir, 'storage'),
    PORT: '0',
    ...extra,
  };
}

/**
 * Starts `atelier serve` (or another long-running command: `worker`) with `args`; `defer` kills it
 * (SIGKILL) if it is still running then.
 */
export function spawnServe(options: {
  /** @default 'serve' */
  readonly command?: 'serve' | 'worker';
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  readonly args?: readonly string[];
  readonly defer: Defer;
}): ServeProcess {
  const child = spawn(
    process.execPath,
    [path.join(root, 'packages/server/src/cli.ts'), options.command ?? 'serve', ...(options.args ?? [])],
    // No web app unless a test asks for one: test runs do not build packages/web, and without a
    // build serve logs an error (test/serve-web.test.ts covers that). No warm-up either unless
    // asked for: seconds of both cores per serve, while other test files run.
    {
      cwd: options.cwd,
      env: { ATELIER_WEB: 'off', ATELIER_WARMUP: 'off', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  const stderrEnded = new Promise<void>((resolve) => child.stderr.once('close', resolve));
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      if (code !== null) return resolve(code);
      // What a crash printed may still be in the pipe.
      void Promise.race([stderrEnded, setTimeout(2_000)]).then(() =>
        resolve(`killed by ${signal}; stderr ends:\n${stderr.slice(-2_000)}`),
      );
    }),
  );
  options.defer(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  });
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiters.filter((w) => w.pattern.test(stderr))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const match = /Atelier API on (http:\/\/\S+)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
  // A test that expects the process to fail need not wait for the URL.
  url.catch(() => {});
  return {
    child,
    url,
    exited,
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(stderr)) return resolve();
        waiters.push({ pattern, resolve });
        void exited.then((code) => reject(new Error(`serve exited ${code} before ${pattern}: ${stderr}`)));
      }),
    exitedWithin: (ms) => Promise.race([exited, setTimeout(ms, 'still running' as const)]),
  };
}

/** `auth.register` over plain HTTP against a served API, as a client without the typed client sends it. */
export function registerOver(
  url: string,
  account: { readonly email: string; readonly password: string; readonly displayName: string },
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${url}/trpc/auth.register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(account),
  });
}
