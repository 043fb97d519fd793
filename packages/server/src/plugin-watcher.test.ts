import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PluginRegistry } from '@atelier/core';
import { readConfig } from './config.ts';
import { PluginWatcher } from './plugin-watcher.ts';
import { BUSY_FILE, ensurePluginsFolder } from './plugins-folder.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-watch-unit-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const settle = (ms = 700): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A watcher over `root`'s plugin directory and plugins folder, and the changes it announced. */
async function watching(
  root: string,
): Promise<{ changes: string[]; watcher: PluginWatcher; folder: string }> {
  const config = readConfig({ ATELIER_PLUGIN_DIR: 'plugins', ATELIER_DATA_DIR: 'data' }, root);
  await mkdir(path.join(root, 'plugins/sub'), { recursive: true });
  await mkdir(path.join(root, 'plugins/node_modules/dep'), { recursive: true });
  await writeFile(path.join(root, 'plugins/sub/a.js'), 'export {};\n');
  await ensurePluginsFolder(config.pluginsFolder);
  const changes: string[] = [];
  const watcher = new PluginWatcher({
    config,
    code: true,
    debounceMs: 100,
    onChange: (why) => changes.push(why),
  });
  await watcher.start(new PluginRegistry());
  return { changes, watcher, folder: config.pluginsFolder };
}

describe('PluginWatcher', () => {
  it('announces an edit of plugin code once, and nothing for node_modules or dot-files', async () => {
    const root = path.join(dir, 'code');
    const { changes, watcher } = await watching(root);
    try {
      await writeFile(path.join(root, 'plugins/node_modules/dep/index.js'), 'export {};\n');
      await writeFile(path.join(root, 'plugins/.a.js.swp'), 'x');
      await settle();
      expect(changes).toEqual([]);
      await writeFile(path.join(root, 'plugins/sub/a.js'), 'export const a = 1;\n');
      await writeFile(path.join(root, 'plugins/sub/a.js'), 'export const a = 2;\n');
      await settle();
      expect(changes).toEqual(['plugin code']);
    } finally {
      watcher.close();
    }
  });

  it('waits while an atelier plugins command holds the folder, then announces the change', async () => {
    const root = path.join(dir, 'folder');
    const { changes, watcher, folder } = await watching(root);
    try {
      await writeFile(path.join(folder, BUSY_FILE), `${process.pid}\n`);
      await writeFile(path.join(folder, 'pnpm-lock.yaml'), 'lockfileVersion: 9.0\n');
      await settle();
      expect(changes).toEqual([]);
      await rm(path.join(folder, BUSY_FILE));
      await settle();
      expect(changes).toEqual(['plugins folder']);
      // Written again with the same bytes: nothing to reload.
      await writeFile(path.join(folder, 'pnpm-lock.yaml'), 'lockfileVersion: 9.0\n');
      await settle();
      expect(changes).toEqual(['plugins folder']);
    } finally {
      watcher.close();
    }
  });
});
