// Third-party plugins from npm packages and from a local directory, as a deployment configures
// them, including every way loading can fail.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Engine,
  PluginRegistry,
  loadPluginDirectory,
  loadPluginModule,
  resolvePluginPackage,
} from '@atelier/core';
import type { AtelierError } from '@atelier/core';
import { createRegistry, readConfig } from '@atelier/server';
import { errorCodeOf, photo, read, root } from './helpers.ts';

// Inside the repository, so the packages resolve zod from its node_modules like an installed plugin.
const base = path.join(root, 'test/.tmp', `loading-${process.pid}`);
const pkgDir = (name: string) => path.join(base, 'node_modules', name);

const jsPlugin = (id: string, extra = '') => `import { z } from 'zod';
export const plugin = {
  id: '${id}', name: 'Sepia', description: 'Warm brown tones.', version: '0.3.0', engine: '^1', kind: 'style',
  params: z.object({ strength: z.number().min(0).max(1).default(1) }),
  apply({ image, params }) {
    const d = image.data, out = new Uint8Array(d.length);
    for (let i = 0; i < d.length; i += 3) {
      const r = d[i], g = d[i + 1], b = d[i + 2], s = params.strength;
      out[i] = Math.min(255, r * (1 - 0.607 * s) + g * 0.769 * s + b * 0.189 * s);
      out[i + 1] = Math.min(255, r * 0.349 * s + g * (1 - 0.314 * s) + b * 0.168 * s);
      out[i + 2] = Math.min(255, r * 0.272 * s + g * 0.534 * s + b * (1 - 0.869 * s));
    }
    return { ...image, data: out };
  },
  ${extra}
};
`;

beforeAll(async () => {
  await mkdir(pkgDir('atelier-plugin-sepia'), { recursive: true });
  await writeFile(
    path.join(pkgDir('atelier-plugin-sepia'), 'package.json'),
    JSON.stringify({
      name: 'atelier-plugin-sepia',
      type: 'module',
      exports: { '.': { import: './dist/index.js' } },
    }),
  );
  await mkdir(path.join(pkgDir('atelier-plugin-sepia'), 'dist'));
  await writeFile(path.join(pkgDir('atelier-plugin-sepia'), 'dist/index.js'), jsPlugin('sepia:tone'));
  await mkdir(pkgDir('atelier-plugin-broken'), { recursive: true });
  await writeFile(
    path.join(pkgDir('atelier-plugin-broken'), 'package.json'),
    JSON.stringify({ name: 'atelier-plugin-broken', type: 'module', main: 'index.js' }),
  );
  await writeFile(
    path.join(pkgDir('atelier-plugin-broken'), 'index.js'),
    "throw new Error('no GPU found');\n",
  );
  await mkdir(path.join(base, 'plugins/nested'), { recursive: true });
  await writeFile(path.join(base, 'plugins/local.js'), jsPlugin('local:sepia'));
  await writeFile(path.join(base, 'plugins/nested/index.js'), jsPlugin('local:nested'));
  await writeFile(path.join(base, 'plugins/notes.txt'), 'not a plugin');
});
afterAll(() => rm(base, { recursive: true, force: true }));

describe('loading plugins', () => {
  it('registers built-ins, configured npm packages and the local directory, and runs them on the engine', async () => {
    const config = readConfig(
      { ATELIER_PLUGINS: 'atelier-plugin-sepia', ATELIER_PLUGIN_DIR: 'plugins' },
      base,
    );
    const registry = await createRegistry(config);
    const ids = registry.list().map((p) => p.id);
    expect(ids).toContain('cartoon');
    expect(ids.slice(-3)).toEqual(['sepia:tone', 'local:sepia', 'local:nested']);
    expect(registry.describe('cartoon').builtin).toBe(true);
    expect(registry.describe('sepia:tone').builtin).toBe(false);

    const engine = new Engine({ registry, threads: 1 });
    try {
      const plan = engine.plan({
        steps: [{ plugin: 'sepia:tone' }, { plugin: 'local:nested', params: { strength: 0.5 } }],
      });
      const result = await engine.run(await read(photo('chelsea.png')), plan);
      expect([result.width, result.height]).toEqual([451, 300]);
      expect(result.timings.steps.map((s) => s.plugin)).toEqual(['sepia:tone', 'local:nested']);
    } finally {
      await engine.close();
    }
  });

  it('fails fast with a coded error for each kind of bad plugin', async () => {
    expect(await errorCodeOf(resolvePluginPackage('atelier-plugin-missing', base))).toBe(
      'PLUGIN_LOAD_FAILED',
    );
    const broken = await resolvePluginPackage('atelier-plugin-broken', base);
    const error = await loadPluginModule(new PluginRegistry(), broken).catch((e: AtelierError) => e);
    expect(error).toMatchObject({ code: 'PLUGIN_LOAD_FAILED' });
    expect((error as AtelierError).message).toContain('no GPU found');

    const write = async (name: string, text: string) => {
      const file = path.join(base, name);
      await writeFile(file, text);
      return `file://${file}`;
    };
    expect(
      await errorCodeOf(
        loadPluginModule(new PluginRegistry(), await write('empty.js', 'export const x = 1;\n')),
      ),
    ).toBe('PLUGIN_INVALID');
    expect(
      await errorCodeOf(
        loadPluginModule(
          new PluginRegistry(),
          await write('future.js', jsPlugin('f:x').replace("engine: '^1'", "engine: '^3'")),
        ),
      ),
    ).toBe('PLUGIN_ENGINE_MISMATCH');
    const twice = new PluginRegistry();
    await loadPluginModule(twice, await write('one.js', jsPlugin('dup:x')));
    expect(await errorCodeOf(loadPluginModule(twice, await write('two.js', jsPlugin('dup:x'))))).toBe(
      'PLUGIN_DUPLICATE',
    );
    // A local plugin may not take a built-in's id.
    const clash = path.join(base, 'clash');
    await mkdir(clash, { recursive: true });
    await writeFile(path.join(clash, 'cartoon.js'), jsPlugin('cartoon'));
    expect(await errorCodeOf(createRegistry(readConfig({ ATELIER_PLUGIN_DIR: 'clash' }, base)))).toBe(
      'PLUGIN_DUPLICATE',
    );
  });

  it('treats a missing plugin directory as empty', async () => {
    expect(await loadPluginDirectory(new PluginRegistry(), path.join(base, 'nope'))).toEqual([]);
  });
});
