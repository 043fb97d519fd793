import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { buildApp } from 'fauxqs';

/** A real S3-protocol server on 127.0.0.1, for tests. */
export interface LoopbackS3 {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** Credentials the server accepts (it does not check them; the SDK signs with them all the same). */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** A path-style client for the server. */
  readonly client: S3Client;
  /** Creates a bucket with a fresh random name and returns the name. */
  createBucket(): Promise<string>;
  stop(): Promise<void>;
}

interface ListedObject {
  readonly key: string;
}
interface ListOptions {
  prefix?: string;
  delimiter?: string;
  maxKeys?: number;
  startAfter?: string;
  marker?: string;
}
type ListObjects = (
  bucket: string,
  options?: ListOptions,
) => { objects: ListedObject[]; commonPrefixes: string[]; isTruncated: boolean };

let listOrderFixed = false;

/**
 * fauxqs 2.4.1 sorts listings with `localeCompare` (`_` before `-`, `a` before `A`) but pages with
 * `key > startAfter`, so pages repeat or skip keys. S3 lists in UTF-8 byte order; make the
 * emulator do the same by sorting its full listing in byte order and paging that. The store class
 * is not exported, hence the import by file; a fauxqs that moved it fails here, loudly.
 */
async function fixListOrder(): Promise<void> {
  if (listOrderFixed) return;
  const url = new URL('./s3/s3Store.js', import.meta.resolve('fauxqs'));
  const { S3Store } = (await import(url.href)) as { S3Store: { prototype: { listObjects: ListObjects } } };
  const original = S3Store.prototype.listObjects;
  S3Store.prototype.listObjects = function (this: unknown, bucket, options = {}) {
    if (options.delimiter !== undefined) return original.call(this, bucket, options);
    const everything = original.call(this, bucket, { prefix: options.prefix ?? '', maxKeys: Infinity });
    const after = options.startAfter ?? options.marker ?? '';
    const maxKeys = options.maxKeys ?? 1000;
    const rest = everything.objects
      .filter((o) => o.key > after)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { objects: rest.slice(0, maxKeys), commonPrefixes: [], isTruncated: rest.length > maxKeys };
  };
  listOrderFixed = true;
}

/**
 * Starts fauxqs's S3 emulator on a random free port of 127.0.0.1. (s3rver 3.7.1, the usual choice,
 * fails every ListObjectsV2 on Node 17+: its continuation tokens use DES, which OpenSSL 3 keeps in
 * the legacy provider; see docs/storage.md.)
 */
export async function startLoopbackS3(): Promise<LoopbackS3> {
  await fixListOrder();
  const app = buildApp({ logger: false });
  const endpoint = await app.listen({ port: 0, host: '127.0.0.1' });
  const credentials = { accessKeyId: 'atelier-test', secretAccessKey: 'atelier-test-secret' };
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  return {
    endpoint,
    credentials,
    client,
    async createBucket() {
      const bucket = `atelier-${randomBytes(6).toString('hex')}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    async stop() {
      client.destroy();
      await app.close();
    },
  };
}
