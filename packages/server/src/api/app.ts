import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import { getTRPCErrorShape } from '@trpc/server';
import { incomingMessageToRequest } from '@trpc/server/adapters/node-http';
import { getHTTPStatusCodeFromError, resolveResponse } from '@trpc/server/http';
import {
  getErrorShape,
  getProcedureAtPath,
  getTRPCErrorFromUnknown,
  transformTRPCResponse,
  TRPCError,
} from '@trpc/server/unstable-core-do-not-import';
import type { AnyProcedure } from '@trpc/server/unstable-core-do-not-import';
import Fastify from 'fastify';
import helmet from 'helmet';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pino from 'pino';
import client from 'prom-client';
import { AtelierError, CONTENT_TYPES, DEFAULT_LIMITS, isAtelierError } from '@atelier/core';
import type { InputFormat } from '@atelier/core';
import { databaseUnavailable } from '@atelier/db';
import type { ApiServices } from './context.ts';
import { createContext } from './context.ts';
import { fastifyErrorAsAtelier, imageTooLarge, toTRPCError } from './errors.ts';
import { createOpenApiDocument, openApiDocs } from './openapi.ts';
import { JSON_BODY_LIMIT, restApi } from './rest-api.ts';
import { appRouter } from './router.ts';
import type { AppRouter } from './router.ts';
import { verifyPath } from './signed-url.ts';

/**
 * helmet's options: its defaults, but no Content-Security-Policy (the API answers JSON and files;
 * Swagger UI at /docs would need its own) and Cross-Origin-Resource-Policy same-site.
 */
const SECURITY_HEADERS = {
  contentSecurityPolicy: false,
  crossOriginResourcePolicy: { policy: 'same-site' },
} as const;

/** Options of {@link buildApp}. */
export interface AppOptions {
  readonly logger?: pino.Logger | boolean;
  /** Requests per minute per IP across the API; each call of a tRPC batch counts. @default 600 */
  readonly rateLimitPerMinute?: number;
  /** The most calls one tRPC batch may have; a larger one is refused with BATCH_TOO_LARGE. @default 20 */
  readonly maxBatchSize?: number;
  /**
   * Fastify's `trustProxy` (`ATELIER_TRUST_PROXY`): only with it set does the client IP (rate
   * limits, sign-in and registration throttles, sessions' last IP) come from X-Forwarded-For.
   * @default false
   */
  readonly trustProxy?: boolean | string[];
  /** A bearer token that may read /metrics besides administrators' sessions (`ATELIER_METRICS_TOKEN`). */
  readonly metricsToken?: string | undefined;
}

/** The HTTP methods REST routes use, for CORS preflights. */
const CORS_METHODS = ['GET', 'HEAD', 'POST', 'DELETE'];

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/** The Vary header with `more` added to what the reply already varies on (CORS sets `Origin`). */
function mergeVary(reply: FastifyReply, more: string | null): string {
  const names = [String(reply.getHeader('vary') ?? ''), more ?? '']
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
  const seen = new Set<string>();
  return names.filter((n) => !seen.has(n.toLowerCase()) && seen.add(n.toLowerCase())).join(', ');
}

/**
 * The HTTP front door: tRPC at /trpc, the same procedures as REST at /api (OpenAPI document at
 * /openapi.json, docs page at /docs), file downloads at /files, health at /healthz and /readyz,
 * Prometheus metrics at /metrics, with CORS, security headers, rate limits, request ids and
 * structured logs (no secrets: cookies and Authorization headers are redacted).
 */
