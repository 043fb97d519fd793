// The admin console in a real browser against the real `atelier serve`:
//  (b) an administrator disables a plugin on Admin › Plugins, and another person's studio, already
//      open with the style picker showing, loses that style within a second (and only that one);
//  (c) a non-administrator who types /admin/plugins lands on "Administrators only", never sees the
//      console, and the API refuses them too.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanupsAfterAll } from '../cleanups.ts';
import { photo } from '../helpers.ts';
import { Api, ok } from './api.ts';
import { newContext, openBrowser, settle } from './browser.ts';
import { ADMIN, startWebServer } from './server.ts';
import type { WebServer } from './server.ts';

const defer = cleanupsAfterAll();
const USER = { email: 'picker@example.org', password: 'a picker password 123' };

let server: WebServer;
let browser: Browser;
let adminContext: BrowserContext;
let userContext: BrowserContext;
let adminApi: Api;
let userApi: Api;

beforeAll(async () => {
  [server, browser] = await Promise.all([startWebServer(defer), openBrowser(defer)]);
  [adminContext, userContext] = await Promise.all([
    newContext(browser, server.url),
    newContext(browser, server.url),
  ]);
  adminApi = new Api(adminContext, server.url);
  userApi = new Api(userContext, server.url);
  await adminApi.signIn(ADMIN.email, ADMIN.password);
  await userApi.register(USER.email, USER.password);
  await userApi.upload(photo('rocket.jpg'));
}, 90_000);

const stylePicker = (page: Page) => page.getByRole('radiogroup', { name: 'Style' });

/** In the studio: records in `window.__styleGoneAt` when no radio named "Cartoon" is left. */
const WATCH_STYLE_GONE = `(() => {
  const nameOf = (el) => {
    const ids = (el.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
    if (ids.length) return ids.map((id) => document.getElementById(id)?.textContent?.trim() ?? '').join(' ');
    return el.getAttribute('aria-label') || el.labels?.[0]?.textContent?.trim() || '';
  };
  const present = () => Array.from(document.querySelectorAll('input[type=radio], [role=radio]')).some((r) => nameOf(r) === 'Cartoon');
  if (!present()) throw new Error('no radio named Cartoon to watch');
  window.__styleGoneAt = null;
  const observer = new MutationObserver(() => {
    if (!present()) { window.__styleGoneAt = Date.now(); observer.disconnect(); }
  });
  observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
})()`;
describe('the admin console', () => {
  it('disabling a plugin removes its style from an open studio within 1 s', { timeout: 60_000 }, async () => {
    const studio = await userContext.newPage();
    await studio.goto('/studio');
    const cartoon = stylePicker(studio).getByRole('radio', { name: 'Cartoon' });
    await cartoon.waitFor();
    const others = stylePicker(studio).getByRole('radio', { name: 'Pencil sketch' });
    await others.waitFor();
    const radiosBefore = await stylePicker(studio).getByRole('radio').count();

    const adminPage = await adminContext.newPage();
    await adminPage.goto('/admin/plugins');
    await adminPage.getByRole('heading', { level: 1, name: 'Admin', exact: true }).waitFor();
    const toggle = adminPage.getByRole('switch', { name: 'Enable Cartoon' });
    await toggle.waitFor();
    expect(await toggle.getAttribute('aria-checked')).toBe('true');

    // Nothing else removes it: it is still offered after a while with the console open.
    await studio.waitForTimeout(1500);
    expect(await cartoon.count()).toBe(1);

    // The two moments are taken in the pages themselves (one browser, one clock): the click event
    // on the console, and the mutation that leaves the studio's picker without "Cartoon". Neither
    // the test's polling nor Playwright's actionability checks before a click count.
    await studio.evaluate(WATCH_STYLE_GONE);
    await adminPage.evaluate(
      `document.addEventListener('click', () => { window.__clickedAt ??= Date.now(); }, true)`,
    );
    const clicked = Date.now();
    await toggle.click();
    // A generous wait: the bound is functional (the "within a second"), not a benchmark.
    await cartoon.waitFor({ state: 'detached', timeout: 5_000 });
    const seenByTest = Date.now() - clicked;
    const elapsed =
      Number(await studio.evaluate('window.__styleGoneAt')) -
      Number(await adminPage.evaluate('window.__clickedAt'));
    console.log(
      `disabled Cartoon: gone from the open studio ${elapsed} ms after the click (${seenByTest} ms as the test saw it)`,
    );
    expect(elapsed, `the style left the open studio ${elapsed} ms after the click`).toBeLessThan(1000);

    // It was the disabling: the switch says so, the API agrees, and only that style went.
    await expect.poll(() => toggle.getAttribute('aria-checked')).toBe('false');
    const listed = ok('styles.list', await userApi.query<{ id: string }[]>('styles.list'));
    expect(listed.map((s) => s.id)).not.toContain('cartoon');
    expect(listed.map((s) => s.id)).toContain('sketch');
    expect(await others.count()).toBe(1);
    expect(await stylePicker(studio).getByRole('radio').count()).toBe(radiosBefore - 1);

    // Enabling it again brings it back to the same open page.
    await toggle.click();
    await cartoon.waitFor({ timeout: 5_000 });
    await expect.poll(() => toggle.getAttribute('aria-checked')).toBe('true');
  });

  it(
    'a non-administrator typing /admin/plugins lands on "Administrators only"; the API refuses',
    { timeout: 30_000 },
    async () => {
      const page = await userContext.newPage();
      // Remember anything of the console that is ever rendered, even for a moment.
      await page.addInitScript(`(() => {
      window.__consoleSeen = [];
      const check = () => {
        for (const h of document.querySelectorAll('h1')) if (h.textContent.trim() === 'Admin') window.__consoleSeen.push('h1 Admin');
        if (document.querySelector('[role="switch"]')) window.__consoleSeen.push('a plugin switch');
      };
      new MutationObserver(check).observe(document, { subtree: true, childList: true, characterData: true });
    })()`);
      await page.goto('/admin/plugins');
      await page.waitForURL((url) => url.pathname === '/forbidden');
      await page.getByRole('heading', { level: 1, name: 'Administrators only', exact: true }).waitFor();
      await settle(page);
      expect(await page.evaluate('window.__consoleSeen')).toEqual([]);
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.getByRole('link', { name: 'Studio' }).waitFor();
      expect(await nav.getByRole('link', { name: 'Admin' }).count()).toBe(0);

      const refused = await userApi.query('admin.plugins');
      expect(refused.status).toBe(403);
      expect(refused.code).toBe('FORBIDDEN');
      // The administrator, for comparison, is answered.
      expect((await adminApi.query('admin.plugins')).status).toBe(200);
    },
  );
});
