// The browser tests' Chromium: the one @sparticuz/chromium ships inside its npm package (it unpacks
// itself to the temp directory on first use), so `pnpm install && pnpm test` needs nothing from
// apt. One browser per test file, one context per person; axe-core on every screen and
// screenshots of every screen at both widths into docs/screenshots/.
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import sparticuz from '@sparticuz/chromium';
import { chromium } from 'playwright-core';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { Defer } from '../cleanups.ts';
import { root } from '../helpers.ts';

export const screenshotDir = path.join(root, 'docs/screenshots');

/** The two widths every screen is checked and photographed at. */
export const VIEWPORTS = [
  { width: 390, height: 844 },
  { width: 1440, height: 900 },
] as const;

/** Headless Chromium for this file's tests, closed after them. */
export async function openBrowser(defer: Defer): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: await sparticuz.executablePath(),
    // Its default flags are for one page on AWS Lambda. Two of them make it unlike people's
    // browsers (both measured with its Chromium 153): --disable-web-security stops it sending the
    // Origin header on same-origin POSTs (the API checks it), and --single-process makes every
    // context's pages share one cookie jar (two people in one browser would be one session).
    args: sparticuz.args.filter((arg) => arg !== '--disable-web-security' && arg !== '--single-process'),
    headless: true,
  });
  defer(() => browser.close());
  return browser;
}

/** A fresh browser profile (its own cookies) on the served app, light theme, 1440x900. */
export async function newContext(
  browser: Browser,
  baseURL: string,
  options: { readonly colorScheme?: 'light' | 'dark' } = {},
): Promise<BrowserContext> {
  const context = await browser.newContext({
    baseURL,
    viewport: { ...VIEWPORTS[1] },
    colorScheme: options.colorScheme ?? 'light',
    reducedMotion: 'reduce',
    // The same dates and numbers on every machine (screenshots, formatted values).
    locale: 'en-US',
    timezoneId: 'UTC',
    acceptDownloads: true,
  });
  // A missing element fails the test in 15 s rather than at the test's own timeout.
  context.setDefaultTimeout(15_000);
  // What the app logs as an error shows in the test output: the first clue when a screen fails.
  context.on('weberror', (error) => console.error(`[browser] uncaught: ${error.error().message}`));
  context.on('console', (message) => {
    // A server stopping after the file's tests cuts the open event streams: not the app's fault.
    if (message.type() === 'error' && !message.text().includes('ERR_INCOMPLETE_CHUNKED_ENCODING'))
      console.error(`[browser] ${message.text()} (${message.location().url})`);
  });
  context.on('response', (response) => {
    if (response.status() < 402 || !response.url().includes('/trpc/')) return;
    void response.text().then(
      (body) => console.error(`[browser] ${response.status()} ${response.url()}: ${body.slice(0, 300)}`),
      () => {},
    );
  });
  return context;
}

const inFlight = new WeakMap<Page, Set<unknown>>();

/** Counts the page's requests in flight, but for event streams (they stay open for good). */
export function trackRequests(page: Page): Set<unknown> {
  const known = inFlight.get(page);
  if (known) return known;
  const requests = new Set<unknown>();
  inFlight.set(page, requests);
  page.on('request', (request) => {
    if (request.resourceType() !== 'eventsource') requests.add(request);
  });
  page.on('requestfinished', (request) => requests.delete(request));
  page.on('requestfailed', (request) => requests.delete(request));
  return requests;
}

/**
 * Waits until the page has settled: no request in flight (event streams aside: Playwright's
 * 'networkidle' never comes while one is open) for 300 ms, every <img> loaded, fonts ready.
 */
