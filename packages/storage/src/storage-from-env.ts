import path from 'node:path';
import { AtelierError } from '@atelier/core';
import { isValidKey } from './keys.ts';
import { LocalStorage } from './local-storage.ts';
import { S3Storage } from './s3-storage.ts';
import type { S3Credentials } from './s3-storage.ts';

/** Where {@link readStorageConfig} puts the local store when `ATELIER_STORAGE_DIR` is unset. */
export const DEFAULT_STORAGE_DIR = './.atelier/storage';

/** Which store to use and how to reach it; read from the environment by {@link readStorageConfig}. */
export type StorageConfig =
  | {
      readonly backend: 'local';
      /** Absolute root directory. */
      readonly dir: string;
    }
  | {
      readonly backend: 's3';
      readonly bucket: string;
      readonly prefix?: string;
      readonly endpoint?: string;
      readonly region?: string;
      readonly forcePathStyle: boolean;
      /** Absent: the AWS SDK's usual chain (`AWS_ACCESS_KEY_ID`, `~/.aws`, instance roles, …). */
      readonly credentials?: S3Credentials;
    };

/** The environment variables that {@link readStorageConfig} reads. */
export interface StorageEnv {
  readonly [name: string]: string | undefined;
}

function bad(variable: string, message: string): AtelierError {
  return new AtelierError('PARAMS_INVALID', `${variable}: ${message}`, { details: { variable } });
}

/**
 * Reads the storage configuration from environment variables; empty values count as unset. Bad
 * values throw `PARAMS_INVALID` naming the variable (the code the rest of the configuration uses).
 *
 * | variable | meaning | default |
 * | --- | --- | --- |
 * | `ATELIER_STORAGE` | `local` or `s3` | `local` |
 * | `ATELIER_STORAGE_DIR` | root of the local store, relative to `cwd` | `./.atelier/storage` |
 * | `ATELIER_S3_BUCKET` | bucket (required for `s3`) | |
 * | `ATELIER_S3_PREFIX` | folder inside the bucket | the whole bucket |
 * | `ATELIER_S3_ENDPOINT` | URL of an S3-compatible service | AWS S3 |
 * | `ATELIER_S3_REGION` | region | SDK chain; `us-east-1` when an endpoint is set |
 * | `ATELIER_S3_FORCE_PATH_STYLE` | `true`/`false` (also `1`/`0`, `yes`/`no`) | `true` with an endpoint, else `false` |
 * | `ATELIER_S3_ACCESS_KEY_ID`, `ATELIER_S3_SECRET_ACCESS_KEY` | static credentials, both or neither | SDK chain |
 *
 * @example
 * readStorageConfig({ ATELIER_STORAGE: 's3', ATELIER_S3_BUCKET: 'atelier' });
 * // → { backend: 's3', bucket: 'atelier', forcePathStyle: false }
 */
export function readStorageConfig(env: StorageEnv = process.env, cwd: string = process.cwd()): StorageConfig {
  const value = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw === undefined || raw === '' ? undefined : raw;
  };
  const backend = value('ATELIER_STORAGE') ?? 'local';
  if (backend === 'local') {
    return { backend, dir: path.resolve(cwd, value('ATELIER_STORAGE_DIR') ?? DEFAULT_STORAGE_DIR) };
  }
  if (backend !== 's3')
    throw bad('ATELIER_STORAGE', `must be "local" or "s3", not ${JSON.stringify(backend)}`);

  const bucket = value('ATELIER_S3_BUCKET');
  if (bucket === undefined) throw bad('ATELIER_S3_BUCKET', 'is required when ATELIER_STORAGE=s3');

  const endpoint = value('ATELIER_S3_ENDPOINT');
  if (endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw bad('ATELIER_S3_ENDPOINT', `${JSON.stringify(endpoint)} is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw bad('ATELIER_S3_ENDPOINT', 'must be an http:// or https:// URL');
    }
  }

  const prefix = value('ATELIER_S3_PREFIX');
  if (prefix !== undefined && !isValidKey(prefix.replace(/^\/+|\/+$/g, ''))) {
    throw bad('ATELIER_S3_PREFIX', 'must be /-separated segments of letters, digits, ".", "_" and "-"');
  }

  const pathStyle = value('ATELIER_S3_FORCE_PATH_STYLE')?.toLowerCase();
  let forcePathStyle = endpoint !== undefined;
  if (pathStyle !== undefined) {
    if (['true', '1', 'yes'].includes(pathStyle)) forcePathStyle = true;
    else if (['false', '0', 'no'].includes(pathStyle)) forcePathStyle = false;
    else throw bad('ATELIER_S3_FORCE_PATH_STYLE', 'must be true or false');
  }

  const accessKeyId = value('ATELIER_S3_ACCESS_KEY_ID');
  const secretAccessKey = value('ATELIER_S3_SECRET_ACCESS_KEY');
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    throw bad(
      accessKeyId === undefined ? 'ATELIER_S3_ACCESS_KEY_ID' : 'ATELIER_S3_SECRET_ACCESS_KEY',
      'set both ATELIER_S3_ACCESS_KEY_ID and ATELIER_S3_SECRET_ACCESS_KEY, or neither',
    );
  }

  const region = value('ATELIER_S3_REGION') ?? (endpoint === undefined ? undefined : 'us-east-1');
  return {
    backend,
    bucket,
    forcePathStyle,
    ...(prefix === undefined ? {} : { prefix }),
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    ...(accessKeyId === undefined || secretAccessKey === undefined
      ? {}
      : { credentials: { accessKeyId, secretAccessKey } }),
  };
}

/**
 * The store a {@link StorageConfig} describes. Call `close()` on an {@link S3Storage} at shutdown;
 * run {@link LocalStorage.sweepTempFiles} on a {@link LocalStorage} at start-up.
 */
export function createStorage(config: StorageConfig): LocalStorage | S3Storage {
  switch (config.backend) {
    case 'local':
      return new LocalStorage({ root: config.dir });
    case 's3':
      return new S3Storage(config);
  }
}

/**
 * The store the environment asks for: `createStorage(readStorageConfig(env, cwd))`.
 *
 * @example
 * const storage = createStorageFromEnv(); // ./.atelier/storage unless ATELIER_STORAGE says otherwise
 */
export function createStorageFromEnv(
  env: StorageEnv = process.env,
  cwd: string = process.cwd(),
): LocalStorage | S3Storage {
  return createStorage(readStorageConfig(env, cwd));
}
