// The host fetch's guard against real sockets: a loopback HTTP server stands in for a provider.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  capabilitiesProblem,
  capabilityAccess,
  forbiddenAddressReason,
  hostFetch,
  missingGrants,
  networkHostProblem,
} from './capabilities.ts';
import type { HostFetchOptions } from './capabilities.ts';
import { AtelierError } from './errors.ts';

type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;
const routes = new Map<string, Handler>();
const seen: { url: string; headers: IncomingMessage['headers'] }[] = [];
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      const handler = routes.get(new URL(req.url ?? '/', 'http://x').pathname);
      if (handler) handler(req, Buffer.concat(chunks), res);
      else res.writeHead(404).end('no route');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const opts = (over: Partial<HostFetchOptions> = {}): HostFetchOptions => ({
  plugin: 'test:fetcher',
  declared: ['127.0.0.1', 'localhost'],
  granted: ['127.0.0.1', 'localhost'],
  allowPrivateAddresses: true,
  ...over,
});

async function failure(promise: Promise<unknown>): Promise<AtelierError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AtelierError);
  return error as AtelierError;
}

describe('forbiddenAddressReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['169.254.169.254', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved or broadcast'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fd00::1', 'unique local'],
    ['fc12:3456::1', 'unique local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['2002:7f00:1::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
  ])('%s is refused (%s)', (address, kind) => {
    expect(forbiddenAddressReason(address)).toContain(kind);
  });

  it.each([
    '93.184.215.14',
    '8.8.8.8',
    '172.32.0.1',
    '100.128.0.1',
    '2606:4700::6810:85e5',
    '::ffff:8.8.8.8',
  ])('%s is public', (address) => {
    expect(forbiddenAddressReason(address)).toBeUndefined();
  });

  it('refuses what is not an IP address', () => {
    expect(forbiddenAddressReason('localhost')).toBe('not an IP address');
  });
});

describe('capability declarations', () => {
  it('accepts lowercase host names, IP literals and a *. wildcard; refuses the rest', () => {
    for (const ok of ['api.openai.com', 'localhost', '127.0.0.1', '[::1]', '*.example.com', 'a-b.c1.io']) {
      expect(networkHostProblem(ok), ok).toBeUndefined();
    }
    for (const bad of [
      'API.openai.com',
      'https://api.openai.com',
      'api.openai.com:443',
      'api.openai.com/v1',
      '*.com',
      '*',
      'a..b',
      '-a.com',
      '',
      '[::g]',
      'exa mple.com',
    ]) {
      expect(networkHostProblem(bad), bad).toBeDefined();
    }
  });

  it('checks the shape and the secret names', () => {
    expect(capabilitiesProblem(undefined)).toBeUndefined();
    expect(capabilitiesProblem({ network: ['api.x.com'], secrets: ['X_API_KEY'] })).toBeUndefined();
    expect(capabilitiesProblem({ secrets: ['lower'] })).toContain('not a secret name');
    expect(capabilitiesProblem({ secrets: ['A'.repeat(65)] })).toContain('not a secret name');
    expect(capabilitiesProblem({ secrets: ['_X'] })).toContain('not a secret name');
    expect(capabilitiesProblem({ network: 'api.x.com' })).toContain('must be an array');
    expect(capabilitiesProblem({ files: ['/etc'] })).toContain('unknown key');
    expect(capabilitiesProblem([])).toContain('must be an object');
  });

  it('missingGrants names what was declared and not granted', () => {
    const caps = { network: ['a.example.com', 'b.example.com'], secrets: ['A_KEY', 'B_KEY'] };
    expect(missingGrants(caps, undefined)).toEqual({
      network: ['a.example.com', 'b.example.com'],
      secrets: ['A_KEY', 'B_KEY'],
    });
    expect(missingGrants(caps, { network: ['a.example.com'], secrets: { B_KEY: 'v' } })).toEqual({
      network: ['b.example.com'],
      secrets: ['A_KEY'],
    });
    expect(
      missingGrants(caps, {
        network: ['a.example.com', 'b.example.com'],
        secrets: { A_KEY: '1', B_KEY: '2' },
      }),
    ).toEqual({ network: [], secrets: [] });
  });
});