export async function settle(page: Page, timeoutMs = 15_000): Promise<void> {
  const requests = trackRequests(page);
  const deadline = Date.now() + timeoutMs;
  let quietSince = Date.now();
  while (Date.now() - quietSince < 300) {
    if (Date.now() > deadline)
      throw new Error(`the page did not settle in ${timeoutMs} ms: ${requests.size} requests open`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (requests.size > 0) quietSince = Date.now();
  }
  // Polled with page.evaluate: waitForFunction with a string evaluates it with eval() in the page,
  // which the app's Content-Security-Policy (script-src 'self') refuses.
  await pollPage(page, `Array.from(document.images).every((img) => img.complete)`, 15_000);
  await page.evaluate(
    `document.fonts.ready.then(() => new Promise((r) => requestAnimationFrame(() => r(null))))`,
  );
}

/** Polls an expression in the page until it is truthy; returns its value. */
export async function pollPage(
  page: Page,
  expression: string,
  timeoutMs: number,
  intervalMs = 50,
): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value: unknown = await page.evaluate(expression);
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`still false after ${timeoutMs} ms: ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

interface AxeViolationSummary {
  readonly id: string;
  readonly impact: string;
  readonly help: string;
  readonly targets: string[];
}

/**
 * axe-core on the page as it is; throws listing every serious or critical violation. Legacy mode:
 * the app has no frames, and the default mode opens a blank page per run to merge frame results
 * (about 2 s of each run here).
 */
export async function axeCheck(page: Page, screenName: string): Promise<void> {
  const results = await new AxeBuilder({ page })
    .setLegacyMode()
    .options({ resultTypes: ['violations'] })
    .analyze();
  const bad: AxeViolationSummary[] = results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({
      id: v.id,
      impact: v.impact ?? '',
      help: v.help,
      targets: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
    }));
  if (bad.length > 0) {
    const viewport = page.viewportSize();
    throw new Error(
      `axe: ${bad.length} serious/critical violation(s) on ${screenName} at ${viewport?.width ?? '?'} px:\n` +
        bad.map((v) => `  - [${v.impact}] ${v.id}: ${v.help} (${v.targets.join(', ')})`).join('\n'),
    );
  }
}

/** Throws when the page scrolls sideways (the contract: no horizontal page scroll at 390 px). */
export async function noHorizontalScroll(page: Page, screenName: string): Promise<void> {
  const scrollWidth = Number(await page.evaluate('document.documentElement.scrollWidth'));
  const width = page.viewportSize()?.width ?? 0;
  if (scrollWidth > width)
    throw new Error(`${screenName} scrolls sideways at ${width} px: the page is ${scrollWidth} px wide`);
}

const MAX_PNG_BYTES = 400 * 1024;

/**
 * Writes `docs/screenshots/<name>-<width>.png` of the whole page at the current viewport (as JPEG
 * quality 80, `.jpg`, when the PNG would pass 400 KB); `-dark` is appended for the dark theme.
 */
export async function writeScreenshot(page: Page, name: string, theme: 'light' | 'dark' = 'light') {
  await mkdir(screenshotDir, { recursive: true });
  const width = page.viewportSize()?.width ?? 0;
  const base = path.join(screenshotDir, `${name}-${width}${theme === 'dark' ? '-dark' : ''}`);
  const options = { fullPage: true, animations: 'disabled', caret: 'hide' } as const;
  let file = `${base}.png`;
  let data = await page.screenshot({ ...options, type: 'png' });
  if (data.length > MAX_PNG_BYTES) {
    file = `${base}.jpg`;
    data = await page.screenshot({ ...options, type: 'jpeg', quality: 80 });
  }
  // Only one of the two formats per screen: a stale one from an earlier run would mislead.
  await rm(file.endsWith('.png') ? `${base}.jpg` : `${base}.png`, { force: true });
  await writeFile(file, data);
  return { file, bytes: (await stat(file)).size };
}

/**
 * Every check a screen gets, at 390x844 and then 1440x900: settled, no sideways scroll, axe-core
 * clean, screenshot. `ready` waits for what makes the screen the screen (e.g. its h1). With `dark`,
 * also a dark-theme screenshot at 1440 (and axe on it: contrast in both themes).
 */
export async function checkScreen(
  page: Page,
  name: string,
  ready: (page: Page) => Promise<unknown>,
  options: { readonly dark?: boolean } = {},
): Promise<void> {
  trackRequests(page);
  for (const viewport of VIEWPORTS) {
    await page.setViewportSize(viewport);
    await ready(page);
    await settle(page);
    // The picture first: it shows what a failing check below is about.
    await writeScreenshot(page, name);
    await noHorizontalScroll(page, name);
    await axeCheck(page, name);
  }
  if (options.dark) {
    await page.emulateMedia({ colorScheme: 'dark' });
    try {
      await settle(page);
      await writeScreenshot(page, name, 'dark');
      await axeCheck(page, `${name} (dark)`);
    } finally {
      await page.emulateMedia({ colorScheme: 'light' });
    }
  }
}

/**
 * Records, from the page's first script on, every progress bar that appears (name and the values
 * it showed), so that a bar shown for a moment (a fast upload, a short render) is still seen.
 * Read it with `progressSeen(page)`.
 */
export async function recordProgressBars(page: Page): Promise<void> {
  await page.addInitScript(`(() => {
    const seen = (window.__progressSeen = window.__progressSeen || {});
    const nameOf = (el) => {
      const label = el.getAttribute('aria-label');
      if (label) return label;
      const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
      if (ids.length) return ids.map((id) => document.getElementById(id)?.textContent?.trim() ?? '').join(' ');
      return el.labels?.[0]?.textContent?.trim() ?? '';
    };
    const scan = () => {
      for (const el of document.querySelectorAll('progress, [role="progressbar"]')) {
        const name = nameOf(el);
        const raw = el.getAttribute('aria-valuenow') ?? (el.tagName === 'PROGRESS' && el.hasAttribute('value') ? String(el.value / (el.max || 1) * 100) : null);
        const entry = (seen[name] = seen[name] || { values: [] });
        if (raw !== null && entry.values.at(-1) !== Number(raw)) entry.values.push(Number(raw));
      }
    };
    new MutationObserver(scan).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['value', 'aria-valuenow'] });
    setInterval(scan, 50);
  })()`);
}

/** What `recordProgressBars` saw: each bar's accessible name and the values it went through. */
export async function progressSeen(page: Page): Promise<Record<string, { values: number[] }>> {
  return (await page.evaluate('window.__progressSeen || {}')) as Record<string, { values: number[] }>;
}

/** The `search` parameter `name` of the page's address. */
export const searchParam = (page: Page, name: string): string | null =>
  new URL(page.url()).searchParams.get(name);
