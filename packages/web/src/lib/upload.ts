import { createAtelierClient, uploadForm, uploadManyForm } from '@atelier/client';
import type { AtelierOutputs } from '@atelier/client';

export type UploadedImage = AtelierOutputs['images']['upload'];
/** One file's answer in a batch upload: its image, or a coded error. */
export type UploadResult = AtelierOutputs['images']['uploadMany']['results'][number];

/**
 * How the app splits a selection into batch uploads: at most this many files and bytes in one
 * request, under the server's defaults (50 files, 100 MiB: ATELIER_UPLOAD_MAX_FILES and
 * ATELIER_UPLOAD_BATCH_MAX_BYTES), so that a large selection shows progress batch by batch.
 */
export const BATCH_LIMITS = { maxFiles: 20, maxBytes: 40 * 1024 * 1024 } as const;

/** How far an upload got: bytes sent of the total (the total is unknown until the browser computes it). */
export interface UploadProgress {
  readonly loaded: number;
  readonly total: number | undefined;
}

/** The fields of `getAllResponseHeaders()` ("name: value" lines, CRLF-separated) as Headers. */
export function parseResponseHeaders(raw: string): Headers {
  const headers = new Headers();
  for (const line of raw.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    try {
      headers.append(name, value);
    } catch {
      // A header name the Headers class refuses: not one the client reads.
    }
  }
  return headers;
}

/** The headers of a fetch `init`, whatever form they were given in, as name/value pairs. */
export function headerEntries(headers: HeadersInit | undefined): Array<[string, string]> {
  if (!headers) return [];
  return [...new Headers(headers).entries()];
}

/** Statuses whose response may not have a body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * A `fetch` over XMLHttpRequest, which (unlike fetch) reports upload progress: `onProgress` is
 * called as the request body goes out. It supports what the tRPC client sends (method, headers,
 * body, credentials, signal) and answers a real `Response`; a network failure rejects with a
 * TypeError and an abort with an AbortError, as fetch does.
 */
export function progressFetch(onProgress: (progress: UploadProgress) => void): typeof fetch {
  return (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : undefined;
    const url = request ? request.url : String(input);
    const method = init?.method ?? request?.method ?? 'GET';
    const signal = init?.signal ?? request?.signal ?? null;
    return new Promise<Response>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason instanceof Error ? signal.reason : new DOMException('Aborted', 'AbortError'));
        return;
      }
      const xhr = new XMLHttpRequest();
      xhr.open(method, url, true);
      xhr.responseType = 'blob';
      xhr.withCredentials = (init?.credentials ?? request?.credentials) === 'include';
      for (const [name, value] of headerEntries(init?.headers ?? request?.headers)) {
        xhr.setRequestHeader(name, value);
      }
      xhr.upload.onprogress = (event) =>
        onProgress({ loaded: event.loaded, total: event.lengthComputable ? event.total : undefined });
      const onAbort = () => xhr.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      xhr.onload = () => {
        done();
        const status = xhr.status;
        const body = NULL_BODY.has(status) ? null : (xhr.response as Blob | null);
        resolve(
          new Response(body, {
            status,
            statusText: xhr.statusText,
            headers: parseResponseHeaders(xhr.getAllResponseHeaders()),
          }),
        );
      };
      xhr.onerror = () => {
        done();
        reject(new TypeError('Failed to fetch'));
      };
      xhr.ontimeout = xhr.onerror;
      xhr.onabort = () => {
        done();
        reject(signal?.reason instanceof Error ? signal.reason : new DOMException('Aborted', 'AbortError'));
      };
      xhr.send((init?.body ?? null) as XMLHttpRequestBodyInit | null);
    });
  };
}

/**
 * Uploads one photo with progress: a client of its own whose fetch is {@link progressFetch}
 * (the app's client uses fetch, which cannot report upload progress).
 */
export async function uploadWithProgress(
  file: File,
  onProgress: (progress: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<UploadedImage> {
  const client = createAtelierClient({
    url: window.location.origin,
    credentials: 'same-origin',
    fetch: progressFetch(onProgress),
  });
  return client.images.upload.mutate(uploadForm(file, file.name), signal ? { signal } : {});
}

/** A fraction from 0 to 1 of an upload's progress (0 while the total is unknown). */
export function fractionOf(progress: UploadProgress): number {
  if (!progress.total) return 0;
  return Math.min(1, Math.max(0, progress.loaded / progress.total));
}

/**
 * Splits files into consecutive batches of at most `maxFiles` files and `maxBytes` bytes, in
 * order. A file larger than `maxBytes` goes alone (the server answers it with its own error).
 */
export function batchesOf<T extends { readonly size: number }>(
  files: readonly T[],
  limits: { readonly maxFiles: number; readonly maxBytes: number } = BATCH_LIMITS,
): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const file of files) {
    if (current.length > 0 && (current.length >= limits.maxFiles || bytes + file.size > limits.maxBytes)) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(file);
    bytes += file.size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Each file's share of a batch upload's progress: the form sends the files one after the other,
 * so the bytes sent (scaled from the body's total to the files' own bytes) fill them in order.
 * All 0 while the total is unknown.
 */
export function fileFractions(sizes: readonly number[], progress: UploadProgress): number[] {
  const overall = fractionOf(progress);
  const sum = sizes.reduce((a, b) => a + b, 0);
  let start = 0;
  return sizes.map((size) => {
    const sent = overall * sum - start;
    start += size;
    if (size === 0) return overall > 0 ? 1 : 0;
    return Math.min(1, Math.max(0, sent / size));
  });
}

/**
 * Uploads several photos in one request (`images.uploadMany`) with progress, as
 * {@link uploadWithProgress} does for one: the answer has one result per file, in order.
 */
export async function uploadManyWithProgress(
  files: readonly File[],
  onProgress: (progress: UploadProgress) => void,
  signal?: AbortSignal,
): Promise<UploadResult[]> {
  const client = createAtelierClient({
    url: window.location.origin,
    credentials: 'same-origin',
    fetch: progressFetch(onProgress),
  });
  const answer = await client.images.uploadMany.mutate(uploadManyForm(files), signal ? { signal } : {});
  return answer.results;
}
