import type { FastifyInstance } from 'fastify';
import type { OpenAPIObject } from 'trpc-to-openapi';
import { openApiDocs } from '../openapi.ts';
import { restApi } from '../rest-api.ts';
import type { RestApiOptions } from '../rest-api.ts';

/** Options of {@link restPlugin}. */
export interface RestPluginOptions extends RestApiOptions {
  /** The OpenAPI document served at /openapi.json and shown at /docs. */
  readonly document: OpenAPIObject;
}

/**
 * REST and OpenAPI for clients that do not speak tRPC: the procedures under `/api`
 * ({@link restApi}), the document at `/openapi.json` and Swagger UI at `/docs` ({@link openApiDocs}),
 * each in its own scope (body parsers, error format).
 *
 * @example
 * await app.register(restPlugin, { createContext, maxUploadBytes, document: createOpenApiDocument() });
 */
export async function restPlugin(app: FastifyInstance, options: RestPluginOptions): Promise<void> {
  await app.register(restApi, {
    createContext: options.createContext,
    maxUploadBytes: options.maxUploadBytes,
    maxBatchUploadBytes: options.maxBatchUploadBytes,
  });
  await app.register(openApiDocs, { document: options.document });
}
