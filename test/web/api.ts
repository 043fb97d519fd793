// The API as a browser context calls it: through the context's own cookie jar (the session cookie
// the page also uses), with the app's Origin. For setting up data and for checking what a screen
// shows against what the API answers.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';

export interface Answer<T> {
  readonly status: number;
  readonly data?: T;
  /** Atelier's error code (`data.atelierCode`), e.g. FORBIDDEN. */
  readonly code?: string;
}

interface TrpcBody<T> {
  readonly result?: { readonly data: T };
  readonly error?: { readonly message?: string; readonly data?: { readonly atelierCode?: string } };
}

async function answer<T>(response: { status(): number; json(): Promise<unknown> }): Promise<Answer<T>> {
  const body = (await response.json()) as TrpcBody<T>;
  if (body.result) return { status: response.status(), data: body.result.data };
  const code = body.error?.data?.atelierCode;
  return { status: response.status(), ...(code ? { code } : {}) };
}

/** The data of a successful answer; throws with the answer otherwise. */
export function ok<T>(what: string, a: Answer<T>): T {
  if (a.data === undefined) throw new Error(`${what}: ${a.status} ${a.code ?? ''}`);
  return a.data;
}

export class Api {
  readonly context: BrowserContext;
  readonly baseURL: string;
  constructor(context: BrowserContext, baseURL: string) {
    this.context = context;
    this.baseURL = baseURL;
  }

  async query<T>(procedure: string, input?: unknown): Promise<Answer<T>> {
    const query = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
    return answer<T>(
      await this.context.request.get(`${this.baseURL}/trpc/${procedure}${query}`, {
        headers: { origin: this.baseURL },
      }),
    );
  }

  async mutate<T>(procedure: string, input?: unknown): Promise<Answer<T>> {
    return answer<T>(
      await this.context.request.post(`${this.baseURL}/trpc/${procedure}`, {
        headers: { origin: this.baseURL },
        ...(input === undefined ? {} : { data: input }),
      }),
    );
  }

  /** Creates an account and signs this context in with it. */
  async register(email: string, password: string, displayName = email.split('@')[0]!): Promise<void> {
    ok('auth.register', await this.mutate('auth.register', { email, password, displayName }));
  }

  async signIn(email: string, password: string): Promise<void> {
    ok('auth.login', await this.mutate('auth.login', { email, password }));
  }

  /** Uploads a photo (multipart, as the studio does); returns the image id. */
  async upload(file: string): Promise<string> {
    const name = path.basename(file);
    const response = await this.context.request.post(`${this.baseURL}/trpc/images.upload`, {
      headers: { origin: this.baseURL },
      multipart: {
        file: { name, mimeType: mimeOf(name), buffer: await readFile(file) },
        name,
      },
    });
    return ok('images.upload', await answer<{ id: string }>(response)).id;
  }

  /** Submits a job and waits until it ends; returns its final view. */
  async render(imageId: string, style: string, timeoutMs = 60_000): Promise<JobView> {
    const job = ok('jobs.create', await this.mutate<JobView>('jobs.create', { imageId, style }));
    return this.waitForJob(job.id, timeoutMs);
  }

  async waitForJob(id: string, timeoutMs = 60_000): Promise<JobView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const job = ok('jobs.get', await this.query<JobView>('jobs.get', { id }));
      if (['succeeded', 'failed', 'cancelled', 'dead'].includes(job.status)) return job;
      if (Date.now() > deadline) throw new Error(`job ${id} still ${job.status} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** The bytes the API serves for a job's result: jobs.downloadUrl, then that signed URL. */
  async resultBytes(jobId: string): Promise<Buffer> {
    const { url } = ok(
      'jobs.downloadUrl',
      await this.query<{ url: string }>('jobs.downloadUrl', { id: jobId }),
    );
    const response = await this.context.request.get(new URL(url, this.baseURL).href);
    if (!response.ok()) throw new Error(`GET ${url}: ${response.status()}`);
    return response.body();
  }
}

export interface JobView {
  readonly id: string;
  readonly status: string;
  readonly style: string;
  readonly imageId: string;
}

function mimeOf(name: string): string {
  const ext = path.extname(name).toLowerCase();
  if (ext === '.png') return 'image/png';
  if (ext === '.webp') return 'image/webp';
  return 'image/jpeg';
}
