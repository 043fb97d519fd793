import { StandardSchemaV1Error, TRPCError } from '@trpc/server';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { z } from 'zod';
import { AtelierError, ERROR_CODES, isAtelierError } from '@atelier/core';
import type { ErrorCode } from '@atelier/core';
import { databaseUnavailable } from '@atelier/db';

/**
 * The one place where HTTP statuses meet tRPC codes: each Atelier code's status (from
 * ERROR_CODES) maps to the tRPC code that carries it, so REST, tRPC and downloads answer alike;
 * the REST scope names Fastify's own errors (405, 408, ...) from the same table.
 */
const BY_STATUS: Record<number, TRPC_ERROR_CODE_KEY> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  402: 'PAYMENT_REQUIRED',
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

/**
 * The Atelier code of an error tRPC raised itself, with no AtelierError inside (an unknown
 * procedure, JSON that does not parse, a query sent with POST, a session missing): one per tRPC
 * code, so that every answer carries an `atelierCode`.
 */
const BY_TRPC_CODE: Record<TRPC_ERROR_CODE_KEY, ErrorCode> = {
  PARSE_ERROR: 'REQUEST_MALFORMED',
  BAD_REQUEST: 'REQUEST_MALFORMED',
  UNAUTHORIZED: 'AUTH_REQUIRED',
  PAYMENT_REQUIRED: 'REQUEST_REFUSED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'PROCEDURE_NOT_FOUND',
  METHOD_NOT_SUPPORTED: 'METHOD_NOT_ALLOWED',
  TIMEOUT: 'REQUEST_TIMEOUT',
  CONFLICT: 'REQUEST_REFUSED',
  PRECONDITION_FAILED: 'REQUEST_REFUSED',
  PRECONDITION_REQUIRED: 'REQUEST_REFUSED',
  PAYLOAD_TOO_LARGE: 'BODY_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'CONTENT_TYPE_UNSUPPORTED',
  UNPROCESSABLE_CONTENT: 'REQUEST_MALFORMED',
  TOO_MANY_REQUESTS: 'RATE_LIMITED',
  CLIENT_CLOSED_REQUEST: 'ABORTED',
  INTERNAL_SERVER_ERROR: 'INTERNAL',
  NOT_IMPLEMENTED: 'INTERNAL',
  BAD_GATEWAY: 'SERVICE_UNAVAILABLE',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  GATEWAY_TIMEOUT: 'REQUEST_TIMEOUT',
};

/** The Atelier code for an error tRPC raised itself (see {@link BY_TRPC_CODE}). */
export function atelierCodeOfTrpc(code: TRPC_ERROR_CODE_KEY): ErrorCode {
  return BY_TRPC_CODE[code];
}

/** One problem with an input, as validation reports it (zod and Standard Schema alike). */
export interface InputIssue {
  readonly code?: string | undefined;
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
  readonly message?: string | undefined;
  /** For `invalid_union`: the issues of each alternative. */
  readonly errors?: readonly (readonly InputIssue[])[] | undefined;
}

/** The issues of a failed input validation, when `error` is one (tRPC's BAD_REQUEST around a zod error). */
export function inputIssues(error: TRPCError): readonly InputIssue[] | undefined {
  if (error.code !== 'BAD_REQUEST') return undefined;
  const cause = error.cause;
  if (cause instanceof z.ZodError || cause instanceof StandardSchemaV1Error) return cause.issues;
  return undefined;
}

/**
 * Every bad field of an input by its path, e.g. `limit: Too big: expected number to be <=100`. For
 * a union (the shapes of `jobs.create`), the alternative that came closest is the one described:
 * an unknown parameter of a style is named, not "no alternative matched".
 */
export function describeInput(issues: readonly InputIssue[]): {
  sentence: string;
  fields: { path: string[]; message: string }[];
} {
  const fields: { path: string[]; message: string }[] = [];
  const visit = (list: readonly InputIssue[], prefix: readonly string[]) => {
    for (const issue of list) {
      const own = (issue.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p));
      const path = [...prefix, ...own];
      const closest =
        issue.code === 'invalid_union'
          ? [...(issue.errors ?? [])].sort((a, b) => a.length - b.length)[0]
          : undefined;
      if (closest && closest.length > 0) visit(closest, path);
      else fields.push({ path, message: issue.message ?? 'invalid' });
    }
  };
  visit(issues, []);
  const sentence = fields
    .map((f) => `${f.path.length > 0 ? f.path.join('.') : '(input)'}: ${f.message}`)
    .join('; ');
  return { sentence, fields };
}

/**
 * The AtelierError an answer reports: the one the procedure threw, or, for an error tRPC raised
 * itself, one made from its code. Input validation becomes `PARAMS_INVALID` with a sentence that
 * names each bad field and the fields' paths in `details.issues`.
 */
