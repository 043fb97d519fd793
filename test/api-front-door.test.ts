// The HTTP front door under abuse and behind a proxy: the rate limit counts every call of a tRPC
// batch and batches are capped, registration is throttled per client address, one JSON body cap
// holds for tRPC and REST, /metrics is for administrators, and ATELIER_PUBLIC_URL /
// ATELIER_TRUST_PROXY decide the cookie's Secure flag, the Origin check and the client address.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';

const PUBLIC_URL = 'https://atelier.example.org';
const METRICS_TOKEN = 'metrics-scraper-token-0123456789';
const RATE_LIMIT = 30;
const REGISTRATIONS = 3;

/** Behind a TLS proxy on loopback: trusts X-Forwarded-For from 127.0.0.1 only. */
let proxied: ApiHarness;
/** Reached directly (today's default): X-Forwarded-For means nothing. */
let direct: ApiHarness;

beforeAll(async () => {
  const limits = {
    ATELIER_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT),
    ATELIER_REGISTRATIONS_PER_HOUR: String(REGISTRATIONS),
  };
  [proxied, direct] = await Promise.all([
    startApi({
      ...limits,
      ATELIER_PUBLIC_URL: PUBLIC_URL,
      ATELIER_TRUST_PROXY: '127.0.0.1',
      ATELIER_METRICS_TOKEN: METRICS_TOKEN,
    }),
    startApi(limits),
  ]);
});
afterAll(async () => {
  await Promise.all([proxied?.close(), direct?.close()]);
});

interface TrpcError {
  error: {
    message: string;
    data: {
      code: string;
      httpStatus: number;
      atelierCode: string | null;
      details: Record<string, unknown> | null;
    };
  };
}

/** A tRPC mutation over plain HTTP, as a client behind `ip` (X-Forwarded-For) would send it. */
const mutate = (h: ApiHarness, path: string, input: unknown, headers: Record<string, string> = {}) =>
  fetch(`${h.url}/trpc/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(input),
  });
const from = (ip: string) => ({ 'x-forwarded-for': ip });
const register = (h: ApiHarness, email: string, headers: Record<string, string> = {}) =>
  mutate(h, 'auth.register', { email, password: 'a good long password', displayName: 'Someone' }, headers);
/** A GET batch of `n` calls of `styles.list`. */
const batch = (h: ApiHarness, n: number, headers: Record<string, string> = {}) =>
  fetch(`${h.url}/trpc/${Array<string>(n).fill('styles.list').join(',')}?batch=1`, { headers });

// First: the loopback case below needs the direct server's budgets, which later tests spend.
describe('ATELIER_PUBLIC_URL', () => {
  it('makes the cookie Secure and is the origin cookie mutations must come from', async () => {
    const email = 'cookie@example.org';
    const signUp = await register(proxied, email, from('203.0.113.50'));
    expect(signUp.status).toBe(200);
    const cookie = signUp.headers.get('set-cookie')!;
    expect(cookie).toMatch(/;\s*Secure/i);
    const session = cookie.split(';')[0]!;
    const cancel = (origin: string) =>
      mutate(
        proxied,
        'jobs.cancel',
        { id: randomUUID() },
        { cookie: session, origin, ...from('203.0.113.50') },
      );
    // The Host header's origin is no longer the API's own: the proxy rewrote the Host.
    const hostOrigin = await cancel(proxied.url);
    expect(hostOrigin.status).toBe(403);
    expect((await cancel('https://evil.example')).status).toBe(403);
    // From the public origin the call gets through to the (missing) job.
    expect((await cancel(PUBLIC_URL)).status).toBe(404);
  });

  it('leaves the loopback default alone: no Secure, the Host is the origin', async () => {
    const signUp = await register(direct, 'plain@example.org');
    expect(signUp.status).toBe(200);
    const cookie = signUp.headers.get('set-cookie')!;
    expect(cookie).not.toMatch(/Secure/i);
    const answer = await mutate(
      direct,
      'jobs.cancel',
      { id: randomUUID() },
      { cookie: cookie.split(';')[0]!, origin: direct.url },
    );
    expect(answer.status).toBe(404);
  });
});

describe('tRPC batches', () => {
  it('count each call against the rate limit', async () => {
    const client = from('198.51.100.10');
    const first = await batch(proxied, 20, client);
    expect(first.status).toBe(200);
    expect(((await first.json()) as unknown[]).length).toBe(20);
    // 20 + 20 calls are over the budget of 30 a minute, though they are only two requests.
    const second = await batch(proxied, 20, client);
    expect(second.status).toBe(429);
    const body = (await second.json()) as TrpcError;
    expect(body.error.data.atelierCode).toBe('RATE_LIMITED');
    expect(body.error.data.details?.['retryAfterSeconds']).toBeGreaterThan(0);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    // The budget is spent: a single call waits too. Another client address has its own budget.
    expect((await fetch(`${proxied.url}/trpc/styles.list`, { headers: client })).status).toBe(429);
    expect((await fetch(`${proxied.url}/trpc/styles.list`, { headers: from('198.51.100.11') })).status).toBe(
      200,
    );
  });

  it('over the cap are refused whole with BATCH_TOO_LARGE', async () => {
    const client = from('198.51.100.20');
    for (const n of [21, 300]) {
      const answer = await batch(proxied, n, client);
      expect(answer.status).toBe(400);
      const body = (await answer.json()) as TrpcError;
      expect(body.error.data.atelierCode).toBe('BATCH_TOO_LARGE');
      expect(body.error.data.details).toEqual({ calls: n, maxBatchSize: 20 });
    }
    // POST batches (mutations) alike.
    const calls = Array.from({ length: 21 }, () => 'auth.logout').join(',');
    const post = await fetch(`${proxied.url}/trpc/${calls}?batch=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...client },
      body: '{}',
    });
    expect(((await post.json()) as TrpcError).error.data.atelierCode).toBe('BATCH_TOO_LARGE');
    expect((await batch(proxied, 20, client)).status).toBe(200);
  });
});

