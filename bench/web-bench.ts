// The web app's benchmarks (`pnpm bench --only web`), against the real `atelier serve` (embedded
// Postgres in a temporary directory, serving the built packages/web/dist) in headless Chromium:
//  1. the JavaScript the first screen loads, gzipped (zlib level 9), summed: what index.html names
//     (entry script and modulepreloads) and what the browser really fetches on a first visit of
//     /account signed out and of /studio signed in (budget ≤ 200 KB);
//  2. time to interactive of the studio on loopback: from navigation start (page.goto('/studio'),
//     signed in, a fresh profile: nothing cached) until the "Photos" input is enabled and the
//     "Style" radio group shows its styles; median of --runs (budget ≤ 1 s). Also with a warm cache.
//   node bench/web-bench.ts [--runs 7]
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import sparticuz from '@sparticuz/chromium';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { registerOver, spawnServe } from '../test/serve-process.ts';
import { median, pad } from './stats.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const runs = Number(values.runs);
const root = fileURLToPath(new URL('..', import.meta.url));
const dist = path.join(root, 'packages/web/dist');
const JS_BUDGET_KB = 200;
const TTI_BUDGET_MS = 1000;

const gzipKb = (data: Uint8Array): number => gzipSync(data, { level: 9 }).length / 1024;

/** The entry script and modulepreloads index.html names, gzipped. */
async function declaredJs(): Promise<{ files: string[]; kb: number }> {
  const html = await readFile(path.join(dist, 'index.html'), 'utf8');
  const files = [
    ...html.matchAll(/<script[^>]*type="module"[^>]*src="([^"]+)"/g),
    ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+)"/g),
  ].map((m) => m[1]!);
  let kb = 0;
  for (const file of files) kb += gzipKb(await readFile(path.join(dist, file)));
  return { files, kb };
}

/** Every JavaScript response of one first visit of `url` in a fresh profile, gzipped. */
async function fetchedJs(
  context: BrowserContext,
  url: string,
  ready: (page: Page) => Promise<unknown>,
): Promise<{ files: string[]; kb: number }> {
  const page = await context.newPage();
  await page.addInitScript(WATCH_STUDIO_READY);
  const bodies: Promise<{ file: string; kb: number }>[] = [];
  page.on('response', (response) => {
    if (response.request().resourceType() !== 'script') return;
    bodies.push(
      response.body().then((body) => ({ file: new URL(response.url()).pathname, kb: gzipKb(body) })),
    );
  });
  await page.goto(url);
  await ready(page);
  // Lazy chunks a moment later (preloads on hover or idle) count too.
  await page.waitForTimeout(1000);
  const all = await Promise.all(bodies);
  await page.close();
  return { files: all.map((b) => b.file), kb: all.reduce((sum, b) => sum + b.kb, 0) };
}

/**
 * From the page's first script on, records in `window.__studioReadyAt` the moment (ms since
 * navigation start) the studio can be used: the "Photos" input enabled and the "Style" radio group
 * showing at least one style. An init script: it runs despite the app's CSP, and it watches every
 * DOM change, so the moment is exact rather than the time of the next poll.
 */
const WATCH_STUDIO_READY = `(() => {
  const nameOf = (el) => {
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    if (ids.length) return ids.map((id) => document.getElementById(id)?.textContent?.trim() ?? '').join(' ');
    return el.getAttribute('aria-label') || el.labels?.[0]?.textContent?.trim() || '';
  };
  const ready = () => {
    const photos = Array.from(document.querySelectorAll('input[type=file]')).find((i) => nameOf(i).startsWith('Photos'));
    const styles = Array.from(document.querySelectorAll('[role=radiogroup]')).find((g) => nameOf(g) === 'Style');
    return Boolean(photos && !photos.disabled && styles && styles.querySelector('input[type=radio], [role=radio]'));
  };
  window.__studioReadyAt = null;
  const observer = new MutationObserver(() => {
    if (window.__studioReadyAt === null && ready()) { window.__studioReadyAt = performance.now(); observer.disconnect(); }
  });
  observer.observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
})()`;

/** Waits for the studio to be usable; returns when it became so (ms since navigation start). */
async function studioReady(page: Page): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const at: unknown = await page.evaluate('window.__studioReadyAt');
    if (typeof at === 'number') return at;
    if (Date.now() > deadline) throw new Error('the studio was not ready after 30 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function studioTti(browser: Browser, url: string, cookie: string, warm: boolean): Promise<number[]> {
  const times: number[] = [];
  const context = warm ? await signedIn(browser, url, cookie) : undefined;
  if (context) await (await context.newPage()).goto(`${url}/studio`);
  for (let i = 0; i < runs; i++) {
    const ctx = context ?? (await signedIn(browser, url, cookie));
    const page = await ctx.newPage();
    await page.addInitScript(WATCH_STUDIO_READY);
    await page.goto(`${url}/studio`, { waitUntil: 'commit' });
    times.push(await studioReady(page));
    await page.close();
    if (!context) await ctx.close();
  }
  if (context) await context.close();
  return times;
}