describe('hostFetch: the allow-list and the address check', () => {
  it('refuses a host that is not declared, or declared and not granted', async () => {
    const undeclared = await failure(
      hostFetch(`http://127.0.0.1:${port}/`, {}, opts({ declared: ['localhost'] })),
    );
    expect(undeclared.code).toBe('CAPABILITY_DENIED');
    expect(undeclared.details).toMatchObject({ reason: 'not-declared', host: '127.0.0.1' });
    const ungranted = await failure(
      hostFetch(`http://127.0.0.1:${port}/`, {}, opts({ granted: ['localhost'] })),
    );
    expect(ungranted.details).toMatchObject({ reason: 'not-granted' });
    expect(seen.length).toBe(0);
  });

  it('refuses non-http schemes and credentials in the URL', async () => {
    expect((await failure(hostFetch('file:///etc/passwd', {}, opts()))).details).toMatchObject({
      reason: 'scheme',
    });
    expect((await failure(hostFetch(`ftp://127.0.0.1:${port}/`, {}, opts()))).code).toBe('CAPABILITY_DENIED');
    expect((await failure(hostFetch(`http://u:p@127.0.0.1:${port}/`, {}, opts()))).details).toMatchObject({
      reason: 'credentials-in-url',
    });
  });

  // Each host is declared and granted, so what refuses it is the address check alone.
  it.each([
    ['loopback by IP literal', 'http://127.0.0.1/', '127.0.0.1'],
    ['loopback in hex shorthand (0x7f.1)', 'http://0x7f.1/', '127.0.0.1'],
    ['IPv6 loopback', 'http://[::1]/', '[::1]'],
    ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/', '[::ffff:7f00:1]'],
    ['10/8', 'http://10.0.0.8/', '10.0.0.8'],
    ['cloud metadata (169.254.169.254)', 'http://169.254.169.254/latest/meta-data/', '169.254.169.254'],
    ['a name that resolves to loopback', `http://localhost:${1}/`, 'localhost'],
  ])('refuses %s without the override', async (_label, url, host) => {
    const error = await failure(
      hostFetch(url, {}, opts({ declared: [host], granted: [host], allowPrivateAddresses: false })),
    );
    expect(error.code).toBe('CAPABILITY_DENIED');
    expect(error.details).toMatchObject({ reason: 'address' });
  });

  it('reads the override from ATELIER_FETCH_ALLOW_LOOPBACK when not told', async () => {
    routes.set('/hello', (_req, _body, res) => res.end('hi'));
    const { allowPrivateAddresses: _, ...rest } = opts();
    const before = process.env['ATELIER_FETCH_ALLOW_LOOPBACK'];
    try {
      delete process.env['ATELIER_FETCH_ALLOW_LOOPBACK'];
      expect((await failure(hostFetch(`http://127.0.0.1:${port}/hello`, {}, rest))).code).toBe(
        'CAPABILITY_DENIED',
      );
      process.env['ATELIER_FETCH_ALLOW_LOOPBACK'] = '1';
      const warnings: string[] = [];
      const logger = { debug() {}, info() {}, error() {}, warn: (m: string) => void warnings.push(m) };
      const res = await hostFetch(`http://127.0.0.1:${port}/hello`, {}, { ...rest, logger });
      expect(res.text()).toBe('hi');
    } finally {
      if (before === undefined) delete process.env['ATELIER_FETCH_ALLOW_LOOPBACK'];
      else process.env['ATELIER_FETCH_ALLOW_LOOPBACK'] = before;
    }
  });
});

