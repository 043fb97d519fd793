import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type {
  GetObjectCommandOutput,
  HeadObjectCommandOutput,
  ListObjectsV2CommandOutput,
  S3ClientConfig,
} from '@aws-sdk/client-s3';
import { AtelierError } from '@atelier/core';
import type { Storage, StoredObject, StoredStream } from '@atelier/core';
import { contentTypeFor } from './content-type.ts';
import { assertValidKey, assertValidPrefix, isValidKey } from './keys.ts';

/** Static credentials for {@link S3Storage}; without them the AWS SDK's usual chain is used. */
export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/**
 * The one method of an S3 client that {@link S3Storage} calls. An `S3Client` from
 * `@aws-sdk/client-s3` fits; tests pass one pointed at a loopback server, or a fake.
 */
export interface S3ClientLike {
  send(command: object, options?: object): Promise<unknown>;
}

/** Options of {@link S3Storage}. */
export interface S3StorageOptions {
  /** The bucket; it must exist. */
  readonly bucket: string;
  /**
   * Folder inside the bucket that holds every key (`atelier` → key `a/b` is object `atelier/a/b`),
   * so one bucket can serve several stores. Objects outside it are invisible.
   * @default '' (the whole bucket)
   */
  readonly prefix?: string;
  /** Endpoint of an S3-compatible service (MinIO, R2, …), e.g. `http://127.0.0.1:9000`. @default AWS S3 */
  readonly endpoint?: string;
  /** @default the AWS SDK's chain (`AWS_REGION`, `~/.aws/config`) */
  readonly region?: string;
  /** @default the AWS SDK's chain (environment, shared files, SSO, instance and container roles) */
  readonly credentials?: S3Credentials;
  /** Address buckets as `endpoint/bucket/key` instead of `bucket.endpoint/key`; MinIO needs it. @default false */
  readonly forcePathStyle?: boolean;
  /** A ready client to use instead of one built from the options above; `close()` leaves it open. */
  readonly client?: S3ClientLike;
  /** Keys asked for per ListObjectsV2 request (1–1000). @default 1000 */
  readonly listPageSize?: number;
}

type Op = 'read' | 'write' | 'stat' | 'delete' | 'list';

/**
 * {@link Storage} on S3 or an S3-compatible object store (MinIO, Cloudflare R2, Backblaze B2, …),
 * through `@aws-sdk/client-s3`.
 *
 * - `put` is one PutObject (objects up to 5 GiB), which S3 applies atomically: readers see the old
 *   object or the new one, concurrent writers leave one of their values whole.
 * - `get`/`stream`/`head` map `NoSuchKey`/`NotFound` to `STORAGE_NOT_FOUND` (or `undefined` for
 *   `head`); every other failure, a missing bucket included, is `STORAGE_FAILED` with the SDK
 *   error as `cause`. The SDK retries throttling and network errors itself (3 attempts).
 * - `list` pages through ListObjectsV2 in key order and reports `contentType: undefined` (S3
 *   listings do not carry it); objects whose names are not valid keys are skipped.
 *
 * @example
 * const storage = new S3Storage({ bucket: 'atelier', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
 * await storage.put('results/ab/cd/abcd…', bytes, { contentType: 'image/webp' });
 */
export class S3Storage implements Storage {
  readonly #client: S3ClientLike;
  readonly #ownsClient: boolean;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #pageSize: number;

