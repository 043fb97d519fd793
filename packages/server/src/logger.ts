import pino from 'pino';
import type { Logger } from '@atelier/core';

/**
 * A URL as it may be logged: the value of every `sig` query parameter (signed download URLs) is
 * replaced by `[REDACTED]`, so a log reader cannot replay the download.
 *
 * @example
 * redactUrl('/files/jobs/1?expires=9&sig=abc'); // '/files/jobs/1?expires=9&sig=[REDACTED]'
 */
export function redactUrl(url: string): string {
  return url.replace(/([?&]sig=)[^&#\s"']*/gi, '$1[REDACTED]');
}

/** The request fields Fastify logs (`incoming request` and errors), as Fastify's own serializer has them. */
interface LoggedRequest {
  readonly method?: string;
  readonly url?: string;
  readonly host?: string;
  readonly ip?: string;
  readonly socket?: { readonly remotePort?: number | undefined } | null;
}

/**
 * A Logger over pino: JSON lines on stderr (or `destination`), so stdout stays for a command's
 * results.
 */
export function createLogger(
  level: string = process.env['ATELIER_LOG_LEVEL'] ?? 'info',
  destination: pino.DestinationStream = pino.destination(2),
): Logger & { pino: pino.Logger } {
  const base = pino(
    {
      level,
      base: { pid: process.pid },
      // Secrets never reach the log: session cookies, Bearer tokens, signed-URL signatures.
      redact: [
        'req.headers.authorization',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
        'password',
        'token',
      ],
      // Messages that quote a URL ("Route GET:/files/...?sig=... not found") are redacted too.
      hooks: {
        logMethod(args, method) {
          const redacted = args.map((arg: unknown) => (typeof arg === 'string' ? redactUrl(arg) : arg));
          method.apply(this, redacted as Parameters<pino.LogFn>);
        },
      },
      serializers: {
        // Replaces Fastify's request serializer (same fields): the URL without signatures.
        req: (req: LoggedRequest) => ({
          method: req.method,
          url: req.url === undefined ? undefined : redactUrl(req.url),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort,
        }),
      },
    },
    destination,
  );
  return {
    pino: base,
    debug: (message, fields) => base.debug(fields ?? {}, message),
    info: (message, fields) => base.info(fields ?? {}, message),
    warn: (message, fields) => base.warn(fields ?? {}, message),
    error: (message, fields) => base.error(fields ?? {}, message),
  };
}
