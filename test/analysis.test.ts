// The analysis on upload through the queue, on real Postgres, real pg-boss and real photos
// (docs/gallery.md): a stored image gets its image_analysis row from the analysis worker, once,
// with sane values; a file that does not decode fails with a code and the image stays.
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deltaE, hammingDistance, hexToRgb, rgbToLab } from '@atelier/analysis';
import { AtelierError } from '@atelier/core';
import type { Storage } from '@atelier/core';
import { ANALYSIS_QUEUE, AnalysisService, AnalysisWorker } from '@atelier/jobs';
import type { ImageAnalysisRecord, ImageRecord } from '@atelier/jobs';
import { photo } from './helpers.ts';
import { eventually, openHarness } from './jobs-harness.ts';
import type { Harness } from './jobs-harness.ts';

let h: Harness;
let worker: AnalysisWorker;

/** Starts this file's analysis worker (on `storage`, the harness's by default). */
async function startWorker(storage: Storage = h.storage): Promise<void> {
  worker = new AnalysisWorker({ db: h.database.db, queue: h.queue, storage, pollIntervalSeconds: 0.5 });
  await worker.start();
}

beforeAll(async () => {
  h = await openHarness();
  await startWorker();
});
afterAll(async () => {
  await worker.stop(2000);
  await h.close();
});

/** Waits until the image's analysis leaves `pending`, and returns it. */
const analysed = (image: ImageRecord): Promise<ImageAnalysisRecord> =>
  eventually(
    async () => {
      const a = (await h.jobs.getImage(image.id, image.ownerId)).analysis;
      return a && a.status !== 'pending' ? a : undefined;
    },
    20_000,
    `the analysis of ${image.originalName ?? image.id}`,
  );

const analysisJobs = async (imageId: string): Promise<number> =>
  Number(
    (
      await sql<{
        n: string;
      }>`select count(*) as n from pgboss.job where name = ${ANALYSIS_QUEUE} and data->>'imageId' = ${imageId}`.execute(
        h.database.db,
      )
    ).rows[0]!.n,
  );

