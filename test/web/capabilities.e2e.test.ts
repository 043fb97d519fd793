// Admin › Plugins › Network and secrets in a real browser against the real `atelier serve`: a plugin
// that declares a host and a secret shows what it asks for and "Not usable until granted"; the
// administrator ticks the boxes and saves, stores the secret with the write-only form, and the API
// agrees. The secret's value is never on the page once stored, nor in any API answer.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanupsAfterAll } from '../cleanups.ts';
import { Api, ok } from './api.ts';
import { checkScreen, newContext, openBrowser } from './browser.ts';
import { ADMIN, startWebServer } from './server.ts';
import type { WebServer } from './server.ts';

const defer = cleanupsAfterAll();
const SECRET = `sk-web-${randomBytes(12).toString('hex')}`;
const pluginDir = fileURLToPath(new URL('../fixtures/capability-plugins/', import.meta.url));

let server: WebServer;
let browser: Browser;
let adminContext: BrowserContext;
let adminApi: Api;

interface View {
  id: string;
  granted: { network: string[]; secrets: string[] };
  missing: { network: string[]; secrets: string[] };
  unsetSecrets: string[];
}

beforeAll(async () => {
  [server, browser] = await Promise.all([
    startWebServer(defer, {
      env: { ATELIER_PLUGIN_DIR: pluginDir, ATELIER_SECRETS_KEY: randomBytes(32).toString('hex') },
    }),
    openBrowser(defer),
  ]);
  adminContext = await newContext(browser, server.url);
  adminApi = new Api(adminContext, server.url);
  await adminApi.signIn(ADMIN.email, ADMIN.password);
}, 90_000);

describe('Admin › Plugins › Network and secrets', () => {
  it('grants what a plugin asks for and stores its secret write-only', { timeout: 90_000 }, async () => {
    const page = await adminContext.newPage();
    const answers: string[] = [];
    page.on('response', (response) => {
      if (response.url().includes('/trpc/'))
        void response.text().then(
          (t) => answers.push(t),
          () => {},
        );
    });
    await page.goto('/admin/plugins');
    const panel = page.getByRole('region', { name: 'Network and secrets' });
    await panel.waitFor();
    const form = panel.getByRole('form', { name: /Fetcher/ });
    await form.getByText('Not usable until granted').waitFor();
    await checkScreen(page, 'admin-capabilities', (p) =>
      p.getByRole('checkbox', { name: 'localhost' }).waitFor(),
    );

    for (const name of ['127.0.0.1', 'localhost', 'TEST_KEY'])
      await form.getByRole('checkbox', { name }).check();
    await form.getByRole('button', { name: 'Save grants of Fetcher' }).click();
    await panel.getByText('Granted', { exact: true }).waitFor();
    await panel.getByText('(no value stored yet)').waitFor();
    const granted = ok('admin.capabilities', await adminApi.query<View[]>('admin.capabilities'));
    // The built-in AI-provider plugins ask for capabilities too; this test is about the fetcher.
    expect(granted.filter((v) => v.id === 'test:fetcher')).toEqual([
      expect.objectContaining({
        id: 'test:fetcher',
        granted: { network: ['127.0.0.1', 'localhost'], secrets: ['TEST_KEY'] },
        missing: { network: [], secrets: [] },
        unsetSecrets: ['TEST_KEY'],
      }),
    ]);

    await panel.getByRole('textbox', { name: 'Name' }).fill('test_key');
    await panel.getByLabel('Value', { exact: true }).fill(SECRET);
    await panel.getByRole('button', { name: 'Store secret' }).click();
    await panel.getByRole('button', { name: 'Remove TEST_KEY' }).waitFor();
    await expect.poll(() => panel.getByText('(no value stored yet)').count()).toBe(0);
    expect(await panel.getByLabel('Value', { exact: true }).inputValue()).toBe('');
    const secrets = ok('admin.secrets', await adminApi.query<{ name: string }[]>('admin.secrets'));
    expect(secrets.map((s) => s.name)).toEqual(['TEST_KEY']);

    // Unticking and saving revokes.
    await form.getByRole('checkbox', { name: 'localhost' }).uncheck();
    await form.getByRole('button', { name: 'Save grants of Fetcher' }).click();
    await form.getByText('Not usable until granted').waitFor();
    const after = ok('admin.capabilities', await adminApi.query<View[]>('admin.capabilities'));
    expect(after.find((v) => v.id === 'test:fetcher')?.missing).toEqual({
      network: ['localhost'],
      secrets: [],
    });

    await page.reload();
    await panel.getByRole('button', { name: 'Remove TEST_KEY' }).waitFor();
    expect(await page.content()).not.toContain(SECRET);
    expect(answers.length).toBeGreaterThan(3);
    for (const answer of answers) expect(answer).not.toContain(SECRET);
  });
});
