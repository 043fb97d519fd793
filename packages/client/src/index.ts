import {
  TRPCClientError,
  createTRPCClient,
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  isNonJsonSerializable,
  splitLink,
} from '@trpc/client';
import type { TRPCClient } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '@atelier/server';

export type { AppRouter };
/** Inputs of every procedure, e.g. `AtelierInputs['jobs']['create']`. */
export type AtelierInputs = inferRouterInputs<AppRouter>;
/** Outputs of every procedure, e.g. `AtelierOutputs['jobs']['get']`. */
export type AtelierOutputs = inferRouterOutputs<AppRouter>;
/** The client {@link createAtelierClient} returns: `atelier.jobs.create.mutate(...)` and so on. */
export type AtelierClient = TRPCClient<AppRouter>;

export { TRPCClientError };

/**
 * Whether `error` is an error of the API (or of reaching it), typed: `error.data` then has the
 * tRPC `code` (e.g. `'NOT_FOUND'`), the HTTP status and Atelier's own `atelierCode` (e.g.
 * `'PARAMS_INVALID'`; every error the API sends has one). `data` is undefined when the
 * server could not be reached.
 *
 * @example
 * try {
 *   await atelier.jobs.create.mutate({ imageId, style: 'cartoon', params: { levels: 6 } });
 * } catch (error) {
 *   if (isApiError(error) && error.data?.atelierCode === 'PARAMS_INVALID') showFormErrors(error.data.details);
 *   else throw error;
 * }
 */
export function isApiError(error: unknown): error is TRPCClientError<AppRouter> {
  return error instanceof TRPCClientError;
}

/** Options an {@link EventSourceConstructor} is given: the DOM's, plus `fetch` for implementations that take one. */
export interface EventSourceOptions {
  readonly withCredentials?: boolean;
  /** Used by the `eventsource` package to send the Bearer header; browsers' EventSource ignores it. */
  readonly fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
}

/**
 * The part of an `EventSource` class the client uses. The browser's own fits, and so does the
 * `eventsource` package's (for Node, which has none built in).
 *
 * @example
 * import { EventSource } from 'eventsource';
 * const atelier = createAtelierClient({ url, token, EventSource });
 */
export interface EventSourceConstructor {
  new (
    url: string,
    init?: EventSourceOptions,
  ): {
    readonly CLOSED: number;
    readonly CONNECTING: number;
    readonly OPEN: number;
    readonly readyState: number;
    addEventListener(type: string, listener: (event: MessageEvent) => void): void;
    removeEventListener(type: string, listener: (event: MessageEvent) => void): void;
    close(): void;
  };
}

/** Options of {@link createAtelierClient}. */
export interface AtelierClientOptions {
  /** The server's base URL, e.g. `https://atelier.example.org` (tRPC lives under `/trpc`). */
  readonly url: string;
  /** A session token (from `auth.login`) sent as `Authorization: Bearer`. Browsers may rely on the cookie instead. */
  readonly token?: string | (() => string | undefined);
  /** A fetch implementation. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** An EventSource implementation for progress streams; Node has none built in (use the `eventsource` package). @default globalThis.EventSource */
  readonly EventSource?: EventSourceConstructor;
  /** Send cookies cross-origin (browsers). @default 'include' */
  readonly credentials?: 'include' | 'same-origin' | 'omit';
  /**
   * The most calls sent in one batched request; more go in several. Keep it at or under the
   * server's `ATELIER_TRPC_MAX_BATCH`, which refuses larger batches with BATCH_TOO_LARGE. @default 20
   */
  readonly maxBatchSize?: number;
}

/**
 * A fully typed client of the Atelier API: queries and mutations are batched; uploads (FormData)
 * go unbatched; `jobs.onUpdate` streams Server-Sent Events and resumes after a reconnect.
 *
 * @example
 * const atelier = createAtelierClient({ url: 'http://127.0.0.1:3000' });
 * const { token } = await atelier.auth.login.mutate({ email, password });
 */