  constructor(options: S3StorageOptions) {
    if (typeof options.bucket !== 'string' || options.bucket === '') {
      throw new TypeError('S3Storage needs a bucket');
    }
    const pageSize = options.listPageSize ?? 1000;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      throw new RangeError(`listPageSize must be an integer from 1 to 1000, got ${pageSize}`);
    }
    this.#bucket = options.bucket;
    this.#pageSize = pageSize;
    this.#prefix = normalisePrefix(options.prefix);
    this.#ownsClient = options.client === undefined;
    this.#client = options.client ?? new S3Client(clientConfig(options));
  }

  /** The bucket and the folder in it that this store uses, e.g. `s3://atelier/prod/`. */
  get location(): string {
    return `s3://${this.#bucket}/${this.#prefix}`;
  }

  async put(key: string, data: Uint8Array, options?: { readonly contentType?: string }): Promise<void> {
    assertValidKey(key);
    const contentType = contentTypeFor(options);
    await this.#send(
      'write',
      key,
      new PutObjectCommand({
        Bucket: this.#bucket,
        Key: this.#prefix + key,
        Body: data,
        ContentLength: data.byteLength,
        ContentType: contentType,
      }),
    );
  }

  async get(key: string): Promise<Uint8Array> {
    assertValidKey(key);
    const output = await this.#getObject(key);
    try {
      return output.Body === undefined ? new Uint8Array(0) : await output.Body.transformToByteArray();
    } catch (error) {
      throw this.#error(error, 'read', key);
    }
  }

  async stream(key: string): Promise<StoredStream> {
    assertValidKey(key);
    const output = await this.#getObject(key);
    const bytes = output.ContentLength ?? 0;
    const body: unknown = output.Body;
    if (body === undefined) return { body: Readable.from([]), bytes: 0 };
    if (body instanceof Readable) return { body, bytes };
    const web = (body as { transformToWebStream?: () => ReadableStream<Uint8Array> }).transformToWebStream;
    if (typeof web === 'function') {
      return { body: Readable.fromWeb(web.call(body) as Parameters<typeof Readable.fromWeb>[0]), bytes };
    }
    throw this.#error(new TypeError('GetObject returned a body that is not a stream'), 'read', key);
  }

  async head(key: string): Promise<StoredObject | undefined> {
    assertValidKey(key);
    let output: HeadObjectCommandOutput;
    try {
      output = await this.#send<HeadObjectCommandOutput>(
        'stat',
        key,
        new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
      );
    } catch (error) {
      if (error instanceof AtelierError && error.code === 'STORAGE_NOT_FOUND') return undefined;
      throw error;
    }
    return {
      key,
      bytes: output.ContentLength ?? 0,
      contentType: output.ContentType,
      modified: output.LastModified ?? new Date(0),
    };
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.#send(
        'delete',
        key,
        new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
      );
    } catch (error) {
      // S3 answers 204 for a missing key; some compatible stores answer 404.
      if (error instanceof AtelierError && error.code === 'STORAGE_NOT_FOUND') return;
      throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    assertValidPrefix(prefix);
    let continuationToken: string | undefined;
    do {
      const page = await this.#send<ListObjectsV2CommandOutput>(
        'list',
        prefix,
        new ListObjectsV2Command({
          Bucket: this.#bucket,
          Prefix: this.#prefix + prefix,
          MaxKeys: this.#pageSize,
          ...(continuationToken === undefined ? {} : { ContinuationToken: continuationToken }),
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined || !object.Key.startsWith(this.#prefix)) continue;
        const key = object.Key.slice(this.#prefix.length);
        if (!isValidKey(key)) continue;
        yield {
          key,
          bytes: object.Size ?? 0,
          contentType: undefined,
          modified: object.LastModified ?? new Date(0),
        };
      }
      continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
  }

  /** Releases the client's sockets, when this store built the client itself. */
  close(): void {
    if (this.#ownsClient) (this.#client as S3Client).destroy();
  }

  #getObject(key: string): Promise<GetObjectCommandOutput> {
    return this.#send<GetObjectCommandOutput>(
      'read',
      key,
      new GetObjectCommand({ Bucket: this.#bucket, Key: this.#prefix + key }),
    );
  }

  async #send<Output>(op: Op, key: string, command: object): Promise<Output> {
    try {
      return (await this.#client.send(command)) as Output;
    } catch (error) {
      throw this.#error(error, op, key);
    }
  }

  #error(error: unknown, op: Op, key: string): AtelierError {
    const name = (error as { name?: unknown } | null)?.name;
    const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
    if ((name === 'NoSuchKey' || name === 'NotFound') && op !== 'list' && op !== 'write') {
      return new AtelierError('STORAGE_NOT_FOUND', `No stored object "${key}"`, {
        cause: error,
        details: { key },
      });
    }
    const reason =
      name === 'NoSuchBucket'
        ? `bucket "${this.#bucket}" does not exist`
        : error instanceof Error
          ? `${error.name}: ${error.message}`
          : String(error);
    return new AtelierError('STORAGE_FAILED', `S3 storage could not ${op} "${key}": ${reason}`, {
      cause: error,
      details: {
        key,
        op,
        bucket: this.#bucket,
        ...(typeof name === 'string' ? { s3Error: name } : {}),
        ...(typeof status === 'number' ? { status } : {}),
      },
    });
  }
}

function normalisePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  assertValidKey(trimmed);
  return `${trimmed}/`;
}

function clientConfig(options: S3StorageOptions): S3ClientConfig {
  return {
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.forcePathStyle === undefined ? {} : { forcePathStyle: options.forcePathStyle }),
    ...(options.credentials === undefined
      ? {}
      : {
          credentials: {
            accessKeyId: options.credentials.accessKeyId,
            secretAccessKey: options.credentials.secretAccessKey,
            ...(options.credentials.sessionToken === undefined
              ? {}
              : { sessionToken: options.credentials.sessionToken }),
          },
        }),
  };
}
