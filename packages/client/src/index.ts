import {
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
export type AtelierClient = TRPCClient<AppRouter>;

/** Options of {@link createAtelierClient}. */
export interface AtelierClientOptions {
  /** The server's base URL, e.g. `https://atelier.example.org` (tRPC lives under `/trpc`). */
  readonly url: string;
  /** A session token (from `auth.login`) sent as `Authorization: Bearer`. Browsers may rely on the cookie instead. */
  readonly token?: string | (() => string | undefined);
  /** A fetch implementation. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** An EventSource implementation for progress streams; Node has none built in (use the `eventsource` package). @default globalThis.EventSource */
  readonly EventSource?: typeof EventSource;
  /** Send cookies cross-origin (browsers). @default 'include' */
  readonly credentials?: 'include' | 'same-origin' | 'omit';
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
  const token = (): string | undefined => (typeof options.token === 'function' ? options.token() : options.token);
  const headers = (): Record<string, string> => {
    const t = token();
    return t ? { authorization: `Bearer ${t}` } : {};
  };
  // tRPC's own fetch type is looser than the DOM's; this adapter satisfies both.
  const fetchImpl = (input: string | URL | Request, init?: object): Promise<Response> =>
    (options.fetch ?? globalThis.fetch)(input, { ...(init as RequestInit), credentials: options.credentials ?? 'include' });
  const EventSourceImpl = options.EventSource ?? globalThis.EventSource;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === 'subscription',
        true: httpSubscriptionLink({
          url: base,
          ...(EventSourceImpl ? { EventSource: EventSourceImpl } : {}),
          eventSourceOptions: () => {
            const t = token();
            // A Bearer header for EventSource implementations that accept one (the `eventsource` package does).
            return t
              ? ({
                  fetch: (input: string | URL | Request, init?: RequestInit) =>
                    fetchImpl(input, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${t}` } }),
                } as EventSourceInit)
              : ({ withCredentials: true } as EventSourceInit);
          },
        }),
        false: splitLink({
          condition: (op) => isNonJsonSerializable(op.input),
          true: httpLink({ url: base, headers, fetch: fetchImpl }),
          false: httpBatchLink({ url: base, headers, fetch: fetchImpl }),
        }),
      }),
    ],
  });
}

/** Builds the form an upload takes: `atelier.images.upload.mutate(uploadForm(blob, 'photo.jpg'))`. */
export function uploadForm(file: Blob, name?: string): FormData {
  const form = new FormData();
  form.set('file', file, name ?? 'upload');
  if (name) form.set('name', name);
  return form;
}