export function createAtelierClient(options: AtelierClientOptions): AtelierClient {
  const base = `${options.url.replace(/\/$/, '')}/trpc`;
  const token = (): string | undefined =>
    typeof options.token === 'function' ? options.token() : options.token;
  const headers = (): Record<string, string> => {
    const t = token();
    return t ? { authorization: `Bearer ${t}` } : {};
  };
  // tRPC's own fetch type is looser than the DOM's; this adapter satisfies both.
  const fetchImpl = (input: string | URL | Request, init?: object): Promise<Response> =>
    (options.fetch ?? globalThis.fetch)(input, {
      ...(init as RequestInit),
      credentials: options.credentials ?? 'include',
    });
  // Node has no global EventSource: then subscriptions need one passed in.
  const EventSourceImpl: EventSourceConstructor | undefined = options.EventSource ?? globalThis.EventSource;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({
          url: base,
          ...(EventSourceImpl ? { EventSource: EventSourceImpl } : {}),
          eventSourceOptions: (): EventSourceOptions => {
            const t = token();
            // A Bearer header for EventSource implementations that accept one (the `eventsource` package does).
            return t
              ? {
                  fetch: (input, init) =>
                    fetchImpl(input, {
                      ...init,
                      headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${t}` },
                    }),
                }
              : { withCredentials: true };
          },
        }),
        false: splitLink({
          condition: (op) => isNonJsonSerializable(op.input),
          true: httpLink({ url: base, headers, fetch: fetchImpl }),
          false: httpBatchLink({
            url: base,
            headers,
            fetch: fetchImpl,
            maxItems: options.maxBatchSize ?? 20,
          }),
        }),
      }),
    ],
  });
}

/** Options of {@link uploadForm} and {@link uploadManyForm}. */
export interface UploadOptions {
  /**
   * Wait up to this many milliseconds (at most 10,000) for the queued analysis of the upload, so
   * the answer's `duplicates` says which of your images it nearly duplicates. Without it the answer
   * comes at once, with `duplicates.analysis: 'pending'` for a new photo.
   */
  readonly waitForAnalysisMs?: number;
}

/**
 * Builds the form a batch upload takes: one `file` field per photo and a `name` field for each
 * (empty when it has none), in order. Results come back in the same order.
 *
 * @example
 * const { results } = await atelier.images.uploadMany.mutate(uploadManyForm([a, { file: b, name: 'b.jpg' }]));
 * for (const r of results) console.log(r.name, r.ok ? r.image.id : r.error.code);
 */
export function uploadManyForm(
  files: readonly (Blob | { readonly file: Blob; readonly name?: string })[],
  options: UploadOptions = {},
): FormData {
  const form = new FormData();
  if (options.waitForAnalysisMs !== undefined)
    form.set('waitForAnalysisMs', String(options.waitForAnalysisMs));
  for (const entry of files) {
    const file = entry instanceof Blob ? entry : entry.file;
    const given = entry instanceof Blob ? undefined : entry.name;
    const name = given ?? (typeof File !== 'undefined' && file instanceof File ? file.name : undefined);
    form.append('file', file, name ?? 'upload');
    form.append('name', name ?? '');
  }
  return form;
}

/**
 * Builds the form an upload takes: `atelier.images.upload.mutate(uploadForm(blob, 'photo.jpg'))`.
 *
 * @example
 * const image = await atelier.images.upload.mutate(uploadForm(blob, 'beach.jpg', { waitForAnalysisMs: 3000 }));
 * if (image.alreadyUploaded || image.duplicates.duplicates.length > 0) console.log('you already have this (or nearly)');
 */
export function uploadForm(file: Blob, name?: string, options: UploadOptions = {}): FormData {
  const form = new FormData();
  form.set('file', file, name ?? 'upload');
  if (name) form.set('name', name);
  if (options.waitForAnalysisMs !== undefined)
    form.set('waitForAnalysisMs', String(options.waitForAnalysisMs));
  return form;
}
