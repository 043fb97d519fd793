// Per-user quotas over the real API (tRPC, REST and the typed client): stored bytes, jobs an hour,
// previews a minute and the cost budget each refuse past their limit with a code, hold under
// concurrent calls, and are visible to the user and to administrators.
import { createHash, randomBytes } from 'node:crypto';
import sharp from 'sharp';
import type { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadForm } from '@atelier/client';
import type { AtelierClient } from '@atelier/client';
import { codeOf, failure, startApi, storedKeys } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';

let h: ApiHarness;
let admin: AtelierClient;
let serial = 0;

/** A distinct PNG of random pixels: about `side * side * 3` bytes, since noise does not compress. */
function noisePng(side = 48): Promise<Buffer> {
  return sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
}

async function newUser(): Promise<{ client: AtelierClient; token: string; userId: string }> {
  serial += 1;
  return h.signUp(`quota-${serial}@example.org`);
}

async function upload(client: AtelierClient, bytes?: Buffer): Promise<string> {
  const image = await client.images.upload.mutate(
    uploadForm(new Blob([bytes ?? (await noisePng(16))]), 'noise.png'),
  );
  return image.id;
}

beforeAll(async () => {
  h = await startApi({
    ATELIER_QUOTA_PREVIEWS_PER_MINUTE: '3',
    ATELIER_QUOTA_JOBS_PER_HOUR: '4',
    ATELIER_QUOTA_COST_PER_MINUTE: '1000',
    ATELIER_QUOTA_STORED_BYTES: String(50 * 1024 * 1024),
  });
  const root = await h.signUp('root@example.org', 'administrator password');
  await h.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', root.userId).execute();
  admin = root.client;
});
afterAll(() => h.close());