describe('hostFetch: requests and responses', () => {
  it('sends method, headers and body, and returns status, headers and body', async () => {
    routes.set('/echo', (req, body, res) => {
      res.writeHead(201, { 'content-type': 'application/json', 'x-reply': 'yes' });
      res.end(JSON.stringify({ method: req.method, auth: req.headers.authorization, body: body.toString() }));
    });
    const res = await hostFetch(
      `http://localhost:${port}/echo`,
      { method: 'put', headers: { Authorization: 'Bearer abc' }, body: 'payload' },
      opts(),
    );
    expect(res.status).toBe(201);
    expect(res.ok).toBe(true);
    expect(res.headers['x-reply']).toBe('yes');
    expect(res.json()).toEqual({ method: 'PUT', auth: 'Bearer abc', body: 'payload' });
  });

  it('keeps the Host header and framing headers for itself', async () => {
    routes.set('/host', (req, body, res) => res.end(`${req.headers.host} ${body.length}`));
    const res = await hostFetch(
      `http://127.0.0.1:${port}/host`,
      { method: 'POST', headers: { Host: 'internal.example', 'Content-Length': '9999' }, body: 'abc' },
      opts(),
    );
    expect(res.text()).toBe(`127.0.0.1:${port} 3`);
  });

  it('resolves non-2xx statuses with ok false, and json() on a non-JSON body is FETCH_FAILED', async () => {
    routes.set('/teapot', (_req, _body, res) => res.writeHead(418).end('short and stout'));
    const res = await hostFetch(`http://127.0.0.1:${port}/teapot`, {}, opts());
    expect(res).toMatchObject({ status: 418, ok: false });
    expect(res.text()).toBe('short and stout');
    let code: string | undefined;
    try {
      res.json();
    } catch (error) {
      code = (error as AtelierError).code;
    }
    expect(code).toBe('FETCH_FAILED');
  });

  it('builds multipart/form-data from form (parsed back by the Fetch API)', async () => {
    let parsed: { prompt: unknown; name: string; type: string; bytes: number[] } | undefined;
    routes.set('/form', (req, body, res) => {
      void new Request('http://x/', {
        method: 'POST',
        headers: { 'content-type': req.headers['content-type']! },
        body,
      })
        .formData()
        .then(async (form) => {
          const file = form.get('image') as File;
          parsed = {
            prompt: form.get('prompt'),
            name: file.name,
            type: file.type,
            bytes: [...new Uint8Array(await file.arrayBuffer())],
          };
          res.end('ok');
        });
    });
    const res = await hostFetch(
      `http://127.0.0.1:${port}/form`,
      {
        headers: { 'content-type': 'text/plain' },
        form: {
          prompt: 'a watercolour fox',
          image: { data: Uint8Array.of(1, 2, 3, 250), filename: 'in.png', contentType: 'image/png' },
        },
      },
      opts(),
    );
    expect(res.text()).toBe('ok');
    expect(parsed).toEqual({
      prompt: 'a watercolour fox',
      name: 'in.png',
      type: 'image/png',
      bytes: [1, 2, 3, 250],
    });
  });

  it('follows redirects to granted hosts and drops credentials when the origin changes', async () => {
    routes.set('/hop', (_req, _body, res) =>
      res.writeHead(302, { location: `http://localhost:${port}/land` }).end(),
    );
    routes.set('/land', (req, _body, res) => res.end(`auth=${req.headers.authorization ?? 'none'}`));
    const res = await hostFetch(
      `http://127.0.0.1:${port}/hop`,
      { headers: { authorization: 'Bearer s' } },
      opts(),
    );
    expect(res.text()).toBe('auth=none');
  });

  it('refuses a redirect to a host that is not granted', async () => {
    routes.set('/away', (_req, _body, res) =>
      res.writeHead(307, { location: `http://localhost:${port}/land` }).end(),
    );
    const before = seen.length;
    const error = await failure(
      hostFetch(`http://127.0.0.1:${port}/away`, {}, opts({ granted: ['127.0.0.1'] })),
    );
    expect(error.code).toBe('CAPABILITY_DENIED');
    expect(error.details).toMatchObject({ host: 'localhost', reason: 'not-granted' });
    expect(seen.slice(before).map((s) => s.url)).toEqual(['/away']);
  });

  it('stops after 5 redirects', async () => {
    routes.set('/loop', (_req, _body, res) => res.writeHead(301, { location: '/loop' }).end());
    const before = seen.length;
    const error = await failure(hostFetch(`http://127.0.0.1:${port}/loop`, {}, opts()));
    expect(error).toMatchObject({ code: 'FETCH_FAILED', details: { reason: 'redirects' } });
    expect(seen.length - before).toBe(6);
  });

  it('stops reading at the size cap, with or without a Content-Length', async () => {
    const big = Buffer.alloc(3 * 2 ** 20, 7);
    routes.set('/big', (_req, _body, res) => res.end(big));
    routes.set('/big-chunked', (_req, _body, res) => {
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      for (let i = 0; i < 3; i++) res.write(big);
      res.end();
    });
    for (const path of ['/big', '/big-chunked']) {
      const error = await failure(
        hostFetch(`http://127.0.0.1:${port}${path}`, {}, opts({ maxBytes: 2 ** 20 })),
      );
      expect(error).toMatchObject({ code: 'FETCH_FAILED', details: { reason: 'too-large' } });
    }
    const fits = await hostFetch(`http://127.0.0.1:${port}/big`, {}, opts({ maxBytes: 4 * 2 ** 20 }));
    expect(fits.body.byteLength).toBe(big.byteLength);
  });

  it('times out with FETCH_FAILED', async () => {
    routes.set('/never', () => {});
    const started = performance.now();
    const error = await failure(hostFetch(`http://127.0.0.1:${port}/never`, { timeoutMs: 300 }, opts()));
    expect(error).toMatchObject({ code: 'FETCH_FAILED', details: { reason: 'timeout', timeoutMs: 300 } });
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it("aborts with the step's signal", async () => {
    routes.set('/never', () => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('cancelled by the test')), 200);
    const error = await hostFetch(
      `http://127.0.0.1:${port}/never`,
      {},
      opts({ signal: controller.signal }),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).toBe('cancelled by the test');
  });

  it('verifies TLS certificates: a self-signed one is FETCH_FAILED', async () => {
    const tls = (name: string) => readFile(new URL(`../../../test/fixtures/tls/${name}`, import.meta.url));
    const secure = createHttpsServer(
      { key: await tls('localhost.key'), cert: await tls('localhost.crt') },
      (_req, res) => res.end('secret page'),
    );
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
    try {
      const securePort = (secure.address() as AddressInfo).port;
      const error = await failure(hostFetch(`https://localhost:${securePort}/`, {}, opts()));
      expect(error).toMatchObject({ code: 'FETCH_FAILED', details: { reason: 'network' } });
      expect(error.message).toMatch(/self[- ]signed/i);
    } finally {
      secure.closeAllConnections();
      await new Promise((resolve) => secure.close(resolve));
    }
  });

  it('reports a refused connection as FETCH_FAILED', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const freePort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(hostFetch(`http://127.0.0.1:${freePort}/`, {}, opts()));
    expect(error).toMatchObject({ code: 'FETCH_FAILED', details: { reason: 'network' } });
  });
});

