// The REST API as a client in another language sees it: only HTTP (plain fetch), the OpenAPI
// document as the contract, JSON errors with the same statuses as tRPC's.
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bad, photo, read } from './helpers.ts';
import { startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';

interface Reply<T = Record<string, unknown>> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}
interface ErrorBody {
  readonly message: string;
  readonly code: string;
  readonly issues?: { path: (string | number)[]; message: string }[];
  readonly data?: { atelierCode: string | null; requestId: string | null };
}
interface Job {
  readonly id: string;
  readonly status: string;
  readonly progress: number;
  readonly output: { width: number; height: number; format: string } | null;
}
interface OpenApiDocument {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        security?: Record<string, string[]>[];
        responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
      }
    >
  >;
  components: {
    securitySchemes: Record<string, { type: string; scheme?: string }>;
    schemas: Record<string, { properties?: Record<string, unknown> }>;
  };
}

let h: ApiHarness;
type Body = NonNullable<RequestInit['body']>;

/** One REST call: JSON in (unless `raw`), JSON out. */
async function call<T = Record<string, unknown>>(
  method: string,
  path: string,
  options: { token?: string; json?: unknown; raw?: Body; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers['authorization'] = `Bearer ${options.token}`;
  if (options.json !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${h.url}${path}`, {
    method,
    headers,
    ...(options.json !== undefined
      ? { body: JSON.stringify(options.json) }
      : options.raw !== undefined
        ? { body: options.raw }
        : {}),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: (text ? JSON.parse(text) : null) as T };
}

async function signUp(email: string): Promise<{ token: string; cookie: string }> {
  const password = 'correct horse battery';
  const registered = await call<{ token: string; user: { email: string } }>('POST', '/api/auth/register', {
    json: { email, password, displayName: email.split('@')[0] },
  });
  expect(registered.status).toBe(200);
  expect(registered.body.user.email).toBe(email);
  const login = await call<{ token: string }>('POST', '/api/auth/login', { json: { email, password } });
  expect(login.status).toBe(200);
  expect(login.headers.get('set-cookie')).toMatch(/atelier_session=/);
  return { token: login.body.token, cookie: login.headers.get('set-cookie')!.split(';')[0]! };
}

let alice: { token: string; cookie: string };
let bob: { token: string; cookie: string };
let imageId: string;
let job: Job;

beforeAll(async () => {
  h = await startApi();
  alice = await signUp('alice@example.org');
  bob = await signUp('bob@example.org');
});
afterAll(() => h.close());

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with every REST route, a Bearer scheme and one error shape', async () => {
    const { status, headers, body: doc } = await call<OpenApiDocument>('GET', '/openapi.json');
    expect(status).toBe(200);
    expect(headers.get('content-type')).toContain('application/json');
    expect(doc.openapi).toMatch(/^3\.1\./);
    const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(operations).toEqual(
      expect.arrayContaining([
        'POST /api/auth/register',
        'POST /api/auth/login',
        'POST /api/auth/logout',
        'GET /api/users/me',
        'POST /api/images',
        'GET /api/images',
        'GET /api/images/{id}',
        'DELETE /api/images/{id}',
        'POST /api/jobs',
        'GET /api/jobs',
        'GET /api/jobs/{id}',
        'POST /api/jobs/{id}/cancel',
        'DELETE /api/jobs/{id}',
        'GET /api/jobs/{id}/download-url',
        'GET /api/styles',
        'POST /api/styles/preview',
        'GET /api/stats/mine',
        'GET /api/admin/users',
        'GET /files/images/{id}',
        'GET /files/jobs/{id}',
      ]),
    );
    // The subscription is SSE on the tRPC side; the FormData upload is POST /api/images.
    expect(operations.some((o) => o.includes('onUpdate') || o.includes('upload'))).toBe(false);
    expect(doc.components.securitySchemes['bearer']).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(Object.keys(doc.components.schemas['Error']?.properties ?? {})).toEqual(
      expect.arrayContaining(['message', 'code', 'issues']),
    );
    for (const [path, item] of Object.entries(doc.paths)) {
      const schema = path.startsWith('/files/') ? 'DownloadError' : 'Error';
      for (const operation of Object.values(item)) {
        for (const [code, response] of Object.entries(operation.responses)) {
          if (Number(code) >= 400)
            expect(response.content?.['application/json']?.schema?.$ref).toBe(
              `#/components/schemas/${schema}`,
            );
        }
      }
    }
  });

  it('matches the routes: every operation exists, and the protected ones want a session', async () => {
    const { body: doc } = await call<OpenApiDocument>('GET', '/openapi.json');
    const someId = '00000000-0000-4000-8000-000000000000';
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const reply = await call<ErrorBody>(method.toUpperCase(), path.replace('{id}', someId));
        if (!operation.security) {
          // Public: it answers (with a 400 for a missing body), it is not an unknown route.
          expect.soft(reply.status, `${method} ${path}`).not.toBe(401);
          expect.soft(reply.status, `${method} ${path}`).not.toBe(404);
        } else {
          // Downloads also take a signed URL (the `{}` alternative), which this request does not have.
          const code = path.startsWith('/files/') ? 'AUTH_REQUIRED' : 'UNAUTHORIZED';
          expect.soft([reply.status, reply.body.code], `${method} ${path}`).toEqual([401, code]);
        }
      }
    }
  });
});

