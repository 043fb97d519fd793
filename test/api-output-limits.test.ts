// The output pixel limit over the real API: a plan that would make too big an image is refused when
// it is planned, with nothing stored; a plugin that makes one anyway is stopped before encoding.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadForm } from '@atelier/client';
import type { AtelierClient } from '@atelier/client';
import { failure, startApi, storedKeys } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';
import { eventually } from './jobs-harness.ts';

const LIMIT = 1_000_000;

let h: ApiHarness;
let user: { client: AtelierClient; token: string; userId: string };
let imageId: string;

beforeAll(async () => {
  h = await startApi({ ATELIER_MAX_OUTPUT_PIXELS: String(LIMIT) });
  user = await h.signUp('big@example.org');
  // The 34x34 upload.
  const small = await sharp({
    create: { width: 34, height: 34, channels: 3, background: '#336699' },
  })
    .png()
    .toBuffer();
  imageId = (await user.client.images.upload.mutate(uploadForm(new Blob([small]), 'small.png'))).id;
});
afterAll(() => h.close());

describe('output pixel limit', () => {
  it('refuses a resize to 16383x16383 when the job is planned, and stores nothing', async () => {
    const resize = { plugin: 'resize', params: { width: 16383, height: 16383, fit: 'fill' } };
    const data = await failure(
      user.client.jobs.create.mutate({ imageId, plan: { steps: [resize], output: { format: 'png' } } }),
    );
    expect(data).toMatchObject({
      code: 'BAD_REQUEST',
      httpStatus: 400,
      atelierCode: 'OUTPUT_TOO_LARGE',
      details: {
        step: 0,
        plugin: 'resize',
        width: 16383,
        height: 16383,
        pixels: 16383 * 16383,
        limit: LIMIT,
      },
    });
    // A plan cannot raise the limit for itself.
    const raised = await failure(
      user.client.jobs.create.mutate({
        imageId,
        plan: { steps: [resize], limits: { maxOutputPixels: 2 ** 40 } },
      }),
    );
    expect(raised.atelierCode).toBe('OUTPUT_TOO_LARGE');
    // The same over REST, which is generated from the same procedure.
    const rest = await fetch(`${h.url}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ imageId, plan: { steps: [{ plugin: 'resize', params: { width: 16383 } }] } }),
    });
    expect(rest.status).toBe(400);
    expect(await rest.json()).toMatchObject({ data: { atelierCode: 'OUTPUT_TOO_LARGE' } });
    // Nothing was written: no job row, no result.
    const jobs = await h.database.db
      .selectFrom('jobs')
      .select('id')
      .where('owner_id', '=', user.userId)
      .execute();
    expect(jobs).toEqual([]);
    expect(await storedKeys(h, 'results/')).toEqual([]);
  });

  it('checks every step, not only the last', async () => {
    const data = await failure(
      user.client.jobs.create.mutate({
        imageId,
        plan: {
          steps: [
            { plugin: 'resize', params: { width: 2000, height: 2000, fit: 'fill' } },
            { plugin: 'resize', params: { width: 100, height: 100, fit: 'fill' } },
          ],
        },
      }),
    );
    expect(data.details).toMatchObject({ step: 0, pixels: 4_000_000 });
    // A rotation by 45 degrees enlarges the canvas: 800x800 fits, its bounding box does not.
    const rotated = await failure(
      user.client.jobs.create.mutate({
        imageId,
        plan: {
          steps: [
            { plugin: 'resize', params: { width: 800, height: 800, fit: 'fill' } },
            { plugin: 'rotate', params: { angle: 45 } },
          ],
        },
      }),
    );
    expect(rotated.details).toMatchObject({ step: 1, plugin: 'rotate', width: 1132, height: 1132 });
  });

  it('refuses the same plan in a preview', async () => {
    const data = await failure(
      user.client.styles.preview.mutate({
        imageId,
        style: 'resize',
        params: { width: 16383, height: 16383 },
      }),
    );
    expect(data.atelierCode).toBe('OUTPUT_TOO_LARGE');
  });

  it('runs a plan within the limit', async () => {
    const job = await user.client.jobs.create.mutate({
      imageId,
      plan: { steps: [{ plugin: 'resize', params: { width: 1000, height: 1000, fit: 'fill' } }] },
    });
    const done = await eventually(async () => {
      const j = await user.client.jobs.get.query({ id: job.id });
      return j.status === 'succeeded' || j.status === 'failed' ? j : undefined;
    });
    expect(done.status).toBe('succeeded');
    expect(done.output).toMatchObject({ width: 1000, height: 1000 });
  });

  it('stops a plugin whose real output is over the limit before encoding, and stores nothing', async () => {
    const before = await storedKeys(h, 'results/');
    // test:grow declares no size and returns a 40x larger image: 1360x1360 > 1 MP.
    const job = await user.client.jobs.create.mutate({
      imageId,
      plan: { steps: [{ plugin: 'test:grow', params: { factor: 40 } }], output: { format: 'png' } },
    });
    const done = await eventually(async () => {
      const j = await user.client.jobs.get.query({ id: job.id });
      return j.status === 'succeeded' || j.status === 'failed' ? j : undefined;
    });
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'OUTPUT_TOO_LARGE' });
    const row = await h.database.db
      .selectFrom('jobs')
      .select(['output_key', 'attempts', 'error_message'])
      .where('id', '=', job.id)
      .executeTakeFirstOrThrow();
    expect(row.output_key).toBeNull();
    // Deterministic: failed at once, not retried.
    expect(row.attempts).toBe(1);
    expect(row.error_message).toContain('1360x1360');
    expect(await storedKeys(h, 'results/')).toEqual(before);
  });
});
