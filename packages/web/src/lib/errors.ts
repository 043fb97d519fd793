import { isApiError } from '@atelier/client';

/**
 * What each of the API's codes means to a person using the app. Codes not listed fall back to the
 * server's own message (every API error carries a sentence), then to a generic one.
 */
const SENTENCES: Partial<Record<string, string>> = {
  AUTH_REQUIRED: 'Please sign in first.',
  AUTH_INVALID_CREDENTIALS: 'That email and password do not match an account.',
  AUTH_THROTTLED: 'Too many attempts. Wait a minute, then try again.',
  AUTH_WRONG_PASSWORD: 'Your current password is not right.',
  AUTH_EMAIL_TAKEN: 'An account with this email already exists. Sign in instead.',
  AUTH_WEAK_PASSWORD: 'Choose a password of 8 to 256 characters (not only spaces).',
  USER_DISABLED: 'An administrator disabled this account.',
  FORBIDDEN: 'Your account may not do this.',
  ORIGIN_UNTRUSTED: 'This page is not allowed to act on your account. Open Atelier from its own address.',
  RATE_LIMITED: 'Too many requests. Slow down a little and try again.',
  QUOTA_EXCEEDED: 'You reached your quota for now. Try again a little later.',
  STORAGE_QUOTA_EXCEEDED: 'Your storage is full. Delete some images to make room.',
  IMAGE_EMPTY: 'The file is empty.',
  IMAGE_TOO_LARGE: 'The file is too large.',
  IMAGE_TOO_MANY_PIXELS: 'The picture has too many pixels.',
  IMAGE_FORMAT_UNSUPPORTED: 'This kind of file is not supported. Use JPEG, PNG, WebP, AVIF, GIF or TIFF.',
  IMAGE_CORRUPT: 'The file is damaged or truncated and cannot be opened.',
  UPLOAD_TOO_MANY_FILES: 'Too many files at once. Add them in smaller groups.',
  UPLOAD_BATCH_TOO_LARGE: 'These files are too large to send together. Add them in smaller groups.',
  IMAGE_NOT_FOUND: 'This image no longer exists.',
  IMAGE_NOT_ANALYSED: 'This photo has not been analysed yet: try again in a moment.',
  CURSOR_INVALID: 'This list changed while you were reading it. Reload it from the start.',
  JOB_NOT_FOUND: 'This render no longer exists.',
  JOB_NOT_FINISHED: 'This render has no result yet.',
  JOB_NOT_CANCELLABLE: 'This render has already finished.',
  JOB_NOT_RETRYABLE: 'Only failed or cancelled renders can be retried.',
  PLUGIN_NOT_FOUND: 'This style is not installed.',
  PLUGIN_DISABLED: 'An administrator turned this style off.',
  CAPABILITY_NOT_GRANTED: 'This style needs network access or secrets an administrator has not granted yet.',
  CAPABILITY_DENIED: 'The plugin asked for a host or a secret it may not have.',
  SECRETS_KEY_MISSING: 'The server has no ATELIER_SECRETS_KEY (or the wrong one), so secrets cannot be used.',
  SECRET_NOT_FOUND: 'A secret this style needs has not been stored yet.',
  FETCH_FAILED: 'The service this style calls did not answer in time. Try again later.',
  PLUGIN_TIMEOUT: 'The style took too long on this picture and was stopped.',
  PLUGIN_FAILED: 'The style failed on this picture.',
  PLUGIN_INVALID: 'The plugin is malformed: its author needs to fix it.',
  PLUGIN_DUPLICATE: 'Another plugin already uses this id: the first one loaded stays.',
  PLUGIN_ENGINE_MISMATCH: 'The plugin was made for another version of Atelier.',
  PLUGIN_LOAD_FAILED: 'The plugin could not be loaded: its file or package is missing or broken.',
  PLUGIN_OUT_OF_MEMORY: 'The style needed more memory than allowed on this picture. Try a smaller one.',
  PARAMS_INVALID: 'Some settings are out of range.',
  OUTPUT_TOO_LARGE_FOR_FORMAT: 'The result is too large for this format. Pick another format.',
  USER_NOT_FOUND: 'No such user.',
  LAST_ADMIN: 'Atelier needs at least one administrator: promote someone else first.',
  PAYMENT_REQUIRED: 'The full-size (HD) result is locked until it is paid for.',
  PAYMENT_PROVIDER_FAILED:
    'Stripe, our payment provider, could not be reached. Nothing was charged; try again in a moment.',
  PAYMENTS_DISABLED: 'Payments are turned off on this Atelier: full-size results are free here.',
  PAYMENT_NOT_FOUND: 'This payment does not exist, or it is not yours.',
  SERVICE_UNAVAILABLE: 'Atelier is busy or restarting. Try again in a moment.',
  STORAGE_FAILED: 'Storage is unavailable right now. Try again in a moment.',
  REQUEST_TIMEOUT: 'The request took too long. Try again.',
  INTERNAL: 'Something went wrong on our side. Try again; if it keeps happening, tell an administrator.',
};

/** The sentence for an API code (e.g. a failed job's `error.code`), when the app has one. */
export function sentenceFor(code: string): string | undefined {
  return SENTENCES[code];
}

/** The API code of an error, when it has one. */
export function codeOf(error: unknown): string | undefined {
  if (isApiError(error)) return error.data?.atelierCode;
  return undefined;
}

/** A sentence for any failure: an API error by its code, a lost connection, or anything else. */
export function messageOf(error: unknown): string {
  if (isApiError(error)) {
    const code = error.data?.atelierCode;
    const sentence = code ? SENTENCES[code] : undefined;
    if (sentence) return sentence;
    if (!error.data) return 'Atelier cannot be reached. Check your connection; we will keep trying.';
    return error.message || 'The request failed.';
  }
  if (error instanceof DOMException && error.name === 'AbortError') return 'Cancelled.';
  if (error instanceof Error && error.message) return error.message;
  return 'Something went wrong.';
}
