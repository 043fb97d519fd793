// Starts the real API for a test file: its own database, local storage, an in-process worker, the
// built-in and test plugins, Fastify listening on a free loopback port.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventSource } from 'eventsource';
import { TRPCClientError } from '@trpc/client';
import { expect, inject } from 'vitest';
import { createAtelierClient } from '@atelier/client';
import type { AtelierClient } from '@atelier/client';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { buildApp, createApiServices, openServices, readConfig } from '@atelier/server';
import type { Services } from '@atelier/server';
import { testPluginDir } from './helpers.ts';

export interface ApiHarness {
  readonly url: string;
  readonly database: TestDatabase;
  readonly core: Services;
  client(token?: string): AtelierClient;
  /** Registers a user and returns a client signed in as them. */
  signUp(email: string, password?: string): Promise<{ client: AtelierClient; token: string; userId: string }>;
  close(): Promise<void>;
}

export async function startApi(
  env: Record<string, string> = {},
  appOptions: Parameters<typeof buildApp>[1] = {},
): Promise<ApiHarness> {
  const database = await createTestDatabase(inject('pgAdminUrl'));
  const dir = await mkdtemp(path.join(tmpdir(), 'atelier-api-'));
  const config = readConfig(
    {
      DATABASE_URL: database.url,
      ATELIER_STORAGE_DIR: path.join(dir, 'storage'),
      ATELIER_PLUGIN_DIR: testPluginDir,
      ATELIER_THREADS: '2',
      ATELIER_MAX_INPUT_BYTES: String(5 * 1024 * 1024),
      ATELIER_SHUTDOWN_DEADLINE_MS: '1000',
      // Test files register many accounts from one address; a test that checks the throttle sets it.
      ATELIER_REGISTRATIONS_PER_HOUR: '1000',
      ...env,
    },
    dir,
  );
  const core = await openServices(config, { worker: true });
  const api = await createApiServices(core, {
    secureCookies: false,
    allowedOrigins: ['https://app.example.org'],
    publicUrl: config.http.publicUrl,
    registrationsPerHour: config.http.registrationsPerHour,
  });
  const app = await buildApp(api, {
    trustProxy: config.http.trustProxy,
    rateLimitPerMinute: config.http.rateLimitPerMinute,
    maxBatchSize: config.http.maxBatchSize,
    metricsToken: config.http.metricsToken,
    ...appOptions,
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const client = (token?: string) =>
    createAtelierClient({
      url: address,
      ...(token ? { token } : {}),
      EventSource: EventSource as unknown as typeof globalThis.EventSource,
    });
  return {
    url: address,
    database,
    core,
    client,
    async signUp(email, password = 'correct horse battery') {
      const { token, user } = await client().auth.register.mutate({
        email,
        password,
        displayName: email.split('@')[0]!,
      });
      return { client: client(token), token, userId: user.id };
    },
    async close() {
      const started = Date.now();
      await app.close();
      if (Date.now() - started > 5000) console.warn(`app.close() took ${Date.now() - started} ms`);
      await api.close();
      await core.close();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The tRPC error code a call ends with ('ok' when it succeeds). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof TRPCClientError)
      return (error.data as { code: string } | undefined)?.code ?? error.message;
    throw error;
  }
}

/** The `data` of a tRPC error: its tRPC code and HTTP status, and the Atelier code and details. */
export interface ErrorData {
  readonly code: string;
  readonly httpStatus: number;
  readonly atelierCode: string | null;
  readonly details: Record<string, unknown> | null;
  readonly requestId: string | null;
}

/** The error data of a call that must fail. */
export async function failure(promise: Promise<unknown>): Promise<ErrorData> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCClientError);
  const data: unknown = (error as TRPCClientError<never>).data;
  return data as ErrorData;
}

/** The keys of the API's stored objects under `prefix` (`originals/`, `results/`). */
export async function storedKeys(h: ApiHarness, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of h.core.storage.list(prefix)) keys.push(object.key);
  return keys;
}
