// What openai-image and openai-describe share: one call to an OpenAI-compatible API through the
// host's ctx.fetch (the only network a plugin has), with retries and the provider's errors mapped
// to Atelier's codes, and the price tables their cost estimates come from.
//
// Only ctx.fetch and ctx.secret: never the global fetch or process.env (test/ai-plugins-source.test.ts
// and the lint rule for this folder check it), so the host's allow-list and grants hold.
import { AtelierError, isAtelierError, z } from '@atelier/core';
import type { HostFetchInit, PluginContext } from '@atelier/core';

/** The secret both plugins send as `Authorization: Bearer ...`. */
export const OPENAI_SECRET = 'OPENAI_API_KEY';
/** The host both plugins declare; a compatible provider's host must be granted instead or as well. */
export const OPENAI_HOST = 'api.openai.com';

/** Parameters both plugins take. */
export const providerParams = {
  baseUrl: z
    .url({ protocol: /^https?$/ })
    .default('https://api.openai.com')
    .describe(
      'Root of an OpenAI-compatible API. The plugin reaches only the hosts it declares (api.openai.com) and an administrator granted; any other host is refused (CAPABILITY_DENIED).',
    ),
  attempts: z
    .number()
    .int()
    .min(1)
    .max(6)
    .default(4)
    .describe('Tries per call: the first and the retries after a 429, a 5xx or a network failure.'),
  inputPrice: z
    .number()
    .min(0)
    .optional()
    .describe('USD per million input tokens, for the cost estimate; default: the price table for `model`.'),
  outputPrice: z
    .number()
    .min(0)
    .optional()
    .describe('USD per million output tokens, for the cost estimate; default: the price table for `model`.'),
};

/** First retry's delay; each next one doubles, with full jitter, up to {@link MAX_BACKOFF_MS}. */
const BASE_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 8_000;
/** A `Retry-After` longer than this is not waited for: the call fails as rate-limited at once. */
const MAX_RETRY_AFTER_MS = 30_000;

/** The parameters of {@link callProvider}. */
export interface ProviderCall {
  readonly url: string;
  readonly method: 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly form?: HostFetchInit['form'];
  readonly attempts: number;
  /** Per attempt. */
  readonly timeoutMs: number;
  /** What the call is for, in messages: e.g. 'image edit'. */
  readonly what: string;
}

/** The provider's `{ error: { message, type, code } }`, when the body has one. */
function providerError(body: unknown): { message?: string; type?: string; code?: string } {
  if (body === null || typeof body !== 'object') return {};
  const error = (body as { error?: unknown }).error;
  if (error === null || typeof error !== 'object') return {};
  const { message, type, code } = error as Record<string, unknown>;
  return {
    ...(typeof message === 'string' ? { message } : {}),
    ...(typeof type === 'string' ? { type } : {}),
    ...(typeof code === 'string' ? { code } : {}),
  };
}

/**
 * A provider's message, fit to show: without the key (providers echo a masked or whole key on a
 * 401), without anything that looks like one, on one line and short.
 */
export function cleanMessage(message: string, secret: string): string {
  let text = message;
  if (secret.length >= 4) text = text.split(secret).join('[redacted]');
  text = text
    .replace(/\b(sk|rk|pk)-[A-Za-z0-9_*-]{4,}/g, '[redacted]')
    .replace(/Bearer\s+\S+/gi, 'Bearer [redacted]')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}

/** Milliseconds a 429/503 asks to wait (`retry-after-ms`, `retry-after` in seconds or as a date). */
export function retryAfterMs(headers: Readonly<Record<string, string>>): number | undefined {
  const ms = Number(headers['retry-after-ms']);
  if (headers['retry-after-ms'] !== undefined && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers['retry-after'];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (value.trim() !== '' && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUES = new Int16Array(128).fill(-1);
for (let i = 0; i < BASE64.length; i++) BASE64_VALUES[BASE64.charCodeAt(i)] = i;

/**
 * Standard base64 of `bytes`. Plain JavaScript, not Node's Buffer: the plugin also runs where
 * there is no Buffer (the sandbox, with ATELIER_SANDBOX_BUILTINS=1).
 */
export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = [];
  let chunk = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i]!;
    const b = i + 1 < bytes.length ? bytes[i + 1]! : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2]! : 0;
    chunk +=
      BASE64[a >> 2]! +
      BASE64[((a & 3) << 4) | (b >> 4)]! +
      (i + 1 < bytes.length ? BASE64[((b & 15) << 2) | (c >> 6)]! : '=') +
      (i + 2 < bytes.length ? BASE64[c & 63]! : '=');
    if (chunk.length >= 8192) {
      parts.push(chunk);
      chunk = '';
    }
  }
  parts.push(chunk);
  return parts.join('');
}

