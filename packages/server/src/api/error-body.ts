import type { TRPC_ERROR_CODE_KEY, TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { TRPC_ERROR_CODES_BY_KEY } from '@trpc/server/rpc';
import { AtelierError, ERROR_CODES } from '@atelier/core';
import type { ErrorCode } from '@atelier/core';
import { atelierCause, atelierErrorOf, describeInput, inputIssues, trpcCodeOfStatus } from './errors.ts';
import type { InputIssue } from './errors.ts';

/**
 * One failed request as every answer reports it: the Atelier error (code, message, details), the
 * HTTP status and tRPC code it travels with, and where it happened.
 */
export interface Failure {
  readonly error: AtelierError;
  /** @default the status of the error's code in ERROR_CODES */
  readonly status?: number;
  /** @default the tRPC code of `status` */
  readonly trpcCode?: TRPC_ERROR_CODE_KEY;
  /** The procedure's path, when a procedure was found (null: a route outside any procedure). */
  readonly path?: string | null | undefined;
  readonly requestId: string | null;
  /** The issues of an input that failed validation (REST lists them for programs). */
  readonly issues?: readonly InputIssue[] | undefined;
}

/** `data` of the tRPC and REST shapes. */
export interface ErrorData {
  readonly code: TRPC_ERROR_CODE_KEY;
  readonly httpStatus: number;
  readonly path: string | null | undefined;
  readonly atelierCode: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | null;
  readonly requestId: string | null;
}

/** The error shape of tRPC answers (the `error` of a JSON-RPC response, and what errorFormatter returns). */
export interface TrpcErrorBody {
  readonly message: string;
  readonly code: (typeof TRPC_ERROR_CODES_BY_KEY)[TRPC_ERROR_CODE_KEY];
  readonly data: ErrorData;
}

/** The REST error: `code` is the tRPC code's name, as trpc-to-openapi answers. */
export interface RestErrorBody {
  readonly message: string;
  readonly code: TRPC_ERROR_CODE_KEY;
  readonly data: ErrorData;
  readonly issues?: readonly InputIssue[];
}

/** The small body of downloads and /metrics: Atelier's code itself in `code`. */
export interface PlainErrorBody {
  readonly code: ErrorCode;
  readonly message: string;
  /** What a program needs to act on it (a 402's price), when the error has any. */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** /readyz's body when not ready. */
export interface ReadinessErrorBody {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly error: string;
}

/** Which body {@link errorBody} builds: one per kind of route. */
export interface ErrorBodies {
  readonly trpc: TrpcErrorBody;
  readonly rest: RestErrorBody;
  readonly plain: PlainErrorBody;
  readonly readiness: ReadinessErrorBody;
}

/**
 * The one function that builds an error body, for every route: tRPC (`{ message, code, data }`,
 * the errorFormatter's shape and the answer to errors raised before a procedure runs), REST
 * (`{ message, code, data, issues? }`), downloads and /metrics (`{ code, message }`) and /readyz
 * (`{ ok: false, code, error }`). Each route keeps the shape its clients read; the code, message
 * and details come from the same {@link Failure}.
 *
 * @example
 * reply.code(404).send(errorBody('plain', { error: new AtelierError('JOB_NOT_FOUND', '…'), requestId: req.id }));
 */
export function errorBody<K extends keyof ErrorBodies>(kind: K, failure: Failure): ErrorBodies[K];
export function errorBody(kind: keyof ErrorBodies, failure: Failure): ErrorBodies[keyof ErrorBodies] {
  const { error } = failure;
  switch (kind) {
    case 'plain':
      return error.details === undefined
        ? { code: error.code, message: error.message }
        : { code: error.code, message: error.message, details: error.details };
    case 'readiness':
      return { ok: false, code: error.code, error: error.message };
    case 'trpc':
    case 'rest': {
      const status = failure.status ?? ERROR_CODES[error.code].status;
      const code = failure.trpcCode ?? trpcCodeOfStatus(status);
      const data: ErrorData = {
        code,
        httpStatus: status,
        path: failure.path,
        atelierCode: error.code,
        details: error.details ?? null,
        requestId: failure.requestId,
      };
      if (kind === 'trpc') return { message: error.message, code: TRPC_ERROR_CODES_BY_KEY[code], data };
      return failure.issues
        ? { message: error.message, code, data, issues: failure.issues }
        : { message: error.message, code, data };
    }
  }
}

/**
 * The {@link Failure} of a TRPCError: the Atelier error it carries (or one made from tRPC's own
 * code), its tRPC code and status. An internal error names the request, never its cause.
 */
export function failureOf(
  error: TRPCError,
  where: { readonly requestId: string | null; readonly path?: string | undefined },
): Failure {
  const internal = error.code === 'INTERNAL_SERVER_ERROR' && !atelierCause(error);
  const coded = internal
    ? new AtelierError(
        'INTERNAL',
        `Something went wrong on our side (request ${where.requestId ?? 'unknown'}).`,
      )
    : atelierErrorOf(error);
  const issues = inputIssues(error);
  return {
    error: coded,
    status: getHTTPStatusCodeFromError(error),
    trpcCode: error.code,
    path: where.path,
    requestId: where.requestId,
    ...(issues ? { issues } : {}),
  };
}

/** "Invalid input: limit: Too big…": the message of an input that failed validation. */
export function invalidInputMessage(issues: readonly InputIssue[]): string {
  return `Invalid input: ${describeInput(issues).sentence}`;
}
