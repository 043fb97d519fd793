// Every error the API can send, over real HTTP on both faces (tRPC at /trpc, REST at /api): each
// carries an Atelier code from ERROR_CODES and a short message a person can read. Also unknown
// parameters, oversized uploads (with and without a Content-Length), page cursors, progress
// streams of missing jobs, plugin defaults and percent-encoded plugin ids.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ERROR_CODES } from '@atelier/core';
import type { AtelierOutputs } from '@atelier/client';
import { uploadForm } from '@atelier/client';
import { buildApp, createApiServices } from '@atelier/server';
import { photo, read } from './helpers.ts';
import { startApi } from './api-harness.ts';
import type { ApiHarness, ErrorData } from './api-harness.ts';

let h: ApiHarness;
let alice: Awaited<ReturnType<ApiHarness['signUp']>>;
let bob: Awaited<ReturnType<ApiHarness['signUp']>>;
let admin: Awaited<ReturnType<ApiHarness['signUp']>>;
let image: AtelierOutputs['images']['upload'];
let job: AtelierOutputs['jobs']['get'];
/** A second app on the same services whose error log the tests watch. */
let watched: { app: FastifyInstance; url: string; close: () => Promise<void> };
let errorLog: ReturnType<typeof vi.spyOn>;

/** The harness caps uploads at 5 MiB. */
const LIMIT = 5 * 1024 * 1024;

beforeAll(async () => {
  h = await startApi();
  alice = await h.signUp('alice@example.org');
  bob = await h.signUp('bob@example.org');
  admin = await h.signUp('admin@example.org');
  await h.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', admin.userId).execute();
  image = await alice.client.images.upload.mutate(
    uploadForm(new Blob([await read(photo('chelsea.png'))]), 'chelsea.png'),
  );
  job = await alice.client.jobs.create.mutate({ imageId: image.id, style: 'cartoon' });
  const api = await createApiServices(h.core, { secureCookies: false, allowedOrigins: [] });
  const app = await buildApp(api);
  errorLog = vi.spyOn(app.log, 'error');
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  watched = {
    app,
    url,
    close: async () => {
      await app.close();
      await api.close();
    },
  };
});
afterAll(async () => {
  await watched.close();
  await h.close();
});

interface Answer {
  readonly status: number;
  readonly message: string;
  readonly data: ErrorData | undefined;
  readonly body: unknown;
}

/** Any request; the error's message and data wherever the face puts them (tRPC: `error`, REST: top level). */
async function request(url: string, init: RequestInit & { duplex?: 'half' } = {}): Promise<Answer> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  // A progress stream reports a failure as its one event, `serialized-error`.
  const streamed = /^event: serialized-error\ndata: (.*)$/m.exec(text)?.[1];
  try {
    body = JSON.parse(streamed ?? text);
  } catch {
    // not JSON: the assertions below say so
  }
  const first = Array.isArray(body) ? (body[0] as unknown) : body;
  const error = (first as { error?: unknown } | undefined)?.error ?? first;
  const { message, data } = (error ?? {}) as { message?: string; data?: ErrorData };
  return { status: response.status, message: message ?? '', data, body };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const json = (token?: string) => ({ 'content-type': 'application/json', ...(token ? bearer(token) : {}) });
const q = (input: unknown) => `input=${encodeURIComponent(JSON.stringify(input))}`;

/**
 * A coded, short, human answer: what every error must be. `status` is the HTTP status, which is the
 * error's own except in a progress stream (200, then the error as an event that says its status).
 */