describe('analysis on upload', () => {
  it('queues the analysis with the upload and records it from the queue', async () => {
    const image = await h.jobs.storeImage({
      ownerId: h.ownerId,
      bytes: await readFile(photo('rocket.jpg')),
      originalName: 'rocket.jpg',
    });
    // The upload answers at once: the analysis is queued, not run in the request.
    expect(image.analysis?.status).toBe('pending');
    const found = await analysed(image);
    expect(found).toMatchObject({
      status: 'done',
      version: 1,
      width: 640,
      height: 427,
      error: null,
      attempts: 1,
    });
    expect(found.aspect).toBeCloseTo(640 / 427, 4);
    expect(found.brightness).toBeGreaterThan(0.05);
    expect(found.brightness).toBeLessThan(0.6);
    expect(found.blurhash).toMatch(/^[0-9A-Za-z#$%*+,\-.:;=?@[\]^_{|}~]{28}$/);
    expect(found.palette).toHaveLength(5);
    expect(found.palette!.reduce((s, c) => s + c.weight, 0)).toBeCloseTo(1, 6);
    expect(found.phash).not.toBeNull();
    expect(found.dhash).not.toBeNull();
    // The hash survives the signed bigint column bit for bit (bands stored beside it agree).
    const bands = await h.database.db
      .selectFrom('image_analysis')
      .select(['phash_b0', 'phash_b1', 'phash_b2', 'phash_b3', 'owner_id'])
      .where('image_id', '=', image.id)
      .executeTakeFirstOrThrow();
    expect([bands.phash_b0, bands.phash_b1, bands.phash_b2, bands.phash_b3]).toEqual(
      [48n, 32n, 16n, 0n].map((s) => Number((found.phash! >> s) & 0xffffn)),
    );
    expect(bands.owner_id).toBe(h.ownerId);
    expect(found.gps).toBeNull();
  });

  it('the same photo uploaded twice is one image, analysed once', async () => {
    const bytes = await readFile(photo('chelsea.png'));
    const first = await h.jobs.storeImage({ ownerId: h.ownerId, bytes });
    const done = await analysed(first);
    const again = await h.jobs.storeImage({ ownerId: h.ownerId, bytes });
    expect(again.id).toBe(first.id);
    expect(again.analysis).toEqual(done);
    expect(await analysisJobs(first.id)).toBe(1);
    // A second delivery of the job (after a crash) finds it analysed and changes nothing.
    const service = new AnalysisService({ db: h.database.db, storage: h.storage });
    expect(await service.analyse(first.id)).toEqual({ status: 'current' });
    expect((await h.jobs.getImage(first.id)).analysis).toEqual(done);
  });

  it('ranks the dominant colour first and keeps pHash close for a recompressed copy', async () => {
    const navy = hexToRgb('#1d3557')!;
    // Mostly #1d3557, with a red and a cream band.
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600">
      <rect width="800" height="600" fill="#1d3557"/><rect x="560" width="160" height="600" fill="#e63946"/>
      <rect x="720" width="80" height="600" fill="#f1faee"/><circle cx="250" cy="300" r="90" fill="#457b9d"/></svg>`;
    const png = await sharp(Buffer.from(svg)).png().toBuffer();
    const image = await h.jobs.storeImage({ ownerId: h.ownerId, bytes: png });
    const found = await analysed(image);
    expect(deltaE(found.palette![0]!, rgbToLab(...navy))).toBeLessThan(2);
    expect(found.palette![0]!.weight).toBeGreaterThan(0.5);

    const coffee = await readFile(photo('coffee.png'));
    const original = await analysed(await h.jobs.storeImage({ ownerId: h.ownerId, bytes: coffee }));
    const variant = await sharp(coffee).resize(300).jpeg({ quality: 40 }).toBuffer();
    const copy = await analysed(await h.jobs.storeImage({ ownerId: h.ownerId, bytes: variant }));
    expect(hammingDistance(original.phash!, copy.phash!)).toBeLessThanOrEqual(6);
    // And an unrelated photo is far.
    const rocket = await h.jobs.storeImage({
      ownerId: h.ownerId,
      bytes: await readFile(photo('rocket.jpg')),
    });
    expect(hammingDistance(original.phash!, (await analysed(rocket)).phash!)).toBeGreaterThan(16);
  });

  it('records the EXIF summary with GPS for the owner', async () => {
    const tagged = await sharp(await readFile(photo('rocket.jpg')))
      .resize(320)
      .withExif({
        IFD0: { Make: 'NIKON CORPORATION', Model: 'NIKON D750' },
        IFD2: { DateTimeOriginal: '2020:02:29 08:00:00' },
        IFD3: {
          GPSLatitudeRef: 'N',
          GPSLatitude: '48/1 51/1 30/1',
          GPSLongitudeRef: 'E',
          GPSLongitude: '2/1 17/1 40/1',
        },
      })
      .jpeg()
      .toBuffer();
    const found = await analysed(await h.jobs.storeImage({ ownerId: h.ownerId, bytes: tagged }));
    expect(found.camera).toBe('NIKON CORPORATION NIKON D750');
    expect(found.takenAt?.toISOString()).toBe('2020-02-29T08:00:00.000Z');
    expect(found.orientation).toBe(1);
    expect(found.gps?.lat).toBeCloseTo(48.858333, 5);
    expect(found.gps?.lon).toBeCloseTo(2.294444, 5);
  });

  it('a file that does not decode fails with a code; the image stays', async () => {
    const rocket = await readFile(photo('rocket.jpg'));
    // The header reads (the upload's checks pass); the scan is cut in half.
    const image = await h.jobs.storeImage({
      ownerId: h.ownerId,
      bytes: rocket.subarray(0, rocket.length / 2),
    });
    const found = await analysed(image);
    expect(found).toMatchObject({
      status: 'failed',
      error: { code: 'IMAGE_CORRUPT' },
      attempts: 1,
      palette: null,
    });
    expect((await h.jobs.getImage(image.id, h.ownerId)).id).toBe(image.id);
  });

  it('a stored file that is gone fails with STORAGE_NOT_FOUND, not retried', async () => {
    const bytes = await sharp({ create: { width: 50, height: 40, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    // Written by the upload, removed before the worker reads it: stop the worker meanwhile.
    await worker.stop(2000);
    try {
      const image = await h.jobs.storeImage({ ownerId: h.ownerId, bytes });
      await rm(path.join(h.storageDir, image.storageKey));
      await startWorker();
      const found = await analysed(image);
      expect(found).toMatchObject({ status: 'failed', error: { code: 'STORAGE_NOT_FOUND' }, attempts: 1 });
    } finally {
      await worker.stop(2000);
      await startWorker();
    }
  });

  it('a passing storage failure is recorded and retried by the queue until it succeeds', async () => {
    const bytes = await sharp({ create: { width: 60, height: 40, channels: 3, background: '#aa3355' } })
      .png()
      .toBuffer();
    await worker.stop(2000);
    // The local storage, whose first read fails as a storage outage would.
    let failures = 1;
    const flaky: Storage = {
      put: (key, data, options) => h.storage.put(key, data, options),
      get: (key) =>
        failures-- > 0
          ? Promise.reject(new AtelierError('STORAGE_FAILED', 'The disk did not answer.'))
          : h.storage.get(key),
      stream: (key) => h.storage.stream(key),
      head: (key) => h.storage.head(key),
      delete: (key) => h.storage.delete(key),
      list: (prefix) => h.storage.list(prefix),
    };
    await startWorker(flaky);
    try {
      const image = await h.jobs.storeImage({ ownerId: h.ownerId, bytes });
      // The first attempt's failure is on the row, still pending.
      const first = await eventually(async () => {
        const a = (await h.jobs.getImage(image.id)).analysis;
        return a?.error ? a : undefined;
      });
      expect(first).toMatchObject({ status: 'pending', attempts: 1, error: { code: 'STORAGE_FAILED' } });
      // The queue's retry (after its 5 s delay) succeeds.
      const found = await analysed(image);
      expect(found).toMatchObject({ status: 'done', attempts: 2, error: null });
      expect(found.palette![0]!.hex).toBe('#aa3355');
    } finally {
      await worker.stop(2000);
      await startWorker();
    }
  });

  it('a job whose worker died is taken up again when its heartbeat lapses', async () => {
    const bytes = await sharp({ create: { width: 30, height: 30, channels: 3, background: '#22aa44' } })
      .png()
      .toBuffer();
    await worker.stop(2000);
    try {
      const image = await h.jobs.storeImage({ ownerId: h.ownerId, bytes });
      // A worker takes the job, then dies: it never completes it nor sends a heartbeat.
      const taken = await h.boss.fetch(ANALYSIS_QUEUE);
      expect(taken?.map((j) => j.data)).toEqual([{ imageId: image.id }]);
      await startWorker();
      // Nothing happens until the heartbeat (30 s) lapses; then the job is retried and done.
      const found = await eventually(
        async () => {
          const a = (await h.jobs.getImage(image.id)).analysis;
          return a?.status === 'done' ? a : undefined;
        },
        55_000,
        'the retry of an abandoned analysis',
      );
      expect(found.palette![0]!.hex).toBe('#22aa44');
    } finally {
      await worker.stop(2000);
      await startWorker();
    }
  }, 70_000);

  it('deleting an image deletes its analysis', async () => {
    const image = await h.jobs.storeImage({
      ownerId: h.ownerId,
      bytes: await readFile(photo('astronaut.png')),
    });
    await analysed(image);
    await h.jobs.deleteImage(image.id, h.ownerId);
    const rows = await h.database.db
      .selectFrom('image_analysis')
      .select('image_id')
      .where('image_id', '=', image.id)
      .execute();
    expect(rows).toEqual([]);
  });
});