describe('capabilityAccess', () => {
  it('gives a declared and granted secret, refuses the others', () => {
    const access = capabilityAccess({
      plugin: 'test:x',
      capabilities: { secrets: ['A_KEY', 'B_KEY'] },
      grants: { network: [], secrets: { A_KEY: 'value-a', C_KEY: 'value-c' } },
    });
    expect(access.secret('A_KEY')).toBe('value-a');
    const codeOf = (name: string): unknown => {
      try {
        access.secret(name);
      } catch (error) {
        return [(error as AtelierError).code, (error as AtelierError).details?.['reason']];
      }
      return 'ok';
    };
    expect(codeOf('B_KEY')).toEqual(['CAPABILITY_DENIED', 'not-granted']);
    expect(codeOf('C_KEY')).toEqual(['CAPABILITY_DENIED', 'not-declared']);
  });
});

describe('ctx.random', () => {
  it('is seeded by the step: same seed, same numbers; another seed, others', async () => {
    const { definePlugin } = await import('./plugin.ts');
    const { runStep } = await import('./step-runner.ts');
    const { z } = await import('zod');
    const noise = definePlugin({
      id: 'test:noise',
      name: 'Noise',
      description: 'Random bytes from ctx.random.',
      version: '1.0.0',
      engine: '^1',
      kind: 'style',
      params: z.object({}),
      apply: ({ image, random }) => ({ ...image, data: image.data.map(() => Math.floor(random() * 256)) }),
    });
    const image = { data: new Uint8Array(3 * 64), width: 8, height: 8, channels: 3 as const };
    const a = await runStep(noise, image, {}, { seed: 7 });
    const b = await runStep(noise, image, {}, { seed: 7 });
    const c = await runStep(noise, image, {}, { seed: 8 });
    expect([...a.data]).toEqual([...b.data]);
    expect([...a.data]).not.toEqual([...c.data]);
    expect(new Set(a.data).size).toBeGreaterThan(100);
  });
});
