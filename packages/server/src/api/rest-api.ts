import { getTRPCErrorFromUnknown } from '@trpc/server';
import type { inferRouterContext, TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fastifyTRPCOpenApiPlugin } from 'trpc-to-openapi';
import type { CreateOpenApiFastifyPluginOptions, GenerateOpenApiDocumentOptions } from 'trpc-to-openapi';
import { z } from 'zod';
import { AtelierError, ERROR_CODES } from '@atelier/core';
import type { ErrorCode } from '@atelier/core';
import { errorBody, failureOf, invalidInputMessage } from './error-body.ts';
import type { ErrorData } from './error-body.ts';
import { fastifyErrorAsAtelier } from './errors.ts';
import type { InputIssue } from './errors.ts';
import { createJobInput } from './jobs.router.ts';
import type { CreateJobInput } from './jobs.router.ts';
import { jobSchema, pluginInstallSchema, uploadManySchema, uploadedImageSchema } from './response-schemas.ts';
import { appRouter } from './router.ts';
import type { AppRouter } from './router.ts';
import { createCallerFactory } from './trpc.ts';
import { PLUGIN_PACKAGE_MAX_BYTES } from '../plugin-packages.ts';

/** Where the REST routes live; procedures' `meta.openapi.path` is relative to it. */
export const REST_PREFIX = '/api';

/** JSON bodies are small (ids, parameters); images come as raw bytes. The same cap holds at /trpc. */
export const JSON_BODY_LIMIT = 1024 * 1024;

/** Options of {@link restApi}. */
export interface RestApiOptions {
  /** The context of a request's procedure (the caller, resolved once per request). */
  readonly createContext: (
    request: FastifyRequest,
    reply: FastifyReply,
  ) => Promise<inferRouterContext<AppRouter>>;
  /** The upload cap in bytes, the same as `images.upload`'s. */
  readonly maxUploadBytes: number;
  /** The cap of a batch upload's files (`POST /api/images/batch`), the same as `images.uploadMany`'s. */
  readonly maxBatchUploadBytes: number;
}

/**
 * The REST face of the API for clients that do not speak tRPC: every query and JSON mutation with
 * `meta.openapi` is served under /api by trpc-to-openapi, through the same procedures (and so the
 * same validation, sessions and error codes) as /trpc. Two routes are written here because the
 * library cannot carry them: `POST /api/images` takes the raw image bytes (tRPC takes FormData), and
 * `POST /api/jobs` takes a union of shapes (the library takes only object inputs). Both call the
 * procedure itself.
 *
 * Errors are JSON `{ message, code, issues?, data }` with tRPC's HTTP status for `code`; an input
 * that fails validation gets a message that names each bad field.
 *
 * @example
 * await app.register(restApi, { createContext, maxUploadBytes: 50 * 1024 * 1024 });
 */
