import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isAtelierError } from '@atelier/core';
import type { ErrorCode, Storage, StoredObject } from '@atelier/core';

/**
 * Registers the behaviour every {@link Storage} must have, as vitest tests. `makeStorage` is called
 * once per test and must return an empty store of its own (a fresh directory, bucket or prefix);
 * the caller cleans up after the suite.
 *
 * @example
 * storageContract('LocalStorage', async () => new LocalStorage({ root: await mkdtemp(...) }));
 */
export function storageContract(name: string, makeStorage: () => Promise<Storage>): void {
  describe(`${name} satisfies the Storage contract`, () => {
    it('round-trips every byte value through put, get, stream and head', async () => {
      const storage = await makeStorage();
      const data = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
      await storage.put('bytes/all-values.bin', data, { contentType: 'image/png' });
      expectSameBytes(await storage.get('bytes/all-values.bin'), data);
      const opened = await storage.stream('bytes/all-values.bin');
      expect(opened.bytes).toBe(512);
      expectSameBytes(await collect(opened.body), data);
      const head = await storage.head('bytes/all-values.bin');
      expect(head).toMatchObject({ key: 'bytes/all-values.bin', bytes: 512, contentType: 'image/png' });
      expect(head?.modified).toBeInstanceOf(Date);
      expect(Math.abs((head?.modified.getTime() ?? 0) - Date.now())).toBeLessThan(120_000);
    });

    it('stores an empty object', async () => {
      const storage = await makeStorage();
      await storage.put('empty', new Uint8Array(0), { contentType: 'text/plain' });
      expect((await storage.get('empty')).byteLength).toBe(0);
      const empty = await storage.stream('empty');
      expect(empty.bytes).toBe(0);
      expect((await collect(empty.body)).byteLength).toBe(0);
      expect(await storage.head('empty')).toMatchObject({
        key: 'empty',
        bytes: 0,
        contentType: 'text/plain',
      });
      expect(await keysOf(storage.list(''))).toEqual(['empty']);
    });

    it('round-trips a few megabytes of random bytes', async () => {
      const storage = await makeStorage();
      const data = new Uint8Array(randomBytes(4 * 1024 * 1024 + 3));
      await storage.put('big/random.bin', data, { contentType: 'application/octet-stream' });
      expectSameBytes(await storage.get('big/random.bin'), data);
      expectSameBytes(await collect((await storage.stream('big/random.bin')).body), data);
      expect((await storage.head('big/random.bin'))?.bytes).toBe(data.byteLength);
    });

    it('records application/octet-stream when put is given no content type', async () => {
      const storage = await makeStorage();
      await storage.put('untyped', new Uint8Array([1, 2, 3]));
      expect((await storage.head('untyped'))?.contentType).toBe('application/octet-stream');
    });

    it('accepts keys made of every allowed character', async () => {
      const storage = await makeStorage();
      const key = 'ABCXYZ/abcxyz/0189/a.b_c-d/_x/-y/z.';
      await storage.put(key, new Uint8Array([42]));
      expectSameBytes(await storage.get(key), new Uint8Array([42]));
      expect(await keysOf(storage.list(''))).toEqual([key]);
    });

    it('overwrites an object with new bytes, size and content type', async () => {
      const storage = await makeStorage();
      await storage.put('over/write', fill(1000, 1), { contentType: 'image/png' });
      await storage.put('over/write', fill(10, 2), { contentType: 'image/jpeg' });
      expectSameBytes(await storage.get('over/write'), fill(10, 2));
      expect(await storage.head('over/write')).toMatchObject({ bytes: 10, contentType: 'image/jpeg' });
      expect(await keysOf(storage.list('over/'))).toEqual(['over/write']);
    });

    it('reports missing objects: get and stream throw STORAGE_NOT_FOUND, head gives undefined', async () => {
      const storage = await makeStorage();
      await storage.put('present/a', new Uint8Array([1]));
      for (const key of ['missing', 'present/b', 'present/a/below', 'present']) {
        await expectCode(storage.get(key), 'STORAGE_NOT_FOUND');
        await expectCode(storage.stream(key), 'STORAGE_NOT_FOUND');
        expect(await storage.head(key)).toBeUndefined();
      }
      expect(await keysOf(storage.list('missing/'))).toEqual([]);
    });

    it('deletes an object, leaves its neighbours, and deleting again or a missing key is fine', async () => {
      const storage = await makeStorage();
      await storage.put('del/a/one', new Uint8Array([1]));
      await storage.put('del/a/two', new Uint8Array([2]));
      await storage.delete('del/a/one');
      await expectCode(storage.get('del/a/one'), 'STORAGE_NOT_FOUND');
      expect(await storage.head('del/a/one')).toBeUndefined();
      expectSameBytes(await storage.get('del/a/two'), new Uint8Array([2]));
      await storage.delete('del/a/one');
      await storage.delete('never/was/here');
      await storage.delete('del/a/two');
      expect(await keysOf(storage.list(''))).toEqual([]);
      await storage.put('del/a/one', new Uint8Array([3]));
      expectSameBytes(await storage.get('del/a/one'), new Uint8Array([3]));
    });

    it('lists in key order, filtered by prefix, with sizes', async () => {
      const storage = await makeStorage();
      // '-' < '.' < '/' < '0': a folder's keys sort between its siblings as S3 sorts them.
      const keys = [
        'list/b',
        'list/a/c/d',
        'list/a0',
        'list/a-b',
        'list/a/b',
        'list/a.c',
        'list/A',
        'list/_',
        'other/x',
        'listing',
      ];
      for (const [i, key] of keys.entries()) await storage.put(key, fill(i + 1, i));
      const sorted = [...keys].sort();
      const all = await collectList(storage.list(''));
      expect(all.map((o) => o.key)).toEqual(sorted);
      for (const object of all) {
        expect(object.bytes).toBe(keys.indexOf(object.key) + 1);
        expect(object.modified).toBeInstanceOf(Date);
      }
      const under = (prefix: string) => sorted.filter((k) => k.startsWith(prefix));
      for (const prefix of [
        'list/',
        'list',
        'list/a',
        'list/a/',
        'list/a/c/',
        'list/a-',
        'list/a/b',
        'o',
        'zzz',
      ]) {
        expect(await keysOf(storage.list(prefix)), `prefix ${JSON.stringify(prefix)}`).toEqual(under(prefix));
      }
      expect(await keysOf(storage.list('list/nothing/'))).toEqual([]);
    });

    it('rejects invalid keys with STORAGE_KEY_INVALID in every method', async () => {
      const storage = await makeStorage();
      const invalid = [
        '',
        '/absolute',
        'trailing/',
        'double//slash',
        '..',
        '../escape',
        'a/../b',
        './a',
        'a/./b',
        '.hidden',
        'a/.hidden',
        'with space',
        'back\\slash',
        'question?',
        'nul\0byte',
        'ümlaut',
        'new\nline',
        'x'.repeat(1025),
        `${'s'.repeat(201)}/x`,
      ];
      for (const key of invalid) {
        await expectCode(storage.put(key, new Uint8Array([1])), 'STORAGE_KEY_INVALID', key);
        await expectCode(storage.get(key), 'STORAGE_KEY_INVALID', key);
        await expectCode(storage.stream(key), 'STORAGE_KEY_INVALID', key);
        await expectCode(storage.head(key), 'STORAGE_KEY_INVALID', key);
        await expectCode(storage.delete(key), 'STORAGE_KEY_INVALID', key);
      }
      for (const prefix of ['/a', '../', 'a/../', 'a//', 'a b', '.hidden/']) {
        await expectCode(keysOf(storage.list(prefix)), 'STORAGE_KEY_INVALID', prefix);
      }
      expect(await keysOf(storage.list(''))).toEqual([]);
    });

    it('leaves one whole value when writers race on one key', async () => {
      const storage = await makeStorage();
      for (let round = 0; round < 3; round++) {
        const writers = Array.from({ length: 6 }, (_, i) => ({
          data: fill(256 * 1024 + i * 1000, round * 10 + i + 1),
          contentType: `image/x-writer-${i}`,
        }));
        await Promise.all(
          writers.map((w) => storage.put('race/key', w.data, { contentType: w.contentType })),
        );
        const stored = await storage.get('race/key');
        const winner = writers.find((w) => w.data.byteLength === stored.byteLength);
        expect(winner, 'the stored size is one writer’s size').toBeDefined();
        expectSameBytes(stored, winner?.data ?? new Uint8Array(0));
        const head = await storage.head('race/key');
        expect(head?.bytes).toBe(stored.byteLength);
        // The type may be lost in a race (local store) but is never another writer's.
        expect([winner?.contentType, undefined]).toContain(head?.contentType);
      }
      expect(await keysOf(storage.list(''))).toEqual(['race/key']);
    });

    it('shows a reader the old or the new object whole while a write runs', async () => {
      const storage = await makeStorage();
      const before = fill(2 * 1024 * 1024, 0xaa);
      const after = fill(3 * 1024 * 1024 + 17, 0xbb);
      await storage.put('swap/key', before);
      let reads = 0;
      let writing = true;
      const write = (async () => {
        // Several writes in a row give the readers many chances to land mid-write.
        for (let i = 0; i < 4; i++) await storage.put('swap/key', i % 2 === 0 ? after : before);
        await storage.put('swap/key', after);
      })().finally(() => {
        writing = false;
      });
      while (writing || reads < 6) {
        const [whole, streamed] = await Promise.all([
          storage.get('swap/key'),
          storage.stream('swap/key').then((s) => collect(s.body)),
        ]);
        for (const seen of [whole, streamed]) expectOneOf(seen, [before, after]);
        reads++;
      }
      await write;
      expectSameBytes(await storage.get('swap/key'), after);
    });
  });
}

