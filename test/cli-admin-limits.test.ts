// The CLI and the limits an operator sets elsewhere: the administrators' plugin state in the
// database (`styles` marks, `apply` refuses), and `bench` held to the engine's timeout and memory
// limit as `apply` is. Real processes, as a user runs them.
import { execFile } from 'node:child_process';
import { access, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { savePluginState } from '@atelier/jobs';
import { photo, root, testPluginDir } from './helpers.ts';

const exec = promisify(execFile);
const cli = path.join(root, 'packages/server/src/cli.ts');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-cli-admin-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function atelier(
  env: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  const base: NodeJS.ProcessEnv = { ...process.env, ATELIER_PLUGIN_DIR: testPluginDir, ATELIER_THREADS: '1' };
  delete base['DATABASE_URL'];
  try {
    const { stdout, stderr } = await exec(process.execPath, [cli, ...args], {
      cwd: root,
      env: { ...base, ...env },
      timeout: 60_000, // a bench that hangs is killed, and fails its test
    });
    return { code: 0, stdout, stderr, ms: performance.now() - started };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr, ms: performance.now() - started };
  }
}

interface Listed {
  id: string;
  enabled: boolean;
  defaults: Record<string, unknown>;
}

describe('styles and apply honour the administrators’ plugin state when DATABASE_URL is set', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase(inject('pgAdminUrl'));
    await savePluginState(database.db, {
      pluginId: 'acme:invert',
      enabled: false,
      defaults: {},
      actorId: null,
    });
  });
  afterAll(() => database.drop());

  it('styles marks a plugin an administrator disabled, in the table and in --json', async () => {
    const env = { DATABASE_URL: database.url };
    const json = await atelier(env, 'styles', '--json');
    expect(json.code).toBe(0);
    expect(json.stderr).toBe('');
    const list = JSON.parse(json.stdout) as Listed[];
    expect(list.find((p) => p.id === 'acme:invert')?.enabled).toBe(false);
    expect(list.find((p) => p.id === 'cartoon')?.enabled).toBe(true);

    const table = await atelier(env, 'styles');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^acme:invert \(disabled\)/m);
    expect(table.stdout).not.toMatch(/^cartoon \(disabled\)/m);
  });

  it('without DATABASE_URL the environment alone decides: the plugin is enabled', async () => {
    const { code, stdout } = await atelier({}, 'styles', '--json');
    expect(code).toBe(0);
    expect((JSON.parse(stdout) as Listed[]).find((p) => p.id === 'acme:invert')?.enabled).toBe(true);
  });

  it('apply refuses a disabled plugin with PLUGIN_DISABLED and writes nothing', async () => {
    const out = path.join(dir, 'refused.png');
    const { code, stdout, stderr } = await atelier(
      { DATABASE_URL: database.url },
      'apply',
      photo('chelsea.png'),
      '--style',
      'acme:invert',
      '--out',
      out,
    );
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^atelier: PLUGIN_DISABLED: /);
    await expect(access(out)).rejects.toThrow();
  });

  it('a database out of reach costs one warning line, not the command', async () => {
    const env = { DATABASE_URL: 'postgres://atelier:atelier@127.0.0.1:1/atelier' };
    const styles = await atelier(env, 'styles', '--json');
    expect(styles.code).toBe(0);
    expect(styles.stderr.trim().split('\n')).toHaveLength(1);
    expect(styles.stderr).toMatch(/^atelier: warning: cannot read the administrators' plugin state/);
    expect((JSON.parse(styles.stdout) as Listed[]).find((p) => p.id === 'acme:invert')?.enabled).toBe(true);

    const out = path.join(dir, 'fallback.png');
    const applied = await atelier(env, 'apply', photo('chelsea.png'), '--style', 'acme:invert', '--out', out);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain(out);
    expect(applied.stderr).toMatch(/^atelier: warning: /);
  });
});

describe('bench is held to the limits of apply', () => {
  it('stops an endless loop at ATELIER_STEP_TIMEOUT_MS and fails with PLUGIN_TIMEOUT', async () => {
    const { code, stdout, stderr, ms } = await atelier(
      { ATELIER_STEP_TIMEOUT_MS: '500' },
      'bench',
      photo('chelsea.png'),
      '--style',
      'test:spin',
      '--width',
      '64',
      '--repeat',
      '1',
    );
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^atelier: PLUGIN_TIMEOUT: /);
    expect(ms).toBeLessThan(20_000); // process start-up and plugin loading included
  });

  it('stops a plugin past ATELIER_MAX_MEMORY_MB and fails with PLUGIN_OUT_OF_MEMORY', async () => {
    const { code, stdout, stderr } = await atelier(
      { ATELIER_MAX_MEMORY_MB: '64', ATELIER_STEP_TIMEOUT_MS: '60000' },
      'bench',
      photo('chelsea.png'),
      '--style',
      'test:hog',
      '--width',
      '64',
      '--repeat',
      '1',
    );
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^atelier: PLUGIN_OUT_OF_MEMORY: /);
  });

  it('a plugin within the limits is still timed', async () => {
    const { code, stdout } = await atelier(
      { ATELIER_STEP_TIMEOUT_MS: '10000' },
      'bench',
      photo('rocket.jpg'),
      '--style',
      'acme:invert',
      '--width',
      '320',
      '--repeat',
      '2',
      '--json',
    );
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ style: 'acme:invert', width: 320, height: 214 });
  });
});
