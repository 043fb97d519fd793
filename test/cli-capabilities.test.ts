// `atelier plugins grant|revoke|grants` and `atelier secrets set|list|remove` as an operator runs
// them (real processes, a real database), and `atelier apply` running a granted plugin with its
// secret against a loopback fake provider. The secret goes in on stdin and never comes out.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { SecretsKey, loadPlanGrants } from '@atelier/jobs';
import { PluginRegistry, createPlan, loadPluginDirectory } from '@atelier/core';
import { photo, root } from './helpers.ts';

const cli = path.join(root, 'packages/server/src/cli.ts');
const pluginDir = fileURLToPath(new URL('./fixtures/capability-plugins/', import.meta.url));
const SECRET = `sk-cli-${randomBytes(12).toString('hex')}`;
const KEY = randomBytes(32).toString('hex');
let database: TestDatabase;
let dir: string;
let provider: Server;
let providerUrl: string;
const seenKeys: (string | undefined)[] = [];
const outputs: string[] = [];

beforeAll(async () => {
  database = await createTestDatabase(inject('pgAdminUrl'));
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-cli-caps-'));
  provider = createServer((req, res) => {
    seenKeys.push(req.headers['x-test-key'] as string | undefined);
    res.end('20');
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  providerUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  provider.closeAllConnections();
  await new Promise((resolve) => provider.close(resolve));
  await database.drop();
  await rm(dir, { recursive: true, force: true });
});

function atelier(
  args: readonly string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: database.url,
    ATELIER_PLUGIN_DIR: pluginDir,
    ATELIER_SECRETS_KEY: KEY,
    ATELIER_THREADS: '1',
    ...options.env,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: root, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      outputs.push(stdout, stderr);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

describe('atelier plugins grant/revoke and atelier secrets', () => {
  it('lists what the plugin asks for', async () => {
    const listed = await atelier(['plugins', 'grants', '--json']);
    expect(listed.code).toBe(0);
    // Built-in plugins that call providers (openai-image, openai-describe) may be listed too.
    const grants = JSON.parse(listed.stdout) as { id: string }[];
    expect(grants.filter((g) => g.id.startsWith('test:'))).toEqual([
      expect.objectContaining({
        id: 'test:fetcher',
        missing: { network: ['127.0.0.1', 'localhost'], secrets: ['TEST_KEY'] },
      }),
    ]);
  });

  it('refuses to grant what the plugin does not declare', async () => {
    const host = await atelier(['plugins', 'grant', 'test:fetcher', '--network', 'evil.example.com']);
    expect(host.code).toBe(1);
    expect(host.stderr).toContain('CAPABILITY_DENIED');
    const none = await atelier(['plugins', 'grant', 'test:fetcher']);
    expect(none.stderr).toContain('USAGE_INVALID');
    expect(await database.db.selectFrom('plugin_grants').selectAll().execute()).toEqual([]);
  });

  it('a secret needs ATELIER_SECRETS_KEY', async () => {
    const set = await atelier(['secrets', 'set', 'TEST_KEY'], {
      stdin: `${SECRET}\n`,
      env: { ATELIER_SECRETS_KEY: undefined },
    });
    expect(set.code).toBe(1);
    expect(set.stderr).toContain('SECRETS_KEY_MISSING');
    expect(await database.db.selectFrom('plugin_secrets').selectAll().execute()).toEqual([]);
  });

  it('grants, stores the secret from stdin, and apply runs the plugin with it', async () => {
    const granted = await atelier([
      'plugins',
      'grant',
      'test:fetcher',
      '--network',
      '127.0.0.1',
      '--secret',
      'TEST_KEY',
    ]);
    expect(granted.code).toBe(0);
    expect(granted.stdout).toContain('not granted (jobs are refused): network localhost');
    const all = await atelier(['plugins', 'grant', 'test:fetcher', '--all']);
    expect(all.stdout).toContain('granted network 127.0.0.1, localhost; secrets TEST_KEY');
    expect(all.stdout).toContain('granted but not set');

    const set = await atelier(['secrets', 'set', 'TEST_KEY'], { stdin: `${SECRET}\n` });
    expect(set).toMatchObject({ code: 0 });
    expect(set.stdout).toMatch(/^stored TEST_KEY/);
    // Stored as typed, without the newline, and only the key opens it.
    const registry = new PluginRegistry();
    await loadPluginDirectory(registry, pluginDir);
    const plan = createPlan(registry, { steps: [{ plugin: 'test:fetcher' }] });
    expect(await loadPlanGrants(database.db, SecretsKey.parse(KEY), registry, plan)).toEqual({
      'test:fetcher': { network: ['127.0.0.1', 'localhost'], secrets: { TEST_KEY: SECRET } },
    });
    const list = await atelier(['secrets', 'list']);
    expect(list.stdout).toMatch(/^TEST_KEY {2}updated /);

    const out = path.join(dir, 'out.png');
    const applied = await atelier(
      ['apply', photo('chelsea.png'), '--style', 'test:fetcher', '--set', `url=${providerUrl}`, '--out', out],
      { env: { ATELIER_FETCH_ALLOW_LOOPBACK: '1' } },
    );
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(seenKeys).toEqual([SECRET]);
  });

  it('revoke refuses apply again; remove deletes the secret; all of it audited', async () => {
    const revoked = await atelier(['plugins', 'revoke', 'test:fetcher', '--secret', 'TEST_KEY']);
    expect(revoked.stdout).toContain('not granted (jobs are refused): network -; secrets TEST_KEY');
    const applied = await atelier(
      [
        'apply',
        photo('chelsea.png'),
        '--style',
        'test:fetcher',
        '--set',
        `url=${providerUrl}`,
        '--out',
        path.join(dir, 'x.png'),
      ],
      { env: { ATELIER_FETCH_ALLOW_LOOPBACK: '1' } },
    );
    expect(applied.code).toBe(1);
    expect(applied.stderr).toContain('CAPABILITY_NOT_GRANTED');
    expect(seenKeys).toHaveLength(1);
    expect((await atelier(['plugins', 'revoke', 'test:fetcher'])).code).toBe(0);
    expect(await database.db.selectFrom('plugin_grants').selectAll().execute()).toEqual([]);

    expect((await atelier(['secrets', 'remove', 'TEST_KEY'])).stdout).toBe('removed TEST_KEY\n');
    const again = await atelier(['secrets', 'remove', 'TEST_KEY']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('SECRET_NOT_FOUND');

    const audit = await database.db
      .selectFrom('audit_log')
      .select(['action', 'target_id', 'details'])
      .execute();
    expect(audit.map((a) => a.action)).toEqual([
      'plugin.grant',
      'plugin.grant',
      'secret.set',
      'plugin.grant',
      'plugin.revoke',
      'secret.remove',
    ]);
    expect(audit.every((a) => a.details['via'] === 'cli')).toBe(true);
    expect(JSON.stringify(audit)).not.toContain(SECRET);
    for (const output of outputs) expect(output).not.toContain(SECRET);
  });
});