/** The bytes of standard base64 (whitespace ignored); undefined when `text` is not base64. */
export function fromBase64(text: string): Uint8Array | undefined {
  const clean = text.replace(/[\s]/g, '').replace(/=+$/, '');
  if (clean.length % 4 === 1) return undefined;
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (let i = 0; i < clean.length; i++) {
    const code = clean.charCodeAt(i);
    const v = code < 128 ? BASE64_VALUES[code]! : -1;
    if (v < 0) return undefined;
    value = (value << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 0xff;
    }
  }
  return out;
}

/** Whether this realm has timers (worker threads and the sandbox do): without them a retry cannot wait. */
const hasTimers = typeof globalThis.setTimeout === 'function';

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Makes one API call through `ctx.fetch` and returns the parsed JSON of a 2xx answer. Retries a
 * 429 (honouring `Retry-After`), a 5xx and a network failure (`FETCH_FAILED`) up to `attempts`
 * tries in all, with exponential backoff and full jitter, and stops at once when the step is
 * cancelled. Errors: 401/403 `PROVIDER_AUTH_FAILED`; other 4xx `PROVIDER_REJECTED` (with the
 * provider's message); 429 through every try, or a quota that waiting does not fix,
 * `PROVIDER_RATE_LIMITED`; 5xx or network failure through every try `PROVIDER_UNAVAILABLE`; a 2xx
 * that is not JSON `PROVIDER_BAD_RESPONSE`. The key is never in a message. The host's own refusals
 * (`CAPABILITY_DENIED`: a host or secret not granted) pass through unchanged.
 */
export async function callProvider(
  ctx: PluginContext<unknown>,
  call: ProviderCall,
  secret: string,
): Promise<unknown> {
  const details = { url: call.url.split('?')[0] };
  let last: AtelierError | undefined;
  for (let attempt = 1; attempt <= call.attempts; attempt++) {
    ctx.signal.throwIfAborted();
    let wait: number | undefined;
    try {
      const response = await ctx.fetch(call.url, {
        method: call.method,
        headers: call.headers ?? {},
        ...(call.body === undefined ? {} : { body: call.body }),
        ...(call.form === undefined ? {} : { form: call.form }),
        timeoutMs: call.timeoutMs,
      });
      const text = response.text();
      if (response.ok) {
        const json = parseJson(text);
        if (json === undefined) {
          throw new AtelierError(
            'PROVIDER_BAD_RESPONSE',
            `The ${call.what} answered ${response.status} with a body that is not JSON.`,
            { details: { ...details, status: response.status } },
          );
        }
        return json;
      }
      const error = providerError(parseJson(text));
      const said = error.message ? `: ${cleanMessage(error.message, secret)}` : '.';
      const where = {
        ...details,
        status: response.status,
        ...(error.code ? { providerCode: error.code } : {}),
      };
      if (response.status === 401 || response.status === 403) {
        throw new AtelierError(
          'PROVIDER_AUTH_FAILED',
          `The provider refused the API key for the ${call.what} (${response.status})${said}`,
          { details: where },
        );
      }
      if (response.status === 429) {
        last = new AtelierError(
          'PROVIDER_RATE_LIMITED',
          `The provider kept refusing the ${call.what} as over its rate limit (429)${said}`,
          { details: { ...where, attempts: attempt } },
        );
        // An exhausted quota or billing limit comes back as a 429 too; waiting does not fix it.
        if (error.code === 'insufficient_quota' || error.type === 'insufficient_quota') throw last;
        wait = retryAfterMs(response.headers);
        if (wait !== undefined && wait > MAX_RETRY_AFTER_MS) throw last;
      } else if (response.status >= 500) {
        last = new AtelierError(
          'PROVIDER_UNAVAILABLE',
          `The provider failed the ${call.what} (${response.status}) on every try${said}`,
          { details: { ...where, attempts: attempt } },
        );
        wait = retryAfterMs(response.headers);
        if (wait !== undefined && wait > MAX_RETRY_AFTER_MS) wait = MAX_RETRY_AFTER_MS;
      } else {
        throw new AtelierError(
          'PROVIDER_REJECTED',
          `The provider rejected the ${call.what} (${response.status})${said}`,
          { details: where },
        );
      }
    } catch (error) {
      if (!isAtelierError(error) || error.code !== 'FETCH_FAILED') throw error;
      // A timeout or a network failure: the provider may answer on the next try.
      last = new AtelierError(
        'PROVIDER_UNAVAILABLE',
        `The provider could not be reached for the ${call.what}: ${cleanMessage(error.message, secret)}`,
        { details: { ...details, attempts: attempt } },
      );
    }
    if (attempt < call.attempts && !hasTimers) {
      // Without timers (a sandboxed run) a retry could not wait: fail now rather than hammer the provider.
      ctx.logger.warn('no timers here to wait before a retry; giving up after one attempt', {
        what: call.what,
        code: last?.code,
      });
      break;
    }
    if (attempt < call.attempts) {
      const backoff = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (attempt - 1));
      // Full jitter from Math.random, not ctx.random: the seeded one would keep identical jobs in step.
      const delay = wait ?? Math.round(Math.random() * backoff);
      ctx.logger.warn('provider call failed; retrying', {
        what: call.what,
        attempt,
        code: last?.code,
        delayMs: delay,
      });
      await sleep(delay, ctx.signal);
    }
  }
  throw last ?? new AtelierError('PROVIDER_UNAVAILABLE', `The ${call.what} was not attempted.`);
}

