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
  silentLogger,
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

  it('fails fast with a coded error for each kind of bad plugin (by default, or with ATELIER_STRICT_PLUGINS=1)', async () => {
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
    const strict = readConfig({ ATELIER_PLUGIN_DIR: 'clash', ATELIER_STRICT_PLUGINS: '1' }, base);
    expect(await errorCodeOf(createRegistry(strict))).toBe('PLUGIN_DUPLICATE');
    // Without the flag the clashing plugin is skipped and reported; the built-in stays.
    const lenient = await createRegistry(readConfig({ ATELIER_PLUGIN_DIR: 'clash' }, base));
    expect(lenient.describe('cartoon').builtin).toBe(true);
    expect(lenient.failures()).toEqual([
      expect.objectContaining({ plugin: 'cartoon', code: 'PLUGIN_DUPLICATE' }),
    ]);
  });

  it("with onFailure: 'skip', records each bad plugin on the registry and loads the good ones", async () => {
    const dir = path.join(base, 'mixed');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'a-good.js'), jsPlugin('mixed:good'));
    await writeFile(
      path.join(dir, 'b-future.js'),
      jsPlugin('mixed:future').replace("engine: '^1'", "engine: '^2'"),
    );
    await writeFile(path.join(dir, 'c-empty.js'), 'export const x = 1;\n');
    await writeFile(path.join(dir, 'd-throws.js'), "throw new Error('no GPU found');\n");
    // One module, two plugins: the bad one does not keep out its good neighbour.
    await writeFile(
      path.join(dir, 'e-pair.js'),
      `${jsPlugin('mixed:pair')}\nexport const other = { ...plugin, id: 'Bad Id' };\n`,
    );
    const registry = new PluginRegistry();
    expect(await loadPluginDirectory(registry, dir, { onFailure: 'skip' })).toEqual([
      'mixed:good',
      'mixed:pair',
    ]);
    expect(registry.failures().map((f) => [f.plugin, f.code])).toEqual([
      ['mixed:future', 'PLUGIN_ENGINE_MISMATCH'],
      [undefined, 'PLUGIN_INVALID'],
      [undefined, 'PLUGIN_LOAD_FAILED'],
      ['Bad Id', 'PLUGIN_INVALID'],
    ]);
    expect(registry.failures()[0]).toMatchObject({
      source: `file://${path.join(dir, 'b-future.js')}`,
      message: expect.stringContaining('supports engine ^2'),
    });
    // The default stays fail-fast: the first bad module's coded error.
    expect(await errorCodeOf(loadPluginDirectory(new PluginRegistry(), dir))).toBe('PLUGIN_ENGINE_MISMATCH');
  });

  it('skips a configured package that is not installed, and logs each failure with its code', async () => {
    const warnings: { message: string; fields?: Record<string, unknown> }[] = [];
    const logger = {
      ...silentLogger,
      warn: (message: string, fields?: Record<string, unknown>) =>
        void warnings.push({ message, ...(fields ? { fields } : {}) }),
    };
    const config = readConfig(
      { ATELIER_PLUGINS: 'atelier-plugin-missing,atelier-plugin-sepia', ATELIER_PLUGIN_DIR: 'none' },
      base,
    );
    const registry = await createRegistry(config, { logger });
    expect(registry.has('sepia:tone')).toBe(true);
    expect(registry.failures()).toEqual([
      {
        source: 'atelier-plugin-missing',
        code: 'PLUGIN_LOAD_FAILED',
        message: expect.stringContaining('not installed'),
      },
    ]);
    expect(warnings).toEqual([
      {
        message: expect.stringContaining('PLUGIN_LOAD_FAILED'),
        fields: { code: 'PLUGIN_LOAD_FAILED', source: 'atelier-plugin-missing' },
      },
    ]);
    expect(
      await errorCodeOf(
        createRegistry(
          readConfig({ ATELIER_PLUGINS: 'atelier-plugin-missing', ATELIER_STRICT_PLUGINS: 'true' }, base),
        ),
      ),
    ).toBe('PLUGIN_LOAD_FAILED');
  });

  it('treats a missing plugin directory as empty', async () => {
    expect(await loadPluginDirectory(new PluginRegistry(), path.join(base, 'nope'))).toEqual([]);
  });
});
