// Batch upload over the real API (tRPC through the typed client, REST with plain fetch, real
// Postgres, local storage on disk): one result per file in input order, a failed file leaves no
// row and no stored object while the others are stored, duplicates resolve to one image, and the
// request-wide limits (files, bytes) refuse the whole request before anything is stored.
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadManyForm } from '@atelier/client';
import type { AtelierClient, AtelierOutputs } from '@atelier/client';
import { failure, startApi } from './api-harness.ts';
import type { ApiHarness, ErrorData } from './api-harness.ts';
import { bad, photo, read } from './helpers.ts';

type UploadResult = AtelierOutputs['images']['uploadMany']['results'][number];
/** What the batch routes answer: the results, or an error (tRPC's inside `error`, REST's at the top). */
interface BatchAnswer {
  readonly results?: UploadResult[];
  readonly message?: string;
  readonly data?: ErrorData;
  readonly error?: { readonly message: string; readonly data: ErrorData };
}

const MAX_INPUT = 5 * 1024 * 1024; // the harness's ATELIER_MAX_INPUT_BYTES
const MAX_FILES = 6;
const BATCH_BYTES = 8 * 1024 * 1024;

let h: ApiHarness;
let admin: AtelierClient;
let storageDir: string;
let serial = 0;

beforeAll(async () => {
  h = await startApi({
    ATELIER_UPLOAD_MAX_FILES: String(MAX_FILES),
    ATELIER_UPLOAD_BATCH_MAX_BYTES: String(BATCH_BYTES),
  });
  storageDir = h.core.config.env['ATELIER_STORAGE_DIR']!;
  const root = await h.signUp('batch-root@example.org', 'administrator password');
  await h.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', root.userId).execute();
  admin = root.client;
});
afterAll(() => h.close());

async function newUser(): Promise<{ client: AtelierClient; token: string; userId: string }> {
  serial += 1;
  return h.signUp(`batch-${serial}@example.org`);
}

/** Every file under the storage directory, as paths relative to it. */
async function storedFiles(): Promise<string[]> {
  const entries = await readdir(storageDir, { recursive: true, withFileTypes: true }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return []; // nothing stored yet
      throw error;
    },
  );
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(storageDir, path.join(e.parentPath, e.name)))
    .sort();
}

/**
 * The storage directory holds an object for each good file and none for a failed one. Originals are
 * stored by their sha256 (shared by every owner who uploads the same bytes), so the key names it.
 */
async function expectStorage(good: readonly Uint8Array[], failed: readonly Uint8Array[]): Promise<void> {
  const files = (await storedFiles()).join('\n');
  for (const bytes of good) expect(files).toContain(sha(bytes));
  for (const bytes of failed) expect(files).not.toContain(sha(bytes));
}

/** The files stored since `before` was listed. */
async function addedSince(before: readonly string[]): Promise<string[]> {
  return (await storedFiles()).filter((f) => !before.includes(f));
}

/** Files (an original, or its content-type sidecar) that name none of these files' sha256. */
const strangers = (files: readonly string[], good: readonly Uint8Array[]) =>
  files.filter((f) => !good.some((bytes) => f.includes(sha(bytes))));

/** The user's image rows: sha256 and original name, in upload order. */
async function rowsOf(userId: string) {
  return h.database.db
    .selectFrom('images')
    .select(['id', 'sha256', 'original_name'])
    .where('owner_id', '=', userId)
    .orderBy('created_at')
    .execute();
}

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** A distinct PNG of random pixels: about `side * side * 3` bytes, since noise does not compress. */
function noisePng(side: number): Promise<Buffer> {
  return sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
}

/** The outcome of each result: the image's sha256, or the error code. */
const outcomes = (results: readonly UploadResult[]) =>
  results.map((r) => (r.ok ? `ok ${r.name}` : `${r.error.code} ${r.name}`));

