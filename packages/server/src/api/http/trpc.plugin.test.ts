import { Writable } from 'node:stream';
import { initTRPC } from '@trpc/server';
import { octetInputParser } from '@trpc/server/http';
import Fastify from 'fastify';
import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AtelierError } from '@atelier/core';
import { errorBody, failureOf } from '../error-body.ts';
import { toTRPCError } from '../errors.ts';
import { trpcPlugin } from './trpc.plugin.ts';
import type { RateLimitVerdict } from './trpc.plugin.ts';

interface Ctx {
  readonly requestId: string;
}

// A small router with the API's error formatter.
const t = initTRPC.context<Ctx>().create({
  errorFormatter: ({ error, ctx, path }) =>
    errorBody('trpc', failureOf(error, { requestId: ctx?.requestId ?? null, path })),
});
const router = t.router({
  hello: t.procedure
    .input(z.object({ name: z.string() }).optional())
    .query(({ input, ctx }) => ({ greeting: `Hello ${input?.name ?? 'you'}`, requestId: ctx.requestId })),
  missing: t.procedure.query(() => {
    throw toTRPCError(new AtelierError('JOB_NOT_FOUND', 'No job x.'));
  }),
  boom: t.procedure.query(() => {
    throw new Error('secret detail');
  }),
  add: t.procedure
    .input(z.object({ a: z.number(), b: z.number() }))
    .mutation(({ input }) => input.a + input.b),
  upload: t.procedure.input(octetInputParser).mutation(async ({ input }) => {
    let bytes = 0;
    for await (const chunk of input) bytes += chunk.length;
    return bytes;
  }),
  ticks: t.procedure.subscription(async function* () {
    yield 1;
    yield 2;
  }),
});

async function app(options: { countCall?: () => Promise<RateLimitVerdict> } = {}) {
  const logs: { msg: string; path?: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(JSON.parse(chunk.toString()) as { msg: string });
      done();
    },
  });
  const server = Fastify({ logger: { level: 'error', stream }, requestIdHeader: 'x-request-id' });
  let contexts = 0;
  // CORS's Vary, which tRPC's must join.
  server.addHook('onRequest', (_req, reply, done) => {
    reply.header('vary', 'Origin');
    done();
  });
  await server.register(trpcPlugin, {
    prefix: '/trpc',
    router,
    createContext: async (req: FastifyRequest) => {
      contexts += 1;
      return { requestId: req.id };
    },
    maxBatchSize: 3,
    maxUploadBytes: 1000,
    maxJsonBytes: 100,
    countCall: options.countCall,
  });
  return { server, logs, contexts: () => contexts };
}

const input = (value: unknown) => encodeURIComponent(JSON.stringify(value));

