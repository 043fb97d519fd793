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
  // `atelier plugins add/remove`: pnpm failed (a bad spec, no network, a pack that failed), or
  // another install holds the plugins folder. The folder is left as it was.
  PLUGIN_INSTALL_FAILED: {
    status: 500,
    hint: "pnpm could not install or remove the package in the plugins folder; the folder is as it was. pnpm's own message says why.",
  },
  // Live install for a cluster (docs/operations.md, "Installing and upgrading plugins on a cluster").
  PLUGIN_PACKAGE_INVALID: {
    status: 422,
    hint: 'The upload is not an installable plugin package (an npm tarball with package.json, a name and a version, under the size cap), or that name@version is already recorded with other bytes; nothing was installed.',
  },
  PLUGIN_INTEGRITY_MISMATCH: {
    status: 422,
    hint: "The package's bytes do not match the sha512 integrity recorded for them (by the registry, or in the database); nothing was installed.",
  },
  PLUGIN_IN_USE: {
    status: 409,
    hint: 'Queued or running jobs need this plugin package; wait for them, cancel them, or uninstall with force.',
  },
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
  // Third-party plugins run in a sandbox (an isolated-vm isolate in a separate, restricted process):
  // a plugin that reaches for what the sandbox does not provide (a Node built-in, a native addon,
  // a file given to sharp, a CommonJS-only trick) is refused with this code.
  SANDBOX_VIOLATION: {
    status: 500,
    hint: 'The plugin used something the sandbox does not provide (Node built-ins, native addons, files); only pixels, the SDK and the context are available.',
  },
  SANDBOX_CRASHED: {
    status: 500,
    hint: "The plugin's sandbox process died; it is restarted for the next run. Retry, and report the plugin if it keeps happening.",
  },
  // ctx.reportCost / ctx.annotate with a malformed value: nothing of it is stored.
  PLUGIN_REPORT_INVALID: {
    status: 500,
    hint: 'The plugin reported a malformed cost or annotation (see the message); fix the plugin.',
  },
  // AI-provider plugins (openai-image, openai-describe; docs/plugins.md "AI-provider plugins").
  // 500: the server's configuration (the granted key) is at fault, not the request.
  PROVIDER_AUTH_FAILED: {
    status: 500,
    hint: "The AI provider refused the API key (401/403); an administrator must grant the plugin a valid key (the plugin's secret).",
  },
  PROVIDER_REJECTED: {
    status: 422,
    hint: "The AI provider refused the request (content policy, or a parameter it does not take); the provider's message says why.",
  },
  PROVIDER_RATE_LIMITED: {
    status: 503,
    hint: 'The AI provider kept answering 429 (rate or quota limit) through every retry; try again later.',
  },
  PROVIDER_UNAVAILABLE: {
    status: 503,
    hint: 'The AI provider failed (5xx) or could not be reached through every retry; try again later.',
  },
  PROVIDER_BAD_RESPONSE: {
    status: 500,
    hint: 'The AI provider answered something the plugin cannot use (not JSON, no image, an undecodable image).',
  },
  // Capabilities (docs/security.md, "Capabilities" and "Secrets").
  CAPABILITY_DENIED: {
    status: 403,
    hint: 'The plugin asked for something it was not granted (a host, a secret) or for a loopback or private address; an administrator grants hosts and secrets the plugin declares.',
  },
  CAPABILITY_NOT_GRANTED: {
    status: 403,
    hint: 'The plugin declares capabilities an administrator has not granted yet (`details` names them); `atelier plugins grant` or the admin console grants them.',
  },
  SECRETS_KEY_MISSING: {
    status: 503,
    hint: 'ATELIER_SECRETS_KEY is not set or malformed (32 bytes, base64 or 64 hex digits), or is not the key the secrets were stored with; see docs/operations.md.',
  },
  SECRET_NOT_FOUND: {
    status: 404,
    hint: 'No secret has this name; set it with `atelier secrets set NAME` (the value is read from stdin).',
  },
  SECRET_CORRUPT: {
    status: 500,
    hint: 'A stored secret failed its integrity check (changed in the database, or its row is damaged); set it again with `atelier secrets set NAME`.',
  },
  FETCH_FAILED: {
    status: 503,
    hint: "A plugin's request to a granted host failed: it timed out, its response was too large, or the network failed (`details.reason`).",
  },
  PARAMS_INVALID: { status: 400, hint: 'A parameter is missing, of the wrong type or out of range.' },
  PLAN_INVALID: { status: 400, hint: 'The plan is not well formed.' },
  CURSOR_INVALID: {
    status: 400,
    hint: "The page cursor is malformed; pass a page's `nextCursor` back as it is, or none for the first page.",
  },
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
  OUTPUT_TOO_LARGE_FOR_FORMAT: {
    status: 422,
    hint: 'The result is wider or taller than its output format holds (WebP 16383 px, AVIF 16384 px, JPEG 65535 px a side); choose PNG or resize it.',
  },
  // 400, not 413: the request is small; its parameters ask for too big a result, and the fix is
  // to change them (413 would read as "your upload is too big").
  OUTPUT_TOO_LARGE: {
    status: 400,
    hint: 'A step would make an image with more pixels than the output limit; ask for a smaller size.',
  },
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
  IMAGE_NOT_ANALYSED: {
    status: 409,
    hint: 'The image has not been analysed yet (palette, hashes): try again once its analysis is done.',
  },
  USER_NOT_FOUND: { status: 404, hint: 'No user has this id or email.' },
  LAST_ADMIN: {
    status: 409,
    hint: 'This is the last enabled administrator; make another user an administrator before taking the role from this one.',
  },
  JOB_NOT_FINISHED: { status: 409, hint: 'The job has no result yet; wait until it has succeeded.' },
  JOB_NOT_CANCELLABLE: { status: 409, hint: 'The job has already finished.' },
  JOB_NOT_RETRYABLE: { status: 409, hint: 'Only failed or cancelled jobs can be retried.' },
  USAGE_INVALID: { status: 400, hint: 'The command line is malformed; see --help.' },
  OUTPUT_WRITE_FAILED: { status: 500, hint: 'The result could not be written.' },
  // CLI only (`atelier client generate --url`): the server asked is the one that failed to answer.
  STYLES_UNAVAILABLE: {
    status: 503,
    hint: 'The styles could not be read from the server at --url (GET /api/styles); check the URL and that the server is running.',
  },
  TARGET_NOT_EMPTY: {
    status: 409,
    hint: 'The directory for a new plugin exists and has files; choose a new or empty directory.',
  },
  PLUGIN_SCAFFOLD_FAILED: {
    status: 500,
    hint: 'Packing the SDK or writing and installing the new plugin package failed; the message says which step.',
  },
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
  AUTH_WRONG_PASSWORD: {
    status: 400,
    hint: 'The current password is wrong; the session stays signed in, so ask again for it.',
  },
  AUTH_EMAIL_TAKEN: { status: 409, hint: 'An account with this email exists; sign in instead.' },
  AUTH_WEAK_PASSWORD: { status: 400, hint: 'Passwords are 8 to 256 characters and not only spaces.' },
  RATE_LIMITED: {
    status: 429,
    hint: 'Too many requests (or accounts created) from this address; wait `details.retryAfterSeconds` seconds.',
  },
  BATCH_TOO_LARGE: {
    status: 400,
    hint: 'A tRPC batch has more calls than the server allows (`details.maxBatchSize`); split it.',
  },
  // images.uploadMany and POST /api/images/batch (docs/gallery.md, "Batch upload"): the request as
  // a whole, before any file is stored. A file of the batch fails on its own with its own code.
  UPLOAD_TOO_MANY_FILES: {
    status: 400,
    hint: 'A batch upload has more files than the server takes in one request (`details.maxFiles`); send them in several requests.',
  },
  UPLOAD_BATCH_TOO_LARGE: {
    status: 413,
    hint: 'A batch upload is larger than the request cap (`details.limitBytes`); send the files in several smaller requests.',
  },
  BODY_TOO_LARGE: {
    status: 413,
    hint: 'JSON request bodies are at most `details.limitBytes` bytes; send images as uploads.',
  },
  FORBIDDEN: { status: 403, hint: 'Your account may not do this; ask an administrator.' },
  USER_DISABLED: { status: 403, hint: 'An administrator disabled this account.' },
  DOWNLOAD_URL_INVALID: {
    status: 403,
    hint: 'The signed download URL expired (after 5 minutes) or was revoked by signing out everywhere or changing the password; ask images/jobs.downloadUrl for a new one.',
  },
  ORIGIN_UNTRUSTED: {
    status: 403,
    hint: 'A cookie-authenticated change came from a site not in ATELIER_ALLOWED_ORIGINS (or without an Origin header).',
  },
  // The request itself, before any procedure runs: what the API answers when tRPC or the HTTP
  // server refuses it, so that every error carries a code.
  REQUEST_MALFORMED: {
    status: 400,
    hint: 'The request is malformed: the body or `input` is not valid JSON, or not the shape the procedure takes.',
  },
  REQUEST_REFUSED: { status: 400, hint: 'The server refused the request; the message says why.' },
  PROCEDURE_NOT_FOUND: {
    status: 404,
    hint: 'No procedure or route has this path; the API docs (/docs, /openapi.json) list them.',
  },
  METHOD_NOT_ALLOWED: {
    status: 405,
    hint: 'Send queries with GET and mutations with POST (REST routes: the method /openapi.json gives).',
  },
  REQUEST_TIMEOUT: { status: 408, hint: 'The request took too long to arrive or to answer; try again.' },
  CONTENT_TYPE_UNSUPPORTED: {
    status: 415,
    hint: 'Send JSON as application/json; uploads as multipart/form-data (tRPC) or the raw image bytes (REST).',
  },
  SERVICE_UNAVAILABLE: {
    status: 503,
    hint: 'The server cannot answer now (starting, stopping or overloaded); try again shortly.',
  },
  INTERNAL: {
    status: 500,
    hint: 'Something failed on the server; the details are in its log under the request id.',
  },
  QUOTA_EXCEEDED: {
    status: 429,
    hint: 'Your account used its budget for this period; wait `details.retryAfterSeconds` seconds.',
  },
  // 403, not 413 or 429: waiting does not help and the upload itself may be small; deleting
  // images or a larger quota from an administrator does.
  STORAGE_QUOTA_EXCEEDED: {
    status: 403,
    hint: 'Your stored images and results fill your storage quota; delete some or ask an administrator.',
  },
  // Paid HD (docs/payments.md).
  PAYMENT_REQUIRED: {
    status: 402,
    hint: "The full-resolution (HD) result is unlocked by a payment; `details.price` is the price, payments.createCheckout opens Stripe's checkout.",
  },
  PAYMENT_NOT_FOUND: { status: 404, hint: 'No payment has this id (or it is not yours).' },
  PAYMENTS_DISABLED: {
    status: 404,
    hint: 'Payments are off on this server (no STRIPE_SECRET_KEY); HD results are free.',
  },
  PAYMENTS_CONFIG_INVALID: {
    status: 500,
    hint: 'STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET or ATELIER_HD_PRICE is malformed or was refused by Stripe; fix it (docs/payments.md).',
  },
  PAYMENT_PROVIDER_FAILED: {
    status: 503,
    hint: 'Stripe could not be reached or refused the checkout; try again (a retry never charges twice).',
  },
  WEBHOOK_SIGNATURE_INVALID: {
    status: 400,
    hint: 'The Stripe-Signature header is missing, does not match STRIPE_WEBHOOK_SECRET, or is older than 5 minutes.',
  },
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
