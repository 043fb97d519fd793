// The admin console in a real browser against the real `atelier serve`:
//  (b) an administrator disables a plugin on Admin › Plugins, and another person's studio, already
//      open with the style picker showing, loses that style within a second (and only that one);
//  (c) a non-administrator who types /admin/plugins lands on "Administrators only", never sees the
//      console, and the API refuses them too;
//  (d) a plugin with a bad manifest in ATELIER_PLUGIN_DIR is skipped at start-up, and Admin › Plugins
//      shows it under "Plugins that did not load" with its code (axe-core clean, 390 px, dark).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanupsAfterAll, openTempDir } from '../cleanups.ts';
import { photo } from '../helpers.ts';
import { Api, ok } from './api.ts';
import { checkScreen, newContext, openBrowser, settle } from './browser.ts';
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

// A plugin for an engine that does not exist yet. No imports: the directory is outside the repository
// (nothing to resolve `zod` from), and the engine range is checked before the parameters.
const FUTURE_PLUGIN = `export const plugin = {
  id: 'acme:future', name: 'Future', description: 'Needs engine 2.', version: '1.0.0', engine: '^2',
  kind: 'style', params: {}, apply: ({ image }) => image,
};
`;

beforeAll(async () => {
  const pluginDir = await openTempDir('atelier-web-plugins-', defer);
  await writeFile(path.join(pluginDir, 'future.ts'), FUTURE_PLUGIN);
  [server, browser] = await Promise.all([
    startWebServer(defer, { env: { ATELIER_PLUGIN_DIR: pluginDir } }),
    openBrowser(defer),
  ]);
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

  it(
    'shows a plugin skipped at start-up under "Plugins that did not load", with its code',
    { timeout: 60_000 },
    async () => {
      const failures = ok(
        'admin.pluginFailures',
        await adminApi.query<{ plugin?: string; code: string }[]>('admin.pluginFailures'),
      );
      expect(failures).toMatchObject([{ plugin: 'acme:future', code: 'PLUGIN_ENGINE_MISMATCH' }]);

      const page = await adminContext.newPage();
      await page.goto('/admin/plugins');
      const section = page.getByRole('region', { name: 'Plugins', exact: true });
      const panel = section.getByRole('region', { name: 'Plugins that did not load' });
      await panel.getByRole('heading', { level: 3, name: 'Plugins that did not load' }).waitFor();
      const items = panel.getByRole('listitem');
      expect(await items.count()).toBe(1);
      const item = await items.first().innerText();
      expect(item).toContain('acme:future');
      expect(item).toContain('PLUGIN_ENGINE_MISMATCH');
      expect(item).toContain('The plugin was made for another version of Atelier.');
      expect(item).toContain('supports engine ^2');
      // The good plugins are still listed and usable.
      await section.getByRole('switch', { name: 'Enable Cartoon' }).waitFor();
      expect(await section.getByRole('row', { name: /Future/ }).count()).toBe(0);
      // At 390 and 1440 px and in the dark theme: no sideways scroll, axe-core clean, screenshots.
      await checkScreen(
        page,
        'admin-plugin-failures',
        (p) => p.getByText('PLUGIN_ENGINE_MISMATCH').waitFor(),
        {
          dark: true,
        },
      );
    },
  );
});
