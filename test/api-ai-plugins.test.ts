// The AI-provider plugins through the whole system: the real API and its in-process worker, real
// Postgres, grants and the encrypted key set by an administrator over the API, real HTTP to the
// loopback fake provider. Costs land on the job, annotations on the image (its owner only).
import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadPluginModule } from '@atelier/core';
import type { AtelierClient } from '@atelier/client';
import { FAKE_USAGE, startFakeProvider } from './fakes/openai-provider.ts';
import type { FakeProvider } from './fakes/openai-provider.ts';
import { codeOf, startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';
import { photo } from './helpers.ts';

// Loopback for the fake provider (test-only), before the engine's threads copy the environment.
process.env['ATELIER_FETCH_ALLOW_LOOPBACK'] = '1';

const KEY = 'sk-test-api-ai-0123456789abcdefghij';
const SECRETS_KEY = 'a'.repeat(64);
const WIDTH = 300;
const HEIGHT = 200;

let h: ApiHarness;
let fake: FakeProvider;
let admin: AtelierClient;
let alice: AtelierClient;
let aliceToken: string;
let bob: AtelierClient;
let imageId: string;
let inputPixels: Buffer;

type Job = Awaited<ReturnType<AtelierClient['jobs']['get']['query']>>;

async function finished(client: AtelierClient, id: string): Promise<Job> {
  const until = Date.now() + 30_000;
  for (;;) {
    const job = await client.jobs.get.query({ id });
    if (job.status === 'succeeded' || job.status === 'failed' || job.status === 'cancelled') return job;
    if (Date.now() > until) throw new Error(`job ${id} still ${job.status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function submit(style: string, params: Record<string, unknown> = {}): Promise<Job> {
  const job = await alice.jobs.create.mutate({
    imageId,
    style: style as `${string}:${string}`,
    params: { baseUrl: fake.url, ...params },
    output: { format: 'png' },
  });
  return finished(alice, job.id);
}

beforeAll(async () => {
  fake = await startFakeProvider(KEY);
  h = await startApi({ ATELIER_SECRETS_KEY: SECRETS_KEY, ATELIER_JOB_RETRIES: '0' });
  // The built-ins' code under ids that declare the fake's loopback host (the built-ins declare
  // only api.openai.com, which no grant can widen).
  await loadPluginModule(
    h.core.registry,
    new URL('./fixtures/ai-plugins/loopback.plugins.ts', import.meta.url).href,
    { builtin: true },
  );
  const root = await h.signUp('root@example.org', 'administrator password');
  await h.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', root.userId).execute();
  admin = root.client;
  ({ client: alice, token: aliceToken } = await h.signUp('alice@example.org'));
  bob = (await h.signUp('bob@example.org')).client;
  const png = await sharp(await readFile(photo('coffee.png')))
    .resize(WIDTH, HEIGHT, { fit: 'fill' })
    .removeAlpha()
    .png()
    .toBuffer();
  inputPixels = await sharp(png).raw().toBuffer();
  const form = new FormData();
  form.append('file', new Blob([png], { type: 'image/png' }), 'coffee.png');
  imageId = (await alice.images.upload.mutate(form)).id;
}, 60_000);

afterAll(async () => {
  await h?.close();
  await fake?.close();
});

beforeEach(() => {
  fake.requests.length = 0;
});

describe('before an administrator grants them', () => {
  it('refuses a job with CAPABILITY_NOT_GRANTED and calls nobody', async () => {
    const refused = alice.jobs.create.mutate({
      imageId,
      style: 'test:openai-image' as `${string}:${string}`,
    });
    expect(await codeOf(refused)).toBe('FORBIDDEN');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('granted', () => {
  beforeAll(async () => {
    await admin.admin.setSecret.mutate({ name: 'OPENAI_API_KEY', value: KEY });
    for (const id of ['test:openai-image', 'test:openai-describe'])
      await admin.admin.setPluginGrants.mutate({ id, network: ['127.0.0.1'], secrets: ['OPENAI_API_KEY'] });
  });

  it('runs an image edit: the result has the input size and the provider pixels, and the job its cost', async () => {
    const job = await submit('test:openai-image', { prompt: 'Make it a negative', quality: 'low' });
    expect(job.status).toBe('succeeded');
    expect(job.output).toMatchObject({ width: WIDTH, height: HEIGHT, format: 'png' });
    const { url } = await alice.jobs.downloadUrl.query({ id: job.id });
    const bytes = Buffer.from(await (await fetch(`${h.url}${url}`)).arrayBuffer());
    const out = await sharp(bytes).removeAlpha().raw().toBuffer();
    let diff = 0;
    for (let i = 0; i < out.length; i++) diff += Math.abs(out[i]! - (255 - inputPixels[i]!));
    expect(diff / out.length).toBeLessThan(6);

    const u = FAKE_USAGE.edits;
    const amount = (u.textTokens * 5 + u.imageTokens * 8 + u.outputTokens * 32) / 1e6;
    expect(job.cost).toEqual({
      totals: [{ currency: 'USD', amount }],
      items: [
        {
          attempt: 1,
          step: 0,
          plugin: 'test:openai-image',
          version: '1.0.0',
          amount,
          currency: 'USD',
          detail: expect.stringContaining('gpt-image-1.5') as string,
        },
      ],
    });
    expect(fake.requests.map((r) => [r.endpoint, r.authorized, r.fields['prompt']])).toEqual([
      ['edits', true, 'Make it a negative'],
    ]);
    // REST and the list show the same cost; the same request again is served from the cache: nothing spent.
    const rest = await fetch(`${h.url}/api/jobs/${job.id}`, {
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    expect(((await rest.json()) as { cost: unknown }).cost).toEqual(job.cost);
    expect((await alice.jobs.list.query({})).items.find((j) => j.id === job.id)?.cost).toEqual(job.cost);
    const again = await submit('test:openai-image', { prompt: 'Make it a negative', quality: 'low' });
    expect([again.fromCache, again.cost]).toEqual([true, null]);
  });

  it('retries after a 429 and counts the attempts against the provider', async () => {
    fake.fail('edits', { status: 429, retryAfter: '0' }, { status: 429, retryAfter: '0' });
    const job = await submit('test:openai-image', { prompt: 'After a 429' });
    expect(job.status).toBe('succeeded');
    expect(fake.requests.map((r) => r.status)).toEqual([429, 429, 200]);
    expect(job.cost?.items).toHaveLength(1);
  });

  it('fails the job with PROVIDER_UNAVAILABLE after every 5xx', async () => {
    fake.fail('edits', { status: 500 }, { status: 502 });
    const job = await submit('test:openai-image', { prompt: 'Down', attempts: 2 });
    expect([job.status, job.error?.code]).toEqual(['failed', 'PROVIDER_UNAVAILABLE']);
    expect(fake.requests).toHaveLength(2);
    expect(job.cost).toBeNull();
  });

  it('fails the job with PROVIDER_REJECTED for a content-policy refusal, with the provider message', async () => {
    fake.fail('edits', {
      status: 400,
      body: {
        error: {
          message: 'Your request was rejected as a result of our safety system.',
          type: 'image_generation_user_error',
          code: 'moderation_blocked',
        },
      },
    });
    const job = await submit('test:openai-image', { prompt: 'Something refused' });
    expect(job.error?.code).toBe('PROVIDER_REJECTED');
    expect(job.error?.message).toContain('rejected as a result of our safety system');
  });

  it('fails the job with PROVIDER_AUTH_FAILED for a refused key, which appears nowhere', async () => {
    const wrong = 'sk-revoked-key-zyxwvutsrqponm';
    await admin.admin.setSecret.mutate({ name: 'OPENAI_API_KEY', value: wrong });
    try {
      const job = await submit('test:openai-image', { prompt: 'With a revoked key' });
      expect([job.status, job.error?.code]).toEqual(['failed', 'PROVIDER_AUTH_FAILED']);
      expect(fake.requests.map((r) => [r.authorized, r.status])).toEqual([[false, 401]]);
      // The fake echoed the whole Authorization header in its error body.
      const row = await h.database.db
        .selectFrom('jobs')
        .selectAll()
        .where('id', '=', job.id)
        .executeTakeFirstOrThrow();
      const failed = await admin.admin.failedJobs.query({});
      const everything = JSON.stringify({ job, row, failed });
      expect(everything).not.toContain(wrong);
      expect(everything).not.toContain('sk-revoked');
      expect(everything).not.toContain(KEY);
    } finally {
      await admin.admin.setSecret.mutate({ name: 'OPENAI_API_KEY', value: KEY });
    }
  });

  it('describes the image: annotations stored with it, shown to its owner only; the cost on the job', async () => {
    const job = await submit('test:openai-describe', { maxTags: 10 });
    expect(job.status).toBe('succeeded');
    // An analysis job keeps a result: the input image, unchanged.
    expect(job.output).toMatchObject({ width: WIDTH, height: HEIGHT });
    const u = FAKE_USAGE.chat;
    expect(job.cost?.totals).toEqual([
      { currency: 'USD', amount: (u.promptTokens * 0.25 + u.completionTokens * 2) / 1e6 },
    ]);

    const image = await alice.images.get.query({ id: imageId });
    expect(image.annotations).toEqual([
      {
        plugin: 'test:openai-describe',
        version: '1.0.0',
        caption: expect.stringMatching(
          /^A (bright|dark) photo, mostly (red|green|blue), 300x200 pixels as received\.$/,
        ) as string,
        tags: [expect.any(String), expect.any(String), 'photo'],
        jobId: job.id,
        createdAt: expect.any(String) as string,
      },
    ]);
    expect((await alice.images.list.query({})).items.find((i) => i.id === imageId)?.annotations).toEqual(
      image.annotations,
    );
    const restImage = await fetch(`${h.url}/api/images/${imageId}`, {
      headers: { authorization: `Bearer ${aliceToken}` },
    });
    expect(((await restImage.json()) as { annotations: unknown }).annotations).toEqual(image.annotations);
    const stored = await h.database.db
      .selectFrom('image_annotations')
      .selectAll()
      .where('image_id', '=', imageId)
      .execute();
    expect(stored).toHaveLength(1);
    expect(stored[0]?.tags).toEqual(image.annotations[0]?.tags);

    // Another user sees neither the image nor what was found in it.
    expect(await codeOf(bob.images.get.query({ id: imageId }))).toBe('NOT_FOUND');
    expect((await bob.images.list.query({})).items).toEqual([]);
    const rest = await fetch(`${h.url}/api/images/${imageId}`, {
      headers: { authorization: `Bearer ${(await h.signUp('carol@example.org')).token}` },
    });
    expect(rest.status).toBe(404);
  });

  it('replaces the annotation with a later job of the same plugin (latest wins), and records a failed attempt cost', async () => {
    const first = (await alice.images.get.query({ id: imageId })).annotations[0];
    const later = await submit('test:openai-describe', { maxTags: 2 });
    expect(later.status).toBe('succeeded');
    const annotations = (await alice.images.get.query({ id: imageId })).annotations;
    expect(annotations).toHaveLength(1);
    expect(annotations[0]?.jobId).toBe(later.id);
    expect(annotations[0]?.tags).toHaveLength(2);
    expect(annotations[0]?.jobId).not.toBe(first?.jobId);

    // A billed answer without the JSON asked for: the job fails, its cost is kept, the annotation stays.
    fake.fail('chat', { empty: true });
    const failed = await submit('test:openai-describe', { maxTags: 3 });
    expect([failed.status, failed.error?.code]).toEqual(['failed', 'PROVIDER_BAD_RESPONSE']);
    expect(failed.cost?.items).toEqual([
      expect.objectContaining({ attempt: 1, amount: (100 * 0.25 + 10 * 2) / 1e6 }),
    ]);
    expect((await alice.images.get.query({ id: imageId })).annotations[0]?.jobId).toBe(later.id);
  });
});
