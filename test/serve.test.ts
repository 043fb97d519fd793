// `pnpm start` runs `atelier serve`: the API, a worker and the embedded Postgres in one process.
// This starts it exactly so (no DATABASE_URL), talks to it over HTTP, and stops it with SIGTERM.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanupsAfterAll, openTempDir } from './cleanups.ts';
import { registerOver, spawnServe } from './serve-process.ts';

const defer = cleanupsAfterAll();

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

/** `atelier serve` with its embedded defaults (no DATABASE_URL) in a fresh directory. */
async function spawnFresh(logLevel: string, args: readonly string[] = [], extra: NodeJS.ProcessEnv = {}) {
  const dir = await openTempDir('atelier-serve-', defer);
  const dataDir = path.join(dir, '.atelier/postgres');
  // A serve that did not stop (the bug these tests guard against) must not outlive the run, nor
  // leave its Postgres running.
  defer(async () => {
    for (const pid of await postgresProcesses(dataDir)) process.kill(pid, 'SIGKILL');
  });
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', ATELIER_LOG_LEVEL: logLevel, ...extra };
  delete env['DATABASE_URL'];
  return { ...spawnServe({ cwd: dir, env, args, defer }), dataDir };
}

describe('atelier serve', () => {
  it('starts on its embedded defaults, serves, and shuts down cleanly', { timeout: 90_000 }, async () => {
    const serve = await spawnFresh('warn');
    const url = await serve.url;
    expect(await (await fetch(`${url}/readyz`)).json()).toEqual({ ok: true, payments: 'off' });
    const register = await registerOver(url, {
      email: 'first@example.org',
      password: 'first user password',
      displayName: 'First',
    });
    expect(register.status).toBe(200);
    const styles = (await (await fetch(`${url}/trpc/styles.list`)).json()) as {
      result: { data: { id: string }[] };
    };
    expect(styles.result.data.map((s) => s.id)).toContain('watercolor');
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
    // The embedded Postgres kept its data in the data directory and was stopped.
    expect(serve.stderr()).not.toMatch(/"level":50/);
  });

  it(
    'warms the styles up once it listens (ATELIER_WARMUP), and a stop ends the warm-up',
    { timeout: 150_000 },
    async () => {
      const serve = await spawnFresh('info', [], { ATELIER_WARMUP: 'on', ATELIER_THREADS: '1' });
      const url = await serve.url;
      await serve.waitFor(/warm-up: done/);
      const done = serve
        .stderr()
        .split('\n')
        .find((line) => line.includes('warm-up: done'));
      // Six built-in styles, ten rounds on the one engine thread; requests are served meanwhile.
      expect(JSON.parse(done!)).toMatchObject({ styles: 6, runs: 60 });
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      serve.child.kill('SIGTERM');
      expect(await serve.exitedWithin(60_000)).toBe(0);

      const early = await spawnFresh('info', [], { ATELIER_WARMUP: 'on', ATELIER_THREADS: '1' });
      await early.waitFor(/warm-up: running/);
      early.child.kill('SIGTERM');
      expect(await early.exitedWithin(60_000)).toBe(0);
      expect(early.stderr()).not.toMatch(/warm-up: done|"level":50|INTERNAL/);
    },
  );

  it(
    'on a port in use it exits with PORT_IN_USE and stops the worker and Postgres it started',
    { timeout: 150_000 },
    async () => {
      const holder = net.createServer();
      await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
      const port = (holder.address() as net.AddressInfo).port;
      try {
        const serve = await spawnFresh('info', ['--port', String(port)]);
        await serve.waitFor(/started the embedded Postgres/);
        expect((await postgresProcesses(serve.dataDir)).length).toBeGreaterThan(0);
        expect(await serve.exitedWithin(90_000)).toBe(1);
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
      const serve = await spawnFresh('info');
      await serve.waitFor(pattern);
      serve.child.kill(signal);
      expect(await serve.exitedWithin(90_000)).toBe(0);
      // Start-up stopped there, rather than running to the end and then shutting down.
      if (cutShort) expect(serve.stdout()).not.toMatch(/Atelier API on/);
      expect(serve.stderr()).not.toMatch(/INTERNAL|\n\s+at /);
      expect(await postgresProcesses(serve.dataDir)).toEqual([]);
      expect(existsSync(path.join(serve.dataDir, 'postmaster.pid'))).toBe(false);
    },
  );
});
