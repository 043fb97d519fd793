// The gallery's search in a real browser against the real `atelier serve` and its analysis worker
// (docs/web.md "Gallery search"): fixture photos and a photo made mostly of #1d3557 are uploaded
// while no worker runs, so the photo page shows the analysis pending and then updates by itself
// once `atelier worker` has analysed them; then the colour filter ranks the navy photo first (and
// combines with the date filter), a re-encoded copy uploaded in the studio gets its duplicate badge
// with a link to the original, "More like this" lists it nearest first, a tag edited on the photo
// page is found by the word search (and a bad tag is refused beside the field), and thumbnails show
// their BlurHash placeholder until the picture has loaded.
import path from 'node:path';
import sharp from 'sharp';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanupsAfterAll, openTempDir } from '../cleanups.ts';
import { photo } from '../helpers.ts';
import { Api, ok } from './api.ts';
import { checkScreen, newContext, openBrowser } from './browser.ts';
import { startWebServer } from './server.ts';
import type { WebServer } from './server.ts';

const defer = cleanupsAfterAll();

let server: WebServer;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let api: Api;
let dir: string;
/** Image ids by file name. */
const ids = new Map<string, string>();

interface ImageView {
  readonly id: string;
  readonly analysis: { readonly status: string; readonly blurhash: string | null } | null;
}

