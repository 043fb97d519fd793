import { connect } from 'node:net';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { brotliCompressSync } from 'node:zlib';
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WEB_BUILD_COMMAND, WEB_CSP, webPlugin } from './web.plugin.ts';

const INDEX =
  '<!doctype html><html><head><script type="module" src="/assets/app-1a2b3c.js"></script></head><body><div id="root"></div></body></html>';
const APP_JS = 'console.log("atelier");\n'.repeat(200);
const SECRET = 'not for the web';

let base: string;
let dist: string;

/** An app with the plugin on `dir` and stand-ins for the API's own routes and 404s. */
async function appOn(dir: string, logs?: string[]): Promise<FastifyInstance> {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs?.push(chunk.toString());
      done();
    },
  });
  const logger: FastifyBaseLogger = pino({ level: logs ? 'info' : 'silent' }, sink);
  const app = Fastify({ loggerInstance: logger });
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/trpc/:path', async (_req, reply) => reply.code(404).send({ error: 'trpc 404' }));
  // The REST scope answers its own unknown paths, as trpc-to-openapi does.
  app.get('/api/*', async (_req, reply) => reply.code(404).send({ error: 'rest 404' }));
  await app.register(webPlugin, {
    dir,
    apiPrefixes: ['/trpc', '/api', '/files', '/healthz', '/openapi.json'],
  });
  return app;
}

const html = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'atelier-web-'));
  dist = path.join(base, 'dist');
  await mkdir(path.join(dist, 'assets'), { recursive: true });
  await writeFile(path.join(dist, 'index.html'), INDEX);
  await writeFile(path.join(dist, 'assets', 'app-1a2b3c.js'), APP_JS);
  await writeFile(path.join(dist, 'assets', 'app-1a2b3c.js.br'), brotliCompressSync(APP_JS));
  await writeFile(path.join(dist, 'assets', 'style-9f8e.css'), 'body { color: red }');
  await writeFile(path.join(dist, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  await writeFile(path.join(dist, '.env'), SECRET);
  await writeFile(path.join(base, 'secret.txt'), SECRET);
  await symlink(path.join(base, 'secret.txt'), path.join(dist, 'assets', 'link.js'));
});
afterAll(() => rm(base, { recursive: true, force: true }));

describe('webPlugin with a build', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await appOn(dist);
  });
  afterAll(() => app.close());

  it('serves index.html at / and for the app’s own routes, revalidated, with the CSP', async () => {
    for (const url of ['/', '/index.html', '/studio', '/gallery/abc', '/admin/users', '/studio/?tab=2']) {
      const res = await app.inject({ url, headers: url === '/' ? {} : html });
      expect([url, res.statusCode, res.body]).toEqual([url, 200, INDEX]);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toBe(WEB_CSP);
    }
    const first = await app.inject('/');
    const again = await app.inject({ url: '/', headers: { 'if-none-match': String(first.headers.etag) } });
    expect(again.statusCode).toBe(304);
    expect((await app.inject({ method: 'HEAD', url: '/studio', headers: html })).statusCode).toBe(200);
  });

  it('serves the build’s files, assets immutable for a year', async () => {
    const js = await app.inject('/assets/app-1a2b3c.js');
    expect([js.statusCode, js.body]).toEqual([200, APP_JS]);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['content-security-policy']).toBeUndefined();
    const css = await app.inject('/assets/style-9f8e.css');
    expect([css.statusCode, css.headers['content-type']]).toEqual([200, 'text/css; charset=utf-8']);
    const icon = await app.inject('/favicon.svg');
    expect([icon.statusCode, icon.headers['cache-control']]).toEqual([200, 'no-cache']);
  });

  it('sends a pre-compressed sibling to clients that accept it', async () => {
    const br = await app.inject({ url: '/assets/app-1a2b3c.js', headers: { 'accept-encoding': 'gzip, br' } });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['vary']).toMatch(/accept-encoding/i);
    expect(br.rawPayload.length).toBeLessThan(APP_JS.length / 4);
    const plain = await app.inject({ url: '/assets/app-1a2b3c.js', headers: { 'accept-encoding': 'gzip' } });
    expect([plain.headers['content-encoding'], plain.body]).toEqual([undefined, APP_JS]);
  });

  it('answers 404 for missing assets, non-HTML requests and other methods, never index.html', async () => {
    for (const [url, headers] of [
      ['/assets/missing-123.js', html],
      ['/assets/', html],
      ['/studio', { accept: 'application/json' }],
      ['/studio', {}],
      ['/missing.png', { accept: 'image/avif,image/webp,*/*' }],
    ] as const) {
      const res = await app.inject({ url, headers });
      expect([url, res.statusCode]).toEqual([url, 404]);
      expect(res.body).not.toContain('<div id="root">');
    }
    expect((await app.inject({ method: 'POST', url: '/studio', headers: html })).statusCode).toBe(404);
  });

  it('leaves the API’s paths to the API, even for browsers', async () => {
    const answers = await Promise.all(
      ['/trpc/nope', '/trpc', '/api/nope', '/api', '/healthz/x', '/files/x', '/openapi.json'].map(
        async (url) => {
          const res = await app.inject({ url, headers: html });
          return [url, res.statusCode, res.headers['content-type']?.toString().split(';')[0]];
        },
      ),
    );
    expect(answers).toEqual([
      ['/trpc/nope', 404, 'application/json'],
      ['/trpc', 404, 'application/json'],
      ['/api/nope', 404, 'application/json'],
      ['/api', 404, 'application/json'],
      ['/healthz/x', 404, 'application/json'],
      ['/files/x', 404, 'application/json'],
      ['/openapi.json', 404, 'application/json'],
    ]);
    expect((await app.inject('/api/nope')).json()).toEqual({ error: 'rest 404' });
    expect((await app.inject('/healthz')).json()).toEqual({ ok: true });
  });

  it('never serves a file outside the build, a dot-file or a symbolic link out of it', async () => {
    // Raw requests over a socket: fetch and inject would normalise the `..` away before sending.
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const port = Number(new URL(address).port);
    for (const target of [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/assets/./../../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/assets/..%5c..%5csecret.txt',
      '/.env',
      '/%2eenv',
      '/assets/link.js',
      '/assets/app-1a2b3c.js%00.html',
      '//etc/passwd',
      '/..%2f..%2f..%2f..%2fetc/passwd',
    ]) {
      for (const accept of ['text/html', '*/*']) {
        const res = await rawGet(port, target, accept);
        expect(res.body, target).not.toContain(SECRET);
        expect(res.body, target).not.toContain('root:');
        expect([200, 400, 403, 404], target).toContain(res.status);
        // What answers 200 is the app's page, nothing else.
        if (res.status === 200) expect(res.body, target).toContain(INDEX);
      }
    }
  });
});

