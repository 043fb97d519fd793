import { createHash, randomBytes } from 'node:crypto';
import fs, { existsSync } from 'node:fs';
import type { ReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rmdir, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { AtelierError } from '@atelier/core';
import type { Storage, StoredObject } from '@atelier/core';
import { contentTypeFor, impliedContentType } from './content-type.ts';
import { assertValidKey, assertValidPrefix, isValidSegment } from './keys.ts';

/** Name prefix of files being written; no key segment can start with `.`, so no key can name one. */
export const TEMP_FILE_PREFIX = '.tmp.';
/** Name prefix of the sidecar that holds an object's content type: `.meta.<name>` beside `<name>`. */
export const META_FILE_PREFIX = '.meta.';
/** Age after which {@link LocalStorage.sweepTempFiles} removes leftovers by default: one hour. */
export const DEFAULT_SWEEP_AGE_MS = 60 * 60 * 1000;

// Bytes hashed from each end of an object to recognise it when its mtime changed (see #sidecarMatches).
const SAMPLE_BYTES = 4096;
// How often `put` starts over when a concurrent delete or sweep removed its folder under it.
const MAX_PUT_ATTEMPTS = 10;

/** Options of {@link LocalStorage}. */
export interface LocalStorageOptions {
  /** The directory that holds the objects; created on the first write. Relative paths resolve against the working directory. */
  readonly root: string;
}

/** What the sidecar `.meta.<name>` holds: the content type, and enough to tell which write it belongs to. */
interface Sidecar {
  readonly contentType: string;
  readonly bytes: number;
  readonly mtimeMs: number;
  readonly sample: string;
}

type Op = 'read' | 'write' | 'stat' | 'delete' | 'list' | 'sweep';

/**
 * {@link Storage} on the local filesystem. Key `a/b/c` is the file `<root>/a/b/c`, holding exactly
 * the stored bytes, so the directory can be browsed, served or backed up as it is.
 *
 * - **Atomic writes.** `put` writes a temp file (`.tmp.<random>`) in the object's own directory,
 *   fsyncs it, renames it over the object and fsyncs the directory. A reader opens either the old
 *   file or the new one, never a partial file; concurrent writers to one key leave one whole value.
 * - **Content type.** When the key's extension implies the type (`….jpg` stored as `image/jpeg`,
 *   see `IMPLIED_CONTENT_TYPES`), nothing else is written: results, the bulk of all writes,
 *   cost one file and two fsyncs. Any other type sits in a sidecar `.meta.<name>` beside the object
 *   (JSON), renamed into place just before the object, recording the object's size, mtime and a
 *   hash of its first and last 4 KiB, so `head` never pairs a type with the wrong bytes: when the
 *   sidecar belongs to another write (a crash or a lost race between the two renames) the type
 *   reads as `undefined`.
 * - **Crashes** leave only `.tmp.*` files, which no read or listing sees; {@link sweepTempFiles}
 *   removes them (and sidecars whose object is gone) once they are old enough.
 * - `delete` removes the object, its sidecar and the parent directories it leaves empty.
 * - A key cannot be both an object and a folder of other objects (`a` and `a/b`): the second
 *   `put` fails with `STORAGE_KEY_INVALID`. S3 allows it; content-addressed keys never do it.
 * - `list` walks the directories in key order and reports `contentType: undefined`, as S3
 *   listings do; call `head` for the type.
 *
 * @example
 * const storage = new LocalStorage({ root: '/var/lib/atelier/storage' });
 * await storage.put('originals/ab/cd/abcd…', bytes, { contentType: 'image/jpeg' });
 * // on start-up, remove what crashed writes left behind:
 * await storage.sweepTempFiles();
 */
export class LocalStorage implements Storage {
  readonly #root: string;

  constructor(options: LocalStorageOptions) {
    if (typeof options.root !== 'string' || options.root === '') {
      throw new TypeError('LocalStorage needs a root directory');
    }
    this.#root = path.resolve(options.root);
  }

  /** The absolute root directory. */
  get root(): string {
    return this.#root;
  }

  async put(key: string, data: Uint8Array, options?: { readonly contentType?: string }): Promise<void> {
    assertValidKey(key);
    const contentType = contentTypeFor(options);
    const needsSidecar = contentType !== impliedContentType(key);
    const file = this.#fileOf(key);
    const dir = path.dirname(file);
    const temps: string[] = [];
    let strandedSidecar = false;
    try {
      const written = await this.#writeTemp(key, dir, data, needsSidecar);
      temps.push(written.file);
      if (needsSidecar) {
        const sidecar: Sidecar = {
          contentType,
          bytes: data.byteLength,
          mtimeMs: written.mtimeMs,
          sample: sample(data),
        };
        const meta = await this.#writeTemp(
          key,
          dir,
          new TextEncoder().encode(JSON.stringify(sidecar)),
          false,
        );
        temps.push(meta.file);
        // The sidecar first: until the object follows, it does not match the old object, whose
        // type then reads as unknown (never as this write's type).
        await rename(meta.file, metaFileOf(file));
        temps.pop();
        strandedSidecar = true;
      }
      try {
        await rename(written.file, file);
      } catch (error) {
        if (['EISDIR', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR'].includes(codeOf(error) ?? '')) {
          throw conflict(key, error);
        }
        throw error;
      }
      temps.shift();
      strandedSidecar = false;
      // An earlier write's sidecar no longer matches these bytes; removing it gives them their type back.
      // (existsSync: a stat of a name in a folder just written, without the cost of an ENOENT error.)
      if (!needsSidecar && existsSync(metaFileOf(file))) await unlinkIfPresent(metaFileOf(file));
      await syncDirectory(dir);
    } catch (error) {
      await Promise.all(temps.map((temp) => unlink(temp).catch(() => undefined)));
      if (strandedSidecar) await unlink(metaFileOf(file)).catch(() => undefined);
      throw asStorageError(error, 'write', key);
    }
  }

  async get(key: string): Promise<Uint8Array> {
    assertValidKey(key);
    try {
      const buffer = await readWhole(this.#fileOf(key));
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      if (isMissing(error)) throw notFound(key);
      throw failed('read', key, error);
    }
  }

  /** Opens the file before returning, so the stream reads one whole version even if it is replaced meanwhile. */
  async stream(key: string): Promise<{ body: ReadStream; bytes: number }> {
    assertValidKey(key);
    let handle: FileHandle;
    try {
      handle = await open(this.#fileOf(key), 'r');
    } catch (error) {
      if (isMissing(error)) throw notFound(key);
      throw failed('read', key, error);
    }
    let bytes: number;
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw notFound(key);
      bytes = stats.size;
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw asStorageError(error, 'read', key);
    }
    return { body: handle.createReadStream(), bytes };
  }

  async head(key: string): Promise<StoredObject | undefined> {
    assertValidKey(key);
    const file = this.#fileOf(key);
    try {
      // A write between the stat and the sidecar read can pair them wrongly: look again then.
      for (let attempt = 0; ; attempt++) {
        const stats = await stat(file);
        if (!stats.isFile()) return undefined;
        const sidecar = await readSidecar(metaFileOf(file));
        if (sidecar === undefined) {
          return { key, bytes: stats.size, contentType: impliedContentType(key), modified: stats.mtime };
        }
        const matches = await sidecarMatches(sidecar, file, stats);
        if (matches || attempt === 2) {
          return {
            key,
            bytes: stats.size,
            contentType: matches ? sidecar.contentType : undefined,
            modified: stats.mtime,
          };
        }
      }
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw failed('stat', key, error);
    }
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    const file = this.#fileOf(key);
    try {
      // Sidecar first: a crash in between leaves an object of unknown type, never a stray sidecar.
      await unlinkIfPresent(metaFileOf(file));
      await unlinkIfPresent(file);
    } catch (error) {
      throw failed('delete', key, error);
    }
    await this.#pruneEmptyDirectories(path.dirname(file));
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    assertValidPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    yield* this.#walk(slash < 0 ? '' : prefix.slice(0, slash), prefix.slice(slash + 1), prefix);
  }

  /**
   * Removes what crashed writes left behind: temp files (`.tmp.*`) and sidecars whose object is
   * gone, when older than `olderThanMs`, then the directories that are left empty. Safe to run
   * while the store is in use, as long as `olderThanMs` is longer than any write takes.
   *
   * @param olderThanMs only files last modified this long ago or earlier are removed
   * @default olderThanMs {@link DEFAULT_SWEEP_AGE_MS} (one hour)
   * @returns how many files were removed
   */
  async sweepTempFiles(olderThanMs: number = DEFAULT_SWEEP_AGE_MS): Promise<number> {
    if (!Number.isFinite(olderThanMs) || olderThanMs < 0) {
      throw new RangeError(`olderThanMs must be a non-negative number, got ${olderThanMs}`);
    }
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    const visit = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if (codeOf(error) === 'ENOENT' || (dir !== this.#root && codeOf(error) === 'ENOTDIR')) return;
        throw failed('sweep', path.relative(this.#root, dir), error);
      }
      for (const entry of entries) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (isValidSegment(entry.name)) await visit(full);
          continue;
        }
        if (!entry.isFile()) continue;
        const isTemp = entry.name.startsWith(TEMP_FILE_PREFIX);
        const isMeta = entry.name.startsWith(META_FILE_PREFIX);
        if (!isTemp && !isMeta) continue;
        try {
          if ((await stat(full)).mtimeMs > cutoff) continue;
          if (isMeta && (await exists(path.join(dir, entry.name.slice(META_FILE_PREFIX.length))))) continue;
          await unlink(full);
          removed++;
        } catch (error) {
          if (codeOf(error) !== 'ENOENT') throw failed('sweep', path.relative(this.#root, full), error);
        }
      }
      if (dir !== this.#root) await rmdir(dir).catch(() => undefined);
    };
    await visit(this.#root);
    return removed;
  }

  #fileOf(key: string): string {
    return path.join(this.#root, ...key.split('/'));
  }

  /**
   * Writes and fsyncs a new temp file in `dir`, creating `dir` when missing (again, if a delete
   * pruned it meanwhile). `withMtime`: also report the file's mtime (one more stat).
   */
  async #writeTemp(
    key: string,
    dir: string,
    data: Uint8Array,
    withMtime: boolean,
  ): Promise<{ file: string; mtimeMs: number }> {
    for (let attempt = 1; ; attempt++) {
      const file = path.join(dir, TEMP_FILE_PREFIX + randomBytes(8).toString('hex'));
      let fd: number;
      try {
        // The folder usually exists (content-addressed keys share them): try first, create on ENOENT.
        fd = await openFd(file, 'wx');
      } catch (error) {
        const code = codeOf(error);
        if ((code === 'ENOENT' || code === 'ENOTDIR') && attempt < MAX_PUT_ATTEMPTS) {
          await this.#makeDirectory(key, dir);
          continue;
        }
        if (code === 'ENOTDIR') throw await this.#blockedPath(key, dir, error);
        throw error;
      }
      try {
        await writeWhole(fd, data);
        await fsyncFd(fd);
        const mtimeMs = withMtime ? (await fstatFd(fd)).mtimeMs : 0;
        await closeFd(fd);
        return { file, mtimeMs };
      } catch (error) {
        await closeFd(fd).catch(() => undefined);
        await unlink(file).catch(() => undefined);
        throw error;
      }
    }
  }

  /** Creates `dir` and its parents; a concurrent delete removing a parent meanwhile is retried by the caller. */
  async #makeDirectory(key: string, dir: string): Promise<void> {
    try {
      await mkdir(dir, { recursive: true });
    } catch (error) {
      const code = codeOf(error);
      if (code === 'ENOENT') return; // a concurrent delete or sweep removed a parent meanwhile
      if (code === 'ENOTDIR' || code === 'EEXIST') {
        // Either a file stands where a folder must be, or (Node's recursive mkdir reports a
        // folder removed under it this way) a concurrent delete raced us.
        const blocker = await this.#fileInPath(dir);
        if (blocker === 'none') return;
        if (blocker === 'key') throw conflict(key, error);
      }
      throw error;
    }
  }

  /** The error for a write whose folder path is blocked by a file. */
  async #blockedPath(key: string, dir: string, error: unknown): Promise<unknown> {
    const blocker = await this.#fileInPath(dir);
    return blocker === 'key' ? conflict(key, error) : error;
  }

  /**
   * Where a non-directory blocks the path from the root to `dir`: at or above the root (`root`),
   * below it, where an object's file is (`key`), or nowhere (`none`).
   */
  async #fileInPath(dir: string): Promise<'root' | 'key' | 'none'> {
    const below = path.relative(this.#root, dir).split(path.sep).filter(Boolean);
    let current = this.#root;
    for (let i = 0; i <= below.length; i++) {
      if (i > 0) current = path.join(current, below[i - 1] ?? '');
      try {
        if (!(await stat(current)).isDirectory()) return i === 0 ? 'root' : 'key';
      } catch (error) {
        if (codeOf(error) === 'ENOENT') return 'none';
        return i === 0 ? 'root' : 'none';
      }
    }
    return 'none';
  }

  async #pruneEmptyDirectories(dir: string): Promise<void> {
    while (dir !== this.#root && dir.startsWith(this.#root + path.sep)) {
      try {
        await rmdir(dir);
      } catch {
        // Not empty (the usual case), already gone, or not ours to remove: stop climbing.
        return;
      }
      dir = path.dirname(dir);
    }
  }

  async *#walk(dirKey: string, namePrefix: string, prefix: string): AsyncGenerator<StoredObject> {
    const dir = dirKey === '' ? this.#root : this.#fileOf(dirKey);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      const code = codeOf(error);
      if (code === 'ENOENT' || (dir !== this.#root && code === 'ENOTDIR')) return;
      throw failed('list', prefix, error);
    }
    // A folder `a` holds keys `a/…`: sort it as `a/` so that `a-b` < `a.c` < `a/x` < `a0`, as S3 does.
    const items = entries
      .filter(
        (e) => (e.isFile() || e.isDirectory()) && e.name.startsWith(namePrefix) && isValidSegment(e.name),
      )
      .map((e) => ({
        name: e.name,
        isDirectory: e.isDirectory(),
        order: e.isDirectory() ? `${e.name}/` : e.name,
      }))
      .sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    for (const item of items) {
      const key = dirKey === '' ? item.name : `${dirKey}/${item.name}`;
      if (item.isDirectory) {
        yield* this.#walk(key, '', prefix);
        continue;
      }
      let stats;
      try {
        stats = await stat(path.join(dir, item.name));
      } catch (error) {
        if (isMissing(error)) continue; // deleted while we walked
        throw failed('list', prefix, error);
      }
      if (stats.isFile()) yield { key, bytes: stats.size, contentType: undefined, modified: stats.mtime };
    }
  }
}

function metaFileOf(file: string): string {
  return path.join(path.dirname(file), META_FILE_PREFIX + path.basename(file));
}

/** SHA-256 of the first and last {@link SAMPLE_BYTES} of `data` (all of it when short). */
function sample(data: Uint8Array): string {
  const hash = createHash('sha256');
  if (data.byteLength <= 2 * SAMPLE_BYTES) {
    hash.update(data);
  } else {
    hash.update(data.subarray(0, SAMPLE_BYTES));
    hash.update(data.subarray(data.byteLength - SAMPLE_BYTES));
  }
  return hash.digest('hex');
}

async function readSidecar(file: string): Promise<Sidecar | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  try {
    const value = JSON.parse(text) as Partial<Sidecar>;
    const valid =
      typeof value.contentType === 'string' &&
      typeof value.bytes === 'number' &&
      typeof value.mtimeMs === 'number' &&
      typeof value.sample === 'string';
    return valid ? (value as Sidecar) : undefined;
  } catch {
    return undefined; // a damaged sidecar only costs the content type
  }
}

/**
 * Whether `sidecar` was written with the object now at `file`. The same size and mtime settle it
 * at once; a different mtime (a restore by a tool that does not keep mtimes) is checked against
 * the hash of the object's ends.
 */
async function sidecarMatches(
  sidecar: Sidecar,
  file: string,
  stats: { size: number; mtimeMs: number },
): Promise<boolean> {
  if (sidecar.bytes !== stats.size) return false;
  if (sidecar.mtimeMs === stats.mtimeMs) return true;
  const handle = await open(file, 'r');
  try {
    const size = stats.size;
    const ends =
      size <= 2 * SAMPLE_BYTES
        ? [await readAt(handle, 0, size)]
        : [await readAt(handle, 0, SAMPLE_BYTES), await readAt(handle, size - SAMPLE_BYTES, SAMPLE_BYTES)];
    const hash = createHash('sha256');
    for (const part of ends) hash.update(part);
    return hash.digest('hex') === sidecar.sample;
  } finally {
    await handle.close();
  }
}

async function readAt(handle: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

async function syncDirectory(dir: string): Promise<void> {
  let fd: number;
  try {
    fd = await openFd(dir, 'r');
  } catch {
    return; // platforms that cannot open directories cannot fsync them either
  }
  try {
    await fsyncFd(fd);
  } catch (error) {
    if (!['EINVAL', 'EISDIR', 'EPERM', 'EBADF'].includes(codeOf(error) ?? '')) throw error;
  } finally {
    await closeFd(fd);
  }
}

// The hot paths (put, get) use fs's callback API on plain descriptors: each step is one trip to
// the thread pool, without the FileHandle objects and promise wrappers of fs/promises.
const openFd = promisify(fs.open);
const closeFd = promisify(fs.close);
const fsyncFd = promisify(fs.fsync);
const fstatFd = promisify(fs.fstat);
const writeWhole = promisify(fs.writeFile);
const readWhole = promisify(fs.readFile);

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    // Missing, or a folder of other keys rather than an object: nothing to delete either way.
    if (!['ENOENT', 'ENOTDIR', 'EISDIR', 'EPERM'].includes(codeOf(error) ?? '')) throw error;
    if (codeOf(error) === 'EPERM' && !(await isDirectory(file))) throw error;
  }
}

async function isDirectory(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isDirectory();
  } catch {
    return false;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The path is not there, or not a file: for a key, all mean "no such object". */
function isMissing(error: unknown): boolean {
  const code = codeOf(error);
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR';
}

function notFound(key: string): AtelierError {
  return new AtelierError('STORAGE_NOT_FOUND', `No stored object "${key}"`, { details: { key } });
}

function conflict(key: string, cause: unknown): AtelierError {
  return new AtelierError(
    'STORAGE_KEY_INVALID',
    `Storage key "${key}" clashes with another object: on local storage a key cannot be both an object and a folder of objects`,
    { cause, details: { key, reason: 'object/folder clash' } },
  );
}

function failed(op: Op, key: string, cause: unknown): AtelierError {
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new AtelierError('STORAGE_FAILED', `Local storage could not ${op} "${key}": ${reason}`, {
    cause,
    details: { key, op, ...(codeOf(cause) === undefined ? {} : { errno: codeOf(cause) }) },
  });
}

function asStorageError(error: unknown, op: Op, key: string): AtelierError {
  return error instanceof AtelierError ? error : failed(op, key, error);
}
