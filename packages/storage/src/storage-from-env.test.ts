import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAtelierError } from '@atelier/core';
import { LocalStorage } from './local-storage.ts';
import { startLoopbackS3 } from './loopback-s3.ts';
import type { LoopbackS3 } from './loopback-s3.ts';
import { S3Storage } from './s3-storage.ts';
import { createStorageFromEnv, readStorageConfig } from './storage-from-env.ts';

let server: LoopbackS3;
let dir: string;

beforeAll(async () => {
  server = await startLoopbackS3();
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-storage-env-'));
});
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

function failure(env: Record<string, string>): { code: string; message: string; variable: unknown } {
  try {
    readStorageConfig(env, '/srv');
  } catch (error) {
    if (!isAtelierError(error)) throw error;
    return { code: error.code, message: error.message, variable: error.details?.variable };
  }
  throw new Error('expected readStorageConfig to throw');
}

describe('readStorageConfig', () => {
  it('defaults to the local store in ./.atelier/storage', () => {
    expect(readStorageConfig({}, '/srv/app')).toEqual({ backend: 'local', dir: '/srv/app/.atelier/storage' });
    expect(readStorageConfig({ ATELIER_STORAGE: '', ATELIER_STORAGE_DIR: '' }, '/srv/app')).toEqual({
      backend: 'local',
      dir: '/srv/app/.atelier/storage',
    });
    expect(readStorageConfig({ ATELIER_STORAGE: 'local', ATELIER_STORAGE_DIR: 'data' }, '/srv')).toEqual({
      backend: 'local',
      dir: '/srv/data',
    });
    expect(readStorageConfig({ ATELIER_STORAGE_DIR: '/var/lib/atelier' }, '/srv')).toMatchObject({
      dir: '/var/lib/atelier',
    });
  });

  it('reads every S3 variable', () => {
    expect(
      readStorageConfig({
        ATELIER_STORAGE: 's3',
        ATELIER_S3_BUCKET: 'pics',
        ATELIER_S3_PREFIX: 'prod/atelier',
        ATELIER_S3_ENDPOINT: 'https://abc.r2.cloudflarestorage.com',
        ATELIER_S3_REGION: 'auto',
        ATELIER_S3_FORCE_PATH_STYLE: 'false',
        ATELIER_S3_ACCESS_KEY_ID: 'id',
        ATELIER_S3_SECRET_ACCESS_KEY: 'secret',
      }),
    ).toEqual({
      backend: 's3',
      bucket: 'pics',
      prefix: 'prod/atelier',
      endpoint: 'https://abc.r2.cloudflarestorage.com',
      region: 'auto',
      forcePathStyle: false,
      credentials: { accessKeyId: 'id', secretAccessKey: 'secret' },
    });
  });

  it('leaves region and credentials to the AWS SDK chain on AWS, and uses path style with an endpoint', () => {
    expect(readStorageConfig({ ATELIER_STORAGE: 's3', ATELIER_S3_BUCKET: 'pics' })).toEqual({
      backend: 's3',
      bucket: 'pics',
      forcePathStyle: false,
    });
    expect(
      readStorageConfig({
        ATELIER_STORAGE: 's3',
        ATELIER_S3_BUCKET: 'pics',
        ATELIER_S3_ENDPOINT: 'http://minio:9000',
      }),
    ).toEqual({
      backend: 's3',
      bucket: 'pics',
      endpoint: 'http://minio:9000',
      region: 'us-east-1',
      forcePathStyle: true,
    });
  });

  it('names the variable when the configuration is wrong', () => {
    const s3 = { ATELIER_STORAGE: 's3', ATELIER_S3_BUCKET: 'pics' };
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ ATELIER_STORAGE: 'ftp' }, 'ATELIER_STORAGE', /must be "local" or "s3"/],
      [{ ATELIER_STORAGE: 's3' }, 'ATELIER_S3_BUCKET', /required/],
      [{ ...s3, ATELIER_S3_ENDPOINT: 'minio:9000' }, 'ATELIER_S3_ENDPOINT', /http/],
      [{ ...s3, ATELIER_S3_ENDPOINT: 'not a url' }, 'ATELIER_S3_ENDPOINT', /not a URL/],
      [{ ...s3, ATELIER_S3_FORCE_PATH_STYLE: 'maybe' }, 'ATELIER_S3_FORCE_PATH_STYLE', /true or false/],
      [{ ...s3, ATELIER_S3_PREFIX: '../x' }, 'ATELIER_S3_PREFIX', /segments/],
      [{ ...s3, ATELIER_S3_ACCESS_KEY_ID: 'id' }, 'ATELIER_S3_SECRET_ACCESS_KEY', /both/],
      [{ ...s3, ATELIER_S3_SECRET_ACCESS_KEY: 'secret' }, 'ATELIER_S3_ACCESS_KEY_ID', /both/],
    ];
    for (const [env, variable, message] of cases) {
      const error = failure(env);
      expect(error, variable).toMatchObject({ code: 'PARAMS_INVALID', variable });
      expect(error.message).toMatch(new RegExp(`^${variable}: `));
      expect(error.message).toMatch(message);
    }
  });
});

describe('createStorageFromEnv', () => {
  it('makes a working local store', async () => {
    const storage = createStorageFromEnv({ ATELIER_STORAGE_DIR: 'store' }, dir);
    expect(storage).toBeInstanceOf(LocalStorage);
    await storage.put('k', new Uint8Array([1]));
    expect((storage as LocalStorage).root).toBe(path.join(dir, 'store'));
    expect([...(await storage.get('k'))]).toEqual([1]);
  });

  it('makes a working S3 store from the variables alone', async () => {
    const bucket = await server.createBucket();
    const storage = createStorageFromEnv({
      ATELIER_STORAGE: 's3',
      ATELIER_S3_BUCKET: bucket,
      ATELIER_S3_PREFIX: 'atelier',
      ATELIER_S3_ENDPOINT: server.endpoint,
      ATELIER_S3_ACCESS_KEY_ID: server.credentials.accessKeyId,
      ATELIER_S3_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    });
    expect(storage).toBeInstanceOf(S3Storage);
    try {
      await storage.put('k', new Uint8Array([2]), { contentType: 'image/webp' });
      expect([...(await storage.get('k'))]).toEqual([2]);
      expect((await storage.head('k'))?.contentType).toBe('image/webp');
      expect((storage as S3Storage).location).toBe(`s3://${bucket}/atelier/`);
    } finally {
      (storage as S3Storage).close();
    }
  });
});
