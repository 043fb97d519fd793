// docs/plugins.md teaches plugin authors with docs/examples/plugins/duotone.plugin.ts. This test
// loads that file the way a deployment would (a local plugin directory), runs it through the
// engine, and checks that the docs show the file as it is.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, PluginRegistry, loadPluginDirectory } from '@atelier/core';
import type { AtelierError } from '@atelier/core';
import { photo, pixels, read } from './helpers.ts';

const exampleDir = fileURLToPath(new URL('../docs/examples/plugins/', import.meta.url));
let engine: Engine;

beforeAll(async () => {
  const registry = new PluginRegistry();
  expect(await loadPluginDirectory(registry, exampleDir)).toEqual(['acme:duotone']);
  engine = new Engine({ registry, threads: 1 });
});
afterAll(() => engine.close());

describe('the plugin guide example', () => {
  it('is shown in docs/plugins.md exactly as the file is', async () => {
    const guide = await readFile(fileURLToPath(new URL('../docs/plugins.md', import.meta.url)), 'utf8');
    const source = await readFile(`${exampleDir}duotone.plugin.ts`, 'utf8');
    expect(guide).toContain(source.trim());
  });

  it('runs through the engine and tones the photo between its two inks', async () => {
    const plan = engine.plan({
      steps: [{ plugin: 'acme:duotone', params: { shadows: '#000080', highlights: '#ffff00', softness: 0 } }],
      output: { format: 'png' },
    });
    const result = await engine.run(await read(photo('chelsea.png')), plan);
    const out = await pixels(result.data);
    expect([out.width, out.height, out.channels]).toEqual([451, 300, 3]);
    for (let i = 0; i < out.data.length; i += 3) {
      // Every pixel lies on the line from navy to yellow: red equals green, blue falls as they rise.
      expect(Math.abs(out.data[i]! - out.data[i + 1]!)).toBeLessThanOrEqual(1);
      expect(Math.abs(out.data[i + 2]! - (128 - Math.round((out.data[i]! * 128) / 255)))).toBeLessThanOrEqual(
        2,
      );
    }
  });

  it('rejects a malformed colour with a clear message', async () => {
    const error = (() => {
      try {
        engine.plan({ steps: [{ plugin: 'acme:duotone', params: { shadows: 'blue' } }] });
      } catch (e) {
        return e as AtelierError;
      }
      return undefined;
    })();
    expect(error?.code).toBe('PARAMS_INVALID');
    expect(error?.message).toContain('shadows: a colour like #1d3557');
  });
});
