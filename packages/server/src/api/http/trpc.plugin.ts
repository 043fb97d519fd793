import { callTRPCProcedure, getTRPCErrorFromUnknown, TRPCError } from '@trpc/server';
import type { AnyTRPCRouter, inferRouterContext } from '@trpc/server';
import { incomingMessageToRequest } from '@trpc/server/adapters/node-http';
import type { NodeHTTPRequest } from '@trpc/server/adapters/node-http';
import { getHTTPStatusCodeFromError, resolveResponse } from '@trpc/server/http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AtelierError, isAtelierError } from '@atelier/core';
import { errorBody, failureOf } from '../error-body.ts';
import { fastifyErrorAsAtelier, imageTooLarge, toTRPCError, uploadBatchTooLarge } from '../errors.ts';

/** The verdict of one more call against the per-IP rate limit (@fastify/rate-limit's `createRateLimit()`). */
export type RateLimitVerdict =
  | { readonly isAllowed: true }
  | { readonly isAllowed: false; readonly isExceeded: boolean; readonly ttlInSeconds: number };

/** Options of {@link trpcPlugin}. */
export interface TrpcPluginOptions<TRouter extends AnyTRPCRouter> {
  readonly router: TRouter;
  /** The context of a request's procedures (resolved once per request, however many calls a batch has). */
  readonly createContext: (
    request: FastifyRequest,
    reply: FastifyReply,
  ) => Promise<inferRouterContext<TRouter>>;
  /** The most calls one batch may have; a larger one is refused with BATCH_TOO_LARGE. */
  readonly maxBatchSize: number;
  /** The upload cap (multipart and raw bytes); the body may be 1 MiB more, for the form's own parts. */
  readonly maxUploadBytes: number;
  /** The JSON body cap. */
  readonly maxJsonBytes: number;
  /**
   * Procedures that take several files in one body (`images.uploadMany`), and the cap of their
   * files' bytes: their body may be that plus 1 MiB, and a larger one is `UPLOAD_BATCH_TOO_LARGE`.
   */
  readonly batchUpload?: { readonly paths: readonly string[]; readonly maxBytes: number } | undefined;
  /**
   * Counts one more call of a batch against the caller's rate limit (the request itself is
   * counted by the rate-limit plugin's own hook): each call of a batch costs one request.
   */
  readonly countCall?: ((request: FastifyRequest) => Promise<RateLimitVerdict>) | undefined;
}

/** RATE_LIMITED with `details.retryAfterSeconds`, and the status Fastify's error handlers read. */
export function rateLimited(retryAfterSeconds: number, statusCode: number): AtelierError {
  const error = new AtelierError(
    'RATE_LIMITED',
    `Too many requests from this address. Try again in ${retryAfterSeconds} s.`,
    { details: { retryAfterSeconds } },
  );
  return Object.assign(error, { statusCode });
}

/** The Vary header with `more` added to what the reply already varies on (CORS sets `Origin`). */
export function mergeVary(reply: FastifyReply, more: string | null): string {
  const names = [String(reply.getHeader('vary') ?? ''), more ?? '']
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  const seen = new Set<string>();
  return names.filter((n) => !seen.has(n.toLowerCase()) && seen.add(n.toLowerCase())).join(', ');
}

type TrpcRequest = FastifyRequest<{
  Params: { path: string };
  Querystring: { input?: string; batch?: string };
}>;

/**
 * tRPC over HTTP at `/:path` of its prefix (register it with `prefix: '/trpc'`), through tRPC's
 * public handler API: `resolveResponse` on the web Request that `incomingMessageToRequest` makes of
 * Fastify's request, answered through Fastify's reply. Batches, mutations, uploads (multipart form
 * data and raw bytes, read by tRPC from the stream, stopped at the cap) and SSE subscriptions
 * (`jobs.onUpdate`) all go that way.
 *
 * The commonest call, one query over GET, goes to `callTRPCProcedure` (public too) without the web
 * Request/Response around it: the same middlewares, validation, error shape ({@link errorBody}) and
 * status, for less CPU per call (bench/api-bench.ts). A path that has no query (an unknown path, a
 * mutation or subscription sent with GET) falls back to `resolveResponse` with the same context,
 * which answers it as tRPC does (404, 405, or the event stream). This path sends `data` as JSON
 * as is: the router has no data transformer.
 *
 * Errors raised before a procedure runs (a body over its cap, an unknown content type, a batch too
 * large, the rate limit) are answered in tRPC's error shape with an Atelier code, and Retry-After
 * when the error says when to come back. tRPC's Vary joins the reply's (CORS's `Origin`).
 *
 * @example
 * await app.register(trpcPlugin, { prefix: '/trpc', router: appRouter, createContext, maxBatchSize: 20, maxUploadBytes, maxJsonBytes });
 */
