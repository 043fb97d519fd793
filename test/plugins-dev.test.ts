// Development mode as a plugin author uses it: the plugin directory linked into the plugins folder
// (`atelier plugins add --link`), `serve --dev` and `apply --dev` running; an edit of the plugin's
// code, without a version bump, changes the next result: the result cache is bypassed and the new
// code runs (fresh worker threads, the entry imported again).
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { cleanupsAfterAll } from './cleanups.ts';
import { photo, root } from './helpers.ts';
import {
  accountWithPhoto,
  atelier,
  eventually,
  listedStyles,
  render,
  tintSource,
  writePluginPackage,
} from './plugin-packages.ts';
import { serveEnv, spawnServe } from './serve-process.ts';

const defer = cleanupsAfterAll();
let dir: string;
let database: TestDatabase;
let env: NodeJS.ProcessEnv;
const pluginDir = (): string => path.join(dir, 'src/tint');
const edit = (value: number): Promise<void> =>
  writeFile(path.join(pluginDir(), 'index.js'), tintSource('acme:tint', value));

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-plugins-dev-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  await writePluginPackage(pluginDir(), { name: '@acme/atelier-tint', id: 'acme:tint', value: 40 });
  // The author's own install of the SDK: here the host's copy (it is not on the npm registry).
  await mkdir(path.join(pluginDir(), 'node_modules/@atelier'), { recursive: true });
  await symlink(path.join(root, 'packages/core'), path.join(pluginDir(), 'node_modules/@atelier/core'));
  database = await createTestDatabase(inject('pgAdminUrl'));
  defer(() => database.drop());
  env = {
    ...serveEnv(database, dir),
    ATELIER_DATA_DIR: path.join(dir, 'data'),
    ATELIER_PLUGIN_DIR: path.join(dir, 'no-plugin-files'),
  };
  const linked = await atelier(dir, env, 'plugins', 'add', '--link', pluginDir());
  expect(linked.stderr).not.toMatch(/^atelier: [A-Z_]+:/m);
  expect(linked.code).toBe(0);
}, 60_000);

describe('serve --dev', () => {
  it('runs the edited plugin code on the next job, not the cached result', async () => {
    const serve = spawnServe({ cwd: dir, env, args: ['--dev'], defer });
    const url = await serve.url;
    expect(await listedStyles(url)).toContain('acme:tint');
    await serve.waitFor(/"dev":true,"code":\[".*src\/tint"\].*"msg":"watching plugins"/);
    const account = await accountWithPhoto(url, 'dev@example.org');
    const first = await render(url, account, 'acme:tint');
    expect(Math.abs(first.mean - 40)).toBeLessThan(3);

    await edit(200);
    await serve.waitFor(/"reason":"plugin code".*"replaced":\["acme:tint"\].*"msg":"plugins reloaded"/);
    // The same plan on the same photo: without dev mode the cache would answer with grey 40.
    const second = await render(url, account, 'acme:tint');
    expect(second.fromCache).toBe(false);
    expect(Math.abs(second.mean - 200)).toBeLessThan(3);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });
});

describe('apply --dev', () => {
  it('renders, then renders again after each edit of the plugin', async () => {
    await edit(60);
    const out = path.join(dir, 'out.png');
    const child = spawn(
      process.execPath,
      [
        path.join(root, 'packages/server/src/cli.ts'),
        'apply',
        '--dev',
        photo('chelsea.png'),
        '--style',
        'acme:tint',
        '--out',
        out,
      ],
      { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise((resolve) => child.once('exit', resolve));
    defer(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const runs = (): Promise<number> =>
      Promise.resolve(stdout.split('\n').filter((l) => l.startsWith(out)).length);
    // From the bytes: sharp would answer a second read of the same path from its cache.
    const grey = async (): Promise<number> => (await sharp(await readFile(out)).stats()).channels[0]!.mean;

    await eventually('first run', runs, (n) => n === 1, 30_000);
    expect(Math.abs((await grey()) - 60)).toBeLessThan(3);
    await eventually(
      'watching',
      () => Promise.resolve(stderr),
      (s) => s.includes('dev mode: watching'),
    );
    await edit(120);
    await eventually('second run', runs, (n) => n === 2, 30_000);
    expect(stderr).toContain('atelier: plugin code changed: running again');
    expect(Math.abs((await grey()) - 120)).toBeLessThan(3);
    child.kill('SIGINT');
    await exited;
  });
});
