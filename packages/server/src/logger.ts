import pino from 'pino';
import type { Logger } from '@atelier/core';

/** A Logger over pino: JSON lines on stderr, so stdout stays for a command's results. */
export function createLogger(
  level: string = process.env['ATELIER_LOG_LEVEL'] ?? 'info',
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
    },
    pino.destination(2),
  );
  return {
    pino: base,
    debug: (message, fields) => base.debug(fields ?? {}, message),
    info: (message, fields) => base.info(fields ?? {}, message),
    warn: (message, fields) => base.warn(fields ?? {}, message),
    error: (message, fields) => base.error(fields ?? {}, message),
  };
}
