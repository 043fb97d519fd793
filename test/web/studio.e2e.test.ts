// The studio end to end in a real browser against the real `atelier serve` (serving the built web
// app), its worker as a separate `atelier worker` process the tests stop and start:
//  (a) sign up, upload a photo with per-file progress, tune a parameter and see the preview change,
//      render with a progress bar, download exactly the bytes the API serves for the job, find it in
//      the gallery, open it, delete it;
//  (d) a reload during a render resumes the progress bar of the same job, which then finishes.
import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanupsAfterAll } from '../cleanups.ts';
import { photo } from '../helpers.ts';
import type { ServeProcess } from '../serve-process.ts';
import { Api, ok } from './api.ts';
import type { JobView } from './api.ts';
import { newContext, openBrowser, progressSeen, recordProgressBars, searchParam } from './browser.ts';
import { startWebServer } from './server.ts';
import type { WebServer } from './server.ts';

const defer = cleanupsAfterAll();
const PHOTO = 'colorful-cups-2560x1600.jpg';
const EMAIL = 'studio-user@example.org';
const PASSWORD = 'a studio password 123';

let server: WebServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let api: Api;
let worker: ServeProcess;

beforeAll(async () => {
  [server, browser] = await Promise.all([startWebServer(defer, { worker: false }), openBrowser(defer)]);
  worker = server.startWorker();
  context = await newContext(browser, server.url);
  api = new Api(context, server.url);
  page = await context.newPage();
  await recordProgressBars(page);
}, 90_000);

const renderProgress = (p: Page) => p.getByRole('progressbar', { name: 'Render progress' });
const downloadLink = (p: Page) => p.getByRole('link', { name: 'Download', exact: true });

/** The Download link's bytes, as the browser saves them. */
async function downloadedBytes(p: Page): Promise<Buffer> {
  const [download] = await Promise.all([p.waitForEvent('download'), downloadLink(p).click()]);
  return readFile(await download.path());
}

