import type { Readable } from 'node:stream';

/** What a store knows about one object. */
export interface StoredObject {
  readonly key: string;
  readonly bytes: number;
  readonly contentType: string | undefined;
  readonly modified: Date;
}

/**
 * Durable bytes by key: originals and results of jobs. Keys are `/`-separated paths of
 * `[A-Za-z0-9._-]` segments (no `..`, no leading `/`). Implementations: the local filesystem
 * (default) and S3-compatible object stores; both pass the same contract tests.
 *
 * Every write is atomic: a reader sees no object or the whole object, never part of one.
 */
/** An object opened for reading: see {@link Storage.stream}. */
export interface StoredStream {
  readonly body: Readable;
  readonly bytes: number;
}

export interface Storage {
  /** Stores `data` under `key`, replacing any object there. */
  put(key: string, data: Uint8Array, options?: { readonly contentType?: string }): Promise<void>;
  /** The whole object. Throws `STORAGE_NOT_FOUND` when there is none. */
  get(key: string): Promise<Uint8Array>;
  /**
   * The object opened for reading, for downloads: its bytes as a stream and their count (one
   * version, so the count matches what the stream gives). Throws `STORAGE_NOT_FOUND` when there is none.
   */
  stream(key: string): Promise<StoredStream>;
  /** The object's size and type, or `undefined` when there is none. */
  head(key: string): Promise<StoredObject | undefined>;
  /** Removes the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
  /** Every object whose key starts with `prefix`, in key order. */
  list(prefix: string): AsyncIterable<StoredObject>;
}
