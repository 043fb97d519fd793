// `atelier` shares Node's module compile cache with the engine's threads (docs/operations.md
// "Compile cache"): a real CLI process renders with a band helper, and the stripped sources of the
// modules only those threads load are then in the cache directory, the user's own (not one under
// the shared temporary directory).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { photo, root } from './helpers.ts';

const exec = promisify(execFile);
const cli = path.join(root, 'packages/server/src/cli.ts');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-compile-cache-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Renders a photo with two threads, in an environment whose home and temporary directory are `temp`. */
async function render(temp: string, extra: NodeJS.ProcessEnv = {}): Promise<void> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: temp, TMPDIR: temp, ATELIER_THREADS: '2', ...extra };
  // Set, it would make Node enable the cache at start-up in every thread by itself.
  delete env['NODE_COMPILE_CACHE'];
  if (!('XDG_CACHE_HOME' in extra)) delete env['XDG_CACHE_HOME'];
  if (!('NODE_DISABLE_COMPILE_CACHE' in extra)) delete env['NODE_DISABLE_COMPILE_CACHE'];
  await exec(
    process.execPath,
    [cli, 'apply', photo('chelsea.png'), '--style', 'oil-painting', '--out', temp],
    {
      cwd: root,
      env,
    },
  );
}

/** The texts of every cache entry under `cache` (each holds a module's stripped source). */
async function entries(cache: string): Promise<string[]> {
  const texts: string[] = [];
  for (const entry of await readdir(cache, { recursive: true, withFileTypes: true }))
    if (entry.isFile()) texts.push(await readFile(path.join(entry.parentPath, entry.name), 'latin1'));
  return texts;
}

describe('the module compile cache', () => {
  it("holds the engine thread's and the band helper's modules after a render", async () => {
    const temp = await mkdtemp(path.join(dir, 'on-'));
    await render(temp);
    // Not Node's default, under the temporary directory, where another user could make it first.
    await expect(readdir(path.join(temp, 'node-compile-cache'))).rejects.toThrow(/ENOENT/);
    const cache = path.join(temp, '.cache', 'atelier', 'node-compile-cache');
    // One directory for this Node version: the threads were given the same one, not a subdirectory.
    const versions = await readdir(cache);
    expect(versions).toHaveLength(1);
    expect(
      (await readdir(path.join(cache, versions[0]!), { withFileTypes: true })).every((e) => e.isFile()),
    ).toBe(true);
    const texts = await entries(cache);
    // Modules only an engine thread (engine-worker.ts) and a band helper (band-helper.ts) import.
    expect(texts.some((t) => t.includes('A band helper thread of the engine'))).toBe(true);
    expect(texts.some((t) => t.includes('The worker-thread side of the engine'))).toBe(true);
  });

  it('goes under XDG_CACHE_HOME when it is set', async () => {
    const temp = await mkdtemp(path.join(dir, 'xdg-'));
    await render(temp, { XDG_CACHE_HOME: path.join(temp, 'xdg') });
    const texts = await entries(path.join(temp, 'xdg', 'atelier', 'node-compile-cache'));
    expect(texts.some((t) => t.includes('A band helper thread of the engine'))).toBe(true);
    await expect(readdir(path.join(temp, '.cache'))).rejects.toThrow(/ENOENT/);
  });

  it('is not written with NODE_DISABLE_COMPILE_CACHE set', async () => {
    const temp = await mkdtemp(path.join(dir, 'off-'));
    await render(temp, { NODE_DISABLE_COMPILE_CACHE: '1' });
    await expect(readdir(path.join(temp, '.cache'))).rejects.toThrow(/ENOENT/);
    await expect(readdir(path.join(temp, 'node-compile-cache'))).rejects.toThrow(/ENOENT/);
  });
});