/** A good photo, a text file named .jpg, a truncated JPEG, another good photo and a file over the cap. */
async function mixedFiles() {
  return [
    { name: 'chelsea.png', bytes: await read(photo('chelsea.png')) },
    { name: 'text.jpg', bytes: await read(bad('text.jpg')) },
    { name: 'truncated.jpg', bytes: await read(photo('truncated.jpg')) },
    { name: 'rocket.jpg', bytes: await read(photo('rocket.jpg')) },
    { name: 'huge.jpg', bytes: randomBytes(MAX_INPUT + 1) },
  ];
}
const MIXED_OUTCOMES = [
  'ok chelsea.png',
  'IMAGE_FORMAT_UNSUPPORTED text.jpg',
  'IMAGE_CORRUPT truncated.jpg',
  'ok rocket.jpg',
  'IMAGE_TOO_LARGE huge.jpg',
];

const formOf = (files: readonly { name: string; bytes: Uint8Array }[]) =>
  uploadManyForm(files.map((f) => ({ file: new Blob([Uint8Array.from(f.bytes)]), name: f.name })));

/**
 * POSTs a form as raw HTTP and reads the answer even when the server answers (and closes) before
 * the body is all sent, as it does for a body over its cap: fetch may fail such a request with
 * EPIPE instead of giving the response. `chunked` sends it without a Content-Length.
 */
async function postForm(
  url: string,
  token: string,
  form: FormData,
  chunked = false,
): Promise<{ status: number; body: BatchAnswer }> {
  const encoded = new Response(form);
  const bytes = Buffer.from(await encoded.arrayBuffer());
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': encoded.headers.get('content-type')!,
          ...(chunked ? {} : { 'content-length': String(bytes.length) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', (error: NodeJS.ErrnoException) => {
      // The server stopped reading: the answer (already on its way) is what counts.
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    for (let at = 0; at < bytes.length; at += 64 * 1024) req.write(bytes.subarray(at, at + 64 * 1024));
    req.end();
  });
}

