import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Storage, StoredObject } from '@atelier/core';
import * as storage from './index.ts';
import type { S3ClientLike, StorageConfig } from './index.ts';

describe('@atelier/storage public API', () => {
  it('exports both backends, the key helpers and the factory', () => {
    expect(Object.keys(storage).sort()).toEqual([
      'DEFAULT_CONTENT_TYPE',
      'DEFAULT_STORAGE_DIR',
      'DEFAULT_SWEEP_AGE_MS',
      'IMPLIED_CONTENT_TYPES',
      'LocalStorage',
      'MAX_KEY_LENGTH',
      'S3Storage',
      'assertValidKey',
      'assertValidPrefix',
      'contentKey',
      'createStorage',
      'createStorageFromEnv',
      'impliedContentType',
      'isValidKey',
      'readStorageConfig',
    ]);
  });

  it('types', () => {
    expectTypeOf<storage.LocalStorage>().toExtend<Storage>();
    expectTypeOf<storage.S3Storage>().toExtend<Storage>();
    expectTypeOf<S3Client>().toExtend<S3ClientLike>();
    expectTypeOf(storage.createStorageFromEnv).returns.toEqualTypeOf<
      storage.LocalStorage | storage.S3Storage
    >();
    expectTypeOf(storage.readStorageConfig).returns.toEqualTypeOf<StorageConfig>();
    expectTypeOf(storage.contentKey).returns.toBeString();
    expectTypeOf<storage.LocalStorage['sweepTempFiles']>().returns.resolves.toBeNumber();
    expectTypeOf<ReturnType<storage.LocalStorage['list']>>().toEqualTypeOf<AsyncIterable<StoredObject>>();
  });
});