describe('quotas', () => {
  it("shows users their quota and usage, with the server's defaults from the environment", async () => {
    const user = await newUser();
    expect(await user.client.users.quota.query()).toEqual({
      limits: { storedBytes: 50 * 1024 * 1024, jobsPerHour: 4, previewsPerMinute: 3, costPerMinute: 1000 },
      usage: { storedBytes: 0, jobsLastHour: 0, previewsLastMinute: 0, costLastMinute: 0 },
      overrides: {},
    });
    const bytes = await noisePng(20);
    await upload(user.client, bytes);
    const after = await user.client.users.quota.query();
    expect(after.usage).toEqual({
      storedBytes: bytes.length,
      jobsLastHour: 0,
      previewsLastMinute: 0,
      costLastMinute: 1,
    });
    // Over REST too.
    const rest = await fetch(`${h.url}/api/users/me/quota`, {
      headers: { authorization: `Bearer ${user.token}` },
    });
    expect(rest.status).toBe(200);
    expect(await rest.json()).toEqual(after);
  });

  it('refuses a preview past the previews a minute with QUOTA_EXCEEDED, 429 and Retry-After', async () => {
    const user = await newUser();
    const imageId = await upload(user.client);
    for (let i = 0; i < 3; i++)
      await user.client.styles.preview.mutate({ imageId, style: 'grayscale', params: {} });
    const data = await failure(user.client.styles.preview.mutate({ imageId, style: 'grayscale' }));
    expect(data).toMatchObject({
      code: 'TOO_MANY_REQUESTS',
      httpStatus: 429,
      atelierCode: 'QUOTA_EXCEEDED',
      details: { quota: 'previewsPerMinute', limit: 3, used: 3 },
    });
    const wait = data.details?.['retryAfterSeconds'] as number;
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    // REST answers the same, with the header.
    const rest = await fetch(`${h.url}/api/styles/preview`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ imageId, style: 'grayscale' }),
    });
    expect(rest.status).toBe(429);
    expect(Number(rest.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(JSON.stringify(await rest.json())).toContain('QUOTA_EXCEEDED');
    expect((await user.client.users.quota.query()).usage.previewsLastMinute).toBe(3);
  });

  it('refuses the job past the jobs an hour, and deleting jobs gives none back', async () => {
    const user = await newUser();
    const imageId = await upload(user.client);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++)
      ids.push((await user.client.jobs.create.mutate({ imageId, style: 'sketch' })).id);
    for (const id of ids) await user.client.jobs.delete.mutate({ id });
    const data = await failure(user.client.jobs.create.mutate({ imageId, style: 'sketch' }));
    expect(data).toMatchObject({
      httpStatus: 429,
      atelierCode: 'QUOTA_EXCEEDED',
      details: { quota: 'jobsPerHour', limit: 4, used: 4 },
    });
    expect(data.details?.['retryAfterSeconds']).toBeGreaterThan(3000);
    // Over REST (POST /api/jobs is written by hand around the same procedure).
    const rest = await fetch(`${h.url}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ imageId, style: 'sketch' }),
    });
    expect(rest.status).toBe(429);
    expect(Number(rest.headers.get('retry-after'))).toBeGreaterThan(3000);
    const rows = await h.database.db
      .selectFrom('jobs')
      .select('id')
      .where('owner_id', '=', user.userId)
      .execute();
    expect(rows).toEqual([]);
  });

  it('holds the jobs an hour under concurrent creation', async () => {
    const user = await newUser();
    const imageId = await upload(user.client);
    // Made in one tick, the ten calls travel as one tRPC batch request: each is charged.
    const settled = await Promise.allSettled(
      Array.from({ length: 10 }, () => user.client.jobs.create.mutate({ imageId, style: 'sketch' })),
    );
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(4);
    for (const s of settled)
      if (s.status === 'rejected')
        expect((s.reason as TRPCClientError<never>).data).toMatchObject({ atelierCode: 'QUOTA_EXCEEDED' });
    const rows = await h.database.db
      .selectFrom('jobs')
      .select('id')
      .where('owner_id', '=', user.userId)
      .execute();
    expect(rows).toHaveLength(4);
  });

  it('refuses uploads past the stored bytes with STORAGE_QUOTA_EXCEEDED and stores nothing, even when they race', async () => {
    const user = await newUser();
    const files = await Promise.all(Array.from({ length: 6 }, () => noisePng(48)));
    const size = Math.max(...files.map((f) => f.length));
    // Room for two of them, not three.
    await admin.admin.setUserQuota.mutate({ id: user.userId, storedBytes: 2 * size + Math.floor(size / 2) });
    // Uploads (FormData) are not batched: six HTTP requests at once.
    const settled = await Promise.allSettled(files.map((f) => upload(user.client, f)));
    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(2);
    for (const s of settled)
      if (s.status === 'rejected')
        expect((s.reason as TRPCClientError<never>).data).toMatchObject({
          httpStatus: 403,
          atelierCode: 'STORAGE_QUOTA_EXCEEDED',
          details: { quota: 'storedBytes', limit: 2 * size + Math.floor(size / 2) },
        });
    const images = await h.database.db
      .selectFrom('images')
      .select('sha256')
      .where('owner_id', '=', user.userId)
      .execute();
    expect(images).toHaveLength(2);
    // No file of a refused upload was written.
    const originals = await storedKeys(h, 'originals/');
    const kept = new Set(images.map((i) => i.sha256));
    const refused = files
      .map((f) => createHash('sha256').update(f).digest('hex'))
      .filter((sha) => !kept.has(sha));
    expect(refused).toHaveLength(4);
    for (const sha of refused) expect(originals.filter((key) => key.includes(sha))).toEqual([]);
    // A full storage refuses new jobs too (their results need room); deleting an image frees it.
    const first = settled.find((s) => s.status === 'fulfilled')!;
    const imageId = (first as PromiseFulfilledResult<string>).value;
    await admin.admin.setUserQuota.mutate({ id: user.userId, storedBytes: 2 * size - 1 });
    expect((await failure(user.client.jobs.create.mutate({ imageId, style: 'sketch' }))).atelierCode).toBe(
      'STORAGE_QUOTA_EXCEEDED',
    );
    await user.client.images.delete.mutate({ id: imageId });
    expect(await codeOf(upload(user.client, await noisePng(16)))).toBe('ok');
  });

  it('charges previews, uploads and jobs to one cost budget a minute', async () => {
    const user = await newUser();
    await admin.admin.setUserQuota.mutate({ id: user.userId, costPerMinute: 12, previewsPerMinute: 0 });
    const imageId = await upload(user.client); // costs 1
    // A 2000x2000 result: 4 megapixels, 4 units.
    const big = { plugin: 'resize', params: { width: 2000, height: 2000, fit: 'fill' } } as const;
    await user.client.jobs.create.mutate({ imageId, plan: { steps: [big] } });
    await user.client.jobs.create.mutate({ imageId, plan: { steps: [big] }, output: { format: 'png' } });
    expect((await user.client.users.quota.query()).usage.costLastMinute).toBe(9);
    const data = await failure(
      user.client.jobs.create.mutate({ imageId, plan: { steps: [big] }, output: { format: 'webp' } }),
    );
    expect(data).toMatchObject({
      httpStatus: 429,
      atelierCode: 'QUOTA_EXCEEDED',
      details: { quota: 'costPerMinute', limit: 12, used: 9, cost: 4 },
    });
    // Cheaper calls still fit: three previews of 1 unit each, then nothing.
    for (let i = 0; i < 3; i++) await user.client.styles.preview.mutate({ imageId, style: 'grayscale' });
    expect(
      (await failure(user.client.styles.preview.mutate({ imageId, style: 'grayscale' }))).details,
    ).toMatchObject({ quota: 'costPerMinute', used: 12 });
  });

  it('lists every user’s quota as userQuota shows it, most stored bytes first, a page at a time', async () => {
    const light = await newUser();
    await upload(light.client, await noisePng(16));
    const heavy = await newUser();
    await upload(heavy.client, await noisePng(64));
    await admin.admin.setUserQuota.mutate({ id: heavy.userId, previewsPerMinute: 9 });
    const all = await admin.admin.quotas.query({ limit: 200 });
    const stored = all.map((q) => q.usage.storedBytes);
    expect(stored).toEqual([...stored].sort((a, b) => b - a));
    for (const user of [light, heavy])
      expect(all.find((q) => q.userId === user.userId)).toEqual(
        await admin.admin.userQuota.query({ id: user.userId }),
      );
    const second = await admin.admin.quotas.query({ limit: 1, offset: 1 });
    expect(second.map((q) => q.userId)).toEqual([all[1]?.userId]);
  });

  it('shows administrators each user’s usage and lets them set and clear a user’s quotas', async () => {
    const user = await newUser();
    await upload(user.client);
    expect(await codeOf(user.client.admin.userQuota.query({ id: user.userId }))).toBe('FORBIDDEN');
    expect(await codeOf(user.client.admin.setUserQuota.mutate({ id: user.userId, jobsPerHour: 0 }))).toBe(
      'FORBIDDEN',
    );
    const seen = await admin.admin.userQuota.query({ id: user.userId });
    expect(seen).toMatchObject({ userId: user.userId, usage: { costLastMinute: 1 }, overrides: {} });
    expect(seen.usage.storedBytes).toBeGreaterThan(0);
    const set = await admin.admin.setUserQuota.mutate({
      id: user.userId,
      jobsPerHour: 0,
      previewsPerMinute: 7,
    });
    expect(set.limits).toMatchObject({ jobsPerHour: 0, previewsPerMinute: 7 });
    expect(set.overrides).toEqual({ jobsPerHour: 0, previewsPerMinute: 7 });
    // The user sees what the admin set; 0 means no limit: a fifth job an hour is fine now.
    expect((await user.client.users.quota.query()).limits.previewsPerMinute).toBe(7);
    const all = await admin.admin.quotas.query({ limit: 200 });
    expect(all.find((q) => q.userId === user.userId)?.overrides).toEqual({
      jobsPerHour: 0,
      previewsPerMinute: 7,
    });
    const cleared = await admin.admin.setUserQuota.mutate({ id: user.userId, jobsPerHour: null });
    expect(cleared.overrides).toEqual({ previewsPerMinute: 7 });
    expect(cleared.limits.jobsPerHour).toBe(4);
    const audit = await admin.admin.audit.query({ limit: 5 });
    expect(audit.some((a) => a.action === 'user.quota' && a.target.id === user.userId)).toBe(true);
    expect(
      await codeOf(
        admin.admin.setUserQuota.mutate({ id: '00000000-0000-4000-8000-000000000000', jobsPerHour: 1 }),
      ),
    ).toBe('NOT_FOUND');
  });
});
