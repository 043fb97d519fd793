import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BUSY_FILE,
  ensurePluginsFolder,
  hostCoreDir,
  lockPluginsFolder,
  pluginPackagesIn,
  pluginsFolderFingerprint,
  pnpmCommand,
} from './plugins-folder.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-folder-unit-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the plugins folder', () => {
  it('is created on first use with @atelier/core linked to this checkout, and the link follows a move', async () => {
    const folder = path.join(dir, 'a/plugins');
    await ensurePluginsFolder(folder);
    const manifest = JSON.parse(await readFile(path.join(folder, 'package.json'), 'utf8')) as {
      name: string;
      private: boolean;
      dependencies: Record<string, string>;
    };
    expect(manifest).toEqual({
      name: 'atelier-plugins',
      private: true,
      dependencies: { '@atelier/core': `link:${hostCoreDir()}` },
    });
    expect(await readFile(path.join(folder, 'pnpm-workspace.yaml'), 'utf8')).toMatch(
      /^strictDepBuilds: false\nallowBuilds: \{\}$/m,
    );
    expect(await pluginPackagesIn(folder)).toEqual([]);

    manifest.dependencies = {
      '@atelier/core': 'link:/old/checkout/packages/core',
      'acme-b': '1',
      'acme-a': '1',
    };
    await writeFile(path.join(folder, 'package.json'), JSON.stringify(manifest));
    await ensurePluginsFolder(folder);
    const again = JSON.parse(await readFile(path.join(folder, 'package.json'), 'utf8')) as typeof manifest;
    expect(again.dependencies['@atelier/core']).toBe(`link:${hostCoreDir()}`);
    expect(await pluginPackagesIn(folder)).toEqual(['acme-a', 'acme-b']);
  });

  it('has no plugin packages when it does not exist', async () => {
    expect(await pluginPackagesIn(path.join(dir, 'missing'))).toEqual([]);
  });

  it('is held by one command at a time; a dead holder is taken over', async () => {
    const folder = path.join(dir, 'b');
    await ensurePluginsFolder(folder);
    const before = await pluginsFolderFingerprint(folder);
    const release = await lockPluginsFolder(folder);
    await expect(lockPluginsFolder(folder)).rejects.toMatchObject({ code: 'PLUGIN_INSTALL_FAILED' });
    await release();
    // A process that has exited: its pid is free.
    const child = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => child.once('exit', resolve));
    await writeFile(path.join(folder, BUSY_FILE), `${child.pid}\n`);
    const again = await lockPluginsFolder(folder);
    await again();
    // Taking and releasing the folder is not a change of what it installs.
    expect(await pluginsFolderFingerprint(folder)).toBe(before);
  });
});

describe('pnpmCommand', () => {
  it('prefers the pnpm running the command, then ATELIER_PNPM, then PATH, then npx', () => {
    expect(pnpmCommand({ npm_execpath: '/opt/pnpm/bin/pnpm.cjs', PATH: '' })).toEqual({
      command: process.execPath,
      args: ['/opt/pnpm/bin/pnpm.cjs'],
    });
    // npm's own execpath is not pnpm.
    expect(
      pnpmCommand({ npm_execpath: '/usr/lib/npm/bin/npm-cli.js', ATELIER_PNPM: '/x/pnpm', PATH: '' }),
    ).toEqual({ command: '/x/pnpm', args: [] });
    expect(pnpmCommand({ PATH: '/nonexistent' })).toEqual({ command: 'npx', args: ['-y', 'pnpm@12'] });
  });
});