export async function trpcPlugin<TRouter extends AnyTRPCRouter>(
  scope: FastifyInstance,
  options: TrpcPluginOptions<TRouter>,
): Promise<void> {
  const { router, createContext, maxBatchSize, maxUploadBytes, maxJsonBytes, countCall, batchUpload } =
    options;
  // tRPC reads bodies itself: JSON as text; uploads (multipart form data or raw bytes) from the stream.
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: maxJsonBytes },
    (_req, body, done) => done(null, body),
  );
  // An upload over the cap (plus room for the form's own parts) is refused before it is read
  // when its Content-Length says so, and stopped at the cap when it comes chunked; the procedure
  // checks the file's own size.
  const maxUploadBody = maxUploadBytes + 1024 * 1024;
  /** The batch cap when the request calls a batch-upload procedure (a path of its own: uploads are never batched). */
  const batchCapOf = (req: FastifyRequest): number | undefined => {
    const params = req.params;
    const path = typeof params === 'object' && params !== null && 'path' in params ? params.path : undefined;
    return batchUpload && typeof path === 'string' && batchUpload.paths.includes(path)
      ? batchUpload.maxBytes
      : undefined;
  };
  const bodyCapOf = (req: FastifyRequest): number => {
    const batchCap = batchCapOf(req);
    return batchCap === undefined ? maxUploadBody : batchCap + 1024 * 1024;
  };
  scope.addContentTypeParser(['multipart/form-data', 'application/octet-stream'], (req, payload, done) => {
    const length = Number(req.headers['content-length']);
    if (length > bodyCapOf(req)) {
      const batchCap = batchCapOf(req);
      return done(
        batchCap === undefined ? imageTooLarge(maxUploadBytes) : uploadBatchTooLarge(batchCap, length),
      );
    }
    done(null, payload);
  });

  scope.setErrorHandler((fault: FastifyError, req, reply) => {
    const status = isAtelierError(fault)
      ? fault.status
      : fault.statusCode && fault.statusCode >= 400 && fault.statusCode < 500
        ? fault.statusCode
        : 500;
    if (status === 500) req.log.error({ err: fault }, 'tRPC request failed');
    const contentType = req.headers['content-type'] ?? '';
    const coded = fastifyErrorAsAtelier(fault, status, {
      id: req.id,
      headers: req.headers,
      upload: contentType.startsWith('multipart/') || contentType === 'application/octet-stream',
      maxUploadBytes,
      maxBatchUploadBytes: batchCapOf(req),
      maxJsonBytes,
    });
    // Refused for its size before its whole body was read: closed after the answer, as above.
    if (status === 413 && !req.raw.complete) reply.header('connection', 'close');
    const retryAfter = coded.details?.['retryAfterSeconds'];
    if (typeof retryAfter === 'number') reply.header('retry-after', String(Math.ceil(retryAfter)));
    const error = toTRPCError(coded);
    // No context exists yet, so the request id comes from the request itself.
    const body = { error: errorBody('trpc', failureOf(error, { requestId: req.id })) };
    return reply
      .code(getHTTPStatusCodeFromError(error))
      .header('content-type', 'application/json')
      .send(JSON.stringify(body));
  });

  /** Refuses a batch over the cap, and counts its calls after the first against the rate limit. */
  const countBatch = async (req: TrpcRequest): Promise<void> => {
    const batch: unknown = req.query.batch;
    // As tRPC reads it: `batch=1` (the first when given several) makes the path a comma-separated list.
    if ((Array.isArray(batch) ? batch[0] : batch) !== '1') return;
    const calls = req.params.path.split(',').length;
    if (calls > maxBatchSize)
      throw new AtelierError(
        'BATCH_TOO_LARGE',
        `This batch has ${calls} calls; the server takes at most ${maxBatchSize} in one request. Split it (httpBatchLink's maxItems).`,
        { details: { calls, maxBatchSize } },
      );
    if (!countCall) return;
    for (let i = 1; i < calls; i++) {
      const limit = await countCall(req);
      if (!limit.isAllowed && limit.isExceeded) throw rateLimited(limit.ttlInSeconds, 429);
    }
  };

  const logInternal = (req: FastifyRequest, error: TRPCError, path: string | undefined) => {
    if (error.code === 'INTERNAL_SERVER_ERROR')
      req.log.error({ path, err: error.cause ?? error }, 'procedure failed');
  };

  /**
   * One query over GET, straight to the procedure: the answer's body, or the context when the path
   * has no query (resolveResponse answers it then, with the same context).
   */
  const callQuery = async (
    req: TrpcRequest,
    reply: FastifyReply,
    path: string,
  ): Promise<{ body: string } | { context: inferRouterContext<TRouter> }> => {
    // The first `input` when given several, as URLSearchParams.get reads it.
    const given: unknown = req.query.input;
    const raw = Array.isArray(given) ? (given[0] as unknown) : given;
    let ctx: inferRouterContext<TRouter> | undefined;
    try {
      ctx = await createContext(req, reply);
      const data: unknown = await callTRPCProcedure({
        router,
        path,
        ctx,
        type: 'query',
        signal: undefined,
        batchIndex: 0,
        getRawInput: async () => {
          // As tRPC's own handler reads it: no (or an empty) input is undefined, bad JSON a BAD_REQUEST.
          if (typeof raw !== 'string' || raw === '') return undefined;
          try {
            return JSON.parse(raw) as unknown;
          } catch (cause) {
            throw new TRPCError({
              code: 'BAD_REQUEST',
              message: cause instanceof Error ? cause.message : 'Invalid input',
              cause,
            });
          }
        },
      });
      reply.code(200);
      return { body: JSON.stringify({ result: { data } }) };
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      // tRPC's own "no query at this path": no procedure ran.
      if (ctx !== undefined && error.code === 'NOT_FOUND' && error.cause === undefined)
        return { context: ctx };
      logInternal(req, error, path);
      reply.code(getHTTPStatusCodeFromError(error));
      // As resolveResponse answers: the request id is the context's, none when it failed to build.
      const requestId = ctx === undefined ? null : req.id;
      return { body: JSON.stringify({ error: errorBody('trpc', failureOf(error, { requestId, path })) }) };
    }
  };

  const resolveHttp = async (
    req: TrpcRequest,
    reply: FastifyReply,
    context: () => Promise<inferRouterContext<TRouter>>,
  ): Promise<FastifyReply> => {
    const raw: NodeHTTPRequest = req.raw;
    raw.body = req.body; // tRPC takes a parsed body (or the upload stream) from here
    const response = await resolveResponse<TRouter>({
      router,
      // Bodies tRPC reads from the stream (uploads) stop at the cap: a chunked one has no length.
      req: incomingMessageToRequest(raw, reply.raw, { maxBodySize: bodyCapOf(req) }),
      path: req.params.path,
      error: null,
      maxBatchSize,
      createContext: context,
      onError: ({ error, path }) => logInternal(req, error, path),
    });
    response.headers.set('vary', mergeVary(reply, response.headers.get('vary')));
    // An upload stopped at the cap: the rest of its body is what the cap refuses to read, so the
    // connection closes after the answer (kept open, the server would wait for a body the client
    // may no longer send). Other early answers (a refused session) keep it: Node reads the rest.
    if (response.status === 413 && !raw.complete) response.headers.set('connection', 'close');
    // Streams (SSE subscriptions, jsonl batches) go to Fastify as the web Response; a plain JSON
    // answer as one string with a Content-Length.
    if (
      response.headers.get('content-type') !== 'application/json' ||
      response.headers.has('transfer-encoding')
    )
      return reply.send(response);
    reply.code(response.status);
    for (const [name, value] of response.headers) reply.header(name, value);
    return reply.send(await response.text());
  };

  scope.all<{ Params: { path: string }; Querystring: { input?: string; batch?: string } }>(
    '/:path',
    async (req, reply) => {
      await countBatch(req);
      if (req.method === 'GET' && req.query.batch === undefined && !req.headers['trpc-accept']) {
        const answer = await callQuery(req, reply, req.params.path);
        if ('context' in answer) return resolveHttp(req, reply, () => Promise.resolve(answer.context));
        reply.header('vary', mergeVary(reply, 'trpc-accept, accept'));
        reply.header('content-type', 'application/json');
        return reply.send(answer.body);
      }
      return resolveHttp(req, reply, () => createContext(req, reply));
    },
  );
}
