// The API end to end over real HTTP: the typed client, uploads, jobs with live progress,
// downloads, and every way a request can be refused.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadForm } from '@atelier/client';
import { DEFAULT_QUALITY } from '@atelier/core';
import type { AtelierClient, AtelierOutputs } from '@atelier/client';
import { bad, photo, read } from './helpers.ts';
import { codeOf, startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';

let h: ApiHarness;
let alice: { client: AtelierClient; token: string; userId: string };
let bob: { client: AtelierClient; token: string; userId: string };
let image: AtelierOutputs['images']['upload'];
let job: AtelierOutputs['jobs']['get'];

const blob = async (file: string) => new Blob([await read(file)]);

/** The payloads of a JPEG's DQT segments (its quantisation tables, which its quality sets), in order. */
function quantisationTables(jpeg: Buffer): string[] {
  const tables: string[] = [];
  // Markers after SOI, each 0xFF, a code and (but for RSTn/SOI/EOI) a 16-bit length; SOS ends the header.
  for (let i = 2; i + 4 <= jpeg.length && jpeg[i] === 0xff && jpeg[i + 1] !== 0xda;) {
    const length = jpeg.readUInt16BE(i + 2);
    if (jpeg[i + 1] === 0xdb) tables.push(jpeg.subarray(i + 4, i + 2 + length).toString('hex'));
    i += 2 + length;
  }
  if (tables.length === 0) throw new Error('no quantisation table before the scan');
  return tables;
}

beforeAll(async () => {
  h = await startApi();
  alice = await h.signUp('alice@example.org');
  bob = await h.signUp('bob@example.org');
  image = await alice.client.images.upload.mutate(
    uploadForm(await blob(photo('chelsea.png')), 'chelsea.png'),
  );
});
afterAll(() => h.close());

describe('the happy path', () => {
  it('uploads, transforms with live progress, and downloads', async () => {
    expect(image).toMatchObject({ width: 451, height: 300, format: 'png', originalName: 'chelsea.png' });
    const created = await alice.client.jobs.create.mutate({
      imageId: image.id,
      style: 'cartoon',
      params: {},
      output: { format: 'png' },
    });
    expect(created.status).toBe('queued');
    const updates: { status: string; progress: number }[] = [];
    await new Promise<void>((resolve, reject) => {
      const sub = alice.client.jobs.onUpdate.subscribe(
        { id: created.id },
        {
          onData: ({ data }) => {
            updates.push({ status: data.status, progress: data.progress });
            if (['succeeded', 'failed', 'cancelled'].includes(data.status)) {
              sub.unsubscribe();
              resolve();
            }
          },
          onError: reject,
        },
      );
    });
    expect(updates.at(-1)).toEqual({ status: 'succeeded', progress: 1 });
    job = await alice.client.jobs.get.query({ id: created.id });
    expect(job.output).toMatchObject({ width: 451, height: 300, format: 'png' });

    const response = await fetch(`${h.url}/files/jobs/${job.id}`, {
      headers: { authorization: `Bearer ${alice.token}` },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(response.headers.get('cache-control')).toContain('immutable');
    const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([451, 300]);
    const again = await fetch(`${h.url}/files/jobs/${job.id}`, {
      headers: { authorization: `Bearer ${alice.token}`, 'if-none-match': response.headers.get('etag')! },
    });
    expect(again.status).toBe(304);

    const { url } = await alice.client.jobs.downloadUrl.query({ id: job.id });
    expect((await fetch(`${h.url}${url}`)).status).toBe(200);
    const forged = url.replace(/sig=(.)/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
    expect((await fetch(`${h.url}${forged}`)).status).toBe(403);
  });

  it('lists styles with their JSON Schema and previews one fast', async () => {
    const styles = await h.client().styles.list.query({ kind: 'style' });
    expect(styles.map((s) => s.id)).toEqual(
      expect.arrayContaining(['cartoon', 'sketch', 'color-pencil', 'oil-painting', 'watercolor', 'pop-art']),
    );
    expect(styles.find((s) => s.id === 'cartoon')?.paramsSchema).toMatchObject({ type: 'object' });
    const preview = await alice.client.styles.preview.mutate({ imageId: image.id, style: 'sketch' });
    expect(preview.dataUrl.startsWith('data:image/jpeg;base64,')).toBe(true);
    expect(Math.max(preview.width, preview.height)).toBeLessThanOrEqual(512);
    // Encoded at the quality of a job's JPEG result (its quantisation tables are sharp's at that
    // quality): a lower one added artefacts the result does not have.
    const jpeg = Buffer.from(preview.dataUrl.slice(preview.dataUrl.indexOf(',') + 1), 'base64');
    const reference = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
      .jpeg({ quality: DEFAULT_QUALITY.jpeg })
      .toBuffer();
    expect(quantisationTables(jpeg)).toEqual(quantisationTables(reference));
  });

  it('pages through jobs and images', async () => {
    const jobs = await alice.client.jobs.list.query({ limit: 10 });
    expect(jobs.items.map((j) => j.id)).toContain(job.id);
    const images = await alice.client.images.list.query({});
    expect(images.items.map((i) => i.id)).toEqual([image.id]);
    expect((await alice.client.users.me.query()).email).toBe('alice@example.org');
  });
});

describe('ownership', () => {
  it("user B gets NOT_FOUND for everything of user A's", async () => {
    const b = bob.client;
    expect(await codeOf(b.images.get.query({ id: image.id }))).toBe('NOT_FOUND');
    expect(await codeOf(b.images.downloadUrl.query({ id: image.id }))).toBe('NOT_FOUND');
    expect(await codeOf(b.images.delete.mutate({ id: image.id }))).toBe('NOT_FOUND');
    expect(await codeOf(b.jobs.get.query({ id: job.id }))).toBe('NOT_FOUND');
    expect(await codeOf(b.jobs.downloadUrl.query({ id: job.id }))).toBe('NOT_FOUND');
    expect(await codeOf(b.jobs.cancel.mutate({ id: job.id }))).toBe('NOT_FOUND');
    expect(await codeOf(b.jobs.delete.mutate({ id: job.id }))).toBe('NOT_FOUND');
    expect(await codeOf(b.jobs.create.mutate({ imageId: image.id, style: 'sketch' }))).toBe('NOT_FOUND');
    expect(await codeOf(b.styles.preview.mutate({ imageId: image.id, style: 'sketch' }))).toBe('NOT_FOUND');
    expect((await b.jobs.list.query({})).items).toEqual([]);
    expect((await b.images.list.query({})).items).toEqual([]);
    for (const path of [`/files/images/${image.id}`, `/files/jobs/${job.id}`]) {
      expect(
        (await fetch(`${h.url}${path}`, { headers: { authorization: `Bearer ${bob.token}` } })).status,
      ).toBe(404);
    }
    // Alice's things are still there.
    expect((await alice.client.images.get.query({ id: image.id })).id).toBe(image.id);
  });

  it('refuses logged-out access', async () => {
    const anon = h.client();
    expect(await codeOf(anon.images.list.query({}))).toBe('UNAUTHORIZED');
    expect(await codeOf(anon.jobs.get.query({ id: job.id }))).toBe('UNAUTHORIZED');
    expect(await codeOf(anon.users.me.query())).toBe('UNAUTHORIZED');
    expect(await codeOf(h.client('not-a-token').users.me.query())).toBe('UNAUTHORIZED');
    expect((await fetch(`${h.url}/files/jobs/${job.id}`)).status).toBe(401);
  });
});

describe('single queries over GET', () => {
  // Plain-HTTP callers send one query per request (no ?batch=1); the server answers those on a
  // shorter path than batches. Both must say exactly the same thing, errors included.
  const call = async (procedure: string, input: string | undefined, token?: string) => {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
    const query = input === undefined ? '' : `?input=${encodeURIComponent(input)}`;
    const single = await fetch(`${h.url}/trpc/${procedure}${query}`, { headers });
    const batchInput = input === undefined ? '{}' : `{"0":${input}}`;
    const batch = await fetch(`${h.url}/trpc/${procedure}?batch=1&input=${encodeURIComponent(batchInput)}`, {
      headers,
    });
    const body = (await single.json()) as { error?: { data?: Record<string, unknown> } };
    const [batched] = (await batch.json()) as [typeof body];
    // The request id differs from call to call by design.
    for (const b of [body, batched]) {
      if (b.error?.data) delete b.error.data['requestId'];
      // JSON.parse's message names a position, which the batch's wrapping shifts.
      if ((b.error as { message?: string } | undefined)?.message?.includes('in JSON at position'))
        delete (b.error as { message?: string }).message;
    }
    expect(body).toEqual(batched);
    expect(single.headers.get('content-type')).toBe(batch.headers.get('content-type'));
    expect(single.headers.get('vary')).toBe(batch.headers.get('vary'));
    expect(single.headers.get('x-request-id')).toBeTruthy();
    return { status: single.status, batchStatus: batch.status, body };
  };

  it('answer as the batched call does: data, and every kind of error with its status', async () => {
    const ok = await call('jobs.get', JSON.stringify({ id: job.id }), alice.token);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ result: { data: { id: job.id, status: 'succeeded' } } });
    const cases: [string, string | undefined, string | undefined, number, string][] = [
      ['jobs.get', JSON.stringify({ id: job.id }), bob.token, 404, 'NOT_FOUND'],
      ['jobs.get', JSON.stringify({ id: job.id }), undefined, 401, 'UNAUTHORIZED'],
      ['jobs.get', JSON.stringify({ id: 42 }), alice.token, 400, 'BAD_REQUEST'],
      ['jobs.get', '{not json', alice.token, 400, 'BAD_REQUEST'],
      ['jobs.get', undefined, alice.token, 400, 'BAD_REQUEST'],
      ['images.get', JSON.stringify({ id: image.id }), bob.token, 404, 'NOT_FOUND'],
      ['nope.nothing', undefined, alice.token, 404, 'NOT_FOUND'],
      ['jobs.cancel', JSON.stringify({ id: job.id }), alice.token, 405, 'METHOD_NOT_SUPPORTED'],
    ];
    for (const [procedure, input, token, status, code] of cases) {
      const answer = await call(procedure, input, token);
      expect([procedure, input, answer.status]).toEqual([procedure, input, status]);
      expect(answer.batchStatus).toBe(status);
      expect(answer.body.error?.data).toMatchObject({ code });
    }
  });
});

describe('sessions', () => {
  it('logout everywhere ends every session', async () => {
    const carol = await h.signUp('carol@example.org', 'a long enough secret');
    const second = await h
      .client()
      .auth.login.mutate({ email: 'carol@example.org', password: 'a long enough secret' });
    expect((await h.client(second.token).users.me.query()).email).toBe('carol@example.org');
    await carol.client.auth.logoutEverywhere.mutate();
    expect(await codeOf(carol.client.users.me.query())).toBe('UNAUTHORIZED');
    expect(await codeOf(h.client(second.token).users.me.query())).toBe('UNAUTHORIZED');
  });

  it('rejects an expired session', async () => {
    const erin = await h.signUp('erin@example.org', 'erin long password');
    expect((await erin.client.users.me.query()).email).toBe('erin@example.org');
    await h.database.db
      .updateTable('sessions')
      .set({ expires_at: new Date(Date.now() - 1000) })
      .where('user_id', '=', erin.userId)
      .execute();
    expect(await codeOf(erin.client.users.me.query())).toBe('UNAUTHORIZED');
  });

  it('throttles repeated wrong passwords', async () => {
    await h.signUp('dave@example.org', 'the right password');
    const codes: string[] = [];
    for (let i = 0; i < 7; i++)
      codes.push(
        await codeOf(h.client().auth.login.mutate({ email: 'dave@example.org', password: 'wrong one' })),
      );
    expect(codes.slice(0, 5).every((c) => c === 'UNAUTHORIZED')).toBe(true);
    expect(codes.at(-1)).toBe('TOO_MANY_REQUESTS');
    // Even the right password waits out the lock.
    expect(
      await codeOf(
        h.client().auth.login.mutate({ email: 'dave@example.org', password: 'the right password' }),
      ),
    ).toBe('TOO_MANY_REQUESTS');
  });

  it('refuses a cookie-authenticated mutation from a foreign origin', async () => {
    const login = await fetch(`${h.url}/trpc/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'alice@example.org', password: 'correct horse battery' }),
    });
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/atelier_session=[^;]+;.*HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    const session = cookie.split(';')[0]!;
    const call = (origin?: string) =>
      fetch(`${h.url}/trpc/jobs.cancel`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: session, ...(origin ? { origin } : {}) },
        body: JSON.stringify({ id: job.id }),
      });
    expect((await call('https://evil.example')).status).toBe(403);
    expect((await call()).status).toBe(403);
    // The same request from the API's own origin gets through to the job (already finished).
    expect((await call(h.url)).status).toBe(409);
  });
});

describe('progress streams', () => {
  it('resume after the last event a client saw', async () => {
    const slow = await alice.client.jobs.create.mutate({
      imageId: image.id,
      plan: { steps: [{ plugin: 'test:sleep', params: { ms: 1500 } }] },
    });
    const first = await new Promise<{ id: string; seq: number }>((resolve, reject) => {
      const sub = alice.client.jobs.onUpdate.subscribe(
        { id: slow.id },
        {
          onData: (event) => {
            sub.unsubscribe();
            resolve({ id: event.id, seq: event.data.seq });
          },
          onError: reject,
        },
      );
    });
    expect(first.id).toBe(String(first.seq)); // each event's id is its seq, for resuming
    const resumed: number[] = [];
    await new Promise<void>((resolve, reject) => {
      const sub = alice.client.jobs.onUpdate.subscribe(
        { id: slow.id, lastEventId: first.id },
        {
          onData: (event) => {
            resumed.push(event.data.seq);
            if (event.data.status === 'succeeded') {
              sub.unsubscribe();
              resolve();
            }
          },
          onError: reject,
        },
      );
    });
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed.every((seq) => seq > first.seq)).toBe(true);
  });
});

describe('bad uploads', () => {
  it('are rejected with clear errors and store nothing', async () => {
    const before = await h.database.db.selectFrom('images').select('id').execute();
    const up = (b: Blob) => codeOf(alice.client.images.upload.mutate(uploadForm(b, 'x.jpg')));
    expect(await up(new Blob([]))).toBe('BAD_REQUEST');
    expect(await up(await blob(bad('text.jpg')))).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(await up(await blob(bad('bomb-30000x30000.png')))).toBe('PAYLOAD_TOO_LARGE');
    expect(await up(new Blob([new Uint8Array(6 * 1024 * 1024)]))).toBe('PAYLOAD_TOO_LARGE');
    expect(await up(await blob(photo('truncated.jpg')))).toBe('UNPROCESSABLE_CONTENT');
    expect(await h.database.db.selectFrom('images').select('id').execute()).toEqual(before);
  });
});

describe('operations', () => {
  it('answers CORS preflights for allowed origins only', async () => {
    const preflight = (origin: string) =>
      fetch(`${h.url}/trpc/jobs.create`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    const allowed = await preflight('https://app.example.org');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.org');
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('lets allowed origins call REST DELETE routes (a real preflight), and varies on Origin', async () => {
    const origin = 'https://app.example.org';
    const doomed = await alice.client.images.upload.mutate(
      uploadForm(await blob(photo('coffee.png')), 'doomed.png'),
    );
    // What a browser sends before `fetch(url, { method: 'DELETE', headers: { authorization } })`.
    const preflight = await fetch(`${h.url}/api/images/${doomed.id}`, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'DELETE',
        'access-control-request-headers': 'authorization',
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
    const methods = (preflight.headers.get('access-control-allow-methods') ?? '').split(/\s*,\s*/);
    expect(methods).toContain('DELETE');
    expect(preflight.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const deleted = await fetch(`${h.url}/api/images/${doomed.id}`, {
      method: 'DELETE',
      headers: { origin, authorization: `Bearer ${alice.token}` },
    });
    expect(deleted.status).toBe(200);
    expect(deleted.headers.get('access-control-allow-origin')).toBe(origin);
    expect(await codeOf(alice.client.images.get.query({ id: doomed.id }))).toBe('NOT_FOUND');

    // Every kind of /trpc answer varies on Origin (a shared cache must not hand one origin's
    // CORS headers to another): a single GET query, a batch, a POST mutation, an error.
    const vary = (answer: Response) =>
      (answer.headers.get('vary') ?? '').split(/\s*,\s*/).map((v) => v.toLowerCase());
    const answers = [
      await fetch(`${h.url}/trpc/styles.list`, { headers: { origin } }),
      await fetch(`${h.url}/trpc/styles.list,styles.list?batch=1`, { headers: { origin } }),
      await fetch(`${h.url}/trpc/auth.login`, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'nobody@example.org', password: 'wrong' }),
      }),
      await fetch(`${h.url}/trpc/users.me`, { headers: { origin } }),
    ];
    for (const answer of answers) {
      expect(vary(answer)).toContain('origin');
      expect(answer.headers.get('access-control-allow-origin')).toBe(origin);
    }
    expect(vary(answers[0]!)).toContain('trpc-accept');
  });

  it('sends security headers and a request id', async () => {
    const response = await fetch(`${h.url}/healthz`, { headers: { 'x-request-id': 'trace-123' } });
    expect(response.headers.get('x-request-id')).toBe('trace-123');
    // helmet's set, on every kind of answer: data, an error, a tRPC call, a 404.
    const helmetHeaders = {
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-site',
      'origin-agent-cluster': '?1',
      'referrer-policy': 'no-referrer',
      'strict-transport-security': 'max-age=31536000; includeSubDomains',
      'x-content-type-options': 'nosniff',
      'x-dns-prefetch-control': 'off',
      'x-download-options': 'noopen',
      'x-frame-options': 'SAMEORIGIN',
      'x-permitted-cross-domain-policies': 'none',
      'x-xss-protection': '0',
    };
    for (const answer of [
      response,
      await fetch(`${h.url}/trpc/styles.list`),
      await fetch(`${h.url}/trpc/users.me`),
      await fetch(`${h.url}/no/such/page`),
    ]) {
      const headers = Object.fromEntries(answer.headers);
      expect(headers).toMatchObject(helmetHeaders);
      expect(headers['content-security-policy']).toBeUndefined();
      expect(headers['x-powered-by']).toBeUndefined();
    }
  });

  it('serves health, readiness and metrics (to administrators)', async () => {
    expect((await fetch(`${h.url}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${h.url}/readyz`)).json()).toEqual({ ok: true, payments: 'off' });
    expect((await fetch(`${h.url}/metrics`)).status).toBe(401);
    expect(
      (await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${bob.token}` } })).status,
    ).toBe(403);
    await h.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', bob.userId).execute();
    const answer = await fetch(`${h.url}/metrics`, { headers: { authorization: `Bearer ${bob.token}` } });
    await h.database.db.updateTable('users').set({ role: 'user' }).where('id', '=', bob.userId).execute();
    const metrics = await answer.text();
    expect(metrics).toContain('atelier_http_request_duration_seconds');
    expect(metrics).toContain('atelier_queue_jobs');
  });
});