export function atelierErrorOf(error: TRPCError): AtelierError {
  const cause = atelierCause(error);
  if (cause) return cause;
  const issues = inputIssues(error);
  if (issues) {
    const { sentence, fields } = describeInput(issues);
    return new AtelierError('PARAMS_INVALID', `Invalid input: ${sentence}`, { details: { issues: fields } });
  }
  const code = atelierCodeOfTrpc(error.code);
  if (code === 'INTERNAL') return new AtelierError(code, ERROR_CODES.INTERNAL.hint);
  if (error.cause instanceof SyntaxError)
    return new AtelierError(code, `The input is not valid JSON: ${error.message}`);
  return new AtelierError(code, error.message);
}

/** "52428800 bytes (50 MiB)": a byte limit as a person reads it. */
export function bytesAndMiB(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return `${bytes} bytes (${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB)`;
}

/**
 * The `IMAGE_TOO_LARGE` of an upload over the cap: its size when known (a chunked upload has no
 * Content-Length and is stopped at the cap, unread), and the cap in bytes and MiB.
 */
export function imageTooLarge(limit: number, size?: number): AtelierError {
  const what = size === undefined ? 'The file is over the limit' : `The file is ${size} bytes`;
  return new AtelierError('IMAGE_TOO_LARGE', `${what}; the limit is ${bytesAndMiB(limit)}.`, {
    details: { limitBytes: limit, ...(size === undefined ? {} : { sizeBytes: size }) },
  });
}

/**
 * The `UPLOAD_BATCH_TOO_LARGE` of a batch upload over the request cap: the request's size when
 * known (its Content-Length) and the cap in bytes and MiB. Nothing of it was stored.
 */
export function uploadBatchTooLarge(limit: number, size?: number): AtelierError {
  const what = size === undefined ? 'The upload is over the limit' : `The upload is ${size} bytes`;
  return new AtelierError(
    'UPLOAD_BATCH_TOO_LARGE',
    `${what}; one batch upload takes at most ${bytesAndMiB(limit)} of files. Send them in several requests.`,
    { details: { limitBytes: limit, ...(size === undefined ? {} : { sizeBytes: size }) } },
  );
}

/** What {@link fastifyErrorAsAtelier} needs to know about the request that failed. */
export interface RefusedRequest {
  readonly id: string;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** True when the body is an image upload (its size cap is the upload cap). */
  readonly upload: boolean;
  readonly maxUploadBytes: number;
  /** When the body is a batch upload (several files): its cap, which its errors name. */
  readonly maxBatchUploadBytes?: number | undefined;
  /** The JSON body cap of the scope, for its message. */
  readonly maxJsonBytes?: number;
}

/**
 * The AtelierError of an error the HTTP server raised before any procedure ran (a body over the
 * limit, an unknown content type, JSON that does not parse, a rate limit), so that these answers
 * carry a code as the procedures' do.
 */
export function fastifyErrorAsAtelier(
  error: { readonly code?: string; readonly message: string; readonly statusCode?: number },
  status: number,
  req: RefusedRequest,
): AtelierError {
  if (isAtelierError(error)) return error; // a body parser's own
  switch (error.code ?? '') {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      if (req.maxBatchUploadBytes !== undefined) {
        const length = Number(req.headers['content-length']);
        return uploadBatchTooLarge(
          req.maxBatchUploadBytes,
          Number.isSafeInteger(length) ? length : undefined,
        );
      }
      if (req.upload) {
        const length = Number(req.headers['content-length']);
        return imageTooLarge(req.maxUploadBytes, Number.isSafeInteger(length) ? length : undefined);
      }
      if (req.maxJsonBytes === undefined)
        return new AtelierError('BODY_TOO_LARGE', 'The request body is over the limit.');
      return new AtelierError(
        'BODY_TOO_LARGE',
        `The JSON body is over the limit of ${bytesAndMiB(req.maxJsonBytes)}; send images as uploads.`,
        { details: { limitBytes: req.maxJsonBytes } },
      );
    }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AtelierError(
        'CONTENT_TYPE_UNSUPPORTED',
        req.upload
          ? 'Send the image as the raw request body with Content-Type image/* or application/octet-stream.'
          : `Content-Type ${String(req.headers['content-type'] ?? '(none)')} is not accepted here: send JSON as application/json.`,
      );
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AtelierError('REQUEST_MALFORMED', `The body is not valid JSON: ${error.message}`);
  }
  if (status >= 500)
    return new AtelierError('INTERNAL', `Something went wrong on our side (request ${req.id}).`);
  return new AtelierError(atelierCodeOfTrpc(trpcCodeOfStatus(status)), error.message);
}
