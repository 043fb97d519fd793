import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import helmet from 'helmet';
import { DEFAULT_LIMITS } from '@atelier/core';
import type { ApiServices } from './context.ts';
import { createContext } from './context.ts';
import { authPlugin, oncePerRequest } from './http/auth.plugin.ts';
import { filesPlugin } from './http/files.plugin.ts';
import { healthPlugin } from './http/health.plugin.ts';
import { metricsPlugin } from './http/metrics.plugin.ts';
import { restPlugin } from './http/rest.plugin.ts';
import { stripeWebhookPlugin } from './http/stripe-webhook.plugin.ts';
import { rateLimited, trpcPlugin } from './http/trpc.plugin.ts';
import { webPlugin } from './http/web.plugin.ts';
import { DOCS_PATH, OPENAPI_PATH, createOpenApiDocument } from './openapi.ts';
import { JSON_BODY_LIMIT, REST_PREFIX } from './rest-api.ts';
import { appRouter } from './router.ts';

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
  /** A pino logger (`loggerInstance`), or whether Fastify logs with its own. @default false */
  readonly logger?: FastifyBaseLogger | boolean;
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
  /**
   * The built web app to serve at `/` (`ATELIER_WEB_DIR`; see {@link webPlugin}); none when
   * undefined (`ATELIER_WEB=off`). @default undefined
   */
  readonly web?: { readonly dir: string } | undefined;
}

/**
 * The paths the API owns: a GET under one of them that no route answers gets the API's 404,
 * never the web app's index.html.
 */
export const API_PREFIXES = [
  '/trpc',
  REST_PREFIX,
  '/files',
  DOCS_PATH,
  OPENAPI_PATH,
  '/healthz',
  '/readyz',
  '/metrics',
  '/webhooks',
] as const;

/** The HTTP methods REST routes use, for CORS preflights. */
const CORS_METHODS = ['GET', 'HEAD', 'POST', 'DELETE'];

/**
 * The HTTP front door: tRPC at /trpc, the same procedures as REST at /api (OpenAPI document at
 * /openapi.json, docs page at /docs), file downloads at /files, health at /healthz and /readyz,
 * Stripe's webhook at /webhooks/stripe,
 * Prometheus metrics at /metrics, the web app at / (when `options.web` names its build), with
 * CORS, security headers, rate limits, request ids and structured logs (no secrets: cookies and
 * Authorization headers are redacted).
 *
 * Each of those is a Fastify plugin under `./http/` that gets what it calls as its options; this
 * function makes the server, adds what every route shares (request ids, security headers, CORS,
 * the rate limit, the caller through {@link authPlugin}) and wires the plugins to the services.
 */
export async function buildApp(api: ApiServices, options: AppOptions = {}): Promise<FastifyInstance> {
  const maxUpload = api.limits.maxInputBytes ?? DEFAULT_LIMITS.maxInputBytes;
  const app = Fastify({
    ...(typeof options.logger === 'object'
      ? { loggerInstance: options.logger }
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

  // Callback hooks, not async ones: they run on every request, and need no promise.
  app.addHook('onSend', (req, reply, payload, done) => {
    reply.header('x-request-id', req.id);
    done(null, payload);
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
    // Probes, and the web app's hashed files (static, cached for a year by browsers: a page load
    // fetches a dozen of them, which must not eat into the API's allowance).
    // Stripe's webhooks: a burst of events from Stripe's few addresses must not be turned away
    // (a refused event is retried for days); each is checked by its signature before any query.
    allowList: (req) =>
      req.url === '/healthz' ||
      req.url === '/readyz' ||
      req.url === '/webhooks/stripe' ||
      (options.web !== undefined && req.url.startsWith('/assets/')),
    // A coded error; `statusCode` for the REST scope's and Fastify's own error handlers.
    errorResponseBuilder: (_req, context) => rateLimited(Math.ceil(context.ttl / 1000), context.statusCode),
  });

  // The caller (session from the Bearer token or the cookie, sliding expiry) is resolved once per
  // request, by whichever of tRPC's context, REST's, /metrics or /files asks first.
  const contextOf = oncePerRequest((req, reply) => createContext(api, req, reply));
  await app.register(authPlugin, { resolve: contextOf });

  await app.register(healthPlugin, { probe: api.health, details: () => ({ payments: api.payments.mode }) });
  await app.register(stripeWebhookPlugin, { target: api.payments });
  await app.register(metricsPlugin, { probe: api.stats, metricsToken: options.metricsToken });
  await app.register(filesPlugin, {
    files: {
      getImage: (id, ownerId) => api.jobs.getImage(id, ownerId),
      getJob: async (id, ownerId) => {
        const job = await api.jobs.get(id, ownerId);
        return {
          id: job.id,
          ownerId: job.ownerId,
          resultFile: (variant) => api.payments.resultFile(job, variant),
        };
      },
      stream: (key) => api.storage.stream(key),
      urlEpoch: (userId) => api.sessions.urlEpoch(userId),
    },
    urlSecret: api.urlSecret,
  });
  await app.register(trpcPlugin, {
    prefix: '/trpc',
    router: appRouter,
    createContext: contextOf,
    maxBatchSize: options.maxBatchSize ?? 20,
    maxUploadBytes: maxUpload,
    maxJsonBytes: JSON_BODY_LIMIT,
    batchUpload: { paths: ['images.uploadMany'], maxBytes: api.uploads.maxBatchBytes },
    // Counts the further calls of a batch against the same per-IP budget (the first is counted by
    // the rate-limit plugin's own hook, like every request).
    countCall: app.createRateLimit(),
  });
  await app.register(restPlugin, {
    createContext: contextOf,
    maxUploadBytes: maxUpload,
    maxBatchUploadBytes: api.uploads.maxBatchBytes,
    document: createOpenApiDocument(),
  });
  if (options.web) await app.register(webPlugin, { dir: options.web.dir, apiPrefixes: API_PREFIXES });
  return app;
}