describe('a photo, end to end over REST', () => {
  it('uploads the bytes, creates a cartoon job, polls it and downloads the result', async () => {
    const bytes = await read(photo('chelsea.png'));
    const upload = await call<{
      id: string;
      width: number;
      height: number;
      format: string;
      originalName: string | null;
    }>('POST', '/api/images?name=chelsea.png', {
      token: alice.token,
      raw: bytes,
      headers: { 'content-type': 'image/png' },
    });
    expect(upload.status).toBe(200);
    expect(upload.body).toMatchObject({
      width: 451,
      height: 300,
      format: 'png',
      originalName: 'chelsea.png',
    });
    imageId = upload.body.id;

    const created = await call<Job>('POST', '/api/jobs', {
      token: alice.token,
      json: { imageId, style: 'cartoon' },
    });
    expect(created.status).toBe(200);
    expect(created.body.status).toBe('queued');

    const deadline = Date.now() + 45_000;
    job = created.body;
    while (!['succeeded', 'failed', 'cancelled'].includes(job.status) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = (await call<Job>('GET', `/api/jobs/${created.body.id}`, { token: alice.token })).body;
    }
    expect(job).toMatchObject({ status: 'succeeded', progress: 1, output: { width: 451, height: 300 } });

    const download = await fetch(`${h.url}/files/jobs/${job.id}`, {
      headers: { authorization: `Bearer ${alice.token}` },
    });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toMatch(/^image\//);
    const meta = await sharp(Buffer.from(await download.arrayBuffer())).metadata();
    expect([meta.width, meta.height]).toEqual([451, 300]);

    const signed = await call<{ url: string }>('GET', `/api/jobs/${job.id}/download-url`, {
      token: alice.token,
    });
    expect((await fetch(`${h.url}${signed.body.url}`)).status).toBe(200);
    const list = await call<{ items: Job[]; nextCursor: string | null }>(
      'GET',
      '/api/jobs?limit=5&status=succeeded',
      { token: alice.token },
    );
    expect(list.body.items.map((j) => j.id)).toContain(job.id);
  });

  it('answers the same objects as tRPC', async () => {
    const rest = await call('GET', `/api/jobs/${job.id}`, { token: alice.token });
    const input = encodeURIComponent(JSON.stringify({ id: job.id }));
    const trpc = await call<{ result: { data: unknown } }>('GET', `/trpc/jobs.get?input=${input}`, {
      token: alice.token,
    });
    expect(rest.body).toEqual(trpc.body.result.data);
    const styles = await call<{ id: string; paramsSchema: unknown }[]>('GET', '/api/styles?kind=style');
    expect(styles.body.map((s) => s.id)).toEqual(expect.arrayContaining(['cartoon', 'sketch', 'watercolor']));
    expect(styles.body.find((s) => s.id === 'cartoon')?.paramsSchema).toMatchObject({ type: 'object' });
  });

  it('signs out with a bodiless POST', async () => {
    const carol = await signUp('carol@example.org');
    expect((await call('GET', '/api/users/me', { token: carol.token })).status).toBe(200);
    const out = await call('POST', '/api/auth/logout', { token: carol.token });
    expect([out.status, out.body]).toEqual([200, { ok: true }]);
    expect((await call('GET', '/api/users/me', { token: carol.token })).status).toBe(401);
  });
});

describe('refusals', () => {
  it('wants a session: 401 without one', async () => {
    for (const [method, path] of [
      ['GET', `/api/jobs/${job.id}`],
      ['GET', '/api/jobs'],
      ['POST', '/api/jobs'],
      ['POST', '/api/images'],
      ['GET', '/api/users/me'],
    ] as const) {
      const reply = await call<ErrorBody>(
        method,
        path,
        method === 'POST' && path === '/api/jobs' ? { json: { imageId, style: 'cartoon' } } : {},
      );
      expect([reply.status, reply.body.code], `${method} ${path}`).toEqual([401, 'UNAUTHORIZED']);
      expect(reply.body.message).toMatch(/sign in/i);
    }
    expect((await call('GET', '/api/users/me', { token: 'not-a-token' })).status).toBe(401);
  });

  it("answers 404 for another user's job and image, as if they did not exist", async () => {
    const get = await call<ErrorBody>('GET', `/api/jobs/${job.id}`, { token: bob.token });
    expect([get.status, get.body.code, get.body.data?.atelierCode]).toEqual([
      404,
      'NOT_FOUND',
      'JOB_NOT_FOUND',
    ]);
    expect(get.body.message).toBeTruthy();
    expect((await call('POST', `/api/jobs/${job.id}/cancel`, { token: bob.token })).status).toBe(404);
    expect((await call('DELETE', `/api/jobs/${job.id}`, { token: bob.token })).status).toBe(404);
    expect((await call('GET', `/api/images/${imageId}`, { token: bob.token })).status).toBe(404);
    expect(
      (await call('POST', '/api/jobs', { token: bob.token, json: { imageId, style: 'cartoon' } })).status,
    ).toBe(404);
    expect(
      (await fetch(`${h.url}/files/jobs/${job.id}`, { headers: { authorization: `Bearer ${bob.token}` } }))
        .status,
    ).toBe(404);
    // Still Alice's.
    expect((await call('GET', `/api/jobs/${job.id}`, { token: alice.token })).status).toBe(200);
  });

  it('names the bad parameter in a 400', async () => {
    const limit = await call<ErrorBody>('GET', '/api/jobs?limit=abc', { token: alice.token });
    expect([limit.status, limit.body.code]).toEqual([400, 'BAD_REQUEST']);
    expect(limit.body.message).toMatch(/\blimit\b/);
    expect(limit.body.issues?.[0]?.path).toEqual(['limit']);
    const status = await call<ErrorBody>('GET', '/api/jobs?status=almost', { token: alice.token });
    expect([status.status, status.body.message]).toEqual([400, expect.stringMatching(/\bstatus\b/)]);
    const create = await call<ErrorBody>('POST', '/api/jobs', {
      token: alice.token,
      json: { imageId: 'nope', style: 'cartoon' },
    });
    expect([create.status, create.body.message]).toEqual([400, expect.stringMatching(/\bimageId\b/)]);
    const params = await call<ErrorBody>('POST', '/api/jobs', {
      token: alice.token,
      json: { imageId, style: 'cartoon', params: { smoothing: 'lots' } },
    });
    expect([params.status, params.body.message]).toEqual([400, expect.stringMatching(/\bsmoothing\b/)]);
    const json = await call<ErrorBody>('POST', '/api/auth/login', {
      raw: '{"email":',
      headers: { 'content-type': 'application/json' },
    });
    expect([json.status, json.body.code]).toEqual([400, 'BAD_REQUEST']);
  });

  it('gives the same statuses as tRPC, and no stack traces', async () => {
    // Cancelling a finished job is a conflict on both sides.
    const rest = await call<ErrorBody>('POST', `/api/jobs/${job.id}/cancel`, { token: alice.token });
    const trpc = await call('POST', '/trpc/jobs.cancel', { token: alice.token, json: { id: job.id } });
    expect([rest.status, rest.body.code, rest.body.data?.atelierCode]).toEqual([
      409,
      'CONFLICT',
      'JOB_NOT_CANCELLABLE',
    ]);
    expect(trpc.status).toBe(409);
    expect(JSON.stringify(rest.body)).not.toMatch(/\bat .+\.(ts|js):\d+/);
    expect(rest.body.data?.requestId).toBe(rest.headers.get('x-request-id'));
  });

  it('refuses a cookie-authenticated change from a foreign origin, as tRPC does', async () => {
    const headers = { cookie: alice.cookie, origin: 'https://evil.example' };
    expect((await call('POST', `/api/jobs/${job.id}/cancel`, { headers })).status).toBe(403);
    expect(
      (
        await call('POST', '/api/images', {
          headers: { ...headers, 'content-type': 'image/png' },
          raw: await read(photo('chelsea.png')),
        })
      ).status,
    ).toBe(403);
    // Reading with the cookie is fine, and so is a change from the API's own origin.
    expect((await call('GET', `/api/jobs/${job.id}`, { headers: { cookie: alice.cookie } })).status).toBe(
      200,
    );
    expect(
      (await call('POST', `/api/jobs/${job.id}/cancel`, { headers: { cookie: alice.cookie, origin: h.url } }))
        .status,
    ).toBe(409);
  });

  it('rejects bad uploads with the same errors as images.upload and stores nothing', async () => {
    const before = await h.database.db.selectFrom('images').select('id').execute();
    const upload = async (raw: Body, type = 'application/octet-stream') =>
      (
        await call<ErrorBody>('POST', '/api/images', {
          token: alice.token,
          raw,
          headers: { 'content-type': type },
        })
      ).body.code;
    expect(await upload(new Uint8Array(0))).toBe('BAD_REQUEST');
    expect(await upload(await read(bad('text.jpg')), 'image/jpeg')).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(await upload(await read(bad('bomb-30000x30000.png')), 'image/png')).toBe('PAYLOAD_TOO_LARGE');
    expect(await upload(new Uint8Array(6 * 1024 * 1024))).toBe('PAYLOAD_TOO_LARGE');
    expect(await upload(await read(photo('truncated.jpg')), 'image/jpeg')).toBe('UNPROCESSABLE_CONTENT');
    const json = await call<ErrorBody>('POST', '/api/images', { token: alice.token, json: { file: 'x' } });
    expect([json.status, json.body.message]).toEqual([415, expect.stringMatching(/image\/\*/)]);
    expect(await h.database.db.selectFrom('images').select('id').execute()).toEqual(before);
  });
});

describe('the docs page', () => {
  it('is HTML whose scripts and styles are all served by this server', async () => {
    const page = await fetch(`${h.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('swagger-ui');
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThan(2);
    for (const asset of assets) {
      expect(asset.startsWith('/') || asset.startsWith('.'), asset).toBe(true);
      expect((await fetch(new URL(asset, `${h.url}/docs`))).status, asset).toBe(200);
    }
    // The page loads the same document.
    const shown = await (await fetch(`${h.url}/docs/json`)).json();
    expect(shown).toEqual(await (await fetch(`${h.url}/openapi.json`)).json());
  });
});
