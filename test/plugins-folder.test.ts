// The plugins folder as an operator uses it: `atelier plugins add <tarball>` while `atelier serve`
// runs puts a third-party style in the served list and renders it, without a restart; a plugin
// with a bad manifest is refused with its code and leaves the folder as it was; `plugins remove`
// takes the style away again. Real pnpm, a real served API, temp dirs outside the workspace.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { cleanupsAfterAll } from './cleanups.ts';
import {
  accountWithPhoto,
  atelier,
  eventually,
  listedStyles,
  render,
  writePluginPackage,
} from './plugin-packages.ts';
import { packPackage } from './pack-package.ts';
import { registerOver, serveEnv, spawnServe } from './serve-process.ts';
import type { ServeProcess } from './serve-process.ts';

const defer = cleanupsAfterAll();
let dir: string;
let database: TestDatabase;
let env: NodeJS.ProcessEnv;
let serve: ServeProcess;
let url: string;
let tarball: string;
const folder = (): string => path.join(dir, 'data/plugins');

/** A new account on the served API: its token and id. */
async function registered(email: string): Promise<{ token: string; userId: string }> {
  const response = await registerOver(url, { email, password: 'a good long password', displayName: 'A' });
  const { result } = (await response.json()) as { result: { data: { token: string; user: { id: string } } } };
  return { token: result.data.token, userId: result.data.user.id };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-plugins-folder-'));
  defer(() => rm(dir, { recursive: true, force: true }));
  await writePluginPackage(path.join(dir, 'src/tint'), {
    name: '@acme/atelier-tint',
    id: 'acme:tint',
    value: 40,
  });
  await writePluginPackage(path.join(dir, 'src/future'), {
    name: '@acme/atelier-future',
    id: 'acme:future',
    value: 90,
    engine: '^2',
  });
  tarball = await packPackage(path.join(dir, 'src/tint'), path.join(dir, 'tarballs'));
  database = await createTestDatabase(inject('pgAdminUrl'));
  defer(() => database.drop());
  env = {
    ...serveEnv(database, dir),
    ATELIER_DATA_DIR: path.join(dir, 'data'),
    ATELIER_PLUGIN_DIR: path.join(dir, 'no-plugin-files'),
  };
  serve = spawnServe({ cwd: dir, env, defer });
  url = await serve.url;
}, 60_000);

describe('atelier plugins add while serve runs', () => {
  it('installs a packed plugin: its style is listed and renders through the API without a restart', async () => {
    expect(await listedStyles(url)).not.toContain('acme:tint');
    const added = await atelier(dir, env, 'plugins', 'add', tarball);
    expect(added.stderr).not.toMatch(/^atelier: [A-Z_]+:/m);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^ {2}acme:tint@1\.0\.0 \(style\)$/m);
    const manifest = JSON.parse(await readFile(path.join(folder(), 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    // The tarball is kept in the folder, so a reinstall needs nothing outside it; the SDK is the host's.
    expect(manifest.dependencies['@acme/atelier-tint']).toMatch(
      /^file:tarballs\/atelier-tint|^file:tarballs\//,
    );
    expect(manifest.dependencies['@atelier/core']).toMatch(/^link:.*packages[\\/]core$/);

    await eventually(
      'styles',
      () => listedStyles(url),
      (ids) => ids.includes('acme:tint'),
    );
    await serve.waitFor(/"added":\["acme:tint"\].*"msg":"plugins reloaded"/);
    const account = await accountWithPhoto(url, 'tint@example.org');
    const { mean } = await render(url, account, 'acme:tint');
    expect(Math.abs(mean - 40)).toBeLessThan(3);
    expect((await atelier(dir, env, 'plugins', 'list')).stdout).toMatch(
      /@acme\/atelier-tint\s+file:\S+\s+acme:tint/,
    );
  });

  it("keeps an administrator's disabled state across a reload", async () => {
    const { token, userId } = await registered('admin@example.org');
    await database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', userId).execute();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const setEnabled = (enabled: boolean): Promise<Response> =>
      fetch(`${url}/api/admin/plugins/acme:tint`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ enabled }),
      });
    expect((await setEnabled(false)).status).toBe(200);
    await eventually(
      'styles',
      () => listedStyles(url),
      (ids) => !ids.includes('acme:tint'),
    );
    // The same package again: nothing new to install, but the folder is marked changed and reloads.
    expect((await atelier(dir, env, 'plugins', 'add', tarball)).code).toBe(0);
    await serve.waitFor(/"replaced":\["acme:tint"\].*"msg":"plugins reloaded"/);
    expect(await listedStyles(url)).not.toContain('acme:tint');
    const plugins = (await (await fetch(`${url}/api/admin/plugins`, { headers })).json()) as {
      id: string;
      enabled: boolean;
    }[];
    expect(plugins.find((p) => p.id === 'acme:tint')).toMatchObject({ enabled: false });
    expect((await setEnabled(true)).status).toBe(200);
    await eventually(
      'styles',
      () => listedStyles(url),
      (ids) => ids.includes('acme:tint'),
    );
  });

  it('refuses a plugin with a bad manifest with its code; the folder is as it was', async () => {
    const manifest = await readFile(path.join(folder(), 'package.json'), 'utf8');
    const lockfile = await readFile(path.join(folder(), 'pnpm-lock.yaml'), 'utf8');
    // A directory: packed by `plugins add` itself, as a copy.
    const refused = await atelier(dir, env, 'plugins', 'add', path.join(dir, 'src/future'));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^atelier: PLUGIN_ENGINE_MISMATCH: Plugin "acme:future" supports engine \^2, but this engine is 1\.0\.0\. Not installed/m,
    );
    expect(await readFile(path.join(folder(), 'package.json'), 'utf8')).toBe(manifest);
    expect(await readFile(path.join(folder(), 'pnpm-lock.yaml'), 'utf8')).toBe(lockfile);
    const ids = await listedStyles(url);
    expect(ids).toContain('acme:tint');
    expect(ids).not.toContain('acme:future');
    // The plugin it had still renders: the folder's node_modules was put back too.
    expect((await atelier(dir, env, 'styles')).stdout).toMatch(/^acme:tint\s+style/m);
  });

  it('plugins remove takes the style out of the served list', async () => {
    const removed = await atelier(dir, env, 'plugins', 'remove', '@acme/atelier-tint');
    expect(removed.code).toBe(0);
    expect(removed.stdout).toMatch(/acme:tint@1\.0\.0/);
    await eventually(
      'styles',
      () => listedStyles(url),
      (ids) => !ids.includes('acme:tint'),
    );
    await serve.waitFor(/"removed":\["acme:tint"\].*"msg":"plugins reloaded"/);
    const left = JSON.parse(await readFile(path.join(folder(), 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(left.dependencies)).toEqual(['@atelier/core']);
    const unknown = await atelier(dir, env, 'plugins', 'remove', '@acme/atelier-tint');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^atelier: PLUGIN_NOT_FOUND: /m);
  });
});
