import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
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
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type pino from 'pino';
import client from 'prom-client';
import { sql } from 'kysely';
import { CONTENT_TYPES, DEFAULT_LIMITS, isAtelierError } from '@atelier/core';
import type { InputFormat } from '@atelier/core';
import { databaseUnavailable } from '@atelier/db';
import type { ApiServices } from './context.ts';
import { createContext } from './context.ts';
import { toTRPCError } from './errors.ts';
import { createOpenApiDocument, openApiDocs } from './openapi.ts';
import { restApi } from './rest-api.ts';
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
  /** Requests per minute per IP across the API. @default 600 */
  readonly rateLimitPerMinute?: number;
}

/**
 * The HTTP front door: tRPC at /trpc, the same procedures as REST at /api (OpenAPI document at
 * /openapi.json, docs page at /docs), file downloads at /files, health at /healthz and /readyz,
 * Prometheus metrics at /metrics, with CORS, security headers, rate limits, request ids and
 * structured logs (no secrets: cookies and Authorization headers are redacted).
 */
export async function buildApp(api: ApiServices, options: AppOptions = {}): Promise<FastifyInstance> {
  const maxUpload = api.core.config.limits.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes;
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
    trustProxy: false,
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
      const rows = await api.core.database.db
        .selectFrom('jobs')
        .select(['status', ({ fn }) => fn.countAll<string>().as('n')])
        .groupBy('status')
        .execute();
      this.reset();
      for (const row of rows) this.set({ status: row.status }, Number(row.n));
    },
  });
  new client.Gauge({
    name: 'atelier_job_duration_seconds_sum',
    help: 'Total processing time of finished jobs by style (see also count)',
    labelNames: ['style'],
    registers: [metrics],
    async collect() {
      const rows = await api.core.database.db
        .selectFrom('jobs')
        .select([
          'style',
          sql<number>`coalesce(sum(extract(epoch from finished_at - started_at)), 0)`.as('seconds'),
        ])
        .where('status', '=', 'succeeded')
        .where('from_cache', '=', false)
        .groupBy('style')
        .execute();
      this.reset();
      for (const row of rows) this.set({ style: row.style }, Number(row.seconds));
    },
  });
  new client.Gauge({
    name: 'atelier_jobs_failed',
    help: 'Failed jobs by style and error code',
    labelNames: ['style', 'code'],
    registers: [metrics],
    async collect() {
      const rows = await api.core.database.db
        .selectFrom('jobs')
        .select(['style', 'error_code', ({ fn }) => fn.countAll<string>().as('n')])
        .where('status', '=', 'failed')
        .groupBy(['style', 'error_code'])
        .execute();
      this.reset();
      for (const row of rows)
        this.set({ style: row.style, code: row.error_code ?? 'unknown' }, Number(row.n));
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
    exposedHeaders: ['x-request-id'],
  });
  await app.register(rateLimit, {
    max: options.rateLimitPerMinute ?? 600,
    timeWindow: '1 minute',
    allowList: (req) => req.url === '/healthz' || req.url === '/readyz' || req.url === '/metrics',
  });

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/readyz', async (req, reply) => {
    try {
      await sql`select 1`.execute(api.core.database.db);
      await api.core.boss.getQueue('atelier-render');
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
  app.get('/metrics', async (_req, reply) => reply.type(metrics.contentType).send(await metrics.metrics()));

  // Downloads: the session (cookie or Bearer) of the owner, or a signed URL from images/jobs.downloadUrl.
  const download = async (
    req: FastifyRequest<{ Params: { id: string }; Querystring: { expires?: string; sig?: string } }>,
    reply: FastifyReply,
    kind: 'images' | 'jobs',
  ) => {
    const path = `/files/${kind}/${req.params.id}`;
    let ownerId: string | undefined;
    try {
      if (!verifyPath(api.urlSecret, path, req.query.expires, req.query.sig)) {
        const ctx = await createContext(api, req, reply);
        if (!ctx.user)
          return reply
            .code(401)
            .send({ code: 'AUTH_REQUIRED', message: 'Sign in, or use a signed download URL.' });
        ownerId = ctx.user.id;
      }
      let key: string;
      let format: string;
      let etag: string;
      if (kind === 'images') {
        const image = await api.core.jobs.getImage(req.params.id, ownerId);
        [key, format, etag] = [image.storageKey, image.format, image.sha256];
      } else {
        const job = await api.core.jobs.get(req.params.id, ownerId);
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
      const { body, bytes } = await api.core.storage.stream(key);
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
    scope.addContentTypeParser('application/json', { parseAs: 'string' }, (_req, body, done) =>
      done(null, body),
    );
    scope.addContentTypeParser(['multipart/form-data', 'application/octet-stream'], (_req, payload, done) =>
      done(null, payload),
    );
    const config = appRouter._def._config;
    const procedures = new Map<string, AnyProcedure | null>();
    const queryOf = async (path: string): Promise<AnyProcedure | null> => {
      if (!procedures.has(path)) procedures.set(path, await getProcedureAtPath(appRouter, path));
      const procedure = procedures.get(path) ?? null;
      return procedure?._def.type === 'query' ? procedure : null;
    };
    scope.all<{ Params: { path: string }; Querystring: { input?: string; batch?: string } }>(
      '/trpc/:path',
      async (req, reply) => {
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
      reply.header('vary', 'trpc-accept, accept');
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
        req: incomingMessageToRequest(raw, reply.raw, { maxBodySize: null }),
        path: req.params.path,
        error: null,
        createContext: () => createContext(api, req, reply),
        onError({ error, path }) {
          if (error.code === 'INTERNAL_SERVER_ERROR')
            app.log.error({ path, err: error.cause ?? error }, 'procedure failed');
        },
      });
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
