import { spawn } from 'node:child_process';
import { ReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAtelierError } from '@atelier/core';
import { LocalStorage, META_FILE_PREFIX, TEMP_FILE_PREFIX } from './local-storage.ts';
import { storageContract } from './storage-contract.ts';

let base: string;
let counter = 0;
const freshRoot = () => path.join(base, `store-${++counter}`);

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'atelier-local-storage-'));
});
afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

storageContract('LocalStorage', async () => new LocalStorage({ root: freshRoot() }));

/** Every file under `dir`, relative, sorted, dot-files included. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

async function listKeys(storage: LocalStorage, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of storage.list(prefix)) keys.push(object.key);
  return keys;
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return isAtelierError(error) ? error.code : `not an AtelierError: ${String(error)}`;
  }
  return undefined;
}

const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000);

describe('LocalStorage', () => {
  it('keeps each object as a plain file under the root, with its type in a dot-file sidecar', async () => {
    const root = freshRoot();
    const storage = new LocalStorage({ root });
    await storage.put('originals/ab/cd/photo', new Uint8Array([1, 2, 3]), { contentType: 'image/jpeg' });
    expect(await filesUnder(root)).toEqual([
      path.join('originals', 'ab', 'cd', `${META_FILE_PREFIX}photo`),
      path.join('originals', 'ab', 'cd', 'photo'),
    ]);
    expect([...(await readFile(path.join(root, 'originals/ab/cd/photo')))]).toEqual([1, 2, 3]);
    expect(storage.root).toBe(path.resolve(root));
  });

  it('writes no sidecar when the key’s extension implies the type, and drops a stale one', async () => {
    const root = freshRoot();
    const storage = new LocalStorage({ root });
    await storage.put('results/ab/x.jpg', new Uint8Array([1, 2, 3]), { contentType: 'image/jpeg' });
    expect(await filesUnder(root)).toEqual([path.join('results', 'ab', 'x.jpg')]);
    expect(await storage.head('results/ab/x.jpg')).toMatchObject({ bytes: 3, contentType: 'image/jpeg' });
    // Another type than the extension's gets a sidecar, which wins over the extension…
    await storage.put('results/ab/x.jpg', new Uint8Array([4, 5]), { contentType: 'application/x-odd' });
    expect(await filesUnder(root)).toEqual([
      path.join('results', 'ab', `${META_FILE_PREFIX}x.jpg`),
      path.join('results', 'ab', 'x.jpg'),
    ]);
    expect(await storage.head('results/ab/x.jpg')).toMatchObject({
      bytes: 2,
      contentType: 'application/x-odd',
    });
    // …and goes away when the implied type is written again.
    await storage.put('results/ab/x.jpg', new Uint8Array([6]), { contentType: 'image/jpeg' });
    expect(await filesUnder(root)).toEqual([path.join('results', 'ab', 'x.jpg')]);
    expect(await storage.head('results/ab/x.jpg')).toMatchObject({ bytes: 1, contentType: 'image/jpeg' });
    // Upper-case extensions count; no put type means application/octet-stream, which needs a sidecar.
    await storage.put('a/B.PNG', new Uint8Array([1]), { contentType: 'image/png' });
    await storage.put('a/c.png', new Uint8Array([1]));
    expect((await storage.head('a/B.PNG'))?.contentType).toBe('image/png');
    expect((await storage.head('a/c.png'))?.contentType).toBe('application/octet-stream');
    expect(await filesUnder(path.join(root, 'a'))).toEqual([`${META_FILE_PREFIX}c.png`, 'B.PNG', 'c.png']);
  });

  it('leaves no sidecar behind when a write with one fails on a folder in the way', async () => {
    const root = freshRoot();
    const storage = new LocalStorage({ root });
    await storage.put('k/inner', new Uint8Array([1]), { contentType: 'text/plain' });
    expect(await codeOf(storage.put('k', new Uint8Array([2]), { contentType: 'text/plain' }))).toBe(
      'STORAGE_KEY_INVALID',
    );
    expect(await filesUnder(root)).toEqual([
      path.join('k', `${META_FILE_PREFIX}inner`),
      path.join('k', 'inner'),
    ]);
  });

  it('streams through a fs.ReadStream that keeps reading the version it opened', async () => {
    const storage = new LocalStorage({ root: freshRoot() });
    await storage.put('k', new Uint8Array(100_000).fill(1));
    const { body: stream, bytes } = await storage.stream('k');
    expect(stream).toBeInstanceOf(ReadStream);
    expect(bytes).toBe(100_000);
    await storage.put('k', new Uint8Array(10).fill(2));
    await storage.delete('k');
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    const read = Buffer.concat(chunks);
    expect(read.length).toBe(100_000);
    expect(read.every((b) => b === 1)).toBe(true);
  });

  it('removes the folders a delete leaves empty, but not the root or folders still in use', async () => {
    const root = freshRoot();
    const storage = new LocalStorage({ root });
    await storage.put('a/b/c/one', new Uint8Array([1]));
    await storage.put('a/two', new Uint8Array([2]));
    await storage.delete('a/b/c/one');
    expect(await readdir(path.join(root, 'a'))).toEqual([`${META_FILE_PREFIX}two`, 'two']);
    await storage.delete('a/two');
    expect(await readdir(root)).toEqual([]);
  });

  it('never fails when puts and deletes race in one folder', async () => {
    const storage = new LocalStorage({ root: freshRoot() });
    // A delete that empties a folder removes it; a put into that folder at the same moment must
    // create it again instead of failing.
    for (let i = 0; i < 200; i++) {
      await storage.put('d/x/one', new Uint8Array([i]));
      await Promise.all([
        storage.delete('d/x/one'),
        storage.put('d/x/two', new Uint8Array([i])),
        storage.put('d/y/z/three', new Uint8Array([i])),
        storage.delete('d/y/z/three'),
      ]);
      expect([...(await storage.get('d/x/two'))]).toEqual([i & 0xff]);
      await Promise.all([storage.delete('d/x/two'), storage.delete('d/y/z/three')]);
    }
    expect(await listKeys(storage)).toEqual([]);
  });

  it('refuses a key that clashes with a folder of other keys, and the reverse', async () => {
    const storage = new LocalStorage({ root: freshRoot() });
    await storage.put('a/b', new Uint8Array([1]));
    expect(await codeOf(storage.put('a/b/c', new Uint8Array([2])))).toBe('STORAGE_KEY_INVALID');
    expect(await codeOf(storage.put('a', new Uint8Array([3])))).toBe('STORAGE_KEY_INVALID');
    expect(await listKeys(storage)).toEqual(['a/b']);
    await storage.delete('a'); // a folder, not an object: nothing to delete
    expect(await listKeys(storage)).toEqual(['a/b']);
  });

  it('reports an unusable root as STORAGE_FAILED with the cause', async () => {
    const file = path.join(base, `not-a-dir-${++counter}`);
    await writeFile(file, 'x');
    const storage = new LocalStorage({ root: path.join(file, 'store') });
    let caught: unknown;
    try {
      await storage.put('k', new Uint8Array([1]));
    } catch (error) {
      caught = error;
    }
    expect(isAtelierError(caught) && caught.code).toBe('STORAGE_FAILED');
    expect((caught as Error).cause).toMatchObject({ code: 'ENOTDIR' });
    expect(await codeOf(listKeys(new LocalStorage({ root: file })))).toBe('STORAGE_FAILED');
    expect(await listKeys(new LocalStorage({ root: path.join(base, 'never-created') }))).toEqual([]);
  });

  it('forgets a content type whose sidecar belongs to other bytes, keeps it across a copy that resets mtimes', async () => {
    const root = freshRoot();
    const storage = new LocalStorage({ root });
    const bytes = new Uint8Array(20_000).map((_, i) => i % 251);
    await storage.put('img', bytes, { contentType: 'image/png' });
    // A copy that does not keep mtimes (plain cp): same bytes, new mtime.
    await utimes(path.join(root, 'img'), hoursAgo(5), hoursAgo(5));
    expect((await storage.head('img'))?.contentType).toBe('image/png');
    // The object replaced without its sidecar (a crash between the two renames): the type is unknown.
    await writeFile(path.join(root, 'img'), new Uint8Array(20_000).fill(7));
    expect(await storage.head('img')).toMatchObject({ bytes: 20_000, contentType: undefined });
    // A missing or damaged sidecar costs only the type.
    await writeFile(path.join(root, `${META_FILE_PREFIX}img`), '{not json');
    expect(await storage.head('img')).toMatchObject({ bytes: 20_000, contentType: undefined });
    await rm(path.join(root, `${META_FILE_PREFIX}img`));
    expect(await storage.head('img')).toMatchObject({ bytes: 20_000, contentType: undefined });
  });

  it('hides the leftovers of a crashed write from get, head and list, and sweeps them when old', async () => {
    const root = freshRoot();
    const storage = new LocalStorage({ root });
    await storage.put('orig/ab/photo', new Uint8Array([1, 2, 3]), { contentType: 'image/png' });
    // What crashes leave: a half-written temp beside an object, one in a folder of its own, and a
    // sidecar whose object is gone.
    const leftovers = [
      path.join(root, 'orig/ab', `${TEMP_FILE_PREFIX}0123456789abcdef`),
      path.join(root, 'orig/cd', `${TEMP_FILE_PREFIX}fedcba9876543210`),
      path.join(root, 'orig/ab', `${META_FILE_PREFIX}gone`),
    ];
    await mkdir(path.join(root, 'orig/cd'), { recursive: true });
    for (const file of leftovers) await writeFile(file, 'partial');

    expect(await listKeys(storage)).toEqual(['orig/ab/photo']);
    expect(await codeOf(storage.get('orig/cd/fedcba9876543210'))).toBe('STORAGE_NOT_FOUND');
    expect(await storage.head('orig/ab/gone')).toBeUndefined();

    expect(await storage.sweepTempFiles(60_000)).toBe(0); // too young: could be a write in progress
    for (const file of leftovers) await utimes(file, hoursAgo(2), hoursAgo(2));
    expect(await storage.sweepTempFiles(60_000)).toBe(3);
    expect(await filesUnder(root)).toEqual([
      path.join('orig', 'ab', `${META_FILE_PREFIX}photo`),
      path.join('orig', 'ab', 'photo'),
    ]);
    await expect(stat(path.join(root, 'orig/cd'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await storage.head('orig/ab/photo')).toMatchObject({ bytes: 3, contentType: 'image/png' });
    expect(await storage.sweepTempFiles()).toBe(0);
    await expect(storage.sweepTempFiles(-1)).rejects.toThrow(RangeError);
  });

  it('survives a writer process killed mid-write: readers see the old object whole, sweep cleans up', async () => {
    const root = freshRoot();
    const storage = new LocalStorage({ root });
    const old = new Uint8Array(1000).fill(9);
    await storage.put('victim', old, { contentType: 'image/png' });
    const moduleUrl = pathToFileURL(fileURLToPath(new URL('./local-storage.ts', import.meta.url))).href;
    // The child rewrites a 32 MiB object in a loop; it is killed as soon as a temp file shows.
    const script = `
      const { LocalStorage } = await import(${JSON.stringify(moduleUrl)});
      const storage = new LocalStorage({ root: ${JSON.stringify(root)} });
      const big = new Uint8Array(32 * 1024 * 1024).fill(5);
      process.send('ready');
      for (;;) await storage.put('victim-big', big);
    `;
    let leftTemps: string[] = [];
    for (let attempt = 0; attempt < 5 && leftTemps.length === 0; attempt++) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await new Promise((resolve) => child.once('message', resolve));
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline) {
        if ((await readdir(root)).some((n) => n.startsWith(TEMP_FILE_PREFIX))) break;
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      child.kill('SIGKILL');
      await exited;
      leftTemps = (await readdir(root)).filter((n) => n.startsWith(TEMP_FILE_PREFIX));
    }
    expect(leftTemps.length, 'a killed write left a temp file').toBeGreaterThan(0);

    const keys = await listKeys(storage);
    expect(keys.filter((k) => k !== 'victim-big')).toEqual(['victim']);
    expect([...(await storage.get('victim'))]).toEqual([...old]);
    if (keys.includes('victim-big')) {
      const big = await storage.get('victim-big');
      expect(big.byteLength).toBe(32 * 1024 * 1024);
      expect(big.every((b) => b === 5)).toBe(true);
    }
    for (const name of leftTemps) await utimes(path.join(root, name), hoursAgo(2), hoursAgo(2));
    expect(await storage.sweepTempFiles(60_000)).toBe(leftTemps.length);
    expect((await readdir(root)).filter((n) => n.startsWith('.tmp'))).toEqual([]);
    expect(await storage.head('victim')).toMatchObject({ bytes: 1000, contentType: 'image/png' });
  });
});