async function signedIn(browser: Browser, url: string, cookie: string): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const [name, value] = cookie.split(';')[0]!.split('=') as [string, string];
  await context.addCookies([{ name, value, url }]);
  return context;
}

async function main(): Promise<void> {
  if (!existsSync(path.join(dist, 'index.html')))
    throw new Error('packages/web/dist is missing: run `npx -y pnpm@12 --filter @atelier/web build` first');
  const cleanups: (() => Promise<unknown>)[] = [];
  const defer = (cleanup: () => Promise<unknown>) => void cleanups.push(cleanup);
  try {
    const dir = await mkdtemp(path.join(tmpdir(), 'atelier-web-bench-'));
    await chmod(dir, 0o755);
    defer(() => rm(dir, { recursive: true, force: true }));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: '0',
      ATELIER_LOG_LEVEL: 'warn',
      ATELIER_WEB: 'on',
    };
    delete env['DATABASE_URL'];
    const serve = spawnServe({ cwd: dir, env, args: ['--no-worker'], defer });
    defer(async () => {
      serve.child.kill('SIGTERM');
      await serve.exited;
    });
    const url = await serve.url;
    const register = await registerOver(url, {
      email: 'bench@example.org',
      password: 'a bench password 123',
      displayName: 'Bench',
    });
    const cookie = register.headers.get('set-cookie');
    if (!register.ok || !cookie)
      throw new Error(`auth.register: ${register.status} ${await register.text()}`);
    const photo = await readFile(path.join(root, 'test/fixtures/images/rocket.jpg'));
    const form = new FormData();
    form.set('file', new Blob([photo], { type: 'image/jpeg' }), 'rocket.jpg');
    const upload = await fetch(`${url}/trpc/images.upload`, {
      method: 'POST',
      headers: { cookie: cookie.split(';')[0]!, origin: url },
      body: form,
    });
    if (!upload.ok) throw new Error(`images.upload: ${upload.status} ${await upload.text()}`);

    const browser = await chromium.launch({
      executablePath: await sparticuz.executablePath(),
      // As test/web/browser.ts: like people's browsers (Origin sent, one cookie jar per profile).
      args: sparticuz.args.filter((arg) => arg !== '--disable-web-security' && arg !== '--single-process'),
      headless: true,
    });
    defer(() => browser.close());

    console.log(`JavaScript of the first screen, gzip -9 (budget ≤ ${JS_BUDGET_KB} KB):`);
    const declared = await declaredJs();
    const anonymous = await browser.newContext();
    const account = await fetchedJs(anonymous, `${url}/account`, (p) =>
      p.getByRole('heading', { level: 1 }).first().waitFor(),
    );
    await anonymous.close();
    const studioContext = await signedIn(browser, url, cookie);
    const studio = await fetchedJs(studioContext, `${url}/studio`, (p) => studioReady(p));
    await studioContext.close();
    for (const [what, m] of [
      ['index.html entry + modulepreloads', declared],
      ['fetched: /account, signed out', account],
      ['fetched: /studio, signed in', studio],
    ] as const) {
      const ratio = m.kb / JS_BUDGET_KB;
      console.log(
        `  ${what.padEnd(36)}${pad(m.kb.toFixed(1), 7)} KB in ${pad(m.files.length, 2)} files  ratio ${ratio.toFixed(2)} ${ratio <= 1 ? 'ok' : 'OVER BUDGET'}`,
      );
    }
    console.log(`    /studio loads: ${studio.files.map((f) => path.basename(f)).join(', ')}`);

    console.log(
      `Studio time to interactive on loopback (navigation start → Photos enabled and styles shown), median of ${runs} (budget ≤ ${TTI_BUDGET_MS} ms):`,
    );
    for (const warm of [false, true]) {
      const times = await studioTti(browser, url, cookie, warm);
      const ms = median(times);
      const ratio = ms / TTI_BUDGET_MS;
      console.log(
        `  ${(warm ? 'warm cache' : 'cold (fresh profile)').padEnd(36)}${pad(ms.toFixed(0), 7)} ms  ratio ${ratio.toFixed(2)} ${ratio <= 1 ? 'ok' : 'OVER BUDGET'}  (runs: ${times.map((t) => t.toFixed(0)).join(', ')})`,
      );
    }
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  }
}

await main();
