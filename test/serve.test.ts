// `pnpm start` runs `atelier serve`: the API, a worker and the embedded Postgres in one process.
// This starts it exactly so (no DATABASE_URL), talks to it over HTTP, and stops it with SIGTERM.
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from './helpers.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

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
});
