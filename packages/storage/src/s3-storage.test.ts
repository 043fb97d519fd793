import { createServer } from 'node:net';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAtelierError } from '@atelier/core';
import type { AtelierError } from '@atelier/core';
import { startLoopbackS3 } from './loopback-s3.ts';
import type { LoopbackS3 } from './loopback-s3.ts';
import { S3Storage } from './s3-storage.ts';
import type { S3ClientLike } from './s3-storage.ts';
import { storageContract } from './storage-contract.ts';

let server: LoopbackS3;

beforeAll(async () => {
  server = await startLoopbackS3();
});
afterAll(async () => {
  await server?.stop();
});

// A fresh bucket per test, a prefix inside it, and pages of two keys so that every listing paginates.
storageContract(
  'S3Storage',
  async () =>
    new S3Storage({
      bucket: await server.createBucket(),
      prefix: 'tenant',
      client: server.client,
      listPageSize: 2,
    }),
);

async function caught(promise: Promise<unknown>): Promise<AtelierError> {
  try {
    await promise;
  } catch (error) {
    if (isAtelierError(error)) return error;
    throw new Error(`expected an AtelierError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a rejection');
}

/** A client that fails every request with `error`, as the SDK would. */
function failingClient(error: Error): S3ClientLike {
  return { send: () => Promise.reject(error) };
}

function sdkError(name: string, status: number): Error {
  return Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });
}

describe('S3Storage', () => {
  it('builds its own client from endpoint, region, credentials and path style', async () => {
    const bucket = await server.createBucket();
    const storage = new S3Storage({
      bucket,
      endpoint: server.endpoint,
      region: 'eu-west-3',
      credentials: server.credentials,
      forcePathStyle: true,
    });
    try {
      await storage.put('a/b', new Uint8Array([1, 2]), { contentType: 'image/gif' });
      const raw = await server.client.send(new GetObjectCommand({ Bucket: bucket, Key: 'a/b' }));
      expect(raw.ContentType).toBe('image/gif');
      expect([...(await raw.Body!.transformToByteArray())]).toEqual([1, 2]);
      expect(storage.location).toBe(`s3://${bucket}/`);
    } finally {
      storage.close();
    }
  });

  it('keeps every key under its prefix and ignores other objects in the bucket', async () => {
    const bucket = await server.createBucket();
    const storage = new S3Storage({ bucket, prefix: '/team/atelier/', client: server.client });
    expect(storage.location).toBe(`s3://${bucket}/team/atelier/`);
    await storage.put('x/y', new Uint8Array([7]));
    const put = (Key: string) => server.client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: 'z' }));
    await put('outside');
    await put('team/atelier/not a valid key');
    await put('team/atelier/dir-marker/');
    const listed = await server.client.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents?.map((o) => o.Key)).toContain('team/atelier/x/y');
    const keys: string[] = [];
    for await (const object of storage.list('')) keys.push(object.key);
    expect(keys).toEqual(['x/y']);
    await storage.delete('x/y');
    expect(await storage.head('x/y')).toBeUndefined();
  });

  it('pages through ListObjectsV2 with continuation tokens', async () => {
    const bucket = await server.createBucket();
    const commands: string[] = [];
    const counting: S3ClientLike = {
      send: (command, options) => {
        commands.push(command.constructor.name);
        return server.client.send(command as never, options);
      },
    };
    const storage = new S3Storage({ bucket, client: counting, listPageSize: 3 });
    const keys = Array.from({ length: 10 }, (_, i) => `page/${String(i).padStart(2, '0')}`);
    for (const key of keys) await storage.put(key, new Uint8Array([1]));
    commands.length = 0;
    const listed: string[] = [];
    for await (const object of storage.list('page/')) listed.push(object.key);
    expect(listed).toEqual(keys);
    expect(commands).toEqual(Array(4).fill('ListObjectsV2Command'));
  });

  it('maps NoSuchKey and NotFound to STORAGE_NOT_FOUND and every other failure to STORAGE_FAILED', async () => {
    const notFound = new S3Storage({ bucket: 'b', client: failingClient(sdkError('NoSuchKey', 404)) });
    expect((await caught(notFound.get('k'))).code).toBe('STORAGE_NOT_FOUND');
    expect((await caught(notFound.stream('k'))).code).toBe('STORAGE_NOT_FOUND');
    const headMissing = new S3Storage({ bucket: 'b', client: failingClient(sdkError('NotFound', 404)) });
    expect(await headMissing.head('k')).toBeUndefined();
    await headMissing.delete('k');

    const internal = sdkError('InternalError', 500);
    const broken = new S3Storage({ bucket: 'b', client: failingClient(internal) });
    for (const attempt of [
      () => broken.put('k', new Uint8Array([1])),
      () => broken.get('k'),
      () => broken.stream('k'),
      () => broken.head('k'),
      () => broken.delete('k'),
      async () => {
        for await (const _ of broken.list('')) void _;
      },
    ]) {
      const error = await caught(attempt());
      expect(error.code).toBe('STORAGE_FAILED');
      expect(error.cause).toBe(internal);
      expect(error.details).toMatchObject({
        key: expect.any(String),
        bucket: 'b',
        s3Error: 'InternalError',
        status: 500,
      });
    }
  });

  it('says so when the bucket does not exist', async () => {
    const storage = new S3Storage({ bucket: 'no-such-bucket-here', client: server.client });
    for (const attempt of [() => storage.put('k', new Uint8Array([1])), () => storage.get('k')]) {
      const error = await caught(attempt());
      expect(error.code).toBe('STORAGE_FAILED');
      expect(error.message).toContain('bucket "no-such-bucket-here" does not exist');
    }
  });

  it('reports an unreachable endpoint as STORAGE_FAILED with the network error as cause', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
      });
    });
    const client = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: server.credentials,
      maxAttempts: 1,
    });
    try {
      const error = await caught(new S3Storage({ bucket: 'b', client }).get('k'));
      expect(error.code).toBe('STORAGE_FAILED');
      expect(error.cause).toMatchObject({ code: 'ECONNREFUSED' });
    } finally {
      client.destroy();
    }
  });

  it('rejects bad options as programmer mistakes', () => {
    expect(() => new S3Storage({ bucket: '' })).toThrow(TypeError);
    expect(() => new S3Storage({ bucket: 'b', listPageSize: 0 })).toThrow(RangeError);
    expect(() => new S3Storage({ bucket: 'b', prefix: '../up', client: server.client })).toThrow(
      /Invalid storage key/,
    );
  });
});
