// Gallery search over real HTTP (docs/api.md "Gallery search"): the typed client and REST, on
// images uploaded through the API and analysed by the worker's queue; each caller sees only their
// own images, and another owner's image is as unknown as one that never existed.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadForm, uploadManyForm } from '@atelier/client';
import type { AtelierClient } from '@atelier/client';
import { photo, read } from './helpers.ts';
import { failure, startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';

let h: ApiHarness;
let alice: { client: AtelierClient; token: string; userId: string };
let bob: { client: AtelierClient; token: string; userId: string };
const ids: Record<string, string> = {};

interface ErrorBody {
  readonly code: string;
  readonly message: string;
  readonly data?: { atelierCode: string | null };
}

async function rest<T>(
  method: string,
  path: string,
  token: string,
  json?: unknown,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${h.url}/api${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function upload(who: { client: AtelierClient }, bytes: Buffer, name: string): Promise<string> {
  const image = await who.client.images.upload.mutate(uploadForm(new Blob([bytes]), name));
  return image.id;
}

/** Waits until the worker has analysed the image (the duplicate check says `done`). */
async function analysed(who: { client: AtelierClient }, id: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const report = await who.client.gallery.duplicates.query({ id });
    if (report.analysis === 'done') return;
    if (report.analysis === 'failed' || Date.now() > deadline)
      throw new Error(`analysis of ${id}: ${report.analysis}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  h = await startApi();
  alice = await h.signUp('alice@example.org');
  bob = await h.signUp('bob@example.org');
  const chelsea = await read(photo('chelsea.png'));
  ids['chelsea'] = await upload(alice, chelsea, 'chelsea.png');
  ids['half'] = await upload(
    alice,
    await sharp(chelsea).resize(225).jpeg({ quality: 70 }).toBuffer(),
    'small.jpg',
  );
  ids['rocket'] = await upload(alice, await read(photo('rocket.jpg')), 'rocket.jpg');
  ids['navy'] = await upload(
    alice,
    await sharp({ create: { width: 80, height: 80, channels: 3, background: '#1d3557' } })
      .png()
      .toBuffer(),
    'navy.png',
  );
  ids['bobChelsea'] = await upload(bob, chelsea, 'chelsea.png');
  for (const key of ['chelsea', 'half', 'rocket', 'navy']) await analysed(alice, ids[key]!);
  await analysed(bob, ids['bobChelsea']!);
}, 120_000);
afterAll(() => h.close());

describe('gallery search over tRPC', () => {
  it('finds near-duplicates and similar images among the caller’s own only', async () => {
    const dup = await alice.client.gallery.duplicates.query({ id: ids['half']! });
    expect(dup.duplicates.map((d) => d.imageId)).toEqual([ids['chelsea']]);
    expect(dup.threshold).toBeGreaterThan(0);
    // Bob holds the same photo: his check does not say that Alice does.
    expect(await bob.client.gallery.duplicates.query({ id: ids['bobChelsea']! })).toEqual({
      analysis: 'done',
      threshold: dup.threshold,
      duplicates: [],
    });
    const similar = await alice.client.gallery.similar.query({ id: ids['chelsea']!, threshold: 28 });
    expect(similar.items[0]).toMatchObject({ image: { id: ids['half'], originalName: 'small.jpg' } });
    expect(similar.items.map((i) => i.image.id)).not.toContain(ids['bobChelsea']);
    for (const id of [ids['bobChelsea']!, '00000000-0000-4000-8000-000000000000']) {
      const error = await failure(alice.client.gallery.similar.query({ id }));
      expect([error.httpStatus, error.atelierCode]).toEqual([404, 'IMAGE_NOT_FOUND']);
      expect((await failure(alice.client.gallery.duplicates.query({ id }))).atelierCode).toBe(
        'IMAGE_NOT_FOUND',
      );
    }
  });

  it('finds by colour and by words, and edits tags', async () => {
    const navy = await alice.client.gallery.byColour.query({ colors: '#1d3557', tolerance: 10 });
    expect(navy.items[0]?.image.id).toBe(ids['navy']);
    expect(navy.items[0]!.score).toBeGreaterThan(0.9);
    const details = await alice.client.gallery.setDetails.mutate({
      id: ids['rocket']!,
      title: 'Launch paintings',
      tags: ['Space', 'rockets'],
    });
    expect(details).toEqual({ id: ids['rocket'], title: 'Launch paintings', tags: ['space', 'rockets'] });
    const found = await alice.client.gallery.text.query({ q: 'painting rocket' });
    expect(found.items.map((i) => i.image.id)).toEqual([ids['rocket']]);
    expect((await bob.client.gallery.text.query({ q: 'painting' })).items).toEqual([]);
    const bobEdit = await failure(
      bob.client.gallery.setDetails.mutate({ id: ids['rocket']!, title: 'mine' }),
    );
    expect(bobEdit.atelierCode).toBe('IMAGE_NOT_FOUND');
    expect((await failure(alice.client.gallery.byColour.query({ colors: 'navy' }))).atelierCode).toBe(
      'PARAMS_INVALID',
    );
    expect((await failure(alice.client.gallery.text.query({ q: 'x', cursor: 'nope' }))).atelierCode).toBe(
      'CURSOR_INVALID',
    );
  });
});

describe('gallery search over REST', () => {
  it('answers the same procedures under /api', async () => {
    const colour = await rest<{ items: { image: { id: string }; score: number }[] }>(
      'GET',
      `/gallery/colour?colors=${encodeURIComponent('#1d3557')}&tolerance=10`,
      alice.token,
    );
    expect(colour.status).toBe(200);
    expect(colour.body.items[0]?.image.id).toBe(ids['navy']);
    const similar = await rest<{ items: { image: { id: string }; distance: number }[] }>(
      'GET',
      `/images/${ids['half']}/similar?threshold=10`,
      alice.token,
    );
    expect(similar.status).toBe(200);
    expect(similar.body.items.map((i) => i.image.id)).toEqual([ids['chelsea']]);
    const patched = await rest<{ tags: string[] }>('PATCH', `/images/${ids['navy']}/details`, alice.token, {
      tags: ['Evening sky'],
    });
    expect([patched.status, patched.body.tags]).toEqual([200, ['evening sky']]);
    const words = await rest<{ items: { image: { id: string } }[] }>(
      'GET',
      '/gallery/search?q=skies',
      alice.token,
    );
    expect(words.body.items.map((i) => i.image.id)).toEqual([ids['navy']]);
    const duplicates = await rest<{ duplicates: { imageId: string }[] }>(
      'GET',
      `/images/${ids['chelsea']}/duplicates`,
      alice.token,
    );
    expect(duplicates.body.duplicates.map((d) => d.imageId)).toEqual([ids['half']]);
    // Bob asking about Alice's image gets what an unknown id gets.
    const theirs = await rest<ErrorBody>('GET', `/images/${ids['chelsea']}/duplicates`, bob.token);
    const unknown = await rest<ErrorBody>(
      'GET',
      '/images/00000000-0000-4000-8000-000000000000/duplicates',
      bob.token,
    );
    expect([theirs.status, theirs.body.data?.atelierCode]).toEqual([404, 'IMAGE_NOT_FOUND']);
    expect([unknown.status, unknown.body.data?.atelierCode]).toEqual([404, 'IMAGE_NOT_FOUND']);
    expect(theirs.body.message.replace(ids['chelsea']!, 'ID')).toBe(
      unknown.body.message.replace('00000000-0000-4000-8000-000000000000', 'ID'),
    );
    const bad = await rest<ErrorBody>('GET', '/gallery/colour?colors=zzz', alice.token);
    expect([bad.status, bad.body.data?.atelierCode]).toEqual([400, 'PARAMS_INVALID']);
  });
});

describe('the upload answer: "you already have this, or nearly"', () => {
  const count = async (userId: string) =>
    Number(
      (
        await h.database.db
          .selectFrom('images')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('owner_id', '=', userId)
          .executeTakeFirstOrThrow()
      ).n,
    );

  it('says when the very same bytes are already one of yours, with their duplicates', async () => {
    const again = await alice.client.images.upload.mutate(
      uploadForm(new Blob([await read(photo('chelsea.png'))]), 'again.png'),
    );
    expect(again.id).toBe(ids['chelsea']);
    expect(again.alreadyUploaded).toBe(true);
    expect(again.duplicates.analysis).toBe('done');
    expect(again.duplicates.duplicates.map((d) => d.imageId)).toEqual([ids['half']]);
  });

  it('waits for the queued analysis when asked, and names the near-duplicates among your images only', async () => {
    const chelsea = await read(photo('chelsea.png'));
    const copy = await sharp(chelsea).resize(300).jpeg({ quality: 55 }).toBuffer();
    const image = await alice.client.images.upload.mutate(
      uploadForm(new Blob([copy]), 'copy.jpg', { waitForAnalysisMs: 10_000 }),
    );
    expect(image.alreadyUploaded).toBe(false);
    expect(image.duplicates.analysis).toBe('done');
    expect(image.duplicates.duplicates.map((d) => d.imageId).sort()).toEqual(
      [ids['chelsea']!, ids['half']!].sort(),
    );
    // The image view in the same answer agrees with the report.
    expect(image.analysis?.status).toBe('done');
    // Bob's copy finds his own chelsea, never Alice's; Carol, who has none, is told nothing.
    const bobs = await bob.client.images.upload.mutate(
      uploadForm(new Blob([copy]), 'copy.jpg', { waitForAnalysisMs: 10_000 }),
    );
    expect(bobs.id).not.toBe(image.id);
    expect(bobs.duplicates.duplicates.map((d) => d.imageId)).toEqual([ids['bobChelsea']]);
    const carol = await h.signUp('carol@example.org');
    const hers = await carol.client.images.upload.mutate(
      uploadForm(new Blob([copy]), 'copy.jpg', { waitForAnalysisMs: 10_000 }),
    );
    expect([hers.alreadyUploaded, hers.duplicates]).toEqual([
      false,
      { analysis: 'done', threshold: image.duplicates.threshold, duplicates: [] },
    ]);
  });

  it('answers the same over REST and in a batch, and refuses a bad wait storing nothing', async () => {
    const chelsea = await read(photo('chelsea.png'));
    const brighter = await sharp(chelsea).modulate({ brightness: 1.15 }).png().toBuffer();
    const response = await fetch(`${h.url}/api/images?name=bright.png&waitForAnalysisMs=10000`, {
      method: 'POST',
      headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'image/png' },
      body: brighter,
    });
    const body = (await response.json()) as {
      alreadyUploaded: boolean;
      duplicates: { analysis: string; duplicates: { imageId: string }[] };
    };
    expect(response.status).toBe(200);
    expect(body.alreadyUploaded).toBe(false);
    expect(body.duplicates.analysis).toBe('done');
    expect(body.duplicates.duplicates.map((d) => d.imageId)).toContain(ids['chelsea']);

    const webp = await sharp(chelsea).webp({ quality: 60 }).toBuffer();
    const { results } = await alice.client.images.uploadMany.mutate(
      uploadManyForm([{ file: new Blob([webp]), name: 'c.webp' }, new Blob([chelsea])], {
        waitForAnalysisMs: 10_000,
      }),
    );
    expect(results.map((r) => r.ok && [r.image.alreadyUploaded, r.image.duplicates.analysis])).toEqual([
      [false, 'done'],
      [true, 'done'],
    ]);
    const first = results[0];
    expect(first?.ok && first.image.duplicates.duplicates.map((d) => d.imageId)).toContain(ids['chelsea']);

    const before = await count(alice.userId);
    const fresh = await sharp(chelsea).rotate(90).png().toBuffer();
    for (const wait of ['soon', '20000', '-1', '1.5']) {
      const form = uploadForm(new Blob([fresh]), 'r.png');
      form.set('waitForAnalysisMs', wait);
      const error = await failure(alice.client.images.upload.mutate(form));
      expect([error.httpStatus, error.atelierCode]).toEqual([400, 'PARAMS_INVALID']);
      const rest = await fetch(`${h.url}/api/images?waitForAnalysisMs=${encodeURIComponent(wait)}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alice.token}`, 'content-type': 'image/png' },
        body: fresh,
      });
      expect(rest.status).toBe(400);
    }
    expect(await count(alice.userId)).toBe(before);
  });
});
