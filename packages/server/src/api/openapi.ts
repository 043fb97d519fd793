import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { generateOpenApiDocument } from 'trpc-to-openapi';
import type { OpenAPIObject } from 'trpc-to-openapi';
import { z } from 'zod';
import { ERROR_CODES } from '@atelier/core';
import type { ErrorCode } from '@atelier/core';
import serverPackage from '../../package.json' with { type: 'json' };
import { SESSION_COOKIE_NAME } from '../auth/index.ts';
import { REST_PREFIX, restRoutePaths } from './rest-api.ts';
import { appRouter } from './router.ts';

/** Where the document and the docs page are served. */
export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';

const DESCRIPTION = `Atelier turns photos into cartoons, sketches, watercolours and more. This is its REST API: the
same procedures as the tRPC API at \`/trpc\` (which TypeScript clients use through \`@atelier/client\`),
with the same sessions, validation and errors.

**Sign in.** \`POST ${REST_PREFIX}/auth/register\` or \`POST ${REST_PREFIX}/auth/login\` returns a \`token\`; send it on
every other call as \`Authorization: Bearer <token>\`. Browsers may rely on the \`${SESSION_COOKIE_NAME}\` cookie
instead; with the cookie, requests that change something need an \`Origin\` header the server trusts.

**Stylize a photo.** \`POST ${REST_PREFIX}/images\` with the image bytes as the body, then \`POST ${REST_PREFIX}/jobs\` with
\`{ "imageId": "…", "style": "cartoon" }\`, poll \`GET ${REST_PREFIX}/jobs/{id}\` until \`status\` is \`succeeded\`, and
download \`GET /files/jobs/{id}\` (the full resolution at \`GET /files/jobs/{id}/hd\`: while payments are on, a large
result's HD file answers 402 \`PAYMENT_REQUIRED\` until it is paid for, through \`POST ${REST_PREFIX}/payments/checkout\`).

**Errors** are JSON \`{ "message", "code", "issues"?, "data" }\` with the HTTP status of \`code\` (\`BAD_REQUEST\` 400,
\`UNAUTHORIZED\` 401, \`FORBIDDEN\` 403, \`NOT_FOUND\` 404, \`CONFLICT\` 409, \`PAYLOAD_TOO_LARGE\` 413,
\`UNSUPPORTED_MEDIA_TYPE\` 415, \`UNPROCESSABLE_CONTENT\` 422, \`TOO_MANY_REQUESTS\` 429, \`GATEWAY_TIMEOUT\` 504, …). \`message\` is for people and
names each invalid field; \`issues\` lists them for programs; \`data.atelierCode\` is Atelier's own stable code
(e.g. \`JOB_NOT_FOUND\`) and \`data.requestId\` is the \`x-request-id\` to quote in a bug report. Another user's things
answer 404, as if they did not exist.
Downloads under \`/files\` answer errors as \`{ "code", "message" }\` with Atelier's code in \`code\`.

**Live progress** (instead of polling) is a Server-Sent Events stream on the tRPC side, outside this document:
\`GET /trpc/jobs.onUpdate?input={"id":"<job id>"}\` (the input URL-encoded) with the same Authorization header. After an
\`event: connected\`, each unnamed event's \`data\` is JSON \`{ "id", "ownerId", "status", "progress", "style", "seq", "at", "errorCode"?,
"fromCache"? }\` and its SSE \`id\` is \`seq\`; \`event: ping\` keeps the connection alive and \`event: return\` ends the stream
after the job's final state. After a reconnect, send the last \`id\` as a \`Last-Event-ID\` header to resume after it.`;

const TAGS: { name: string; description: string }[] = [
  { name: 'auth', description: 'Accounts and sessions.' },
  { name: 'users', description: 'The signed-in user.' },
  { name: 'images', description: 'Uploaded photos.' },
  {
    name: 'jobs',
    description: 'Stylization jobs: create, poll, cancel. Results download from `/files/jobs/{id}`.',
  },
  { name: 'files', description: 'Downloads of originals and results, with the session or a signed URL.' },
  { name: 'styles', description: 'The styles (plugins) and their parameters; quick previews.' },
  { name: 'stats', description: 'Statistics shaped for charts.' },
  { name: 'payments', description: 'Paid HD results through Stripe Checkout (docs/payments.md).' },
  { name: 'admin', description: 'Administration (the admin role).' },
];

/** What every REST error looks like. */
const errorSchema = z.object({
  message: z
    .string()
    .meta({ description: 'What went wrong and what to do, for people; names each invalid field.' }),
  code: z.string().meta({
    description: 'The error class, one per HTTP status: BAD_REQUEST, UNAUTHORIZED, NOT_FOUND, …',
    example: 'NOT_FOUND',
  }),
  issues: z
    .array(
      z.looseObject({
        code: z.string(),
        path: z.array(z.union([z.string(), z.number()])),
        message: z.string(),
      }),
    )
    .optional()
    .meta({ description: 'For invalid input: each problem with the path of its field.' }),
  data: z
    .looseObject({
      httpStatus: z.number().int(),
      atelierCode: z.enum(Object.keys(ERROR_CODES) as [ErrorCode, ...ErrorCode[]]).meta({
        description:
          "Atelier's stable error code, on every error, e.g. JOB_NOT_FOUND, PARAMS_INVALID, PROCEDURE_NOT_FOUND.",
      }),
      details: z.record(z.string(), z.unknown()).nullable(),
      requestId: z.string().nullable().meta({ description: 'The x-request-id of the request.' }),
    })
    .optional(),
});

