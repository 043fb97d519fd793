/**
 * Every failure a user can cause or meet carries a stable code from this table. The table is the
 * single place that says what a code means and what to do about it; the server maps codes to HTTP
 * status in one function, the CLI prints `code: message` on one line.
 */
export const ERROR_CODES = {
  PLUGIN_INVALID: { status: 500, hint: 'The plugin definition is malformed; fix the plugin.' },
  PLUGIN_DUPLICATE: { status: 409, hint: 'Two plugins share one id; rename or remove one.' },
  PLUGIN_ENGINE_MISMATCH: {
    status: 500,
    hint: 'The plugin targets another engine version; upgrade the plugin or the engine.',
  },
  PLUGIN_LOAD_FAILED: { status: 500, hint: 'A plugin module could not be imported.' },
  PLUGIN_NOT_FOUND: { status: 404, hint: 'No plugin has this id; `atelier styles` lists them.' },
  PLUGIN_DISABLED: { status: 403, hint: 'An administrator disabled this plugin.' },
  PLUGIN_VERSION_MISMATCH: {
    status: 409,
    hint: 'The plan was made for another version of this plugin; make the plan again.',
  },
  PLUGIN_FAILED: { status: 500, hint: 'The plugin threw while processing the image.' },
  PLUGIN_TIMEOUT: { status: 504, hint: 'The plugin ran past its time limit and was stopped.' },
  PLUGIN_OUT_OF_MEMORY: {
    status: 500, // HTTP has no better fit that tRPC can send (507 is WebDAV's "insufficient storage")
    hint: 'The plugin used more memory than its limit and was stopped.',
  },
  PLUGIN_OUTPUT_INVALID: { status: 500, hint: 'The plugin returned something that is not an image.' },
  PARAMS_INVALID: { status: 400, hint: 'A parameter is missing, of the wrong type or out of range.' },
  PLAN_INVALID: { status: 400, hint: 'The plan is not well formed.' },
  IMAGE_EMPTY: { status: 400, hint: 'The file is empty.' },
  IMAGE_TOO_LARGE: { status: 413, hint: 'The file is larger than the byte limit.' },
  IMAGE_TOO_MANY_PIXELS: {
    status: 413,
    hint: 'The image has more pixels than the limit; resize it first.',
  },
  IMAGE_FORMAT_UNSUPPORTED: {
    status: 415,
    hint: 'Only JPEG, PNG, WebP, GIF, AVIF and TIFF are accepted.',
  },
  IMAGE_CORRUPT: { status: 422, hint: 'The file is damaged or truncated and cannot be decoded.' },
  OUTPUT_FORMAT_UNSUPPORTED: { status: 400, hint: 'Use jpeg, png, webp or avif.' },
  ABORTED: { status: 499, hint: 'The run was cancelled.' },
  ENGINE_CLOSED: { status: 503, hint: 'The engine is shutting down.' },
  INPUT_NOT_FOUND: { status: 404, hint: 'The input file does not exist or cannot be read.' },
  STORAGE_NOT_FOUND: { status: 404, hint: 'The stored file is gone; it may have been deleted.' },
  STORAGE_KEY_INVALID: {
    status: 400,
    hint: 'Storage keys are /-separated segments of letters, digits, ".", "_" and "-".',
  },
  STORAGE_FAILED: { status: 503, hint: 'The storage backend failed; try again later.' },
  MIGRATION_FAILED: {
    status: 500,
    hint: 'A database migration failed; see the message, fix and run `atelier migrate up`.',
  },
  DATABASE_UNAVAILABLE: {
    status: 503,
    hint: 'The database cannot be reached; check DATABASE_URL or the embedded data directory.',
  },
  EMBEDDED_POSTGRES_FAILED: {
    status: 503,
    hint: 'The embedded Postgres could not start; do what the message says, or set DATABASE_URL to use your own server.',
  },
  PORT_IN_USE: {
    status: 503,
    hint: 'Another process listens on this port; stop it, or choose another port with --port or PORT.',
  },
  JOB_NOT_FOUND: { status: 404, hint: 'No job has this id (or it is not yours).' },
  IMAGE_NOT_FOUND: { status: 404, hint: 'No image has this id (or it is not yours).' },
  USER_NOT_FOUND: { status: 404, hint: 'No user has this id or email.' },
  JOB_NOT_CANCELLABLE: { status: 409, hint: 'The job has already finished.' },
  JOB_NOT_RETRYABLE: { status: 409, hint: 'Only failed or cancelled jobs can be retried.' },
  USAGE_INVALID: { status: 400, hint: 'The command line is malformed; see --help.' },
  OUTPUT_WRITE_FAILED: { status: 500, hint: 'The result could not be written.' },
  AUTH_REQUIRED: {
    status: 401,
    hint: 'Sign in first: send the session cookie or an Authorization: Bearer token.',
  },
  AUTH_INVALID_CREDENTIALS: {
    status: 401,
    hint: 'The email or the password is wrong; check both and try again.',
  },
  AUTH_THROTTLED: {
    status: 429,
    hint: 'Too many failed sign-ins; wait `details.retryAfterSeconds` seconds before trying again.',
  },
  AUTH_EMAIL_TAKEN: { status: 409, hint: 'An account with this email exists; sign in instead.' },
  AUTH_WEAK_PASSWORD: { status: 400, hint: 'Passwords are 8 to 256 characters and not only spaces.' },
  FORBIDDEN: { status: 403, hint: 'Your account may not do this; ask an administrator.' },
  USER_DISABLED: { status: 403, hint: 'An administrator disabled this account.' },
} as const satisfies Record<string, { status: number; hint: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** Serialisable form of an {@link AtelierError}, as it crosses threads, processes and the wire. */
export interface ErrorPayload {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * The one error class of Atelier. `code` is stable and documented in {@link ERROR_CODES};
 * `message` is written for a person. Programmer mistakes throw plain `Error` instead.
 *
 * @example
 * throw new AtelierError('PARAMS_INVALID', 'levels must be between 2 and 32', { details: { path: ['levels'] } });
 */
export class AtelierError extends Error {
  override readonly name = 'AtelierError';
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }

  /** The HTTP status that fits this code. */
  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  toJSON(): ErrorPayload {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }

  static fromPayload(payload: ErrorPayload): AtelierError {
    return new AtelierError(
      payload.code,
      payload.message,
      payload.details === undefined ? {} : { details: { ...payload.details } },
    );
  }
}

/** True when `value` is an {@link AtelierError}, also across module copies (checks the shape). */
export function isAtelierError(value: unknown): value is AtelierError {
  if (value instanceof AtelierError) return true;
  if (!(value instanceof Error) || value.name !== 'AtelierError') return false;
  const code = (value as { code?: unknown }).code;
  return typeof code === 'string' && code in ERROR_CODES;
}