/** POST /api/images/batch with a form, as a client in another language sends it. */
async function restBatch(token: string, form: FormData) {
  const response = await fetch(`${h.url}/api/images/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  return { status: response.status, body: (await response.json()) as BatchAnswer };
}

describe('images.uploadMany (tRPC)', () => {
  it('answers one result per file in order, stores the good ones and leaves nothing of the bad ones', async () => {
    const user = await newUser();
    const files = await mixedFiles();
    const filesBefore = await storedFiles();
    const { results } = await user.client.images.uploadMany.mutate(formOf(files));

    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
    expect(outcomes(results)).toEqual(MIXED_OUTCOMES);
    const [cat, text, truncated, rocket, huge] = results;
    expect(cat).toMatchObject({ ok: true, image: { originalName: 'chelsea.png', format: 'png' } });
    expect(rocket).toMatchObject({ ok: true, image: { originalName: 'rocket.jpg', format: 'jpeg' } });
    for (const failed of [text, truncated, huge]) {
      expect(failed!.ok).toBe(false);
      if (!failed!.ok) expect(failed!.error.message.length).toBeGreaterThan(10);
    }
    if (!huge!.ok) expect(huge!.error.details).toEqual({ limitBytes: MAX_INPUT, sizeBytes: MAX_INPUT + 1 });

    // The database has exactly the two good files, and they are what images.get answers.
    const rows = await rowsOf(user.userId);
    expect(rows.map((r) => [r.sha256, r.original_name])).toEqual([
      [sha(files[0]!.bytes), 'chelsea.png'],
      [sha(files[3]!.bytes), 'rocket.jpg'],
    ]);
    // (Their analysis runs from a queue meanwhile, so it may have moved on from 'pending'.)
    if (cat!.ok) {
      const got = await user.client.images.get.query({ id: cat!.image.id });
      const { alreadyUploaded, duplicates: _duplicates, ...view } = cat!.image;
      expect(alreadyUploaded).toBe(false);
      expect({ ...got, analysis: undefined }).toEqual({ ...view, analysis: undefined });
    }

    // The storage directory gained the two good originals and no object of a failed file.
    expect(strangers(await addedSince(filesBefore), [files[0]!.bytes, files[3]!.bytes])).toEqual([]);
    await expectStorage(
      [files[0]!.bytes, files[3]!.bytes],
      [files[1]!.bytes, files[2]!.bytes, files[4]!.bytes],
    );

    // Only the stored files were charged (an upload costs 1 plus 1 per whole MiB: 1 each here).
    const quota = await user.client.users.quota.query();
    expect(quota.usage.storedBytes).toBe(files[0]!.bytes.length + files[3]!.bytes.length);
    expect(quota.usage.costLastMinute).toBe(2);
  });

  it('resolves the same photo twice in one batch to the same image, stored once', async () => {
    const user = await newUser();
    const rocket = await read(photo('rocket.jpg'));
    const chelsea = await read(photo('chelsea.png'));
    const { results } = await user.client.images.uploadMany.mutate(
      formOf([
        { name: 'a.jpg', bytes: rocket },
        { name: 'b.jpg', bytes: rocket },
        { name: 'c.png', bytes: chelsea },
      ]),
    );
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    const ids = results.map((r) => (r.ok ? r.image.id : null));
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
    // New the first time, already the user's the second.
    expect(results.map((r) => r.ok && r.image.alreadyUploaded)).toEqual([false, true, false]);
    expect((await rowsOf(user.userId)).map((r) => r.sha256)).toEqual([sha(rocket), sha(chelsea)]);
    // The first name stays the image's name; each result says which file it answers.
    expect(results.map((r) => r.name)).toEqual(['a.jpg', 'b.jpg', 'c.png']);
    expect(results[1]!.ok && results[1]!.image.originalName).toBe('a.jpg');
  });

  it("gives another user's photo in a batch an image of one's own, saying nothing of the other user", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    const rocket = await read(photo('rocket.jpg'));
    const first = await alice.client.images.uploadMany.mutate(formOf([{ name: 'r.jpg', bytes: rocket }]));
    const second = await bob.client.images.uploadMany.mutate(formOf([{ name: 'r.jpg', bytes: rocket }]));
    const [a, b] = [first.results[0]!, second.results[0]!];
    expect(a.ok && b.ok).toBe(true);
    if (!a.ok || !b.ok) return;
    expect(b.image.id).not.toBe(a.image.id);
    // The same answer a first upload gets, but for the id and the date.
    const { id: _aId, createdAt: _aAt, ...aRest } = a.image;
    const { id: _bId, createdAt: _bAt, ...bRest } = b.image;
    expect(bRest).toEqual(aRest);
    expect((await rowsOf(bob.userId)).map((r) => r.id)).toEqual([b.image.id]);
    expect(await failure(bob.client.images.get.query({ id: a.image.id }))).toMatchObject({
      atelierCode: 'IMAGE_NOT_FOUND',
    });
  });

  it('stops at the storage quota mid-batch: the earlier files stay, the file over it fails, a later one that fits is stored', async () => {
    const user = await newUser();
    const [a, b, c, small] = await Promise.all([noisePng(96), noisePng(96), noisePng(96), noisePng(8)]);
    const limit = a.length + b.length + c.length - 1;
    expect(small.length).toBeLessThan(c.length - 1);
    await admin.admin.setUserQuota.mutate({ id: user.userId, storedBytes: limit });
    const filesBefore = await storedFiles();

    const { results } = await user.client.images.uploadMany.mutate(
      formOf([
        { name: 'a.png', bytes: a },
        { name: 'b.png', bytes: b },
        { name: 'c.png', bytes: c },
        { name: 'small.png', bytes: small },
      ]),
    );
    expect(outcomes(results)).toEqual([
      'ok a.png',
      'ok b.png',
      'STORAGE_QUOTA_EXCEEDED c.png',
      'ok small.png',
    ]);
    const refused = results[2]!;
    if (!refused.ok)
      expect(refused.error.details).toMatchObject({
        quota: 'storedBytes',
        limit,
        used: a.length + b.length,
        requested: c.length,
      });
    expect((await rowsOf(user.userId)).map((r) => r.sha256)).toEqual([sha(a), sha(b), sha(small)]);
    expect(strangers(await addedSince(filesBefore), [a, b, small])).toEqual([]);
    await expectStorage([a, b, small], [c]);
    expect((await user.client.users.quota.query()).usage.storedBytes).toBe(
      a.length + b.length + small.length,
    );
  });

  it('refuses more files than ATELIER_UPLOAD_MAX_FILES whole, with UPLOAD_TOO_MANY_FILES, storing nothing', async () => {
    const user = await newUser();
    const chelsea = await read(photo('chelsea.png'));
    const files = Array.from({ length: MAX_FILES + 1 }, (_, i) => ({ name: `${i}.png`, bytes: chelsea }));
    const data = await failure(user.client.images.uploadMany.mutate(formOf(files)));
    expect(data).toMatchObject({
      code: 'BAD_REQUEST',
      httpStatus: 400,
      atelierCode: 'UPLOAD_TOO_MANY_FILES',
      details: { files: MAX_FILES + 1, maxFiles: MAX_FILES },
    });
    expect(await rowsOf(user.userId)).toEqual([]);
  });

  it('refuses a request over ATELIER_UPLOAD_BATCH_MAX_BYTES with UPLOAD_BATCH_TOO_LARGE, by its length or while reading it', async () => {
    const user = await newUser();
    const chunk = randomBytes(MAX_INPUT - 1);
    const files = [0, 1].map((i) => ({ name: `${i}.bin`, bytes: chunk })); // 10 MiB > 8 + 1 MiB
    const url = `${h.url}/trpc/images.uploadMany`;
    // Refused by its Content-Length before it is read.
    const byLength = await postForm(url, user.token, formOf(files));
    expect(byLength.status).toBe(413);
    expect(byLength.body.error!.data).toMatchObject({
      atelierCode: 'UPLOAD_BATCH_TOO_LARGE',
      details: { limitBytes: BATCH_BYTES },
    });
    // Sent chunked (no Content-Length): stopped at the cap while tRPC reads it.
    const chunked = await postForm(url, user.token, formOf(files), true);
    expect([chunked.status, chunked.body.error!.data.atelierCode]).toEqual([413, 'UPLOAD_BATCH_TOO_LARGE']);
    expect(await rowsOf(user.userId)).toEqual([]);
  });

  it('pairs names with files by position, keeps a file name for an empty one, and refuses bad forms', async () => {
    const user = await newUser();
    const chelsea = new Blob([Uint8Array.from(await read(photo('chelsea.png')))]);
    const form = new FormData();
    form.append('file', chelsea, 'own-name.png');
    form.append('file', new Blob([Uint8Array.from(await read(photo('rocket.jpg')))]), 'rocket-file.jpg');
    form.append('file', 'not a file');
    form.append('name', '');
    form.append('name', 'Given name.jpg');
    const { results } = await user.client.images.uploadMany.mutate(form);
    expect(outcomes(results)).toEqual(['ok own-name.png', 'ok Given name.jpg', 'PARAMS_INVALID null']);

    const none = await failure(user.client.images.uploadMany.mutate(new FormData()));
    expect([none.httpStatus, none.atelierCode]).toEqual([400, 'PARAMS_INVALID']);
    const extra = new FormData();
    extra.append('file', chelsea, 'a.png');
    extra.append('name', 'a.png');
    extra.append('name', 'b.png');
    const names = await failure(user.client.images.uploadMany.mutate(extra));
    expect([names.httpStatus, names.atelierCode]).toEqual([400, 'PARAMS_INVALID']);
    expect(await codeOfUnauthenticated()).toBe('UNAUTHORIZED');
  });
});

async function codeOfUnauthenticated(): Promise<string | undefined> {
  const data = await failure(h.client().images.uploadMany.mutate(formOf(await mixedFiles())));
  return data.code;
}

describe('POST /api/images/batch (REST)', () => {
  it('answers the same per-file results as tRPC, and stores nothing of the failed files', async () => {
    const user = await newUser();
    const files = await mixedFiles();
    const filesBefore = await storedFiles();
    const form = new FormData();
    for (const f of files) form.append('file', new Blob([Uint8Array.from(f.bytes)]), f.name);
    const { status, body } = await restBatch(user.token, form);
    expect(status).toBe(200);
    const results = body.results!;
    expect(outcomes(results)).toEqual(MIXED_OUTCOMES);
    expect(results.map((r) => r.index)).toEqual([0, 1, 2, 3, 4]);
    expect((await rowsOf(user.userId)).map((r) => r.sha256)).toEqual([
      sha(files[0]!.bytes),
      sha(files[3]!.bytes),
    ]);
    expect(strangers(await addedSince(filesBefore), [files[0]!.bytes, files[3]!.bytes])).toEqual([]);
    await expectStorage(
      [files[0]!.bytes, files[3]!.bytes],
      [files[1]!.bytes, files[2]!.bytes, files[4]!.bytes],
    );

    // The same files again over tRPC: the same images (the user has them), the same errors.
    const again = await user.client.images.uploadMany.mutate(formOf(files));
    // The analysis on upload runs from a queue meanwhile: the images are the same, their analysis
    // (and so what is known of their duplicates) may have moved on from 'pending'; this time the
    // answer says the user already had them.
    const withoutAnalysis = (list: typeof results): unknown[] =>
      list.map((r) =>
        r.ok
          ? {
              ...r,
              image: { ...r.image, analysis: undefined, duplicates: undefined, alreadyUploaded: undefined },
            }
          : r,
      );
    expect(withoutAnalysis(again.results)).toEqual(withoutAnalysis(results));
    expect(again.results.map((r) => r.ok && r.image.alreadyUploaded)).toEqual(results.map((r) => r.ok));
  });

  it('refuses too many files, a body that is not a form, and a missing session, with codes', async () => {
    const user = await newUser();
    const form = new FormData();
    const chelsea = new Blob([Uint8Array.from(await read(photo('chelsea.png')))]);
    for (let i = 0; i <= MAX_FILES; i++) form.append('file', chelsea, `${i}.png`);
    const tooMany = await restBatch(user.token, form);
    expect([tooMany.status, tooMany.body.data?.atelierCode]).toEqual([400, 'UPLOAD_TOO_MANY_FILES']);
    expect(tooMany.body.message).toMatch(new RegExp(`at most ${MAX_FILES}`));

    const raw = await fetch(`${h.url}/api/images/batch`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'image/png' },
      body: chelsea,
    });
    expect([raw.status, ((await raw.json()) as BatchAnswer).data?.atelierCode]).toEqual([
      415,
      'CONTENT_TYPE_UNSUPPORTED',
    ]);

    const big = new FormData();
    const chunk = new Blob([randomBytes(MAX_INPUT - 1)]);
    for (let i = 0; i < 2; i++) big.append('file', chunk, `${i}.bin`);
    const tooBig = await postForm(`${h.url}/api/images/batch`, user.token, big);
    expect([tooBig.status, tooBig.body.data?.atelierCode]).toEqual([413, 'UPLOAD_BATCH_TOO_LARGE']);

    const anonymous = await fetch(`${h.url}/api/images/batch`, { method: 'POST', body: form });
    expect(anonymous.status).toBe(401);
    expect(await rowsOf(user.userId)).toEqual([]);
  });
});