/** A GET with `target` sent as it is, and the status and body of the answer. */
function rawGet(port: number, target: string, accept: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(
        `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: ${accept}\r\nConnection: close\r\n\r\n`,
      ),
    );
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]), body: text });
    });
  });
}

describe('webPlugin without a build', () => {
  it('starts, logs one error with the build command, answers 503 pages, and serves the build once it exists', async () => {
    const dir = path.join(base, 'later');
    const logs: string[] = [];
    const app = await appOn(dir, logs);
    try {
      await app.ready();
      const errors = logs
        .map((l) => JSON.parse(l) as { level: number; msg: string })
        .filter((l) => l.level >= 50);
      expect(errors).toHaveLength(1);
      expect(errors[0]!.msg).toContain(WEB_BUILD_COMMAND);
      expect(errors[0]!.msg).toContain('not built');

      for (const [url, headers] of [
        ['/', {}],
        ['/studio', html],
      ] as const) {
        const res = await app.inject({ url, headers });
        expect([url, res.statusCode]).toEqual([url, 503]);
        expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(res.headers['cache-control']).toBe('no-store');
        expect(res.headers['content-security-policy']).toBe(WEB_CSP);
        expect(res.body).toContain(WEB_BUILD_COMMAND);
        expect(res.body).toContain('not built');
        // Self-contained: no scripts, stylesheets, images or anything from elsewhere.
        expect(res.body).not.toMatch(/<script|<link|<img|src=|https?:\/\/|url\(/i);
      }
      expect((await app.inject({ url: '/studio', headers: { accept: 'application/json' } })).statusCode).toBe(
        404,
      );
      expect((await app.inject('/healthz')).statusCode).toBe(200);
      expect((await app.inject({ url: '/trpc/nope', headers: html })).json()).toEqual({ error: 'trpc 404' });

      // Built while the server runs: served from the next request, and nothing more is logged.
      await mkdir(path.join(dir, 'assets'), { recursive: true });
      await writeFile(path.join(dir, 'index.html'), INDEX);
      await writeFile(path.join(dir, 'assets', 'app-1a2b3c.js'), APP_JS);
      const res = await app.inject({ url: '/studio', headers: html });
      expect([res.statusCode, res.body]).toEqual([200, INDEX]);
      expect((await app.inject('/assets/app-1a2b3c.js')).statusCode).toBe(200);
      expect(logs.filter((l) => (JSON.parse(l) as { level: number }).level >= 50)).toHaveLength(1);
    } finally {
      await app.close();
    }
  });
});