export async function restApi(scope: FastifyInstance, options: RestApiOptions): Promise<void> {
  const { createContext, maxUploadBytes, maxBatchUploadBytes } = options;
  const createCaller = createCallerFactory(appRouter);

  // An empty JSON body counts as no input (for POST /api/jobs/{id}/cancel and the like).
  const parseJson = scope.getDefaultJsonParser('error', 'error');
  scope.removeContentTypeParser('application/json');
  scope.addContentTypeParser(
    'application/json',
    { parseAs: 'string', bodyLimit: JSON_BODY_LIMIT },
    (req, body: string, done) => (body === '' ? done(null, undefined) : parseJson(req, body, done)),
  );
  const rawBytes = (_req: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) =>
    done(null, body);
  scope.addContentTypeParser(/^image\//, { parseAs: 'buffer', bodyLimit: maxUploadBytes }, rawBytes);
  scope.addContentTypeParser(
    'application/octet-stream',
    { parseAs: 'buffer', bodyLimit: maxUploadBytes },
    rawBytes,
  );
  // Plugin package uploads (POST /api/admin/plugin-packages): a form with the tarball, or the tarball.
  const packageLimit = PLUGIN_PACKAGE_MAX_BYTES + 1024 * 1024;
  scope.addContentTypeParser('multipart/form-data', { parseAs: 'buffer', bodyLimit: packageLimit }, rawBytes);
  scope.addContentTypeParser(
    ['application/gzip', 'application/x-gzip', 'application/x-tar'],
    { parseAs: 'buffer', bodyLimit: packageLimit },
    rawBytes,
  );

  // trpc-to-openapi matches path parameters in the URL as sent, still percent-encoded: a plugin id
  // sent as `acme%3Amosaic` would be looked up as that. Decoded here, segment by segment.
  scope.addHook('preHandler', async (req) => {
    req.raw.url = decodePathSegments(req.raw.url ?? '/');
  });

  // trpc-to-openapi wants a JSON content type on every POST, even one without a body.
  scope.addHook('preHandler', async (req) => {
    if (
      req.method !== 'GET' &&
      req.method !== 'DELETE' &&
      req.body === undefined &&
      req.headers['content-type'] === undefined
    ) {
      req.headers['content-type'] = 'application/json';
    }
  });

  // trpc-to-openapi replaces the message of invalid input with "Input validation failed", and
  // answers a path it does not know before any context (and so request id) exists: its body is
  // built again by errorBody, with the message that names each bad field and the request id.
  scope.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode < 400 || typeof payload !== 'string' || !payload.startsWith('{')) return payload;
    const body = JSON.parse(payload) as Partial<RestErrorFields>;
    const data = body.data;
    if (!data || !isErrorCode(data.atelierCode)) return payload;
    const issues = reply.statusCode === 400 && Array.isArray(body.issues) ? body.issues : undefined;
    let message = body.message ?? '';
    if (issues) message = invalidInputMessage(issues);
    else if (data.atelierCode === 'PROCEDURE_NOT_FOUND') {
      // trpc-to-openapi has taken the prefix off the URL by now.
      const path = req.originalUrl.split('?')[0] ?? '';
      message = `No route is ${req.method} ${path.startsWith(`${REST_PREFIX}/`) ? path : REST_PREFIX + path}; /openapi.json lists the routes.`;
    } else if (data.requestId) return payload;
    return JSON.stringify(
      errorBody('rest', {
        error: new AtelierError(
          data.atelierCode,
          message,
          data.details ? { details: { ...data.details } } : {},
        ),
        status: data.httpStatus,
        ...(body.code ? { trpcCode: body.code } : {}),
        path: data.path,
        requestId: data.requestId ?? req.id,
        issues: body.issues,
      }),
    );
  });

  /** Sends an AtelierError in the shape every REST error has (`data.atelierCode` included). */
  const sendCoded = (req: FastifyRequest, reply: FastifyReply, status: number, coded: AtelierError) =>
    reply.code(status).send(errorBody('rest', { error: coded, status, path: null, requestId: req.id }));

  // Errors Fastify raises before a handler runs (a malformed body, an unknown content type, a
  // body over the limit, the rate limit): the same shape and codes as the procedures' errors.
  scope.setErrorHandler((error: FastifyError, req, reply) => {
    const status =
      error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) req.log.error({ err: error }, 'REST request failed');
    const path = req.url.split('?')[0];
    const coded = fastifyErrorAsAtelier(error, status, {
      id: req.id,
      headers: req.headers,
      upload: path === `${REST_PREFIX}/images`,
      maxUploadBytes,
      maxBatchUploadBytes: path === BATCH_UPLOAD_PATH ? maxBatchUploadBytes : undefined,
      maxJsonBytes: JSON_BODY_LIMIT,
    });
    return sendCoded(req, reply, status, coded);
  });

  const procedures: CreateOpenApiFastifyPluginOptions<AppRouter> = {
    basePath: REST_PREFIX,
    router: appRouter,
    // The Fastify adapter hands over Fastify's own request and reply.
    createContext: ({ req, res }) => createContext(req as FastifyRequest, res as FastifyReply),
    onError({ error, path }) {
      if (error.code === 'INTERNAL_SERVER_ERROR')
        scope.log.error({ path, err: error.cause ?? error }, 'procedure failed');
    },
  };
  await scope.register(fastifyTRPCOpenApiPlugin, procedures);

  /** Calls a procedure from a hand-written route and answers its errors as trpc-to-openapi does. */
  const call = async (
    req: FastifyRequest,
    reply: FastifyReply,
    path: string,
    run: (caller: ReturnType<typeof createCaller>) => Promise<unknown>,
  ) => {
    const ctx = await createContext(req, reply);
    try {
      return await run(createCaller(ctx));
    } catch (cause) {
      const error = getTRPCErrorFromUnknown(cause);
      if (error.code === 'INTERNAL_SERVER_ERROR')
        req.log.error({ path, err: error.cause ?? error }, 'procedure failed');
      return reply
        .code(getHTTPStatusCodeFromError(error))
        .send(errorBody('rest', failureOf(error, { requestId: ctx.requestId, path })));
    }
  };

  scope.post<{ Querystring: { name?: string; waitForAnalysisMs?: string } }>(
    `${REST_PREFIX}/images`,
    async (req, reply) => {
      if (req.body !== undefined && !Buffer.isBuffer(req.body)) {
        return sendCoded(req, reply, 415, new AtelierError('CONTENT_TYPE_UNSUPPORTED', UPLOAD_HINT));
      }
      const bytes = req.body ?? Buffer.alloc(0);
      const form = new FormData();
      // A copy on a plain ArrayBuffer: Blob takes no Buffer over a possibly shared one (DOM typings).
      form.set('file', new Blob([Uint8Array.from(bytes)]));
      // The procedure falls back to the file's name, which FormData sets to "blob": an empty name means none.
      form.set('name', typeof req.query.name === 'string' ? req.query.name : '');
      if (typeof req.query.waitForAnalysisMs === 'string')
        form.set('waitForAnalysisMs', req.query.waitForAnalysisMs);
      return call(req, reply, 'images.upload', (caller) => caller.images.upload(form));
    },
  );

  // Several photos in one request: multipart/form-data with `file` fields (and optional `name`
  // fields), read by the same WHATWG parser as plugin packages. Its body cap is the batch cap.
  scope.post(BATCH_UPLOAD_PATH, { bodyLimit: maxBatchUploadBytes + 1024 * 1024 }, async (req, reply) => {
    const type = req.headers['content-type'] ?? '';
    // Anything else reaches the procedure without a file: it answers a missing session first, then
    // PARAMS_INVALID naming the form it wants.
    let form = new FormData();
    if (Buffer.isBuffer(req.body) && /^multipart\/form-data/i.test(type)) {
      const read = await readForm(req.body, type);
      if (read instanceof AtelierError) return sendCoded(req, reply, 400, read);
      form = read;
    } else if (req.body !== undefined) {
      return sendCoded(
        req,
        reply,
        415,
        new AtelierError(
          'CONTENT_TYPE_UNSUPPORTED',
          'Send the images as multipart/form-data, each in a form field "file".',
        ),
      );
    }
    return call(req, reply, 'images.uploadMany', (caller) => caller.images.uploadMany(form));
  });

  scope.post(`${REST_PREFIX}/admin/plugin-packages`, async (req, reply) => {
    const type = req.headers['content-type'] ?? '';
    // Anything else (JSON, no body) reaches the procedure without a file: it answers the caller's
    // missing session or role first, then PARAMS_INVALID.
    let form = new FormData();
    if (!Buffer.isBuffer(req.body)) {
      // nothing to read
    } else if (/^multipart\/form-data/i.test(type)) {
      const read = await readForm(req.body, type);
      if (read instanceof AtelierError) return sendCoded(req, reply, 400, read);
      form = read;
    } else {
      form.set('file', new Blob([Uint8Array.from(req.body)]));
    }
    return call(req, reply, 'admin.installPluginPackage', (caller) =>
      caller.admin.installPluginPackage(form),
    );
  });

  scope.post(`${REST_PREFIX}/jobs`, async (req, reply) =>
    call(req, reply, 'jobs.create', (caller) => caller.jobs.create(req.body as CreateJobInput)),
  );
}

