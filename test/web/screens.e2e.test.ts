// Every screen of the web app, with data on it, at 390x844 and 1440x900: axe-core finds no serious
// or critical violation, the page does not scroll sideways, and a screenshot of it is written to
// docs/screenshots/<screen>-<width>.png (light theme; the studio and the gallery also in dark).
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterEach, beforeAll, describe, it } from 'vitest';
import { cleanupsAfterAll } from '../cleanups.ts';
import { photo } from '../helpers.ts';
import { Api } from './api.ts';
import { checkScreen, newContext, openBrowser, trackRequests } from './browser.ts';
import { ADMIN, startWebServer } from './server.ts';
import type { WebServer } from './server.ts';

const defer = cleanupsAfterAll();
const USER = { email: 'screens@example.org', password: 'a screens password 123' };

let server: WebServer;
let browser: Browser;
let user: BrowserContext;
let admin: BrowserContext;
let anonymous: BrowserContext;
let jobId: string;
let imageId: string;

beforeAll(async () => {
  [server, browser] = await Promise.all([startWebServer(defer), openBrowser(defer)]);
  [user, admin, anonymous] = await Promise.all([
    newContext(browser, server.url),
    newContext(browser, server.url),
    newContext(browser, server.url),
  ]);
  const userApi = new Api(user, server.url);
  await userApi.register(USER.email, USER.password, 'Screens');
  await new Api(admin, server.url).signIn(ADMIN.email, ADMIN.password);
  // Something on every screen: two photos, a finished result and a failed-free queue.
  imageId = await userApi.upload(photo('rocket.jpg'));
  await userApi.upload(photo('chelsea.png'));
  const job = await userApi.render(imageId, 'watercolor');
  jobId = job.id;
  await userApi.render(imageId, 'cartoon');
}, 120_000);

/** The screens' pages, closed after each test (their event streams and polling stop). */
const open: Page[] = [];
afterEach(async () => {
  for (const page of open.splice(0)) await page.close();
});

const h1 = (name: string | RegExp) => (page: Page) =>
  page.getByRole('heading', { level: 1, name, exact: true }).waitFor();

async function visit(context: BrowserContext, path: string): Promise<Page> {
  const page = await context.newPage();
  trackRequests(page);
  open.push(page);
  await page.goto(path);
  return page;
}

describe('every screen at 390 and 1440 px: axe-core clean, no sideways scroll, screenshot', () => {
  it('account, signed out', { timeout: 60_000 }, async () => {
    const page = await visit(anonymous, '/account');
    await checkScreen(page, 'account-signed-out', (p) =>
      p.getByRole('form', { name: 'Create an account' }).waitFor(),
    );
  });

  it('account, signed in', { timeout: 60_000 }, async () => {
    await checkScreen(await visit(user, '/account'), 'account', h1('Account'));
  });

  it('studio (with a photo and a style chosen, light and dark)', { timeout: 90_000 }, async () => {
    const page = await visit(user, `/studio?image=${imageId}&style=watercolor`);
    await checkScreen(
      page,
      'studio',
      async (p) => {
        await h1('Studio')(p);
        await p.getByRole('img', { name: 'Preview', exact: true }).waitFor({ timeout: 20_000 });
      },
      { dark: true },
    );
  });

  it('gallery (light and dark)', { timeout: 60_000 }, async () => {
    const page = await visit(user, '/gallery');
    await checkScreen(
      page,
      'gallery',
      (p) => p.getByRole('list', { name: 'Results' }).getByRole('link').first().waitFor(),
      { dark: true },
    );
  });

  it('gallery detail', { timeout: 60_000 }, async () => {
    await checkScreen(await visit(user, `/gallery/${jobId}`), 'gallery-detail', (p) =>
      p.getByRole('img', { name: 'Result', exact: true }).waitFor(),
    );
  });

  it('dashboard', { timeout: 60_000 }, async () => {
    await checkScreen(await visit(user, '/dashboard'), 'dashboard', async (p) => {
      await h1('Dashboard')(p);
      await p.getByRole('figure').first().waitFor();
    });
  });

  for (const [section, link] of [
    ['plugins', 'Plugins'],
    ['users', 'Users'],
    ['queue', 'Queue'],
    ['audit', 'Audit log'],
    ['stats', 'Statistics'],
  ] as const) {
    it(`admin › ${link}`, { timeout: 60_000 }, async () => {
      const page = await visit(admin, `/admin/${section}`);
      await checkScreen(page, `admin-${section}`, async (p) => {
        await h1('Admin')(p);
        await p.getByRole('link', { name: link, exact: true }).waitFor();
        if (section === 'plugins') await p.getByRole('switch', { name: 'Enable Cartoon' }).waitFor();
        if (section === 'users') await p.getByRole('cell', { name: USER.email }).first().waitFor();
      });
    });
  }

  it('forbidden (a non-administrator at /admin)', { timeout: 60_000 }, async () => {
    await checkScreen(await visit(user, '/admin'), 'forbidden', h1('Administrators only'));
  });

  it('not found', { timeout: 60_000 }, async () => {
    await checkScreen(await visit(user, '/no-such-screen'), 'not-found', (p) =>
      p.getByRole('heading', { level: 1 }).waitFor(),
    );
  });
});
