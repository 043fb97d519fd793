// `jobs.create({ style, params })` for any installed style: the test plugin `acme:invert`
// (test/fixtures/plugins) over tRPC and REST, its params checked by its own schema at submission.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AtelierOutputs } from '@atelier/client';
import { uploadForm } from '@atelier/client';
import { photo, read } from './helpers.ts';
import { failure, startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';

type Job = AtelierOutputs['jobs']['get'];

let h: ApiHarness;
let alice: Awaited<ReturnType<ApiHarness['signUp']>>;
let admin: Awaited<ReturnType<ApiHarness['signUp']>>;
let imageId: string;

beforeAll(async () => {
  h = await startApi();
  alice = await h.signUp('alice@example.org');
  admin = await h.signUp('admin@example.org');
  await h.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', admin.userId).execute();
  const image = await alice.client.images.upload.mutate(
    uploadForm(new Blob([await read(photo('chelsea.png'))]), 'chelsea.png'),
  );
  imageId = image.id;
});
afterAll(async () => {
  await h?.close();
});

/** POST /api/jobs with `body`: the status and the JSON answer. */
async function rest(body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${h.url}/api/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** What a failed call says: status, Atelier code and message, the same for tRPC and REST. */
interface Refusal {
  readonly status: number;
  readonly atelierCode: string | null | undefined;
  readonly message: string;
}

/** Sends `input` to `jobs.create` over tRPC and to POST /api/jobs; both must fail. */
async function refusals(input: Record<string, unknown>): Promise<{ trpc: Refusal; rest: Refusal }> {
  const body = { imageId, ...input };
  let message = '';
  const trpcData = await failure(
    // The untyped member of the input: any id, params a record (the server checks them).
    alice.client.jobs.create
      .mutate(body as Parameters<typeof alice.client.jobs.create.mutate>[0])
      .catch((error: unknown) => {
        message = (error as Error).message;
        throw error;
      }),
  );
  const answer = await rest(body);
  const data = answer.body.data as { atelierCode?: string } | undefined;
  return {
    trpc: { status: trpcData.httpStatus, atelierCode: trpcData.atelierCode, message },
    rest: { status: answer.status, atelierCode: data?.atelierCode, message: String(answer.body.message) },
  };
}

async function finished(id: string): Promise<Job> {
  const deadline = Date.now() + 45_000;
  let job = await alice.client.jobs.get.query({ id });
  while (!['succeeded', 'failed', 'cancelled'].includes(job.status) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    job = await alice.client.jobs.get.query({ id });
  }
  return job;
}

/** The mean and standard deviation of the result's first channel. */
async function resultStats(id: string): Promise<{ mean: number; stdev: number }> {
  const download = await fetch(`${h.url}/files/jobs/${id}`, {
    headers: { authorization: `Bearer ${alice.token}` },
  });
  expect(download.status).toBe(200);
  const { channels } = await sharp(Buffer.from(await download.arrayBuffer())).stats();
  return { mean: channels[0]!.mean, stdev: channels[0]!.stdev };
}

describe('a third-party style in jobs.create', () => {
  it('renders with its params, over tRPC and REST', async () => {
    const viaTrpc = await alice.client.jobs.create.mutate({
      imageId,
      style: 'acme:invert',
      params: { amount: 0.5 },
    });
    const viaRest = await rest({ imageId, style: 'acme:invert', params: { amount: 0.5 } });
    expect(viaRest.status).toBe(200);
    for (const id of [viaTrpc.id, String(viaRest.body.id)]) {
      const job = await finished(id);
      expect(job).toMatchObject({ status: 'succeeded', style: 'acme:invert' });
      // amount 0.5 blends each pixel with its negative: a flat grey. Dropped params would give the
      // default (amount 1), the full negative, which varies as much as the photo does.
      const { mean, stdev } = await resultStats(id);
      expect(Math.abs(mean - 127.5)).toBeLessThan(3);
      expect(stdev).toBeLessThan(3);
    }
    // Without params it runs with the defaults: the full negative.
    const plain = await alice.client.jobs.create.mutate({ imageId, style: 'acme:invert' });
    expect(await finished(plain.id)).toMatchObject({ status: 'succeeded' });
    expect((await resultStats(plain.id)).stdev).toBeGreaterThan(20);
  });

  it('refuses a param out of range, or of the wrong type, with PARAMS_INVALID naming it', async () => {
    const outOfRange = await refusals({ style: 'acme:invert', params: { amount: 5 } });
    const wrongType = await refusals({ style: 'acme:invert', params: { amount: 'half' } });
    for (const answer of [outOfRange.trpc, outOfRange.rest, wrongType.trpc, wrongType.rest]) {
      expect(answer).toMatchObject({ status: 400, atelierCode: 'PARAMS_INVALID' });
      expect(answer.message).toMatch(/acme:invert.*amount/);
    }
    for (const answer of [wrongType.trpc, wrongType.rest]) expect(answer.message).toMatch(/amount: .*number/);
  });

  it('refuses an unknown param with PARAMS_INVALID naming it', async () => {
    const { trpc, rest } = await refusals({ style: 'acme:invert', params: { amount: 0.5, bogus: 1 } });
    for (const answer of [trpc, rest]) {
      expect(answer).toMatchObject({ status: 400, atelierCode: 'PARAMS_INVALID' });
      expect(answer.message).toContain('bogus');
      expect(answer.message.length).toBeLessThan(300);
    }
  });

  it('refuses an unknown style with PLUGIN_NOT_FOUND, and a disabled one with PLUGIN_DISABLED', async () => {
    for (const style of ['acme:nope', 'nope']) {
      const { trpc, rest } = await refusals({ style, params: { amount: 0.5 } });
      for (const answer of [trpc, rest]) {
        expect(answer).toMatchObject({ status: 404, atelierCode: 'PLUGIN_NOT_FOUND' });
        expect(answer.message).toContain(style);
      }
    }
    await admin.client.admin.setPlugin.mutate({ id: 'acme:invert', enabled: false });
    try {
      const { trpc, rest } = await refusals({ style: 'acme:invert' });
      for (const answer of [trpc, rest])
        expect(answer).toMatchObject({ status: 403, atelierCode: 'PLUGIN_DISABLED' });
    } finally {
      await admin.client.admin.setPlugin.mutate({ id: 'acme:invert', enabled: true });
    }
  });
});

describe('a built-in style in jobs.create', () => {
  it('still refuses an unknown param, and a wrong one, by name and without the other shapes', async () => {
    const unknown = await refusals({ style: 'cartoon', params: { levels: 6, darkness: 0.5 } });
    const wrong = await refusals({ style: 'cartoon', params: { levels: 'six' } });
    for (const answer of [unknown.trpc, unknown.rest, wrong.trpc, wrong.rest]) {
      expect(answer).toMatchObject({ status: 400, atelierCode: 'PARAMS_INVALID' });
      // The cartoon's own problem, not the plan's or another style's ("expected sketch").
      expect(answer.message).toMatch(/^Invalid parameters for "cartoon": /);
      expect(answer.message).not.toMatch(/plan|sketch|expected "/);
    }
    for (const answer of [unknown.trpc, unknown.rest]) expect(answer.message).toContain('darkness');
    for (const answer of [wrong.trpc, wrong.rest]) expect(answer.message).toMatch(/levels: .*number/);
  });

  it('runs a transform given as `style`, as a one-step plan', async () => {
    const job = await alice.client.jobs.create.mutate({
      imageId,
      style: 'grayscale' as `${string}:${string}`,
    });
    expect(await finished(job.id)).toMatchObject({ status: 'succeeded', style: 'grayscale' });
  });
});