/** Waits until the image's analysis is done (or fails the test if it failed). */
async function analysed(id: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const image = ok('images.get', await api.query<ImageView>('images.get', { id }));
    if (image.analysis?.status === 'done') return;
    if (image.analysis?.status === 'failed') throw new Error(`the analysis of ${id} failed`);
    if (Date.now() > deadline) throw new Error(`image ${id} still not analysed after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const idOf = (name: string): string => {
  const id = ids.get(name);
  if (!id) throw new Error(`no upload named ${name}`);
  return id;
};

beforeAll(async () => {
  [server, browser] = await Promise.all([startWebServer(defer, { worker: false }), openBrowser(defer)]);
  dir = await openTempDir('atelier-gallery-search-', defer);
  context = await newContext(browser, server.url);
  api = new Api(context, server.url);
  await api.register('gallery-search@example.org', 'a gallery search password 123');
  page = await context.newPage();

  // Mostly #1d3557 (80 %) with a red band; and a photo with only a little of that navy.
  const navy = path.join(dir, 'navy.png');
  await sharp({ create: { width: 320, height: 240, channels: 3, background: '#1d3557' } })
    .composite([
      {
        input: await sharp({ create: { width: 320, height: 48, channels: 3, background: '#e63946' } })
          .png()
          .toBuffer(),
        top: 192,
        left: 0,
      },
    ])
    .png()
    .toFile(navy);
  const band = path.join(dir, 'navy-band.png');
  await sharp({ create: { width: 320, height: 240, channels: 3, background: '#f1faee' } })
    .composite([
      {
        input: await sharp({ create: { width: 320, height: 60, channels: 3, background: '#1d3557' } })
          .png()
          .toBuffer(),
        top: 0,
        left: 0,
      },
    ])
    .png()
    .toFile(band);
  for (const file of [photo('coffee.png'), photo('rocket.jpg'), photo('chelsea.png'), navy, band])
    ids.set(path.basename(file), await api.upload(file));
}, 120_000);

describe('gallery search in a browser', () => {
  it(
    'says the analysis is pending, then shows the colours by itself once the worker has run',
    { timeout: 120_000 },
    async () => {
      await page.goto(`/gallery/photos/${idOf('coffee.png')}`);
      await page.getByRole('heading', { level: 1, name: 'coffee.png' }).waitFor();
      await page.getByText('Analysing this photo').waitFor();
      await page.getByText('Similar photos show once this photo has been analysed.').waitFor();
      expect(await page.getByRole('list', { name: 'Colours' }).count()).toBe(0);

      server.startWorker();
      for (const id of ids.values()) await analysed(id);
      // No reload: the page asked again until the analysis was done.
      await page.getByRole('list', { name: 'Colours' }).waitFor({ timeout: 30_000 });
      await expect
        .poll(() => page.getByRole('list', { name: 'Colours' }).getByRole('button').count())
        .toBeGreaterThan(0);
      await page.getByText('No duplicates among your photos.').waitFor();
      expect(await page.getByText('Analysing this photo').count()).toBe(0);
    },
  );

  it(
    'ranks the photo made mostly of #1d3557 first by colour, and combines it with the date filter',
    { timeout: 120_000 },
    async () => {
      await page.goto('/gallery?tab=uploads');
      const form = page.getByRole('form', { name: 'Search photos by colour' });
      await form.getByLabel('Colour 1').fill('#1d3557');
      await form.getByRole('button', { name: 'Find by colour' }).click();
      await expect.poll(() => new URL(page.url()).searchParams.get('colors')).toBe('#1d3557');
      const list = page.getByRole('list', { name: 'Photos by colour' });
      await list.waitFor();
      const titles = await list.locator('.gallery-card-title').allTextContents();
      expect(titles[0]).toBe('navy.png');
      expect(titles).toContain('navy-band.png');
      expect(titles.indexOf('navy-band.png')).toBeGreaterThan(0);
      // The best match first: its share of navy is the largest.
      const matches = (await list.locator('.photo-match').allTextContents()).map((t) => parseInt(t, 10));
      expect(matches).toEqual([...matches].sort((a, b) => b - a));
      expect(matches[0]).toBeGreaterThan(60);
      // Each card shows its palette.
      const firstPalette = await list
        .getByRole('img', { name: /^Colours: / })
        .first()
        .getAttribute('aria-label');
      expect(firstPalette).toMatch(/^Colours: #1d3557 \d+%/);

      // With a date filter from tomorrow: nothing (the filters apply to the colour search).
      const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
      await page.getByRole('form', { name: 'Filters' }).getByLabel('From').fill(tomorrow);
      await page.getByText('No photos with these colours.').waitFor();
      await page.getByRole('button', { name: 'Clear filters' }).click();
      await list.waitFor();
      expect(await list.locator('.gallery-card-title').first().textContent()).toBe('navy.png');

      // Two colours: only photos with both (navy and red).
      await form.getByRole('button', { name: 'Add a colour' }).click();
      await form.getByLabel('Colour 2').fill('#e63946');
      await form.getByRole('button', { name: 'Find by colour' }).click();
      await expect.poll(() => new URL(page.url()).searchParams.get('colors')).toBe('#1d3557,#e63946');
      // The navy-and-white photo has no red: gone; the navy-and-red one still first.
      await expect
        .poll(() => list.locator('.gallery-card-title').allTextContents(), { timeout: 15_000 })
        .not.toContain('navy-band.png');
      expect(await list.locator('.gallery-card-title').first().textContent()).toBe('navy.png');
      await checkScreen(page, 'gallery-colour-search', (p) =>
        p.getByRole('list', { name: 'Photos by colour' }).waitFor(),
      );
    },
  );

  it(
    'shows the duplicate badge for a re-encoded copy: in the studio after upload, in the gallery and on the photo page',
    { timeout: 120_000 },
    async () => {
      // The same photo at 80 % of its size, as a JPEG of quality 70: other bytes, the same picture.
      const copy = path.join(dir, 'coffee-copy.jpg');
      const meta = await sharp(photo('coffee.png')).metadata();
      await sharp(photo('coffee.png'))
        .resize(Math.round((meta.width ?? 400) * 0.8))
        .jpeg({ quality: 70 })
        .toFile(copy);
      await page.goto('/studio');
      await page.getByRole('heading', { level: 1, name: 'Studio', exact: true }).waitFor();
      await page.getByLabel('Photos').setInputFiles([copy]);
      const row = page
        .getByRole('list', { name: 'Uploads' })
        .getByRole('listitem')
        .filter({ hasText: 'coffee-copy.jpg' });
      // Once its analysis is done, the row says the person already has it, with a link to it.
      await row.getByText('Duplicate', { exact: true }).waitFor({ timeout: 60_000 });
      // Named as the original is, once known.
      const link = row.locator('.dup-badge').getByRole('link', { name: /^coffee\.png/ });
      expect(await link.getAttribute('href')).toBe(`/gallery/photos/${idOf('coffee.png')}`);
      // The very same file again: the answer is the photo already there, and the row says so.
      await page.getByLabel('Photos').setInputFiles([photo('coffee.png')]);
      const again = page
        .getByRole('list', { name: 'Uploads' })
        .getByRole('listitem')
        .filter({ hasText: /^coffee\.png/ });
      await again.getByText('Already yours', { exact: true }).waitFor({ timeout: 30_000 });
      expect(await again.getByRole('link', { name: 'open it (coffee.png)' }).getAttribute('href')).toBe(
        `/gallery/photos/${idOf('coffee.png')}`,
      );
      const images = ok(
        'images.list',
        await api.query<{ items: { id: string; originalName: string | null }[] }>('images.list', {
          limit: 50,
        }),
      );
      const copyId = images.items.find((i) => i.originalName === 'coffee-copy.jpg')?.id;
      expect(copyId).toBeDefined();
      ids.set('coffee-copy.jpg', copyId!);

      // In the gallery: the original's card has the badge (linking to the copy); rocket's has none.
      await page.goto('/gallery?tab=uploads');
      const cards = page.getByRole('list', { name: 'Uploads' }).getByRole('listitem');
      const coffee = cards.filter({ has: page.locator('.gallery-card-title', { hasText: /^coffee\.png$/ }) });
      await coffee.getByText('Duplicate', { exact: true }).waitFor();
      expect(await coffee.getByRole('link', { name: /^coffee-copy\.jpg/ }).getAttribute('href')).toBe(
        `/gallery/photos/${copyId}`,
      );
      const rocket = cards.filter({ has: page.locator('.gallery-card-title', { hasText: /^rocket\.jpg$/ }) });
      await rocket.locator('.thumb').waitFor();
      expect(await rocket.getByText('Duplicate', { exact: true }).count()).toBe(0);

      // Following the link opens the copy's page, whose own badge leads back to the original.
      await coffee.getByRole('link', { name: /^coffee-copy\.jpg/ }).click();
      await page.waitForURL((url) => url.pathname === `/gallery/photos/${copyId}`);
      await page.getByRole('heading', { level: 1, name: 'coffee-copy.jpg' }).waitFor();
      const back = page.locator('.photo-dups').getByRole('link', { name: /^coffee\.png/ });
      await back.waitFor();
      expect(await back.getAttribute('href')).toBe(`/gallery/photos/${idOf('coffee.png')}`);
    },
  );

  it('lists more like this, nearest first, with the distance', { timeout: 60_000 }, async () => {
    await page.goto(`/gallery/photos/${idOf('coffee.png')}`);
    const similar = page.getByRole('list', { name: 'Similar photos' });
    await similar.waitFor();
    const titles = await similar.locator('.gallery-card-title').allTextContents();
    expect(titles[0]).toBe('coffee-copy.jpg');
    expect(titles).not.toContain('coffee.png');
    const distances = (await similar.locator('.photo-distance').allTextContents()).map((t) =>
      t === 'Identical' ? 0 : parseInt(t, 10),
    );
    expect(distances.every((d) => Number.isInteger(d))).toBe(true);
    expect(distances).toEqual([...distances].sort((a, b) => a - b));
    expect(distances[0]).toBeLessThanOrEqual(6);
    await checkScreen(
      page,
      'gallery-photo',
      (p) => p.getByRole('list', { name: 'Similar photos' }).waitFor(),
      { dark: true },
    );
    // The strictest setting keeps only the near-identical copy.
    await page.getByLabel('How alike').selectOption('6');
    await expect
      .poll(() => similar.locator('.gallery-card-title').allTextContents(), { timeout: 15_000 })
      .toEqual(['coffee-copy.jpg']);
    // The card's "More like this" leads here too.
    await page.goto('/gallery?tab=uploads');
    await page.getByRole('link', { name: 'More like this (rocket.jpg)' }).click();
    await page.waitForURL((url) => url.pathname === `/gallery/photos/${idOf('rocket.jpg')}`);
    await page.getByRole('heading', { level: 2, name: 'More like this' }).waitFor();
  });

  it(
    'edits the title and tags, refuses a bad tag beside the field, and the word search finds the photo',
    { timeout: 90_000 },
    async () => {
      await page.goto(`/gallery/photos/${idOf('navy.png')}`);
      const form = page.getByRole('form', { name: 'Title and tags' });
      await form.getByLabel('Title').fill('Harbour at dusk');
      // A tag longer than 50 characters: the API refuses it, and the form says which one.
      await form.getByLabel('Tags').fill(`paintings, ${'x'.repeat(60)}`);
      await form.getByRole('button', { name: 'Save' }).click();
      const alert = form.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toMatch(
        /^The tag "x{24}…" is too long: a tag has 1 to 50 characters\.$/,
      );
      expect(await form.getByLabel('Tags').getAttribute('aria-invalid')).toBe('true');

      await form.getByLabel('Tags').fill('Paintings, sea, paintings');
      await form.getByRole('button', { name: 'Save' }).click();
      await form.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
      // Stored as the API keeps them: lower case, once each.
      expect(await form.getByLabel('Tags').inputValue()).toBe('paintings, sea');
      await page.getByRole('heading', { level: 1, name: 'Harbour at dusk' }).waitFor();

      // Words: "painting" finds "paintings" (stemming).
      await page.goto('/gallery?tab=uploads');
      const words = page.getByRole('search', { name: 'Search photos by words' });
      await words.getByLabel('Words').fill('painting');
      await words.getByRole('button', { name: 'Search' }).click();
      await expect.poll(() => new URL(page.url()).searchParams.get('q')).toBe('painting');
      const found = page.getByRole('list', { name: 'Photos found' });
      await expect
        .poll(() => found.locator('.gallery-card-title').allTextContents(), { timeout: 15_000 })
        .toEqual(['Harbour at dusk']);
      expect(await found.getByRole('list', { name: 'Tags' }).textContent()).toBe('paintingssea');
      await words.getByLabel('Words').fill('volcano');
      await words.getByRole('button', { name: 'Search' }).click();
      await page.getByText('No photos with these words.').waitFor();
    },
  );

  it('shows the BlurHash placeholder until the thumbnail has loaded', { timeout: 60_000 }, async () => {
    // Hold every original's download until told: the thumbnails cannot load meanwhile.
    const held: Route[] = [];
    let release = false;
    await page.route('**/files/images/**', async (route) => {
      if (release) await route.continue();
      else held.push(route);
    });
    await page.goto('/gallery?tab=uploads');
    const card = page
      .getByRole('list', { name: 'Uploads' })
      .getByRole('listitem')
      .filter({ has: page.locator('.gallery-card-title', { hasText: 'Harbour at dusk' }) });
    const thumb = card.locator('.thumb');
    await thumb.locator('img').waitFor({ state: 'attached' });
    expect(await thumb.getAttribute('data-loaded')).toBe('false');
    const style = (await thumb.locator('.thumb-blur').getAttribute('style')) ?? '';
    const data = /url\("?data:image\/png;base64,([A-Za-z0-9+/=]+)"?\)/.exec(style)?.[1];
    expect(data, style).toBeDefined();
    // The placeholder is navy, as the photo is: its middle pixel, decoded here.
    const { data: pixels, info } = await sharp(Buffer.from(data!, 'base64'))
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    expect(info.width).toBe(32);
    const middle = (Math.floor(info.height / 2) * info.width + Math.floor(info.width / 2)) * 3;
    const [r, g, b] = [pixels[middle]!, pixels[middle + 1]!, pixels[middle + 2]!];
    expect(Math.abs(r - 0x1d) + Math.abs(g - 0x35) + Math.abs(b - 0x57)).toBeLessThan(60);

    await expect.poll(() => held.length).toBeGreaterThan(0);
    release = true;
    for (const route of held) await route.continue();
    await page.unroute('**/files/images/**');
    await expect.poll(() => thumb.getAttribute('data-loaded'), { timeout: 15_000 }).toBe('true');
    expect(await thumb.locator('.thumb-blur').count()).toBe(0);
  });
});

describe('more like this, page after page', () => {
  it(
    'loads the next pages of similar photos, nearest first and without repeats',
    { timeout: 120_000 },
    async () => {
      // 14 copies of rocket.jpg at other sizes and qualities: more than one page (12) of look-alikes.
      const meta = await sharp(photo('rocket.jpg')).metadata();
      const copies: string[] = [];
      for (let i = 0; i < 14; i += 1) {
        const file = path.join(dir, `rocket-${i}.jpg`);
        await sharp(photo('rocket.jpg'))
          .resize(Math.round((meta.width ?? 600) * (0.5 + i * 0.03)))
          .jpeg({ quality: 50 + i * 3 })
          .toFile(file);
        copies.push(await api.upload(file));
      }
      for (const id of copies) await analysed(id);
      const pages: string[] = [];
      page.on('request', (request) => {
        if (request.url().includes('gallery.similar')) pages.push(request.url());
      });
      await page.goto(`/gallery/photos/${idOf('rocket.jpg')}`);
      const similar = page.getByRole('list', { name: 'Similar photos' });
      await similar.waitFor();
      // The next page comes as the end of the list scrolls into view, or with the button. Either
      // may come first: scrolling to click the button can let the list load the page by itself,
      // and the button is then gone before the click lands (not an error here).
      const more = page.getByRole('button', { name: 'Load more similar photos' });
      await expect
        .poll(
          async () => {
            if (await more.isVisible()) await more.click({ timeout: 2_000 }).catch(() => undefined);
            return similar.getByRole('listitem').count();
          },
          { timeout: 20_000 },
        )
        .toBe(14);
      expect(pages.length).toBeGreaterThanOrEqual(2);
      const titles = await similar.locator('.gallery-card-title').allTextContents();
      expect(new Set(titles).size).toBe(14);
      expect(titles.every((t) => /^rocket-\d+\.jpg$/.test(t))).toBe(true);
      const distances = (await similar.locator('.photo-distance').allTextContents()).map((t) =>
        t === 'Identical' ? 0 : parseInt(t, 10),
      );
      expect(distances).toEqual([...distances].sort((a, b) => a - b));
      expect(await more.count()).toBe(0);
    },
  );
});