/** Downloads answer errors in their own, older shape: `code` is Atelier's code itself. */
const downloadErrorSchema = z.object({
  code: z.string().meta({
    description: "Atelier's error code: AUTH_REQUIRED, JOB_NOT_FOUND, JOB_NOT_FINISHED, PAYMENT_REQUIRED, …",
  }),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional().meta({
    description: 'When the error has any: PAYMENT_REQUIRED gives `{ jobId, price: { amount, currency } }`.',
  }),
});

const security = [{ bearer: [] }, { cookie: [] }];
const errorResponse = (description: string, schema = 'Error') => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } },
});

/** Downloads are plain Fastify routes (app.ts): their path items are written here. */
function downloadPath(kind: 'images' | 'jobs' | 'jobs-hd'): NonNullable<OpenAPIObject['paths']>[string] {
  const what =
    kind === 'images'
      ? 'the original of an uploaded image'
      : kind === 'jobs'
        ? "a job's result (its standard file: fitted inside the free size while payments are on)"
        : "a job's full-resolution (HD) result";
  const urlOf = kind === 'images' ? 'images/{id}/download-url' : 'jobs/{id}/download-url';
  return {
    get: {
      operationId: `files-${kind}`,
      tags: ['files'],
      summary: `Download ${what}`,
      description:
        'With the session (Bearer or cookie) of the owner, or without one through a signed URL from `GET ' +
        `${REST_PREFIX}/${urlOf}\`${kind === 'jobs-hd' ? ' with `variant=hd`' : ''} (valid for 5 minutes). Responses carry an ETag and are immutable: send \`If-None-Match\` to get 304.`,
      security: [...security, {}],
      parameters: [
        { name: 'id', in: 'path' as const, required: true, schema: { type: 'string' } },
        {
          name: 'expires',
          in: 'query',
          required: false,
          schema: { type: 'string' },
          description: 'From a signed URL.',
        },
        {
          name: 'sig',
          in: 'query',
          required: false,
          schema: { type: 'string' },
          description: 'From a signed URL.',
        },
      ],
      responses: {
        200: {
          description: kind === 'images' ? 'The original bytes' : 'The result in its output format',
          content: { 'image/*': { schema: { type: 'string', format: 'binary' } } },
        },
        304: { description: 'Not modified (If-None-Match matched the ETag)' },
        401: errorResponse('No session and no signed URL', 'DownloadError'),
        403: errorResponse(
          'DOWNLOAD_URL_INVALID: the signed URL expired, was altered, or was revoked (signed out everywhere, password changed)',
          'DownloadError',
        ),
        404: errorResponse(
          kind === 'images' ? 'No such image (or not yours)' : 'No such job (or not yours)',
          'DownloadError',
        ),
        ...(kind === 'jobs-hd'
          ? {
              402: errorResponse(
                'PAYMENT_REQUIRED: the HD file is locked until paid; `details.price` is the price',
                'DownloadError',
              ),
            }
          : {}),
        ...(kind !== 'images' ? { 409: errorResponse('The job has no result yet', 'DownloadError') } : {}),
      },
    },
  };
}

/**
 * The OpenAPI 3.1 document of the REST API: generated from the procedures' `meta.openapi`, input
 * and output schemas by trpc-to-openapi, with the hand-written routes (upload, job creation,
 * downloads) merged in and every error response pointing at the one `Error` schema.
 */
export function createOpenApiDocument(): OpenAPIObject {
  const generated = generateOpenApiDocument(appRouter, {
    title: 'Atelier API',
    description: DESCRIPTION,
    version: serverPackage.version,
    baseUrl: '/',
    license: { name: 'MIT', identifier: 'MIT' },
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', description: 'The `token` from login or register.' },
      cookie: {
        type: 'apiKey',
        in: 'cookie',
        name: SESSION_COOKIE_NAME,
        description: 'The browser session; changes need a trusted Origin.',
      },
    },
    paths: restRoutePaths,
    defs: { Error: errorSchema, DownloadError: downloadErrorSchema },
  });
  const paths: NonNullable<OpenAPIObject['paths']> = {};
  for (const [path, item] of Object.entries(generated.paths ?? {})) {
    for (const operation of Object.values(
      item as Record<string, { responses?: Record<string, { content?: unknown }> }>,
    )) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (Number(status) >= 400 && response.content) response.content = errorResponse('').content;
      }
    }
    paths[`${REST_PREFIX}${path === '/' ? '' : path}`] = item;
  }
  paths['/files/images/{id}'] = downloadPath('images');
  paths['/files/jobs/{id}'] = downloadPath('jobs');
  paths['/files/jobs/{id}/hd'] = downloadPath('jobs-hd');
  // trpc-to-openapi's per-code error schemas are replaced by `Error` above.
  const schemas = Object.fromEntries(
    Object.entries(generated.components?.schemas ?? {}).filter(([name]) => !name.startsWith('error.')),
  );
  return { ...generated, tags: TAGS, paths, components: { ...generated.components, schemas } };
}

/**
 * Serves the document at /openapi.json and Swagger UI at /docs. Swagger UI's files ship inside
 * @fastify/swagger-ui and are served from this server: the page needs no network.
 */
export async function openApiDocs(
  scope: FastifyInstance,
  options: { readonly document: OpenAPIObject },
): Promise<void> {
  scope.get(OPENAPI_PATH, async () => options.document);
  await scope.register(swagger, { mode: 'static', specification: { document: options.document as never } });
  await scope.register(swaggerUi, {
    routePrefix: DOCS_PATH,
    theme: { title: 'Atelier API' },
    uiConfig: {
      docExpansion: 'list',
      deepLinking: true,
      persistAuthorization: false,
      tryItOutEnabled: false,
    },
  });
}
