// The composition root, with one part swapped in a child container: the rest stays real (Postgres,
// storage, plugins, queue), and the root's own services are untouched by the swap.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AtelierError } from '@atelier/core';
import type { Logger, Storage } from '@atelier/core';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { JobService, QuotaService, originalKey } from '@atelier/jobs';
import { AccountService, SessionService } from './auth/index.ts';
import { testClock } from './auth/test-support.ts';
import { readConfig } from './config.ts';
import { openServices } from './services.ts';
import type { Services } from './services.ts';
import { TOKENS, resolve } from './tokens.ts';

let database: TestDatabase;
let dir: string;
let core: Services;

beforeAll(async () => {
  database = await createTestDatabase(inject('pgAdminUrl'));
  dir = await mkdtemp(path.join(tmpdir(), 'atelier-container-'));
  const env = {
    DATABASE_URL: database.url,
    ATELIER_STORAGE_DIR: path.join(dir, 'storage'),
    ATELIER_THREADS: '1',
  };
  core = await openServices(readConfig(env, dir));
});
afterAll(async () => {
  await core?.close();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

const photo = (seed: number): Promise<Buffer> =>
  sharp({ create: { width: 32, height: 24, channels: 3, background: { r: seed, g: 80, b: 160 } } })
    .png()
    .toBuffer();

describe('a child container swaps one part', () => {
  it('a failing Storage: the upload fails with its coded error and writes nothing', async () => {
    const child = core.container.createChildContainer();
    const failing: Storage = {
      put: () => Promise.reject(new AtelierError('STORAGE_FAILED', 'The disk is full.')),
      get: (key) => core.storage.get(key),
      stream: (key) => core.storage.stream(key),
      head: (key) => core.storage.head(key),
      delete: (key) => core.storage.delete(key),
      list: (prefix) => core.storage.list(prefix),
    };
    child.register(TOKENS.Storage, { useValue: failing });
    const jobs = resolve(child, JobService);
    expect(jobs).not.toBe(core.jobs);
    const ownerId = await jobs.ensureUser('storage-fails@example.org');
    const bytes = await photo(1);
    const error = await jobs.storeImage({ ownerId, bytes, quota: resolve(child, QuotaService) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AtelierError);
    expect((error as AtelierError).code).toBe('STORAGE_FAILED');
    // Nothing half-written: no image row, no quota charged, no file.
    const rows = await database.db
      .selectFrom('images')
      .select('id')
      .where('owner_id', '=', ownerId)
      .execute();
    expect(rows).toEqual([]);
    expect((await resolve(core.container, QuotaService).status(ownerId)).usage).toMatchObject({
      storedBytes: 0,
    });
    const key = originalKey(createHash('sha256').update(bytes).digest('hex'));
    expect(await core.storage.head(key)).toBeUndefined();
    // The root's services still have the real storage.
    await expect(core.jobs.storeImage({ ownerId, bytes })).resolves.toMatchObject({ storageKey: key });
  });

  it('a fixed Clock: sessions last 30 days from sign-in and slide when used in their second half', async () => {
    const clock = testClock(Date.parse('2031-03-01T12:00:00Z'));
    const child = core.container.createChildContainer();
    child.register(TOKENS.Clock, { useValue: clock });
    const accounts = resolve(child, AccountService);
    const sessions = resolve(child, SessionService);
    expect(sessions).not.toBe(resolve(core.container, SessionService));
    const DAY = 24 * 3600_000;
    const { token, session } = await accounts.register({
      email: 'clock@example.org',
      password: 'correct horse battery staple',
      displayName: 'Clock',
    });
    expect(session.expiresAt).toEqual(new Date(clock.now().getTime() + 30 * DAY));
    clock.advance(10 * DAY);
    expect(await sessions.validate(token)).toMatchObject({
      renewed: false,
      session: { expiresAt: session.expiresAt },
    });
    clock.advance(10 * DAY); // 10 days left: less than half the lifetime
    const renewed = await sessions.validate(token);
    expect(renewed).toMatchObject({
      renewed: true,
      session: { expiresAt: new Date(clock.now().getTime() + 30 * DAY) },
    });
    clock.advance(31 * DAY);
    expect(await sessions.validate(token)).toBeNull();
  });

  it('a Logger that records: the job service logs what garbage collection removed', async () => {
    const records: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
    const record =
      (level: string) =>
      (message: string, fields?: Record<string, unknown>): void =>
        void records.push({ level, message, ...(fields ? { fields } : {}) });
    const logger: Logger = {
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    };
    const child = core.container.createChildContainer();
    child.register(TOKENS.Logger, { useValue: logger });
    const orphan = originalKey(createHash('sha256').update('orphan').digest('hex'));
    await core.storage.put(orphan, await photo(2));
    const removed = await resolve(child, JobService).collectOrphans(0);
    expect(removed).toContain(orphan);
    expect(records).toContainEqual({
      level: 'info',
      message: 'collected orphaned files',
      fields: { count: removed.length },
    });
  });
});
