export { DEFAULT_CONTENT_TYPE, IMPLIED_CONTENT_TYPES, impliedContentType } from './content-type.ts';
export { assertValidKey, assertValidPrefix, contentKey, isValidKey, MAX_KEY_LENGTH } from './keys.ts';
export type { ContentKind } from './keys.ts';
export { DEFAULT_SWEEP_AGE_MS, LocalStorage } from './local-storage.ts';
export type { LocalStorageOptions } from './local-storage.ts';
export { S3Storage } from './s3-storage.ts';
export type { S3ClientLike, S3Credentials, S3StorageOptions } from './s3-storage.ts';
export {
  createStorage,
  createStorageFromEnv,
  DEFAULT_STORAGE_DIR,
  readStorageConfig,
} from './storage-from-env.ts';
export type { StorageConfig, StorageEnv } from './storage-from-env.ts';