describe('the studio in a browser', () => {
  it(
    'sign up, upload with progress, tune, render, download the API’s bytes, find it in the gallery, delete it',
    { timeout: 120_000 },
    async () => {
      // Sign up on the account screen.
      await page.goto('/account');
      const signUp = page.getByRole('form', { name: 'Create an account' });
      await signUp.getByLabel('Email').fill(EMAIL);
      await signUp.getByLabel('Password').fill(PASSWORD);
      await signUp.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL((url) => url.pathname === '/studio');
      await page.getByRole('heading', { level: 1, name: 'Studio', exact: true }).waitFor();
      expect(ok('users.me', await api.query<{ email: string }>('users.me')).email).toBe(EMAIL);

      // Upload a real photo; the upload is slowed down so that its progress bar has time to show.
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: 400 * 1024,
      });
      await page.getByLabel('Photos').setInputFiles(photo(PHOTO));
      const photos = page.getByRole('radiogroup', { name: 'Photo' }).getByRole('radio');
      await photos.first().waitFor({ timeout: 30_000 });
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: -1,
      });
      const uploading = (await progressSeen(page))[`Uploading ${PHOTO}`];
      expect(uploading, `no progress bar named "Uploading ${PHOTO}" was shown`).toBeDefined();
      expect(
        uploading!.values.some((v) => v > 0 && v < 100),
        `upload progress: ${uploading!.values}`,
      ).toBe(true);
      const images = ok('images.list', await api.query<{ items: { id: string }[] }>('images.list', {})).items;
      expect(images).toHaveLength(1);

      // Choose a style; move a slider of its parameters with the keyboard: the preview changes.
      await page.getByRole('radiogroup', { name: 'Style' }).getByRole('radio', { name: 'Cartoon' }).check();
      const preview = page.getByRole('img', { name: 'Preview', exact: true });
      await expect.poll(() => preview.getAttribute('src'), { timeout: 20_000 }).toBeTruthy();
      const before = await preview.getAttribute('src');
      const slider = page.getByRole('group', { name: 'Parameters' }).getByRole('slider').first();
      await slider.focus();
      const valueBefore = await slider.inputValue();
      for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowRight');
      expect(await slider.inputValue()).not.toBe(valueBefore);
      await expect.poll(() => preview.getAttribute('src'), { timeout: 20_000 }).not.toBe(before);

      // Render: a progress bar, then the Download link.
      await page.getByRole('button', { name: 'Render', exact: true }).click();
      await expect.poll(() => searchParam(page, 'job'), { timeout: 10_000 }).toBeTruthy();
      const jobId = searchParam(page, 'job')!;
      expect(searchParam(page, 'image')).toBe(images[0]!.id);
      expect(searchParam(page, 'style')).toBe('cartoon');
      await downloadLink(page).waitFor({ timeout: 60_000 });
      const bars = (await progressSeen(page))['Render progress'];
      expect(bars, 'no progress bar named "Render progress" was shown').toBeDefined();
      expect(
        bars!.values.every((v) => v >= 0 && v <= 100),
        `render progress: ${bars!.values}`,
      ).toBe(true);
      const job = ok('jobs.get', await api.query<JobView>('jobs.get', { id: jobId }));
      expect(job.status).toBe('succeeded');
      expect(job.style).toBe('cartoon');

      // The Download link gives exactly the bytes the API serves for this job.
      const downloaded = await downloadedBytes(page);
      expect(downloaded.length).toBeGreaterThan(1000);
      expect(downloaded.equals(await api.resultBytes(jobId))).toBe(true);

      // The gallery lists it; its page shows it; Delete (confirmed) removes it.
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Gallery' }).click();
      await page.getByRole('heading', { level: 1, name: 'Gallery', exact: true }).waitFor();
      const item = page.getByRole('list', { name: 'Results' }).locator(`a[href$="/gallery/${jobId}"]`);
      await item.waitFor();
      expect(await item.textContent()).toContain('Cartoon');
      await item.click();
      await page.waitForURL((url) => url.pathname === `/gallery/${jobId}`);
      await page.getByRole('heading', { level: 1, name: /Cartoon/ }).waitFor();
      await page.getByRole('img', { name: 'Result', exact: true }).waitFor();
      await page.getByRole('img', { name: 'Original', exact: true }).waitFor();
      await page.getByRole('button', { name: 'Delete', exact: true }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete this result?' });
      await dialog.waitFor();
      await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
      await page.waitForURL((url) => url.pathname === '/gallery');
      await page.getByRole('heading', { level: 1, name: 'Gallery', exact: true }).waitFor();
      await expect.poll(() => item.count()).toBe(0);
      expect((await api.query('jobs.get', { id: jobId })).code).toBe('JOB_NOT_FOUND');
    },
  );

  it(
    'a reload during a render resumes its progress bar, bound to the same job, to the end',
    { timeout: 90_000 },
    async () => {
      // No worker: the render stays queued while the page reloads.
      worker.child.kill('SIGTERM');
      expect(await worker.exited).toBe(0);

      await page.goto('/studio');
      await page.getByRole('radiogroup', { name: 'Photo' }).getByRole('radio').first().check();
      await page
        .getByRole('radiogroup', { name: 'Style' })
        .getByRole('radio', { name: 'Pencil sketch' })
        .check();
      await page.getByRole('button', { name: 'Render', exact: true }).click();
      await renderProgress(page).waitFor();
      await expect.poll(() => searchParam(page, 'job'), { timeout: 10_000 }).toBeTruthy();
      const jobId = searchParam(page, 'job')!;
      const address = page.url();

      await page.reload();
      expect(page.url()).toBe(address);
      await renderProgress(page).waitFor({ timeout: 15_000 });
      // Still in progress (the bar is the job's state, not a leftover): nothing has run it yet.
      expect(ok('jobs.get', await api.query<JobView>('jobs.get', { id: jobId })).status).toBe('queued');
      const now = Number(await renderProgress(page).getAttribute('aria-valuenow'));
      expect(now).toBeGreaterThanOrEqual(0);
      expect(now).toBeLessThanOrEqual(100);
      expect(await downloadLink(page).count()).toBe(0);

      // A worker takes the job: the same page, without another reload, reaches the result.
      worker = server.startWorker();
      await downloadLink(page).waitFor({ timeout: 60_000 });
      expect(searchParam(page, 'job')).toBe(jobId);
      expect(ok('jobs.get', await api.query<JobView>('jobs.get', { id: jobId })).status).toBe('succeeded');
      expect((await downloadedBytes(page)).equals(await api.resultBytes(jobId))).toBe(true);
    },
  );
});
