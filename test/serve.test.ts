// `pnpm start` runs `atelier serve`: the API, a worker and the embedded Postgres in one process.
// This starts it exactly so (no DATABASE_URL), talks to it over HTTP, and stops it with SIGTERM.
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from './helpers.ts';

const dirs: string[] = [];
const children: ChildProcessByStdio<null, Readable, Readable>[] = [];
afterAll(async () => {
  // A serve that did not stop (the bug these tests guard against) must not outlive the run.
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs) {
    for (const pid of await postgresProcesses(path.join(dir, '.atelier/postgres')))
      process.kill(pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

/** Pids of the running postmasters (and their children) whose data directory is `dataDir`. */
async function postgresProcesses(dataDir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').includes(dataDir)) pids.push(Number(entry));
  }
  return pids;
}

/** `atelier serve` with its embedded defaults in a fresh directory; stderr collected as it comes. */
async function spawnServe(args: readonly string[] = []) {
  const dir = await mkdtemp(path.join(tmpdir(), 'atelier-serve-'));
  await chmod(dir, 0o755);
  dirs.push(dir);
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', ATELIER_LOG_LEVEL: 'info' };
  delete env['DATABASE_URL'];
  const child = spawn(process.execPath, [path.join(root, 'packages/server/src/cli.ts'), 'serve', ...args], {
    cwd: dir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of waiters.filter((w) => w.pattern.test(stderr))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return {
    child,
    dataDir: path.join(dir, '.atelier/postgres'),
    stderr: () => stderr,
    stdout: () => stdout,
    /** Resolves when stderr has shown `pattern`; rejects if the process ends first. */
    waitFor: (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(stderr)) return resolve();
        waiters.push({ pattern, resolve });
        void exit.then((code) => reject(new Error(`serve exited ${code} before ${pattern}: ${stderr}`)));
      }),
    /** The exit code, or 'still running' after `ms`. */
    exited: (ms: number) =>
      Promise.race([exit, new Promise<string>((resolve) => setTimeout(() => resolve('still running'), ms))]),
  };
}

describe('atelier serve', () => {
  it('starts on its embedded defaults, serves, and shuts down cleanly', { timeout: 90_000 }, async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'atelier-serve-'));
    await chmod(dir, 0o755);
    dirs.push(dir);
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', ATELIER_LOG_LEVEL: 'warn' };
    delete env['DATABASE_URL'];
    const child = spawn(process.execPath, [path.join(root, 'packages/server/src/cli.ts'), 'serve'], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const match = /Atelier API on (http:\/\/\S+)/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ ok: true });
    const register = await fetch(`${url}/trpc/auth.register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        email: 'first@example.org',
        password: 'first user password',
        displayName: 'First',
      }),
    });
    expect(register.status).toBe(200);
    const styles = (await (await fetch(`${url}/trpc/styles.list`)).json()) as {
      result: { data: { id: string }[] };
    };
    expect(styles.result.data.map((s) => s.id)).toContain('watercolor');
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    // The embedded Postgres kept its data in the data directory and was stopped.
    expect(stderr).not.toMatch(/"level":50/);
  });

  it(
    'on a port in use it exits with PORT_IN_USE and stops the worker and Postgres it started',
    { timeout: 150_000 },
    async () => {
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const port = (holder.address() as net.AddressInfo).port;
      try {
        const serve = await spawnServe(['--port', String(port)]);
        await serve.waitFor(/started the embedded Postgres/);
        expect((await postgresProcesses(serve.dataDir)).length).toBeGreaterThan(0);
        expect(await serve.exited(90_000)).toBe(1);
        const lines = serve.stderr().trim().split('\n');
        expect(lines.at(-1)).toBe(
          `atelier: PORT_IN_USE: port ${port} on 127.0.0.1 is in use by another process (another atelier serve?); stop that process, or choose another port with --port or PORT`,
        );
        expect(serve.stderr()).not.toMatch(/INTERNAL|\n\s+at /);
        expect(await postgresProcesses(serve.dataDir)).toEqual([]);
        expect(existsSync(path.join(serve.dataDir, 'postmaster.pid'))).toBe(false);
      } finally {
        holder.close();
      }
    },
  );

  // Each stage as the log announces it; the signal lands in that stage or the one after it.
  it.each([
    ['the embedded Postgres initialising', /initialising the embedded Postgres cluster/, 'SIGTERM', true],
    ['the migrations', /start-up: migrating the database/, 'SIGINT', true],
    ['the worker starting', /start-up: starting the worker/, 'SIGTERM', true],
    // The listen takes milliseconds: the signal may land just after it.
    ['the listen', /start-up: listening/, 'SIGTERM', false],
  ] as const)(
    '%s: a signal ends start-up cleanly, with nothing left running',
    { timeout: 150_000 },
    async (_stage, pattern, signal, cutShort) => {
      const serve = await spawnServe();
      await serve.waitFor(pattern);
      serve.child.kill(signal);
      expect(await serve.exited(90_000)).toBe(0);
      // Start-up stopped there, rather than running to the end and then shutting down.
      if (cutShort) expect(serve.stdout()).not.toMatch(/Atelier API on/);
      expect(serve.stderr()).not.toMatch(/INTERNAL|\n\s+at /);
      expect(await postgresProcesses(serve.dataDir)).toEqual([]);
      expect(existsSync(path.join(serve.dataDir, 'postmaster.pid'))).toBe(false);
    },
  );
});
