// Engine.restartThreads(): a plugin whose code changed on disk (here a module its entry imports,
// which a thread that imported it once keeps) runs as new only on fresh threads; a run in progress
// finishes on the old ones.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, PluginRegistry, loadPluginModule } from '@atelier/core';
import { photo, read, root } from './helpers.ts';

// Inside the repository, so the plugin resolves zod like an installed one.
const dir = path.join(root, 'test/.tmp', `engine-restart-${process.pid}`);
const entry = pathToFileURL(path.join(dir, 'tint.js')).href;
let engine: Engine;
let registry: PluginRegistry;
let input: Buffer;

const setValue = (value: number): Promise<void> =>
  writeFile(path.join(dir, 'value.js'), `export const value = ${value};\n`);

async function load(revision?: number): Promise<PluginRegistry> {
  const fresh = new PluginRegistry();
  await loadPluginModule(fresh, entry, revision === undefined ? {} : { revision });
  return fresh;
}

async function grey(): Promise<number> {
  const result = await engine.run(input, engine.plan({ steps: [{ plugin: 'acme:tint' }] }));
  return (await sharp(result.data).stats()).channels[0]!.mean;
}

beforeAll(async () => {
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, 'tint.js'),
    `import { z } from 'zod';
import { value } from './value.js';
export const tint = {
  id: 'acme:tint', name: 'Tint', description: 'One grey.', version: '1.0.0', engine: '^1',
  kind: 'style', params: z.object({}),
  apply: ({ image }) => ({ ...image, data: new Uint8Array(image.data.length).fill(value) }),
};
`,
  );
  await setValue(40);
  registry = await load();
  engine = new Engine({ registry, threads: 1 });
  input = await read(photo('chelsea.png'));
});
afterAll(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

describe('Engine.restartThreads', () => {
  it('runs changed plugin code only on fresh threads; a run in progress finishes', async () => {
    expect(await grey()).toBeCloseTo(40, 0);
    await setValue(200);
    registry.replacePlugins(await load(1));
    // The entry is imported anew under ?rev=1, but the thread keeps the value.js it imported.
    expect(await grey()).toBeCloseTo(40, 0);

    const inFlight = grey();
    const restarted = engine.restartThreads();
    expect(await grey()).toBeCloseTo(200, 0);
    expect(await inFlight).toBeCloseTo(40, 0);
    await restarted;
  });
});
