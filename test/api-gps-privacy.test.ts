// GPS privacy over the real API (docs/gallery.md "Privacy"): a photo whose EXIF carries GPS is
// uploaded; its owner sees the position in the image's analysis, nobody else learns anything,
// and no result, free copy, preview or download carries GPS (or any EXIF), nor do the logs.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exifSummary } from '@atelier/analysis';
import { uploadForm } from '@atelier/client';
import type { AtelierClient, AtelierOutputs } from '@atelier/client';
import { createLogger } from '@atelier/server';
import { photo, read } from './helpers.ts';
import { codeOf, startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';

type Image = AtelierOutputs['images']['get'];
type Job = AtelierOutputs['jobs']['get'];

const logLines: string[] = [];
let h: ApiHarness;
let owner: { client: AtelierClient; token: string; userId: string };
let other: { client: AtelierClient; token: string; userId: string };
let tagged: Buffer;

// 48°51'29.6"N 2°17'40.2"E, 330 m: the numbers a leak would show.
const LAT = 48 + 51 / 60 + 29.6 / 3600;
const LON = 2 + 17 / 60 + 40.2 / 3600;

beforeAll(async () => {
  const logger = createLogger('debug', { write: (line: string) => void logLines.push(line) });
  // Payments on (never contacted here) with a small free size: the standard download of a result
  // is then a downscaled free copy, encoded on its own.
  h = await startApi(
    {
      STRIPE_SECRET_KEY: 'sk_test_gpsprivacy0',
      STRIPE_WEBHOOK_SECRET: 'whsec_gpsprivacy',
      ATELIER_FREE_MAX_SIDE: '200',
    },
    { logger: logger.pino },
  );
  owner = await h.signUp('gps-owner@example.org');
  other = await h.signUp('gps-other@example.org');
  tagged = await sharp(await read(photo('rocket.jpg')))
    .withExif({
      IFD0: { Make: 'Apple', Model: 'iPhone 15' },
      IFD2: { DateTimeOriginal: '2024:07:14 21:30:00' },
      IFD3: {
        GPSLatitudeRef: 'N',
        GPSLatitude: '48/1 51/1 296/10',
        GPSLongitudeRef: 'E',
        GPSLongitude: '2/1 17/1 402/10',
        GPSAltitudeRef: '0',
        GPSAltitude: '330/1',
      },
    })
    .jpeg({ quality: 90 })
    .toBuffer();
  // The fixture really carries GPS: what the rest of the file checks is gone.
  expect(exifSummary((await sharp(tagged).metadata()).exif).gps?.lat).toBeCloseTo(LAT, 6);
});
afterAll(() => h.close());

async function analysed(client: AtelierClient, id: string): Promise<Image> {
  const until = Date.now() + 30_000;
  for (;;) {
    const image = await client.images.get.query({ id });
    if (image.analysis && image.analysis.status !== 'pending') return image;
    if (Date.now() > until) throw new Error(`image ${id} still not analysed`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function finished(client: AtelierClient, id: string): Promise<Job> {
  const until = Date.now() + 60_000;
  for (;;) {
    const job = await client.jobs.get.query({ id });
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    if (Date.now() > until) throw new Error(`job ${id} still ${job.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** No EXIF block (so no GPS) and no XMP (which can carry GPS too) in an image file. */
async function expectNoLocation(bytes: Uint8Array, what: string): Promise<void> {
  const meta = await sharp(bytes).metadata();
  expect(meta.exif, `${what}: EXIF`).toBeUndefined();
  expect(meta.xmp, `${what}: XMP`).toBeUndefined();
  expect(Buffer.from(bytes).includes('GPS'), `${what}: the bytes "GPS"`).toBe(false);
}

describe('GPS', () => {
  it("is in the owner's view of the image, with the rest of the EXIF summary", async () => {
    const uploaded = await owner.client.images.upload.mutate(uploadForm(new Blob([tagged]), 'paris.jpg'));
    expect(uploaded.analysis?.status).toBe('pending');
    const image = await analysed(owner.client, uploaded.id);
    expect(image.analysis).toMatchObject({
      status: 'done',
      width: 640,
      height: 427,
      exif: { camera: 'Apple iPhone 15', takenAt: '2024-07-14T21:30:00.000Z', orientation: 1 },
    });
    expect(image.analysis!.gps!.lat).toBeCloseTo(LAT, 6);
    expect(image.analysis!.gps!.lon).toBeCloseTo(LON, 6);
    expect(image.analysis!.gps!.alt).toBe(330);
    expect(image.analysis!.blurhash).toEqual(expect.any(String));
    expect(image.analysis!.palette).toHaveLength(5);
    const listed = await owner.client.images.list.query({});
    expect(listed.items.find((i) => i.id === image.id)?.analysis?.gps?.lat).toBeCloseTo(LAT, 6);
  });

  it('tells nobody else anything: the image is not found, and their own upload of it is theirs', async () => {
    const mine = (await owner.client.images.list.query({})).items[0]!;
    expect(await codeOf(other.client.images.get.query({ id: mine.id }))).toBe('NOT_FOUND');
    // The same bytes uploaded by another user: their own image, their own analysis.
    const theirs = await other.client.images.upload.mutate(uploadForm(new Blob([tagged]), 'copy.jpg'));
    expect(theirs.id).not.toBe(mine.id);
    expect(theirs.analysis?.status).toBe('pending');
  });

  it('is in no result, free copy, download or preview', async () => {
    const image = (await owner.client.images.list.query({})).items.find(
      (i) => i.originalName === 'paris.jpg',
    )!;
    const auth = { authorization: `Bearer ${owner.token}` };
    // The owner's own original downloads as uploaded, GPS and all (which shows the check below
    // would see GPS where there is some).
    const original = new Uint8Array(
      await (await fetch(`${h.url}/files/images/${image.id}`, { headers: auth })).arrayBuffer(),
    );
    expect(Buffer.from(original).equals(tagged)).toBe(true);
    await expect(expectNoLocation(original, 'original')).rejects.toThrow(/EXIF/);
    for (const format of ['jpeg', 'png', 'webp', 'avif'] as const) {
      const created = await owner.client.jobs.create.mutate({
        imageId: image.id,
        style: 'acme:invert',
        params: {},
        output: { format },
      });
      const job = await finished(owner.client, created.id);
      expect(job.status, format).toBe('succeeded');
      // The stored result itself.
      const jobs = await h.core.jobs.get(job.id);
      await expectNoLocation(await h.core.storage.get(jobs.output!.key), `${format} result`);
      // The standard download: a free copy (the result is larger than ATELIER_FREE_MAX_SIDE).
      const standard = await fetch(`${h.url}/files/jobs/${job.id}`, { headers: auth });
      expect(standard.status).toBe(200);
      const copy = new Uint8Array(await standard.arrayBuffer());
      expect((await sharp(copy).metadata()).width).toBe(200);
      await expectNoLocation(copy, `${format} free copy`);
      // A signed URL's download.
      const { url } = await owner.client.jobs.downloadUrl.query({ id: job.id });
      const signed = await fetch(new URL(url, h.url));
      expect(signed.status).toBe(200);
      await expectNoLocation(new Uint8Array(await signed.arrayBuffer()), `${format} signed download`);
    }
    const preview = await owner.client.styles.preview.mutate({ imageId: image.id, style: 'acme:invert' });
    const dataUrl = /^data:image\/\w+;base64,(.+)$/.exec(preview.dataUrl);
    expect(dataUrl).not.toBeNull();
    await expectNoLocation(Buffer.from(dataUrl![1]!, 'base64'), 'preview');
  });

  it('is in no log line', () => {
    // Without the request timings Fastify logs: a response time of 2.294... ms is not a longitude.
    const logs = logLines
      .map((line) => line.replace(/"responseTime":[\d.e+-]+/g, '"responseTime":0'))
      .join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const leak of [LAT.toFixed(4), LON.toFixed(4), '48.858', '2.294', 'GPSLatitude'])
      expect(logs).not.toContain(leak);
  });
});