export async function buildApp(api: ApiServices, options: AppOptions = {}): Promise<FastifyInstance> {
  const maxUpload = api.limits.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes;
  const app = Fastify({
    ...(typeof options.logger === 'object'
      ? { loggerInstance: options.logger as unknown as FastifyBaseLogger }
      : { logger: options.logger ?? false }),
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,100}$/.test(given) ? given : randomUUID();
    },
    requestIdHeader: false,
    bodyLimit: maxUpload + 1024 * 1024,
    routerOptions: { maxParamLength: 5000 },
    trustProxy: options.trustProxy ?? false,
    // Open progress streams must not hold a shutdown up: close every connection on close().
    forceCloseConnections: true,
  });

  const metrics = new client.Registry();
  client.collectDefaultMetrics({ register: metrics });
  const httpDuration = new client.Histogram({
    name: 'atelier_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [metrics],
  });
  new client.Gauge({
    name: 'atelier_queue_jobs',
    help: 'Jobs by status',
    labelNames: ['status'],
    registers: [metrics],
    async collect() {
      const counts = await api.stats.jobsByStatus();
      this.reset();
      for (const [status, n] of Object.entries(counts)) if (n > 0) this.set({ status }, n);
    },
  });
  new client.Gauge({
    name: 'atelier_job_duration_seconds_sum',
    help: 'Total processing time of finished jobs by style (see also count)',
    labelNames: ['style'],
    registers: [metrics],
    async collect() {
      const rows = await api.stats.processingSecondsByStyle();
      this.reset();
      for (const row of rows) this.set({ style: row.style }, row.seconds);
    },
  });
  new client.Gauge({
    name: 'atelier_jobs_failed',
    help: 'Failed jobs by style and error code',
    labelNames: ['style', 'code'],
    registers: [metrics],
    async collect() {
      const rows = await api.stats.failuresByStyleAndCode();
      this.reset();
      for (const row of rows) this.set({ style: row.style, code: row.code ?? 'unknown' }, row.count);
    },
  });

  // Callback hooks, not async ones: they run on every response, and need no promise.
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-request-id', req.id);
    done(null, payload);
  });
  app.addHook('onResponse', (req, reply, done) => {
    httpDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unknown', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });

  // Security headers: helmet's, from its middleware built once. @fastify/helmet 13 calls
  // helmet(options) again inside its hook on every request, rebuilding the whole middleware each
  // time: about 60 µs of CPU a request on the benchmark machine (app.inject against a bare route).
  const securityHeaders = helmet(SECURITY_HEADERS);
  app.addHook('onRequest', (req, reply, done) =>
    securityHeaders(req.raw, reply.raw, (error?: unknown) =>
      done(error instanceof Error ? error : undefined),
    ),
  );
  await app.register(cors, {
    origin: (origin, cb) => cb(null, origin === undefined || api.allowedOrigins.includes(origin)),
    credentials: true,
    methods: CORS_METHODS,
    exposedHeaders: ['x-request-id', 'retry-after'],
  });
  await app.register(rateLimit, {
    max: options.rateLimitPerMinute ?? 600,
    timeWindow: '1 minute',
    allowList: (req) => req.url === '/healthz' || req.url === '/readyz',
    // A coded error; `statusCode` for the REST scope's and Fastify's own error handlers.
    errorResponseBuilder: (_req, context) => rateLimited(Math.ceil(context.ttl / 1000), context.statusCode),
  });
  // Counts the further calls of a tRPC batch against the same per-IP budget (the first is counted
  // by the plugin's own hook, like every request).
  const countCall = app.createRateLimit();

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (req, reply) => {
    try {
      await api.health.ready();
      return { ok: true };
    } catch (error) {
      // Anyone may call it: what Postgres or the socket said (hosts, ports) goes to the log only.
      req.log.warn({ err: error }, 'not ready');
      const unavailable = databaseUnavailable(error);
      return reply.code(503).send({
        ok: false,
        code: unavailable?.code ?? 'INTERNAL',
        error: unavailable?.message ?? 'Not ready; see the server log.',
      });
    }
  });
  // Metrics tell Node's version, memory and per-route statistics: administrators' sessions and the
  // bearer token ATELIER_METRICS_TOKEN (for a Prometheus scraper) may read them, nobody else.
  const metricsToken = options.metricsToken ? sha256(options.metricsToken) : undefined;
  app.get('/metrics', async (req, reply) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!(metricsToken && bearer && timingSafeEqual(sha256(bearer), metricsToken))) {
      const ctx = await createContext(api, req, reply);
      if (!ctx.user)
        return reply.code(401).send({
          code: 'AUTH_REQUIRED',
          message: 'Metrics are for administrators: sign in as one, or send the metrics bearer token.',
        });
      if (ctx.user.role !== 'admin')
        return reply.code(403).send({ code: 'FORBIDDEN', message: 'Only administrators can read metrics.' });
    }
    return reply.type(metrics.contentType).send(await metrics.metrics());
  });

  // Downloads: the session (cookie or Bearer) of the owner, or a signed URL from images/jobs.downloadUrl.
  type FileRecord =
    | { kind: 'images'; record: Awaited<ReturnType<typeof api.jobs.getImage>> }
    | { kind: 'jobs'; record: Awaited<ReturnType<typeof api.jobs.get>> };
  const fileOf = async (kind: 'images' | 'jobs', id: string, ownerId?: string): Promise<FileRecord> =>
    kind === 'images'
      ? { kind, record: await api.jobs.getImage(id, ownerId) }
      : { kind, record: await api.jobs.get(id, ownerId) };
  // The file a signed URL grants, or undefined: the signature must be the owner's at their current
  // session epoch (signing out everywhere, a password change or disabling bumps it). A missing file
  // and a bad signature look alike. Malformed or expired URLs cost no query.
  const signedFile = async (
    kind: 'images' | 'jobs',
    id: string,
    expires: string | undefined,
    sig: string | undefined,
  ): Promise<FileRecord | undefined> => {
    if (!expires || !sig || !/^\d{1,12}$/.test(expires) || Number(expires) * 1000 < Date.now())
      return undefined;
    const file = await fileOf(kind, id).catch((error: unknown) => {
      if (isAtelierError(error) && (error.code === 'IMAGE_NOT_FOUND' || error.code === 'JOB_NOT_FOUND'))
        return undefined;
      throw error;
    });
    if (!file) return undefined;
    const epoch = await api.sessions.urlEpoch(file.record.ownerId);
    if (epoch === null) return undefined;
    const signer = { userId: file.record.ownerId, epoch };
    return verifyPath(api.urlSecret, `/files/${kind}/${id}`, expires, sig, signer) ? file : undefined;
  };
  const download = async (
    req: FastifyRequest<{ Params: { id: string }; Querystring: { expires?: string; sig?: string } }>,
    reply: FastifyReply,
    kind: 'images' | 'jobs',
  ) => {
    const { expires, sig } = req.query;
    try {
      let file = await signedFile(kind, req.params.id, expires, sig);
      if (!file) {
        const ctx = await createContext(api, req, reply);
        if (!ctx.user) {
          if (expires !== undefined || sig !== undefined)
            throw new AtelierError(
              'DOWNLOAD_URL_INVALID',
              'This download URL has expired or was revoked; ask for a new one.',
            );
          return reply
            .code(401)
            .send({ code: 'AUTH_REQUIRED', message: 'Sign in, or use a signed download URL.' });
        }
        file = await fileOf(kind, req.params.id, ctx.user.id);
      }
      let key: string;
      let format: string;
      let etag: string;
      if (file.kind === 'images') {
        const image = file.record;
        [key, format, etag] = [image.storageKey, image.format, image.sha256];
      } else {
        const job = file.record;
        if (!job.output)
          return reply.code(409).send({
            code: 'JOB_NOT_FINISHED',
            message: `Job ${job.id} is ${job.status}; it has no result yet.`,
          });
        [key, format, etag] = [
          job.output.key,
          job.output.format,
          `${job.planHash}-${job.output.key.split('/').pop()}`,
        ];
      }
      const quoted = `"${etag}"`;
      reply.header('etag', quoted).header('cache-control', 'private, max-age=31536000, immutable');
      if (req.headers['if-none-match'] === quoted) return reply.code(304).send();
      const { body, bytes } = await api.storage.stream(key);
      return reply
        .header('content-length', bytes)
        .type(CONTENT_TYPES[format as InputFormat] ?? 'application/octet-stream')
        .send(body);
    } catch (error) {
      const trpc = toTRPCError(error);
      const status = getHTTPStatusCodeFromError(trpc);
      const cause = isAtelierError(trpc.cause) ? trpc.cause : undefined;
      return reply.code(status).send({ code: cause ? cause.code : 'INTERNAL', message: trpc.message });
    }
  };
  app.get<{ Params: { id: string }; Querystring: { expires?: string; sig?: string } }>(
    '/files/images/:id',
    (req, reply) => download(req, reply, 'images'),
  );
  app.get<{ Params: { id: string }; Querystring: { expires?: string; sig?: string } }>(
    '/files/jobs/:id',
    (req, reply) => download(req, reply, 'jobs'),
  );

  // tRPC at /trpc. Not through fastifyTRPCPlugin: it copies its options (object spreads) on every
  // request and hands every answer to Fastify as a web Response, which Fastify sends chunked, a
  // stream read per chunk. Here a plain JSON answer goes out as one string with a Content-Length:
  // about 55 µs (11 %) less CPU per jobs.get (bench/api-bench.ts). Streams (SSE subscriptions,
  // jsonl batches) and everything else still go to Fastify as the Response, as the plugin does.
  await app.register(async (scope) => {
    // tRPC reads bodies itself: JSON as text; uploads (multipart form data or raw bytes) from the stream.
    scope.removeContentTypeParser('application/json');
    // One JSON body cap for tRPC and REST; uploads keep the upload cap (Fastify's bodyLimit).
    scope.addContentTypeParser(
      'application/json',
      { parseAs: 'string', bodyLimit: JSON_BODY_LIMIT },
      (_req, body, done) => done(null, body),
    );
    // An upload over the cap (plus room for the form's own parts) is refused before it is read
    // when its Content-Length says so, and stopped at the cap when it comes chunked; the procedure
    // checks the file's own size.
    const maxUploadBody = maxUpload + 1024 * 1024;
    scope.addContentTypeParser(['multipart/form-data', 'application/octet-stream'], (req, payload, done) => {
      if (Number(req.headers['content-length']) > maxUploadBody) return done(imageTooLarge(maxUpload));
      done(null, payload);
    });
    const config = appRouter._def._config;
    const maxBatchSize = options.maxBatchSize ?? 20;
    // Errors raised before a procedure runs (a body over its cap, an unknown content type, a batch
    // too large, the rate limit): answered in tRPC's error shape, with an Atelier code as every
    // other answer has, and Retry-After when the error says when to come back.
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
        maxUploadBytes: maxUpload,
        maxJsonBytes: JSON_BODY_LIMIT,
      });
      const retryAfter = coded.details?.['retryAfterSeconds'];
      if (typeof retryAfter === 'number') reply.header('retry-after', String(Math.ceil(retryAfter)));
      const error = toTRPCError(coded);
      const shape = getTRPCErrorShape({
        config,
        error,
        type: 'unknown',
        path: undefined,
        input: undefined,
        ctx: undefined,
      });
      // No context exists yet, so the request id comes from the request itself.
      const body = { error: { ...shape, data: { ...shape.data, requestId: req.id } } };
      return reply
        .code(getHTTPStatusCodeFromError(error))
        .header('content-type', 'application/json')
        .send(JSON.stringify(body));
    });
    /** Refuses a batch over the cap, and counts its calls after the first against the rate limit. */
    const countBatch = async (
      req: FastifyRequest<{ Params: { path: string }; Querystring: { batch?: string } }>,
    ) => {
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
      for (let i = 1; i < calls; i++) {
        const limit = await countCall(req);
        if (!limit.isAllowed && limit.isExceeded) throw rateLimited(limit.ttlInSeconds, 429);
      }
    };
    const procedures = new Map<string, AnyProcedure | null>();
    const queryOf = async (path: string): Promise<AnyProcedure | null> => {
      if (!procedures.has(path)) procedures.set(path, await getProcedureAtPath(appRouter, path));
      const procedure = procedures.get(path) ?? null;
      return procedure?._def.type === 'query' ? procedure : null;
    };
    scope.all<{ Params: { path: string }; Querystring: { input?: string; batch?: string } }>(
      '/trpc/:path',
      async (req, reply) => {
        await countBatch(req);
        // The common call, a single query over GET, goes straight to the procedure: the same
        // middlewares, validation, error shapes and status codes as resolveResponse, without the
        // web Request/Response objects it builds around every call (bench/api-bench.ts).
        const path = req.params.path;
        const query =
          req.method === 'GET' && req.query.batch === undefined && !req.headers['trpc-accept']
            ? await queryOf(path)
            : null;
        if (query) return callQuery(query, path, req, reply);
        return resolveHttp(req, reply);
      },
    );
    const callQuery = async (
      procedure: AnyProcedure,
      path: string,
      req: FastifyRequest<{ Params: { path: string }; Querystring: { input?: string } }>,
      reply: FastifyReply,
    ): Promise<FastifyReply> => {
      // The first `input` when given several, as URLSearchParams.get reads it.
      const given: unknown = req.query.input;
      const raw = Array.isArray(given) ? (given[0] as unknown) : given;
      let input: unknown;
      let ctx: Awaited<ReturnType<typeof createContext>> | undefined;
      let body: unknown;
      try {
        ctx = await createContext(api, req, reply);
        const data: unknown = await procedure({
          path,
          ctx,
          type: 'query',
          signal: undefined,
          batchIndex: 0,
          getRawInput: async () => {
            // As tRPC's own adapter reads it: no (or an empty) input is undefined, bad JSON a BAD_REQUEST.
            if (typeof raw !== 'string' || raw === '') return undefined;
            let parsed: unknown;
            try {
              parsed = JSON.parse(raw);
            } catch (cause) {
              throw new TRPCError({
                code: 'BAD_REQUEST',
                message: cause instanceof Error ? cause.message : 'Invalid input',
                cause,
              });
            }
            input = config.transformer.input.deserialize(parsed);
            return input;
          },
        });
        body = { result: { data } };
        reply.code(200);
      } catch (cause) {
        const error = getTRPCErrorFromUnknown(cause);
        if (error.code === 'INTERNAL_SERVER_ERROR')
          app.log.error({ path, err: error.cause ?? error }, 'procedure failed');
        body = { error: getErrorShape({ config, ctx, error, input, path, type: 'query' }) };
        reply.code(getHTTPStatusCodeFromError(error));
      }
      reply.header('vary', mergeVary(reply, 'trpc-accept, accept'));
      reply.header('content-type', 'application/json');
      return reply.send(JSON.stringify(transformTRPCResponse(config, body as never)));
    };
    const resolveHttp = async (
      req: FastifyRequest<{ Params: { path: string } }>,
      reply: FastifyReply,
    ): Promise<FastifyReply> => {
      const raw: IncomingMessage & { body?: unknown } = req.raw;
      raw.body = req.body; // tRPC takes a parsed body (or the upload stream) from here
      const response = await resolveResponse<AppRouter>({
        router: appRouter,
        // Bodies tRPC reads from the stream (uploads) stop at the cap: a chunked one has no length.
        req: incomingMessageToRequest(raw, reply.raw, { maxBodySize: maxUploadBody }),
        path: req.params.path,
        error: null,
        maxBatchSize,
        createContext: () => createContext(api, req, reply),
        onError({ error, path }) {
          if (error.code === 'INTERNAL_SERVER_ERROR')
            app.log.error({ path, err: error.cause ?? error }, 'procedure failed');
        },
      });
      // tRPC's Vary joins the reply's (CORS's `Origin`) instead of replacing it.
      response.headers.set('vary', mergeVary(reply, response.headers.get('vary')));
      if (
        response.headers.get('content-type') !== 'application/json' ||
        response.headers.has('transfer-encoding')
      )
        return reply.send(response);
      reply.code(response.status);
      for (const [name, value] of response.headers) reply.header(name, value);
      return reply.send(await response.text());
    };
  });
  // REST and OpenAPI for clients that do not speak tRPC, each in its own scope (body parsers, error format).
  await app.register(restApi, { api, maxUploadBytes: maxUpload });
  await app.register(openApiDocs, { document: createOpenApiDocument() });
  return app;
}

/** RATE_LIMITED with `details.retryAfterSeconds`, and the status Fastify's error handlers read. */
function rateLimited(retryAfterSeconds: number, statusCode: number): AtelierError {
  const error = new AtelierError(
    'RATE_LIMITED',
    `Too many requests from this address. Try again in ${retryAfterSeconds} s.`,
    { details: { retryAfterSeconds } },
  );
  return Object.assign(error, { statusCode });
}