describe('the typed client', () => {
  it('splits its batches at the server cap', async () => {
    // 25 calls in one tick: one batch of 25 would be refused whole; the client sends 20 + 5.
    const client = proxied.client();
    const lists = await Promise.all(Array.from({ length: 25 }, () => client.styles.list.query()));
    expect(lists.every((list) => list.length > 0)).toBe(true);
  });
});

describe('JSON bodies', () => {
  it('have one cap, 1 MiB, for tRPC and REST', async () => {
    const headers = { 'content-type': 'application/json', ...from('198.51.100.30') };
    const login = (size: number) => JSON.stringify({ email: 'x@example.org', password: 'p'.repeat(size) });
    const trpc = await fetch(`${proxied.url}/trpc/auth.login`, {
      method: 'POST',
      headers,
      body: login(1024 * 1024 + 1),
    });
    expect(trpc.status).toBe(413);
    const body = (await trpc.json()) as TrpcError;
    expect(body.error.data.code).toBe('PAYLOAD_TOO_LARGE');
    expect(body.error.data.atelierCode).toBe('BODY_TOO_LARGE');
    expect(body.error.data.details).toEqual({ limitBytes: 1024 * 1024 });
    const rest = await fetch(`${proxied.url}/api/auth/login`, {
      method: 'POST',
      headers,
      body: login(1024 * 1024 + 1),
    });
    expect(rest.status).toBe(413);
    // Just under the cap the body is read, and the input refused for what it is.
    const under = await fetch(`${proxied.url}/trpc/auth.login`, {
      method: 'POST',
      headers,
      body: login(1000 * 1024),
    });
    expect(under.status).toBe(400);
    expect(((await under.json()) as TrpcError).error.data.code).toBe('BAD_REQUEST');
  });
});