describe('trpcPlugin', () => {
  it('answers a GET query as the batch path does, with one context and Vary joined to the reply’s', async () => {
    const { server, contexts } = await app();
    const single = await server.inject(`/trpc/hello?input=${input({ name: 'Ada' })}`);
    expect(single.statusCode).toBe(200);
    expect(single.headers['content-type']).toMatch(/^application\/json/);
    expect(single.headers.vary).toBe('Origin, trpc-accept, accept');
    const data = single.json().result.data;
    expect(data.greeting).toBe('Hello Ada');
    expect(contexts()).toBe(1);
    const batch = await server.inject(`/trpc/hello?batch=1&input=${input({ 0: { name: 'Ada' } })}`);
    expect(batch.headers.vary).toBe('Origin, trpc-accept, accept');
    expect(batch.json()).toEqual([
      { result: { data: { ...data, requestId: batch.json()[0].result.data.requestId } } },
    ]);
    expect(contexts()).toBe(2);
    // No input, and an empty one, are undefined.
    expect((await server.inject('/trpc/hello')).json().result.data.greeting).toBe('Hello you');
    expect((await server.inject('/trpc/hello?input=')).json().result.data.greeting).toBe('Hello you');
  });

  it('answers errors in the one error shape, on the GET path and in a batch alike', async () => {
    const { server } = await app();
    const single = await server.inject({ url: '/trpc/missing', headers: { 'x-request-id': 'r1' } });
    expect(single.statusCode).toBe(404);
    const shape = {
      message: 'No job x.',
      code: -32004,
      data: {
        code: 'NOT_FOUND',
        httpStatus: 404,
        path: 'missing',
        atelierCode: 'JOB_NOT_FOUND',
        details: null,
        requestId: single.json().error.data.requestId,
      },
    };
    expect(single.json()).toEqual({ error: shape });
    const batch = await server.inject({ url: `/trpc/missing?batch=1&input=${input({})}` });
    expect(batch.json()).toEqual([
      { error: { ...shape, data: { ...shape.data, requestId: batch.json()[0].error.data.requestId } } },
    ]);
    const badJson = await server.inject('/trpc/hello?input=%7Bnope');
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.data.atelierCode).toBe('REQUEST_MALFORMED');
    expect(badJson.json().error.message).toMatch(/^The input is not valid JSON: /);
    const invalid = await server.inject(`/trpc/hello?input=${input({ name: 3 })}`);
    expect([invalid.statusCode, invalid.json().error.data.atelierCode]).toEqual([400, 'PARAMS_INVALID']);
    expect(invalid.json().error.message).toMatch(/^Invalid input: name: /);
  });

  it('answers a path without a query as tRPC does: 404 unknown, 405 a mutation over GET, one context', async () => {
    const { server, contexts } = await app();
    const unknown = await server.inject('/trpc/nope');
    expect([unknown.statusCode, unknown.json().error.data.atelierCode]).toEqual([404, 'PROCEDURE_NOT_FOUND']);
    const mutation = await server.inject('/trpc/add');
    expect([mutation.statusCode, mutation.json().error.data.code]).toEqual([405, 'METHOD_NOT_SUPPORTED']);
    expect(contexts()).toBe(2);
  });

  it('hides an internal error behind the request id and logs it', async () => {
    const { server, logs } = await app();
    const res = await server.inject({ url: '/trpc/boom', headers: { 'x-request-id': 'req-42' } });
    expect(res.statusCode).toBe(500);
    expect(res.json().error.message).toBe('Something went wrong on our side (request req-42).');
    expect(res.json().error.data.atelierCode).toBe('INTERNAL');
    expect(res.body).not.toContain('secret detail');
    expect(logs).toEqual([expect.objectContaining({ msg: 'procedure failed', path: 'boom' })]);
    logs.length = 0;
  });

  it('runs mutations, raw-byte uploads and SSE subscriptions through resolveResponse', async () => {
    const { server, logs } = await app();
    const sum = await server.inject({
      method: 'POST',
      url: '/trpc/add',
      headers: { 'content-type': 'application/json' },
      payload: { a: 2, b: 3 },
    });
    expect(sum.json()).toEqual({ result: { data: 5 } });
    const events = await server.inject({ url: '/trpc/ticks', headers: { accept: 'text/event-stream' } });
    expect(events.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(events.headers.vary).toMatch(/^Origin, /);
    expect(events.body).toMatch(/data: 1\n[\s\S]*data: 2\n/);
    // Raw bytes over real HTTP: tRPC reads them from Node's request stream.
    const url = await server.listen({ port: 0, host: '127.0.0.1' });
    try {
      const upload = await fetch(`${url}/trpc/upload`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: Buffer.alloc(700),
      });
      expect(await upload.json(), JSON.stringify(logs)).toEqual({ result: { data: 700 } });
      // Chunked (no Content-Length): stopped at the cap, unread beyond it.
      const chunks = [Buffer.alloc(1024 * 1024), Buffer.alloc(1024 * 1024)];
      const chunked = await fetch(`${url}/trpc/upload`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: new ReadableStream({
          pull(controller) {
            const next = chunks.shift();
            if (next) controller.enqueue(next);
            else controller.close();
          },
        }),
        duplex: 'half',
      });
      expect(chunked.status).toBe(413);
      // The rest of the body is not read: the server closes the connection after its answer
      // (left open, both sides waited, and so did server.close() here, now and then).
      expect(chunked.headers.get('connection')).toBe('close');
      // Over the cap by its Content-Length: refused unread, and closed likewise.
      const declared = await fetch(`${url}/trpc/upload`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: Buffer.alloc(2 * 1024 * 1024),
      });
      expect([declared.status, declared.headers.get('connection')]).toEqual([413, 'close']);
    } finally {
      await server.close();
    }
  });

  it('refuses before any procedure runs, in the same shape, with the request id', async () => {
    let verdict: RateLimitVerdict = { isAllowed: true };
    const { server, contexts } = await app({ countCall: async () => verdict });
    const call = async (
      url: string,
      init: { method?: 'POST'; headers?: Record<string, string>; payload?: string | Buffer } = {},
    ) => {
      const res = await server.inject({
        url,
        headers: { 'x-request-id': 'pre-1', ...init.headers },
        ...(init.method ? { method: init.method } : {}),
        ...(init.payload ? { payload: init.payload } : {}),
      });
      const body = res.json<{ error: { message: string; code: number; data: Record<string, unknown> } }>();
      expect(body.error.data.requestId, res.body).toBe('pre-1');
      return { status: res.statusCode, code: body.error.data.atelierCode, body, headers: res.headers };
    };
    const tooMany = await call(`/trpc/hello,hello,hello,hello?batch=1&input=${input({})}`);
    expect([tooMany.status, tooMany.code, tooMany.body.error.code]).toEqual([400, 'BATCH_TOO_LARGE', -32600]);
    expect(tooMany.body.error.data.details).toEqual({ calls: 4, maxBatchSize: 3 });
    verdict = { isAllowed: false, isExceeded: true, ttlInSeconds: 17 };
    const limited = await call(`/trpc/hello,hello?batch=1&input=${input({})}`);
    expect([limited.status, limited.code, limited.headers['retry-after']]).toEqual([
      429,
      'RATE_LIMITED',
      '17',
    ]);
    verdict = { isAllowed: true };
    const json = { method: 'POST' as const, headers: { 'content-type': 'application/json' } };
    const big = await call('/trpc/add', {
      ...json,
      payload: JSON.stringify({ a: 1, b: 2, pad: 'x'.repeat(200) }),
    });
    expect([big.status, big.code]).toEqual([413, 'BODY_TOO_LARGE']);
    const text = await call('/trpc/add', {
      method: 'POST',
      headers: { 'content-type': 'application/xml' },
      payload: '<a/>',
    });
    expect([text.status, text.code]).toEqual([415, 'CONTENT_TYPE_UNSUPPORTED']);
    const upload = await call('/trpc/upload', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.alloc(1000 + 1024 * 1024 + 1),
    });
    expect([upload.status, upload.code]).toEqual([413, 'IMAGE_TOO_LARGE']);
    expect(contexts()).toBe(0);
  });
});
