// Batch upload in the studio, in a real browser against the real `atelier serve`: several files
// chosen at once (file input) or dropped at once (drag and drop) go up together through
// images.uploadMany, each with a row of its own that ends in "Uploaded" or in its own error,
// while the good files of the same selection are stored.
import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanupsAfterAll } from '../cleanups.ts';
import { bad, photo } from '../helpers.ts';
import { Api, ok } from './api.ts';
import { newContext, openBrowser } from './browser.ts';
import { startWebServer } from './server.ts';
import type { WebServer } from './server.ts';

const defer = cleanupsAfterAll();

let server: WebServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let api: Api;

beforeAll(async () => {
  [server, browser] = await Promise.all([startWebServer(defer, { worker: false }), openBrowser(defer)]);
  context = await newContext(browser, server.url);
  api = new Api(context, server.url);
  await api.register('batch-upload@example.org', 'a batch upload password 123');
  page = await context.newPage();
}, 90_000);

/** The rows of the upload list, each as its file name and what it says (its result or its error). */
async function rows(p: Page): Promise<{ name: string; says: string }[]> {
  // Read in one go, in the page: a row turns from its hint ("Checking…") to its alert ("This kind
  // of file…") at any moment, and a locator read between the two would wait for an element that
  // is gone (15 s, longer than the polls below).
  return p
    .getByRole('list', { name: 'Uploads' })
    .getByRole('listitem')
    .evaluateAll((items) =>
      items.map((element) => {
        // Runs in the page; this file is compiled without the DOM's types, hence the shape named here.
        type Node = { textContent: string | null; querySelector(selector: string): Node | null };
        const item = element as unknown as Node;
        const says = item.querySelector('[role="alert"]') ?? item.querySelector('.hint');
        return {
          name: item.querySelector('.studio-upload-name')?.textContent ?? '',
          says: says?.textContent ?? '',
        };
      }),
    );
}

/** True once no row is still on its way (waiting, uploading or being checked). */
async function settled(p: Page): Promise<boolean> {
  return (await rows(p)).every((r) => !/Waiting|Checking|%/.test(r.says));
}

async function imageNames(): Promise<string[]> {
  const list = ok(
    'images.list',
    await api.query<{ items: { originalName: string | null }[] }>('images.list', { limit: 50 }),
  );
  return list.items.map((i) => i.originalName ?? '').sort();
}

describe('batch upload in the studio', () => {
  it(
    'uploads two good files and a truncated JPEG chosen together: three rows, two stored, one error',
    { timeout: 60_000 },
    async () => {
      await page.goto('/studio');
      await page.getByRole('heading', { level: 1, name: 'Studio', exact: true }).waitFor();
      const uploads: string[] = [];
      page.on('request', (request) => {
        const url = new URL(request.url());
        if (url.pathname.startsWith('/trpc/images.upload')) uploads.push(url.pathname);
      });
      await page
        .getByLabel('Photos')
        .setInputFiles([photo('rocket.jpg'), photo('truncated.jpg'), photo('chelsea.png')]);

      await expect.poll(() => settled(page), { timeout: 30_000 }).toBe(true);
      expect(await rows(page)).toEqual([
        { name: 'rocket.jpg', says: 'Uploaded' },
        { name: 'truncated.jpg', says: 'The file is damaged or truncated and cannot be opened.' },
        { name: 'chelsea.png', says: 'Uploaded' },
      ]);
      expect(await imageNames()).toEqual(['chelsea.png', 'rocket.jpg']);
      // One request for the three files.
      expect(uploads).toEqual(['/trpc/images.uploadMany']);
      // The stored photos are in the studio's photo picker.
      await expect
        .poll(() => page.getByRole('radiogroup', { name: 'Photo' }).getByRole('radio').count())
        .toBe(2);
    },
  );

  it(
    'takes several files dropped at once, with one row each: a text file named .jpg fails alone',
    { timeout: 60_000 },
    async () => {
      const files = [
        { name: 'coffee.png', type: 'image/png', bytes: await readFile(photo('coffee.png')) },
        { name: 'notes.jpg', type: 'image/jpeg', bytes: await readFile(bad('text.jpg')) },
      ].map((f) => ({ name: f.name, type: f.type, base64: f.bytes.toString('base64') }));
      const dataTransfer = await page.evaluateHandle((list) => {
        // Runs in the page; this file is compiled without the DOM's types, hence the shape named here.
        const { DataTransfer } = globalThis as unknown as {
          DataTransfer: new () => { items: { add(file: File): void } };
        };
        const transfer = new DataTransfer();
        for (const f of list) {
          const bytes = Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0));
          transfer.items.add(new File([bytes], f.name, { type: f.type }));
        }
        return transfer;
      }, files);
      const zone = page.locator('.studio-dropzone');
      await zone.dispatchEvent('dragover', { dataTransfer });
      await zone.dispatchEvent('drop', { dataTransfer });

      await expect.poll(async () => (await rows(page)).length, { timeout: 10_000 }).toBe(5);
      await expect.poll(() => settled(page), { timeout: 30_000 }).toBe(true);
      // The new selection on top, in its own order; the earlier rows stay below.
      expect((await rows(page)).slice(0, 2)).toEqual([
        { name: 'coffee.png', says: 'Uploaded' },
        {
          name: 'notes.jpg',
          says: 'This kind of file is not supported. Use JPEG, PNG, WebP, AVIF, GIF or TIFF.',
        },
      ]);
      expect(await imageNames()).toEqual(['chelsea.png', 'coffee.png', 'rocket.jpg']);
    },
  );
});