function expectCoded(answer: Answer, status: number, atelierCode: string, httpStatus = status) {
  expect({ status: answer.status, atelierCode: answer.data?.atelierCode }).toEqual({
    status: httpStatus,
    atelierCode,
  });
  expect(Object.keys(ERROR_CODES)).toContain(answer.data?.atelierCode);
  expect(answer.data?.httpStatus).toBe(status);
  expect(answer.data?.requestId).toBeTruthy();
  // A sentence, not zod's issues as JSON (they were 190 to 1,800 characters).
  expect(answer.message.length).toBeGreaterThan(10);
  expect(answer.message.length).toBeLessThan(300);
  expect(answer.message).not.toMatch(/^\s*[[{]/);
  expect(answer.message).not.toMatch(/\bat .*\.(ts|js):\d+/); // no stack frames
}

/** A request and the HTTP status and Atelier code it must answer with. */
type CodedCase = [name: string, call: () => Promise<Answer>, status: number, atelierCode: string];

/** Sends each case's request in turn; each answer is coded as {@link expectCoded} says. */
async function expectAllCoded(cases: readonly CodedCase[]): Promise<void> {
  for (const [name, call, status, code] of cases) {
    const answer = await call();
    expect.soft([name, answer.status, answer.data?.atelierCode]).toEqual([name, status, code]);
    expectCoded(answer, status, code);
  }
}

describe('every tRPC error carries an Atelier code and a short message', () => {
  it('input validation, unknown procedure, bad JSON, wrong method, no session, foreign origin, admin only, internal', async () => {
    const t = `${h.url}/trpc`;
    const cases: CodedCase[] = [
      [
        'validation (GET)',
        () => request(`${t}/jobs.get?${q({ id: 42 })}`, { headers: bearer(alice.token) }),
        400,
        'PARAMS_INVALID',
      ],
      [
        'validation (batch)',
        () => request(`${t}/jobs.get?batch=1&${q({ 0: { id: 42 } })}`, { headers: bearer(alice.token) }),
        400,
        'PARAMS_INVALID',
      ],
      [
        'validation (POST)',
        () =>
          request(`${t}/jobs.create`, {
            method: 'POST',
            headers: json(alice.token),
            body: JSON.stringify({ imageId: 'x', style: 'cartoon', params: { levels: 'six' } }),
          }),
        400,
        'PARAMS_INVALID',
      ],
      [
        'validation (missing input)',
        () => request(`${t}/jobs.get`, { headers: bearer(alice.token) }),
        400,
        'PARAMS_INVALID',
      ],
      [
        'unknown procedure',
        () => request(`${t}/nope.nothing`, { headers: bearer(alice.token) }),
        404,
        'PROCEDURE_NOT_FOUND',
      ],
      [
        'unknown procedure (POST)',
        () => request(`${t}/nope.nothing`, { method: 'POST', headers: json(alice.token), body: '{}' }),
        404,
        'PROCEDURE_NOT_FOUND',
      ],
      [
        'bad JSON (GET)',
        () =>
          request(`${t}/jobs.get?input=${encodeURIComponent('{not json')}`, { headers: bearer(alice.token) }),
        400,
        'REQUEST_MALFORMED',
      ],
      [
        'bad JSON (POST)',
        () => request(`${t}/jobs.cancel`, { method: 'POST', headers: json(alice.token), body: '{not json' }),
        400,
        'REQUEST_MALFORMED',
      ],
      [
        'query over POST',
        () => request(`${t}/jobs.get`, { method: 'POST', headers: json(alice.token), body: '{}' }),
        405,
        'METHOD_NOT_ALLOWED',
      ],
      [
        'mutation over GET',
        () => request(`${t}/jobs.cancel?${q({ id: job.id })}`, { headers: bearer(alice.token) }),
        405,
        'METHOD_NOT_ALLOWED',
      ],
      [
        'unknown content type',
        () =>
          request(`${t}/jobs.cancel`, {
            method: 'POST',
            headers: { 'content-type': 'text/csv', ...bearer(alice.token) },
            body: 'a,b',
          }),
        415,
        'CONTENT_TYPE_UNSUPPORTED',
      ],
      ['no session', () => request(`${t}/jobs.get?${q({ id: job.id })}`), 401, 'AUTH_REQUIRED'],
      [
        'bad token',
        () => request(`${t}/jobs.get?${q({ id: job.id })}`, { headers: bearer('nope') }),
        401,
        'AUTH_REQUIRED',
      ],
      ['admin only', () => request(`${t}/admin.plugins`, { headers: bearer(alice.token) }), 403, 'FORBIDDEN'],
      [
        "someone else's job",
        () => request(`${t}/jobs.get?${q({ id: job.id })}`, { headers: bearer(bob.token) }),
        404,
        'JOB_NOT_FOUND',
      ],
    ];
    await expectAllCoded(cases);
  });

  it('says which fields are wrong, by path, in details', async () => {
    const answer = await request(`${h.url}/trpc/jobs.list?${q({ limit: 500, status: 'nope' })}`, {
      headers: bearer(alice.token),
    });
    expectCoded(answer, 400, 'PARAMS_INVALID');
    expect(answer.message).toMatch(/^Invalid input: limit: .*; status: /);
    expect(answer.data?.details).toMatchObject({
      issues: [
        { path: ['limit'], message: expect.any(String) },
        { path: ['status'], message: expect.any(String) },
      ],
    });
  });

  it('refuses a cookie-authenticated mutation from a foreign origin with ORIGIN_UNTRUSTED', async () => {
    const login = await fetch(`${h.url}/trpc/auth.login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'alice@example.org', password: 'correct horse battery' }),
    });
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const answer = await request(`${h.url}/trpc/jobs.cancel`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, origin: 'https://evil.example' },
      body: JSON.stringify({ id: job.id }),
    });
    expectCoded(answer, 403, 'ORIGIN_UNTRUSTED');
  });

  it('answers an internal error with INTERNAL, the request id and nothing more', async () => {
    // A real fault: the table the procedure reads is gone for the length of one call.
    await h.database.db.schema.alterTable('images').renameTo('images_away').execute();
    errorLog.mockClear();
    try {
      for (const url of [
        `${h.url}/trpc/images.list?${q({})}`,
        `${h.url}/api/images`,
        `${watched.url}/trpc/images.list?batch=1&${q({ 0: {} })}`,
      ]) {
        const answer = await request(url, { headers: bearer(alice.token) });
        expectCoded(answer, 500, 'INTERNAL');
        expect(answer.message).toContain(answer.data!.requestId!);
        expect(answer.message).not.toMatch(/images|relation|select/i);
      }
      // The details go to the log, with the stack: the log the stream test below watches.
      expect(errorLog).toHaveBeenCalledTimes(1);
    } finally {
      await h.database.db.schema.alterTable('images_away').renameTo('images').execute();
    }
  });
});

describe('every REST error carries an Atelier code', () => {
  it('validation, unknown route, bad JSON, wrong content type, no session, admin only', async () => {
    const a = `${h.url}/api`;
    const cases: CodedCase[] = [
      [
        'validation (query)',
        () => request(`${a}/jobs?limit=500`, { headers: bearer(alice.token) }),
        400,
        'PARAMS_INVALID',
      ],
      [
        'validation (POST /api/jobs)',
        () =>
          request(`${a}/jobs`, {
            method: 'POST',
            headers: json(alice.token),
            body: JSON.stringify({ imageId: image.id, style: 'cartoon', params: { levels: 'six' } }),
          }),
        400,
        'PARAMS_INVALID',
      ],
      [
        'unknown route',
        () => request(`${a}/nope`, { headers: bearer(alice.token) }),
        404,
        'PROCEDURE_NOT_FOUND',
      ],
      [
        'bad JSON',
        () => request(`${a}/jobs`, { method: 'POST', headers: json(alice.token), body: '{not json' }),
        400,
        'REQUEST_MALFORMED',
      ],
      [
        'JSON to the upload',
        () => request(`${a}/images`, { method: 'POST', headers: json(alice.token), body: '{}' }),
        415,
        'CONTENT_TYPE_UNSUPPORTED',
      ],
      [
        'unknown content type',
        () =>
          request(`${a}/jobs`, {
            method: 'POST',
            headers: { 'content-type': 'text/csv', ...bearer(alice.token) },
            body: 'a,b',
          }),
        415,
        'CONTENT_TYPE_UNSUPPORTED',
      ],
      [
        'JSON over the cap',
        () =>
          request(`${a}/jobs`, {
            method: 'POST',
            headers: json(alice.token),
            body: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }),
          }),
        413,
        'BODY_TOO_LARGE',
      ],
      ['no session', () => request(`${a}/jobs/${job.id}`), 401, 'AUTH_REQUIRED'],
      ['admin only', () => request(`${a}/admin/plugins`, { headers: bearer(alice.token) }), 403, 'FORBIDDEN'],
      [
        "someone else's job",
        () => request(`${a}/jobs/${job.id}`, { headers: bearer(bob.token) }),
        404,
        'JOB_NOT_FOUND',
      ],
    ];
    await expectAllCoded(cases);
  });
});

describe('unknown parameters', () => {
  const styleJob = { style: 'cartoon', params: { levels: 6, darkness: 0.5 } };
  const planJob = { plan: { steps: [{ plugin: 'cartoon', params: { levels: 6, darkness: 0.5 } }] } };

  it('are refused, by name, for a style job and a plan step, over tRPC and REST', async () => {
    for (const body of [styleJob, planJob]) {
      const input = JSON.stringify({ imageId: image.id, ...body });
      for (const url of [`${h.url}/trpc/jobs.create`, `${h.url}/api/jobs`]) {
        const answer = await request(url, { method: 'POST', headers: json(alice.token), body: input });
        expectCoded(answer, 400, 'PARAMS_INVALID');
        expect([url, answer.message]).toEqual([url, expect.stringContaining('darkness')]);
      }
    }
    // A misspelt name is refused too, and a known one still works.
    await expect(
      alice.client.jobs.create.mutate({ imageId: image.id, style: 'cartoon', params: { levels: 6 } }),
    ).resolves.toMatchObject({ style: 'cartoon' });
  });

  it('are refused in a preview, over tRPC and REST', async () => {
    const input = JSON.stringify({ imageId: image.id, style: 'cartoon', params: { darkness: 0.5 } });
    for (const url of [`${h.url}/trpc/styles.preview`, `${h.url}/api/styles/preview`]) {
      const answer = await request(url, { method: 'POST', headers: json(alice.token), body: input });
      expectCoded(answer, 400, 'PARAMS_INVALID');
      expect(answer.message).toContain('darkness');
    }
  });
});

describe('uploads over the cap', () => {
  const big = () => new Uint8Array(LIMIT + 1024 * 1024 + 10); // over the cap, and over the form's room
  /** A body with no Content-Length: sent chunked. */
  const chunked = (bytes: Uint8Array) =>
    Readable.toWeb(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
  const limitText = `${LIMIT} bytes (5 MiB)`;

  it('answer 413 IMAGE_TOO_LARGE with the limit in bytes and MiB, with and without a Content-Length', async () => {
    const bytes = big();
    const form = async () => {
      const body = new Response(uploadForm(new Blob([bytes]), 'big.jpg'));
      return { type: body.headers.get('content-type')!, data: new Uint8Array(await body.arrayBuffer()) };
    };
    const multipart = await form();
    const cases: [string, () => Promise<Answer>][] = [
      [
        'REST, Content-Length',
        () =>
          request(`${h.url}/api/images`, {
            method: 'POST',
            headers: { 'content-type': 'image/jpeg', ...bearer(alice.token) },
            body: bytes,
          }),
      ],
      [
        'REST, chunked',
        () =>
          request(`${h.url}/api/images`, {
            method: 'POST',
            headers: { 'content-type': 'image/jpeg', ...bearer(alice.token) },
            body: chunked(bytes) as ReadableStream,
            duplex: 'half',
          }),
      ],
      [
        'tRPC, Content-Length',
        () =>
          request(`${h.url}/trpc/images.upload`, {
            method: 'POST',
            headers: { 'content-type': multipart.type, ...bearer(alice.token) },
            body: multipart.data,
          }),
      ],
      [
        'tRPC, chunked',
        () =>
          request(`${h.url}/trpc/images.upload`, {
            method: 'POST',
            headers: { 'content-type': multipart.type, ...bearer(alice.token) },
            body: chunked(multipart.data) as ReadableStream,
            duplex: 'half',
          }),
      ],
    ];
    for (const [name, call] of cases) {
      const answer = await call();
      expect.soft([name, answer.status, answer.data?.atelierCode]).toEqual([name, 413, 'IMAGE_TOO_LARGE']);
      expectCoded(answer, 413, 'IMAGE_TOO_LARGE');
      expect([name, answer.message]).toEqual([name, expect.stringContaining(`the limit is ${limitText}`)]);
      expect(answer.message).not.toContain('limit bytes');
    }
  });

  it('through the typed client, too', async () => {
    const answer = await alice.client.images.upload
      .mutate(uploadForm(new Blob([new Uint8Array(LIMIT + 1)]), 'big.jpg'))
      .catch((error: unknown) => error as { data?: ErrorData; message: string });
    expect(answer).toMatchObject({ data: { atelierCode: 'IMAGE_TOO_LARGE', httpStatus: 413 } });
    expect((answer as { message: string }).message).toBe(
      `The file is ${LIMIT + 1} bytes; the limit is ${limitText}.`,
    );
  });
});

describe('page cursors', () => {
  it('a malformed cursor is CURSOR_INVALID on tRPC and REST', async () => {
    const bad = ['garbage', Buffer.from('2020-01-01|x').toString('base64url')];
    for (const cursor of bad) {
      for (const url of [
        `${h.url}/trpc/jobs.list?${q({ cursor })}`,
        `${h.url}/trpc/images.list?${q({ cursor })}`,
        `${h.url}/api/jobs?cursor=${cursor}`,
        `${h.url}/api/images?cursor=${cursor}`,
      ]) {
        const answer = await request(url, { headers: bearer(alice.token) });
        expect([url, answer.data?.atelierCode]).toEqual([url, 'CURSOR_INVALID']);
        expectCoded(answer, 400, 'CURSOR_INVALID');
      }
    }
  });
});

describe('progress streams', () => {
  it("of a missing or someone else's job answer NOT_FOUND / JOB_NOT_FOUND and log no error", async () => {
    errorLog.mockClear();
    for (const [id, token] of [
      [job.id, bob.token],
      ['00000000-0000-4000-8000-000000000000', alice.token],
    ] as const) {
      const answer = await request(`${watched.url}/trpc/jobs.onUpdate?${q({ id })}`, {
        headers: { ...bearer(token), accept: 'text/event-stream' },
      });
      // tRPC answers a subscription with a stream (200) whose one event is the error.
      expect([id, answer.data?.code, answer.data?.atelierCode]).toEqual([id, 'NOT_FOUND', 'JOB_NOT_FOUND']);
      expectCoded(answer, 404, 'JOB_NOT_FOUND', 200);
    }
    expect(errorLog).not.toHaveBeenCalled();
    // The typed client sees the same error.
    const seen = await new Promise<unknown>((resolve) => {
      const subscription = bob.client.jobs.onUpdate.subscribe(
        { id: job.id },
        {
          onError: (error) => {
            subscription.unsubscribe();
            resolve(error.data);
          },
          onData: () => resolve('data'),
        },
      );
    });
    expect(seen).toMatchObject({ code: 'NOT_FOUND', httpStatus: 404, atelierCode: 'JOB_NOT_FOUND' });
    expect(errorLog).not.toHaveBeenCalled();
    // The owner still gets the stream.
    const own = await fetch(`${watched.url}/trpc/jobs.onUpdate?${q({ id: job.id })}`, {
      headers: bearer(alice.token),
    });
    expect(own.status).toBe(200);
    expect(own.headers.get('content-type')).toMatch(/text\/event-stream/);
    await own.body?.cancel();
  });
});

describe('admin.setPlugin', () => {
  it('refuses an invalid default with PARAMS_INVALID naming it, on tRPC and REST', async () => {
    const body = JSON.stringify({ id: 'cartoon', defaults: { levels: 'six', darkness: 1 } });
    for (const url of [`${h.url}/trpc/admin.setPlugin`, `${h.url}/api/admin/plugins/cartoon`]) {
      const answer = await request(url, { method: 'POST', headers: json(admin.token), body });
      expectCoded(answer, 400, 'PARAMS_INVALID');
      expect(answer.message).toMatch(/levels: .*darkness/);
      expect(answer.data?.details).toMatchObject({
        plugin: 'cartoon',
        issues: expect.arrayContaining([expect.objectContaining({ path: ['defaults', 'levels'] })]),
      });
    }
  });

  it('takes a percent-encoded plugin id in a REST path', async () => {
    for (const path of ['acme%3Ainvert', 'acme:invert']) {
      const answer = await request(`${h.url}/api/admin/plugins/${path}`, {
        method: 'POST',
        headers: json(admin.token),
        body: JSON.stringify({ enabled: true }),
      });
      expect([path, answer.status, answer.body]).toEqual([
        path,
        200,
        expect.objectContaining({ id: 'acme:invert' }),
      ]);
    }
    const unknown = await request(`${h.url}/api/admin/plugins/acme%3Anope`, {
      method: 'POST',
      headers: json(admin.token),
      body: JSON.stringify({ enabled: true }),
    });
    expectCoded(unknown, 404, 'PLUGIN_NOT_FOUND');
    expect(unknown.message).toContain('acme:nope');
  });
});

describe('changing the password', () => {
  it('with a wrong current password is AUTH_WRONG_PASSWORD (400), not a 401 that signs the client out', async () => {
    const answer = await request(`${h.url}/trpc/auth.changePassword`, {
      method: 'POST',
      headers: json(bob.token),
      body: JSON.stringify({ currentPassword: 'not my password', newPassword: 'a brand new passphrase' }),
    });
    expectCoded(answer, 400, 'AUTH_WRONG_PASSWORD');
    expect(answer.data?.code).toBe('BAD_REQUEST');
    // Still signed in.
    expect((await request(`${h.url}/trpc/users.me`, { headers: bearer(bob.token) })).status).toBe(200);
  });
});
