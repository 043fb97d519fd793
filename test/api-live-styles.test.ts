// What a web app open in two browsers relies on: `styles.onChange` tells every open session,
// on every API process, that an administrator changed the plugins (within a second), and a
// cookie session on the API's own origin can call mutations and follow both event streams
// without a Bearer token.
import { EventSource } from 'eventsource';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { createAtelierClient, uploadForm } from '@atelier/client';
import type { AtelierClient, AtelierInputs, AtelierOutputs, EventSourceOptions } from '@atelier/client';
import { buildApp, createApiServices, openServices, readConfig } from '@atelier/server';
import type { Services } from '@atelier/server';
import { photo, read, testPluginDir } from './helpers.ts';
import { codeOf, startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';
import { eventually } from './jobs-harness.ts';

let h: ApiHarness;
let admin: AtelierClient;
/** A second API process on the same database, with its own registry, listening on its own port. */
let other: { core: Services; app: FastifyInstance; url: string; close: () => Promise<void> };

beforeAll(async () => {
  h = await startApi();
  const root = await h.signUp('root@example.org', 'administrator password');
  await h.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', root.userId).execute();
  admin = root.client;
  const core = await openServices(
    readConfig(
      {
        DATABASE_URL: h.database.url,
        ATELIER_PLUGIN_DIR: testPluginDir,
        ATELIER_STORAGE_DIR: `${h.core.config.dataDir}/storage`,
      },
      h.core.config.root,
    ),
    {},
  );
  const api = await createApiServices(core, {});
  const app = await buildApp(api);
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  other = {
    core,
    app,
    url,
    close: async () => {
      await app.close();
      await api.close();
      await core.close();
    },
  };
});
afterAll(async () => {
  await other.close();
  await h.close();
});

/** Node's stand-in for a browser's EventSource: it sends the session cookie, as a browser does on its own origin. */
function cookieEventSource(cookie: string) {
  return class extends EventSource {
    constructor(url: string | URL, init?: EventSourceOptions) {
      super(url, {
        fetch: (input, requestInit) =>
          fetch(input, { ...requestInit, headers: { ...requestInit?.headers, cookie } }),
        ...(init?.withCredentials === undefined ? {} : { withCredentials: init.withCredentials }),
      });
    }
  };
}

/** Collects a subscription's `styles.onChange` versions. */
function watchStyles(client: AtelierClient) {
  const versions: number[] = [];
  const errors: unknown[] = [];
  const sub = client.styles.onChange.subscribe(undefined, {
    onData: (event) => {
      expect(event.id).toBe(String(event.data.version));
      versions.push(event.data.version);
    },
    onError: (error) => errors.push(error),
  });
  return { versions, errors, unsubscribe: () => sub.unsubscribe() };
}

const anonymous = (url: string) => createAtelierClient({ url, EventSource });
/** A signed-in session's client on the server at `url` (both processes share the database). */
const session = (url: string, token: string) => createAtelierClient({ url, token, EventSource });

describe('the types a frontend gets', () => {
  it('name the procedures as the server declares them', () => {
    expectTypeOf<AtelierInputs['admin']['setUserRole']>().toEqualTypeOf<{
      id: string;
      role: 'user' | 'admin';
    }>();
    expectTypeOf<AtelierOutputs['admin']['setUserRole']>().toEqualTypeOf<{
      id: string;
      role: 'user' | 'admin';
    }>();
    expectTypeOf<AtelierOutputs['admin']['users'][number]>()
      .toHaveProperty('role')
      .toEqualTypeOf<'user' | 'admin'>();
    expectTypeOf<AtelierOutputs['admin']['users'][number]>()
      .toHaveProperty('disabled')
      .toEqualTypeOf<boolean>();
    type Event = AtelierOutputs['styles']['onChange'] extends AsyncIterable<infer E> ? E : never;
    expectTypeOf<Event>().toEqualTypeOf<{ id: string; data: { version: number } }>();
  });
});

describe('styles.onChange', () => {
  it('tells open sessions on every process within a second that an admin disabled a plugin; the listener goes with the stream', async () => {
    const baseline = [h.core.registry.listenerCount, other.core.registry.listenerCount];
    const { token } = await h.signUp('watcher@example.org');
    const here = watchStyles(session(h.url, token));
    const there = watchStyles(session(other.url, token));
    try {
      // The first event comes at once: the version to refetch from.
      await eventually(
        async () => (here.versions.length > 0 && there.versions.length > 0) || undefined,
        5000,
      );
      expect([h.core.registry.listenerCount, other.core.registry.listenerCount]).toEqual([
        baseline[0]! + 1,
        baseline[1]! + 1,
      ]);
      const seen = [here.versions.length, there.versions.length];
      expect((await anonymous(other.url).styles.list.query()).map((s) => s.id)).toContain('sketch');

      const started = Date.now();
      await admin.admin.setPlugin.mutate({ id: 'sketch', enabled: false });
      await eventually(
        async () => (here.versions.length > seen[0]! && there.versions.length > seen[1]!) || undefined,
        1000,
        'both sessions to hear of it',
      );
      expect(Date.now() - started).toBeLessThan(1000);
      expect(here.versions.at(-1)).toBeGreaterThan(here.versions[0]!);
      // What the session refetches no longer has it.
      expect((await anonymous(other.url).styles.list.query()).map((s) => s.id)).not.toContain('sketch');

      // Defaults count as a change too.
      const before = there.versions.length;
      await admin.admin.setPlugin.mutate({ id: 'sketch', enabled: true, defaults: { contrast: 0.8 } });
      await eventually(async () => there.versions.length > before || undefined, 1000, 'the defaults');
      expect(here.errors.concat(there.errors)).toEqual([]);
    } finally {
      here.unsubscribe();
      there.unsubscribe();
    }
    // Closing the stream removes its listener from the registry.
    await eventually(
      async () =>
        (h.core.registry.listenerCount === baseline[0] &&
          other.core.registry.listenerCount === baseline[1]) ||
        undefined,
      5000,
      'the listeners to go',
    );
  });
});

describe('styles.onChange without a session', () => {
  it('is refused with AUTH_REQUIRED: a stream holds a connection, so only signed-in callers get one', async () => {
    const baseline = h.core.registry.listenerCount;
    const stream = watchStyles(anonymous(h.url));
    try {
      await eventually(async () => stream.errors.length > 0 || undefined, 5000, 'the refusal');
      expect(stream.errors[0]).toMatchObject({ data: { atelierCode: 'AUTH_REQUIRED' } });
      expect(stream.versions).toEqual([]);
      expect(h.core.registry.listenerCount).toBe(baseline);
    } finally {
      stream.unsubscribe();
    }
  });
});

describe('a browser session on the API origin (cookie only, no Bearer)', () => {
  it('calls mutations with its own Origin and follows jobs.onUpdate and styles.onChange', async () => {
    const login = await fetch(`${h.url}/trpc/auth.register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: h.url },
      body: JSON.stringify({ email: 'browser@example.org', password: 'browser password', displayName: 'B' }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    // As a browser on the same origin sends them: the cookie on every request, Origin on POSTs.
    const browser = createAtelierClient({
      url: h.url,
      fetch: (input, init) => {
        const headers = new Headers(init?.headers);
        headers.set('cookie', cookie);
        if (init?.method === 'POST') headers.set('origin', h.url);
        return fetch(input, { ...init, headers });
      },
      EventSource: cookieEventSource(cookie),
    });
    expect((await browser.users.me.query()).email).toBe('browser@example.org');

    const image = await browser.images.upload.mutate(
      uploadForm(new Blob([await read(photo('coffee.png'))]), 'coffee.png'),
    );
    const job = await browser.jobs.create.mutate({ imageId: image.id, style: 'sketch' });
    const statuses = await new Promise<string[]>((resolve, reject) => {
      const seen: string[] = [];
      const sub = browser.jobs.onUpdate.subscribe(
        { id: job.id },
        {
          onData: ({ data }) => {
            seen.push(data.status);
            if (['succeeded', 'failed', 'cancelled'].includes(data.status)) {
              sub.unsubscribe();
              resolve(seen);
            }
          },
          onError: reject,
        },
      );
    });
    expect(statuses.at(-1)).toBe('succeeded');

    const styles = watchStyles(browser);
    try {
      await eventually(async () => styles.versions.length > 0 || undefined, 5000, 'the first event');
    } finally {
      styles.unsubscribe();
    }

    // Without its Origin (or from another site) the same cookie cannot change anything.
    const bare = (origin?: string) =>
      fetch(`${h.url}/trpc/jobs.cancel`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, ...(origin ? { origin } : {}) },
        body: JSON.stringify({ id: job.id }),
      });
    for (const answer of [await bare(), await bare('https://evil.example')]) {
      expect(answer.status).toBe(403);
      expect(
        ((await answer.json()) as { error: { data: { atelierCode: string } } }).error.data.atelierCode,
      ).toBe('ORIGIN_UNTRUSTED');
    }
    // A job already done: with its Origin the call gets through to the procedure.
    expect(await codeOf(browser.jobs.cancel.mutate({ id: job.id }))).toBe('CONFLICT');
  });
});