/** USD per million tokens. */
export interface TokenPrice {
  /** Text tokens in (for image models: the prompt). */
  readonly input: number;
  /** Image tokens in (image models only; chat models count images as input tokens). */
  readonly imageInput?: number;
  readonly output: number;
}

/**
 * The estimates' price tables, in USD per million tokens, as OpenAI published them (checked
 * December 2026; prices change: pass `inputPrice` / `outputPrice`, or update these). An unknown
 * model without those parameters reports no cost, with a warning in the log.
 */
export const IMAGE_MODEL_PRICES: Readonly<Record<string, TokenPrice>> = {
  'gpt-image-1': { input: 5, imageInput: 10, output: 40 },
  'gpt-image-1.5': { input: 5, imageInput: 8, output: 32 },
  'gpt-image-1-mini': { input: 2, imageInput: 2.5, output: 8 },
};

/** @see IMAGE_MODEL_PRICES */
export const CHAT_MODEL_PRICES: Readonly<Record<string, TokenPrice>> = {
  'gpt-5-mini': { input: 0.25, output: 2 },
  'gpt-5-nano': { input: 0.05, output: 0.4 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6 },
  'gpt-4o-mini': { input: 0.15, output: 0.6 },
};

/** The price to estimate with: the parameters' when given, else the table's; undefined if neither. */
export function priceOf(
  table: Readonly<Record<string, TokenPrice>>,
  model: string,
  params: { readonly inputPrice?: number | undefined; readonly outputPrice?: number | undefined },
): TokenPrice | undefined {
  const listed = table[model];
  if (params.inputPrice !== undefined && params.outputPrice !== undefined)
    return { input: params.inputPrice, imageInput: params.inputPrice, output: params.outputPrice };
  if (!listed) return undefined;
  return {
    input: params.inputPrice ?? listed.input,
    imageInput: params.inputPrice ?? listed.imageInput ?? listed.input,
    output: params.outputPrice ?? listed.output,
  };
}

/** A non-negative integer count from a usage object, or 0. */
export function tokens(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}

/** The base URL without a trailing slash, joined with `path`. */
export function endpoint(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${path}`;
}
