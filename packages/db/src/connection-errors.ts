import { AtelierError, isAtelierError } from '@atelier/core';

/** Socket errors of a connection to Postgres that cannot be made or was cut. */
const SOCKET_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs of a server that is going away or not taking connections: 57P01 admin_shutdown (a
 * restart or `pg_ctl stop`), 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or
 * shutting down), 53300 too_many_connections. Class 08 (connection exception) is matched by prefix.
 */
const SERVER_CODES: ReadonlySet<string> = new Set(['57P01', '57P02', '57P03', '53300']);

/** What pg and pg-pool say when a connection ends under a query, or a client is used after that. */
const MESSAGES = [
  /^Connection terminated/, // "unexpectedly", "due to connection timeout", or plain
  /^timeout exceeded when trying to connect$/, // pg-pool's connectionTimeoutMillis
  /is not queryable$/, // a client that already lost its connection
];

function isConnectionFailure(error: unknown, depth: number): boolean {
  if (depth > 4 || typeof error !== 'object' || error === null) return false;
  const { code, message, cause, errors } = error as {
    code?: unknown;
    message?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  if (
    typeof code === 'string' &&
    (SOCKET_CODES.has(code) || SERVER_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))
  )
    return true;
  if (typeof message === 'string' && MESSAGES.some((pattern) => pattern.test(message))) return true;
  // Node reports a refused connection to every address of a host as an AggregateError.
  if (Array.isArray(errors) && errors.some((e) => isConnectionFailure(e, depth + 1))) return true;
  return isConnectionFailure(cause, depth + 1);
}

/**
 * The one place that decides whether an error means "Postgres cannot be reached now" (refused,
 * restarting, shutting down, a connection cut mid-query): such an error becomes a
 * `DATABASE_UNAVAILABLE` AtelierError (503), with the original as `cause`. Any other error, and
 * an AtelierError already, gives undefined.
 *
 * @example
 * catch (error) { throw databaseUnavailable(error) ?? error; }
 */
export function databaseUnavailable(error: unknown): AtelierError | undefined {
  if (isAtelierError(error) || !isConnectionFailure(error, 0)) return undefined;
  // The message goes to API callers: what Postgres or the socket said (addresses, ports) stays in
  // `cause`, for the logs and the CLI.
  return new AtelierError(
    'DATABASE_UNAVAILABLE',
    'The database cannot be reached right now; try again in a moment.',
    {
      cause: error,
    },
  );
}