/**
 * A multipart/form-data body as FormData, by the WHATWG parser Node ships (undici's
 * Response.formData) over the bytes Fastify read; `REQUEST_MALFORMED` when it does not parse.
 */
async function readForm(body: Buffer, contentType: string): Promise<FormData | AtelierError> {
  try {
    return await new Response(Uint8Array.from(body), { headers: { 'content-type': contentType } }).formData();
  } catch (error) {
    return new AtelierError(
      'REQUEST_MALFORMED',
      `The multipart body cannot be read: ${(error as Error).message}`,
    );
  }
}

/**
 * `/api/admin/plugins/acme%3Amosaic?x=%3A` → `/api/admin/plugins/acme:mosaic?x=%3A`: each path
 * segment decoded, except for the characters that would change how the URL splits (`/`, `?`, `#`,
 * `%`); a segment that is not valid percent-encoding stays as it is. The query is left alone.
 */
export function decodePathSegments(url: string): string {
  const at = url.search(/[?#]/);
  const [path, rest] = at === -1 ? [url, ''] : [url.slice(0, at), url.slice(at)];
  const decoded = path
    .split('/')
    .map((segment) => {
      try {
        return decodeURIComponent(segment).replace(/[/?#%]/g, encodeURIComponent);
      } catch {
        return segment;
      }
    })
    .join('/');
  return decoded + rest;
}

/** What a REST error body may hold, as trpc-to-openapi sends it. */
interface RestErrorFields {
  readonly message: string;
  readonly code: TRPC_ERROR_CODE_KEY;
  readonly issues: readonly InputIssue[];
  readonly data: Omit<ErrorData, 'atelierCode'> & { readonly atelierCode: string | null };
}

const isErrorCode = (code: unknown): code is ErrorCode => typeof code === 'string' && code in ERROR_CODES;

/** The batch upload route (`images.uploadMany`). */
const BATCH_UPLOAD_PATH = `${REST_PREFIX}/images/batch`;

const UPLOAD_HINT =
  'Send the image as the raw request body with Content-Type image/* or application/octet-stream.';

type PathsObject = NonNullable<GenerateOpenApiDocumentOptions['paths']>;

const errorRef = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});
const binary = { schema: { type: 'string', format: 'binary' } } as const;

/** The OpenAPI path items of the routes written here, relative to {@link REST_PREFIX}. */
export const restRoutePaths: PathsObject = {
  '/images': {
    post: {
      operationId: 'images-upload',
      tags: ['images'],
      summary: 'Upload a photo as the raw request body',
      description:
        'The body is the image file itself (JPEG, PNG, WebP, GIF, AVIF or TIFF). The size cap and format sniffing run before any decoding; a rejected upload stores nothing. Uploading the same bytes twice returns the same image.',
      security: [{ bearer: [] }, { cookie: [] }],
      requestParams: {
        query: z.object({
          name: z
            .string()
            .max(255)
            .optional()
            .meta({ description: 'The original file name, kept for display.' }),
          waitForAnalysisMs: z.string().regex(/^\d+$/).optional().meta({
            description:
              'Wait up to this many milliseconds (at most 10000) for the queued analysis, so that `duplicates` says which of your images this one nearly duplicates. Default 0: answer at once.',
          }),
        }),
      },
      requestBody: { required: true, content: { 'image/*': binary, 'application/octet-stream': binary } },
      responses: {
        200: {
          description: 'The stored image, whether it was already uploaded, and its near-duplicates',
          content: { 'application/json': { schema: uploadedImageSchema } },
        },
        400: errorRef('The body is empty'),
        401: errorRef('No session'),
        403: errorRef('A cookie session without a trusted Origin'),
        413: errorRef('The file has more bytes or pixels than the limits'),
        415: errorRef('Not an image format Atelier reads'),
        422: errorRef('The file is damaged or truncated'),
      },
    },
  },
  '/images/batch': {
    post: {
      operationId: 'images-uploadMany',
      tags: ['images'],
      summary: 'Upload several photos in one request, with one result per file',
      description:
        'multipart/form-data with one `file` field per photo (JPEG, PNG, WebP, GIF, AVIF or TIFF) and, optionally, `name` fields: the n-th `name` names the n-th file (an empty one keeps the file name). Each file is checked and stored on its own, in order, as `POST /api/images` stores one: the answer has one result per file, `{ index, name, ok: true, image }` or `{ index, name, ok: false, error: { code, message, details } }`. A failed file (too large, not an image, damaged, over your storage quota) stores nothing; the files around it are stored all the same. The same photo twice gives the same image. The request as a whole is refused, storing nothing, when it has more files than the server takes (`UPLOAD_TOO_MANY_FILES`, 50 by default) or more bytes (`UPLOAD_BATCH_TOO_LARGE`, 100 MiB by default).',
      security: [{ bearer: [] }, { cookie: [] }],
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              properties: {
                file: { type: 'array', items: { type: 'string', format: 'binary' } },
                name: { type: 'array', items: { type: 'string', maxLength: 255 } },
                waitForAnalysisMs: {
                  type: 'integer',
                  minimum: 0,
                  maximum: 10000,
                  description:
                    'Wait up to this many milliseconds, for the whole batch, for the queued analyses, so that each image answers its near-duplicates among your images. Default 0: answer at once.',
                },
              },
              required: ['file'],
            },
          },
        },
      },
      responses: {
        200: {
          description: 'One result per file, in the order they were sent',
          content: { 'application/json': { schema: uploadManySchema } },
        },
        400: errorRef('No `file` field, more `name` fields than files, or more files than the server takes'),
        401: errorRef('No session'),
        403: errorRef('A cookie session without a trusted Origin'),
        413: errorRef('The request has more bytes than a batch upload may have'),
        415: errorRef('Not multipart/form-data'),
      },
    },
  },
  '/jobs': {
    post: {
      operationId: 'jobs-create',
      tags: ['jobs'],
      summary: 'Stylize an image: queue a job',
      description:
        'Either a style with its parameters (`{ "imageId": "…", "style": "cartoon", "params": { … } }`, a built-in or any other installed style such as `acme:invert`; each style\'s parameters are in `GET /api/styles`, checked when the job is submitted, an unknown one refused by name) or a plan of several steps (`{ "imageId": "…", "plan": { "steps": [ … ] } }`). The same `idempotencyKey` returns the same job. Then poll `GET /api/jobs/{id}` until `status` is `succeeded`, `failed` or `cancelled`, and download the result from `GET /files/jobs/{id}`.',
      security: [{ bearer: [] }, { cookie: [] }],
      requestBody: { required: true, content: { 'application/json': { schema: createJobInput } } },
      responses: {
        200: {
          description: 'The queued job (or the existing one for a repeated idempotency key)',
          content: { 'application/json': { schema: jobSchema } },
        },
        400: errorRef('Invalid input or parameters'),
        401: errorRef('No session'),
        403: errorRef('The style is disabled, or a cookie session without a trusted Origin'),
        404: errorRef('No such image (or not yours) or no such style'),
      },
    },
  },
  '/admin/plugin-packages': {
    post: {
      operationId: 'admin-installPluginPackage',
      tags: ['admin'],
      summary: 'Install or upgrade a plugin package on every process from an uploaded tarball',
      description:
        'The `.tgz` from `npm pack` / `pnpm pack`, as multipart/form-data field `file` or as the raw body. It is checked (an npm tarball with a valid name and version, at most 50 MiB, every plugin loading as serve loads it), recorded with its sha512 integrity, audited, and installed by every API and worker process within seconds. A refused package changes nothing. Administrators only.',
      security: [{ bearer: [] }, { cookie: [] }],
      requestBody: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              properties: { file: { type: 'string', format: 'binary' } },
              required: ['file'],
            },
          },
          'application/gzip': binary,
          'application/octet-stream': binary,
        },
      },
      responses: {
        200: {
          description: 'What the install did',
          content: { 'application/json': { schema: pluginInstallSchema } },
        },
        401: errorRef('No session'),
        403: errorRef('Not an administrator, or a cookie session without a trusted Origin'),
        413: errorRef('The body is over the size cap'),
        400: errorRef('No file: send multipart/form-data with field `file`, or the tarball as the body'),
        422: errorRef(
          'Not an installable package (PLUGIN_PACKAGE_INVALID), or a plugin in it that does not load',
        ),
        500: errorRef(
          'A plugin in it does not load (PLUGIN_ENGINE_MISMATCH, PLUGIN_INVALID, …) or pnpm failed',
        ),
      },
    },
  },
};