function fill(length: number, value: number): Uint8Array {
  return new Uint8Array(length).fill(value & 0xff);
}

async function collect(stream: Readable): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk as Uint8Array);
  return new Uint8Array(Buffer.concat(chunks));
}

async function collectList(objects: AsyncIterable<StoredObject>): Promise<StoredObject[]> {
  const all: StoredObject[] = [];
  for await (const object of objects) all.push(object);
  return all;
}

async function keysOf(objects: AsyncIterable<StoredObject>): Promise<string[]> {
  return (await collectList(objects)).map((o) => o.key);
}

function expectSameBytes(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual).toBeInstanceOf(Uint8Array);
  expect(actual.byteLength).toBe(expected.byteLength);
  // One comparison instead of a per-byte diff: megabyte arrays make unreadable failure messages.
  expect(Buffer.compare(Buffer.from(actual), Buffer.from(expected)), 'bytes differ').toBe(0);
}

function expectOneOf(actual: Uint8Array, candidates: readonly Uint8Array[]): void {
  const match = candidates.some(
    (c) => c.byteLength === actual.byteLength && Buffer.compare(Buffer.from(actual), Buffer.from(c)) === 0,
  );
  expect(match, `read ${actual.byteLength} bytes that are none of the written values whole`).toBe(true);
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode, what?: string): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  const label = what === undefined ? '' : ` for ${JSON.stringify(what.slice(0, 40))}`;
  expect(isAtelierError(caught), `expected an AtelierError${label}, got ${String(caught)}`).toBe(true);
  expect((caught as { code: string }).code, `code${label}`).toBe(code);
}
