import { TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { ERROR_CODES, isAtelierError } from '@atelier/core';
import { databaseUnavailable } from '@atelier/db';
import type { ErrorCode, AtelierError } from '@atelier/core';

/**
 * The one place where HTTP statuses meet tRPC codes: each Atelier code's status (from
 * ERROR_CODES) maps to the tRPC code that carries it, so REST, tRPC and downloads answer alike;
 * the REST scope names Fastify's own errors (405, 408, ...) from the same table.
 */
const BY_STATUS: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_SUPPORTED',
  408: 'TIMEOUT',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_CONTENT',
  429: 'TOO_MANY_REQUESTS',
  499: 'CLIENT_CLOSED_REQUEST',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};

/** The tRPC code of an HTTP status; INTERNAL_SERVER_ERROR for any status the table does not name. */
export function trpcCodeOfStatus(status: number): TRPC_ERROR_CODE_KEY {
  return BY_STATUS[status] ?? 'INTERNAL_SERVER_ERROR';
}

export function trpcCodeOf(code: ErrorCode): TRPC_ERROR_CODE_KEY {
  return trpcCodeOfStatus(ERROR_CODES[code].status);
}

/**
 * Wraps an AtelierError as a TRPCError (the AtelierError stays as `cause`). A lost or refused
 * database connection becomes DATABASE_UNAVAILABLE (503) here, for tRPC, REST and downloads alike.
 */
export function toTRPCError(error: unknown): TRPCError {
  if (error instanceof TRPCError) return error;
  const unavailable = databaseUnavailable(error);
  if (unavailable)
    return new TRPCError({
      code: trpcCodeOf(unavailable.code),
      message: unavailable.message,
      cause: unavailable,
    });
  if (isAtelierError(error))
    return new TRPCError({ code: trpcCodeOf(error.code), message: error.message, cause: error });
  return new TRPCError({
    code: 'INTERNAL_SERVER_ERROR',
    message: 'Something went wrong on our side.',
    cause: error,
  });
}

/** The Atelier error inside a TRPCError, if any. */
export function atelierCause(error: TRPCError): AtelierError | undefined {
  return isAtelierError(error.cause) ? error.cause : undefined;
}