describe('registration', () => {
  it('is throttled per client address, with a coded 429 that says when to come back', async () => {
    const client = from('203.0.113.5');
    for (let i = 0; i < REGISTRATIONS; i++)
      expect((await register(proxied, `reg${i}@example.org`, client)).status).toBe(200);
    const refused = await register(proxied, 'one-too-many@example.org', client);
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as TrpcError;
    expect(body.error.data.atelierCode).toBe('RATE_LIMITED');
    const wait = body.error.data.details?.['retryAfterSeconds'];
    expect(wait).toBeGreaterThan(3000); // the window is an hour
    expect(refused.headers.get('retry-after')).toBe(String(wait));
    // Nothing was written for the refused one; another address registers.
    const rows = await proxied.database.db
      .selectFrom('users')
      .select('id')
      .where('email', '=', 'one-too-many@example.org')
      .execute();
    expect(rows).toEqual([]);
    expect((await register(proxied, 'elsewhere@example.org', from('203.0.113.6'))).status).toBe(200);
  });

  it('cannot be reset by spoofing X-Forwarded-For when no proxy is trusted', async () => {
    const codes: number[] = [];
    for (let i = 0; i <= REGISTRATIONS; i++)
      codes.push((await register(direct, `spoof${i}@example.org`, from(`203.0.113.${100 + i}`))).status);
    // The loopback address's registrations run out whatever the header says.
    expect(codes.at(-1)).toBe(429);
    expect(codes.filter((c) => c === 200).length).toBeLessThanOrEqual(REGISTRATIONS);
  });
});

describe('the client address', () => {
  const failLogin = (h: ApiHarness, ip: string) =>
    mutate(h, 'auth.login', { email: `${randomUUID()}@example.org`, password: 'wrong' }, from(ip));

  it('comes from X-Forwarded-For behind a trusted proxy: the sign-in throttle counts per client', async () => {
    // 20 failed sign-ins per address (each for another account, so no account lock plays a part).
    for (let i = 0; i < 20; i++) expect((await failLogin(proxied, '192.0.2.1')).status).toBe(401);
    const locked = await failLogin(proxied, '192.0.2.1');
    expect(locked.status).toBe(429);
    expect(((await locked.json()) as TrpcError).error.data.atelierCode).toBe('AUTH_THROTTLED');
    expect((await failLogin(proxied, '192.0.2.2')).status).toBe(401);
  });

  it('ignores X-Forwarded-For without one: spoofing it resets neither throttle nor rate limit', async () => {
    for (let i = 0; i < 20; i++) await failLogin(direct, `192.0.2.${10 + i}`);
    const locked = await failLogin(direct, '192.0.2.99');
    expect(locked.status).toBe(429);
    expect(((await locked.json()) as TrpcError).error.data.atelierCode).toBe('AUTH_THROTTLED');
    // The rate limit: a fresh spoofed address on every request still runs out of the one budget.
    let refusedAt = 0;
    for (let i = 1; i <= RATE_LIMIT + 1 && refusedAt === 0; i++) {
      const answer = await fetch(`${direct.url}/trpc/styles.list`, { headers: from(`192.0.2.${100 + i}`) });
      if (answer.status === 429) refusedAt = i;
    }
    expect(refusedAt).toBeGreaterThan(0);
  });
});

describe('/metrics', () => {
  it('is for administrators and the metrics token only', async () => {
    const metrics = (headers: Record<string, string> = {}) =>
      fetch(`${proxied.url}/metrics`, { headers: { ...from('203.0.113.70'), ...headers } });
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const anonymous = await metrics();
    expect(anonymous.status).toBe(401);
    expect(await anonymous.text()).not.toContain('nodejs_version_info');
    expect((await metrics(bearer('not-the-metrics-token-at-all'))).status).toBe(401);

    const user = await register(proxied, 'metrics-user@example.org', from('203.0.113.71'));
    const { token, user: me } = (
      (await user.json()) as { result: { data: { token: string; user: { id: string } } } }
    ).result.data;
    expect((await metrics(bearer(token))).status).toBe(403);
    const cookie = user.headers.get('set-cookie')!.split(';')[0]!;
    expect((await metrics({ cookie })).status).toBe(403);

    await proxied.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', me.id).execute();
    const admin = await metrics(bearer(token));
    expect(admin.status).toBe(200);
    expect(await admin.text()).toContain('atelier_http_request_duration_seconds');
    const scraper = await metrics(bearer(METRICS_TOKEN));
    expect(scraper.status).toBe(200);
    expect(await scraper.text()).toContain('nodejs_version_info');
  });
});
