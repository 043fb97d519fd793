import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The Content-Security-Policy of the web app's HTML: a same-origin single-page app (its scripts,
 * styles, fonts and API calls all come from this server; images may also be `data:` and `blob:`
 * URLs, as previews are). Inline styles are allowed because UI libraries set `style` attributes.
 */
export const WEB_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/** The command that builds the web app into `packages/web/dist`. */
export const WEB_BUILD_COMMAND = 'pnpm --filter @atelier/web build';

/** Hashed build output (`dist/assets/*`): the name changes with the content, so it never goes stale. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Everything else (index.html, favicon, robots.txt): revalidated on every use (ETag, Last-Modified). */
const REVALIDATE = 'no-cache';

/** Options of {@link webPlugin}. */
export interface WebPluginOptions {
  /** The built web app: `index.html` and hashed files under `assets/`. Absolute. */
  readonly dir: string;
  /**
   * Path prefixes the server's other routes own (`/trpc`, `/api`, ...): a GET under one of them
   * that no route answers keeps the API's own 404, never the app's `index.html`.
   */
  readonly apiPrefixes: readonly string[];
}

/**
 * The web app at `/`: files of the build as they are, and `index.html` for every other GET that
 * accepts HTML (the app's own routes, like `/studio` or `/gallery/abc`, work on reload). A missing
 * file under `/assets/`, a path under an API prefix, and a request that does not accept HTML get
 * the server's 404. `index.html` is revalidated on every load (`no-cache`), `/assets/*` are cached
 * for a year (`immutable`); HTML answers carry {@link WEB_CSP}. Pre-compressed siblings
 * (`app.js.br`, `app.js.gz`) are sent to clients that accept them, when the build has them.
 *
 * Without a build (no `index.html` in `dir`) the server still starts: one error in the log at
 * start-up names {@link WEB_BUILD_COMMAND}, and the app's pages answer 503 with a small page that
 * says the same. Once the app is built, the next request serves it, without a restart.
 *
 * Paths are checked before any file is touched: no `..`, `.`, empty or dot-file segments, no
 * backslashes or NUL, and the real path (symbolic links followed) must stay inside `dir`;
 * @fastify/static's `sendFile` checks again.
 *
 * @example
 * await app.register(webPlugin, { dir: '/srv/atelier/packages/web/dist', apiPrefixes: ['/trpc', '/api'] });
 */
export async function webPlugin(app: FastifyInstance, options: WebPluginOptions): Promise<void> {
  const dir = path.resolve(options.dir);
  const isApiPath = (pathname: string): boolean =>
    options.apiPrefixes.some((prefix) => pathname === prefix || pathname.startsWith(`${prefix}/`));

  // `sendFile` only (no routes of its own): the root is given on each call, so a directory that
  // does not exist yet is no error at start-up.
  await app.register(fastifyStatic, { serve: false, preCompressed: true, dotfiles: 'deny' });

  const isBuilt = async (): Promise<boolean> =>
    (await stat(path.join(dir, 'index.html')).catch(() => undefined))?.isFile() ?? false;
  if (!(await isBuilt()))
    app.log.error(
      { dir },
      `The web app is not built: ${dir} has no index.html. Build it with \`${WEB_BUILD_COMMAND}\` (the API works meanwhile; set ATELIER_WEB=off to serve the API alone).`,
    );

  /** The file of the build a URL path names ("assets/app-1a2b.js"), or undefined. */
  const fileOf = async (pathname: string): Promise<string | undefined> => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return undefined;
    }
    if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
    const segments = decoded.split('/').slice(1);
    if (segments.some((s) => s === '' || s.startsWith('.'))) return undefined;
    // Real paths, read on each request: the build may be replaced while the server runs.
    const root = await realpath(dir).catch(() => undefined);
    const real = await realpath(path.join(dir, ...segments)).catch(() => undefined);
    if (root === undefined || real === undefined || !real.startsWith(root + path.sep)) return undefined;
    const file = await stat(real).catch(() => undefined);
    return file?.isFile() ? segments.join('/') : undefined;
  };

  const send = (reply: FastifyReply, file: string, cacheControl: string): FastifyReply =>
    reply.header('cache-control', cacheControl).sendFile(file, dir, { cacheControl: false });

  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const pathname = req.url.split('?')[0] ?? '/';
    if (isApiPath(pathname)) return notFound(reply);
    const page = pathname === '/' || pathname === '/index.html';
    const wantsHtml = page || (req.headers.accept ?? '').includes('text/html');
    if (!(await isBuilt())) return wantsHtml ? notBuilt(reply) : notFound(reply);
    if (page) return send(reply, 'index.html', REVALIDATE);
    const file = await fileOf(pathname);
    if (file !== undefined) return send(reply, file, file.startsWith('assets/') ? IMMUTABLE : REVALIDATE);
    if (pathname.startsWith('/assets/') || !wantsHtml) return notFound(reply);
    return send(reply, 'index.html', REVALIDATE);
  };
  app.get('/', handler);
  app.get('/*', handler);

  // Every HTML answer of this scope gets the app's policy (index.html, the not-built page).
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (String(reply.getHeader('content-type') ?? '').startsWith('text/html'))
      reply.header('content-security-policy', WEB_CSP);
    done(null, payload);
  });
}

/** The server's own 404 (as if this plugin had no route for the request). */
function notFound(reply: FastifyReply): FastifyReply {
  reply.callNotFound();
  return reply;
}

/** 503 with a page that needs nothing else from the server (no scripts, no external files). */
function notBuilt(reply: FastifyReply): FastifyReply {
  return reply
    .code(503)
    .header('content-type', 'text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .send(NOT_BUILT_PAGE);
}

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Atelier: the web app is not built</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; padding: 0 1rem; color: #222; }
code { background: #f0f0f0; padding: 0.1rem 0.3rem; border-radius: 3px; }
</style>
</head>
<body>
<h1>The web app is not built</h1>
<p>This Atelier server is running and its API works (see <a href="/docs">/docs</a>), but it has no build of the web app to serve.</p>
<p>Build it with <code>${WEB_BUILD_COMMAND}</code>, then reload this page: no restart is needed.</p>
<p>To serve the API alone, start the server with <code>ATELIER_WEB=off</code>.</p>
</body>
</html>
`;
