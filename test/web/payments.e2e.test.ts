// Paid HD in a real browser (docs/payments.md), against the real `atelier serve` with payments on,
// talking to the loopback fake of Stripe (test/stripe/fake-stripe.ts) through the real SDK:
//  - a locked result shows "Unlock HD — $1.99" and no HD download; the button leads to Stripe's
//    hosted page; "Pay" returns to the app, which waits for Stripe's signed event (held back here,
//    as a late webhook) and then offers "Download HD", whose file is the full-size image;
//  - cancelling on Stripe's page says nothing was charged; a confirmation later than a minute gets
//    the calm "it will update" message, and the page still updates when the event comes;
//  - the account lists the payments; an administrator sees them, filters them, grants and revokes HD.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { cleanupsAfterAll } from '../cleanups.ts';
import { photo } from '../helpers.ts';
import { startFakeStripe } from '../stripe/fake-stripe.ts';
import type { FakeStripe } from '../stripe/fake-stripe.ts';
import { Api, ok } from './api.ts';
import { axeCheck, checkScreen, newContext, openBrowser, settle, writeScreenshot } from './browser.ts';
import { ADMIN, startWebServer } from './server.ts';
import type { WebServer } from './server.ts';

const defer = cleanupsAfterAll();
const EMAIL = 'payer@example.org';
const PASSWORD = 'a payer password 123';
/** rocket.jpg is 640 × 427: with a free size of 256 its result is locked, its standard file 256 × 171. */
const FULL = { width: 640, height: 427 };
const STANDARD = { width: 256, height: 171 };

interface HdJob {
  readonly id: string;
  readonly status: string;
  readonly output: { readonly width: number; readonly height: number } | null;
  readonly hd: {
    readonly state: 'free' | 'locked' | 'unlocked';
    readonly price: { readonly amount: number; readonly currency: string } | null;
    readonly standard: { readonly width: number; readonly height: number };
  } | null;
}

/**
 * Stripe's events, late: the fake delivers to it and it answers 200 at once (as Atelier would), but
 * hands the event to Atelier only on `release()`. The signed bytes are forwarded unchanged.
 */
class LateWebhooks {
  readonly held: { readonly payload: string; readonly signature: string }[] = [];
  readonly #target: string;
  readonly #server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const signature = req.headers['stripe-signature'];
      this.held.push({ payload: Buffer.concat(chunks).toString('utf8'), signature: String(signature) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
    });
  });
  constructor(target: string) {
    this.#target = target;
  }
  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }
  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/webhooks/stripe`;
  }
  /** Delivers the held events to Atelier; returns its answers. */
  async release(): Promise<{ status: number; body: unknown }[]> {
    const answers = [];
    for (const { payload, signature } of this.held.splice(0)) {
      const response = await fetch(this.#target, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=utf-8', 'stripe-signature': signature },
        body: payload,
      });
      answers.push({ status: response.status, body: (await response.json()) as unknown });
    }
    return answers;
  }
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

let fake: FakeStripe;
let late: LateWebhooks;
let server: WebServer;
let browser: Browser;
let context: BrowserContext;
let api: Api;
let imageId: string;
/** The job paid for in the first test. */
let paidJobId: string;

beforeAll(async () => {
  fake = await startFakeStripe();
  defer(() => fake.close());
  [server, browser] = await Promise.all([
    startWebServer(defer, {
      env: {
        STRIPE_SECRET_KEY: fake.secretKey,
        STRIPE_WEBHOOK_SECRET: fake.webhookSecret,
        ATELIER_STRIPE_API_URL: fake.origin,
        ATELIER_FREE_MAX_SIDE: '256',
      },
    }),
    openBrowser(defer),
  ]);
  fake.webhookUrl = `${server.url}/webhooks/stripe`;
  late = new LateWebhooks(fake.webhookUrl);
  await late.listen();
  defer(() => late.close());
  context = await newContext(browser, server.url);
  api = new Api(context, server.url);
}, 120_000);

const getJob = async (id: string): Promise<HdJob> =>
  ok('jobs.get', await api.query<HdJob>('jobs.get', { id }));

/** GET `href` from inside the page (same origin, its session cookie): status, bytes, JSON code. */
async function fetchInPage(
  page: Page,
  href: string,
): Promise<{ status: number; bytes: Buffer; code?: string }> {
  const answer = (await page.evaluate(async (url: string) => {
    const response = await fetch(url);
    const data = new Uint8Array(await response.arrayBuffer());
    let binary = '';
    for (const byte of data) binary += String.fromCharCode(byte);
    return { status: response.status, base64: btoa(binary), type: response.headers.get('content-type') };
  }, href)) as { status: number; base64: string; type: string | null };
  const bytes = Buffer.from(answer.base64, 'base64');
  const code = answer.type?.includes('json')
    ? (JSON.parse(bytes.toString('utf8')) as { code?: string }).code
    : undefined;
  return { status: answer.status, bytes, ...(code ? { code } : {}) };
}

async function sizeOf(bytes: Buffer): Promise<{ width: number; height: number }> {
  const { width, height } = await sharp(bytes).metadata();
  return { width: width ?? 0, height: height ?? 0 };
}

const statusText = (page: Page, text: string | RegExp) => page.getByRole('status').filter({ hasText: text });
const unlockButton = (page: Page) => page.getByRole('button', { name: 'Unlock HD — $1.99', exact: true });
const hdLink = (page: Page) => page.getByRole('link', { name: /^Download HD/ });

/** On Stripe's (fake) hosted page after "Unlock HD"; returns the Checkout Session's id. */
async function onCheckoutPage(page: Page): Promise<string> {
  await page.waitForURL((url) => url.href.startsWith(`${fake.origin}/c/pay/`));
  await page.getByRole('button', { name: 'Pay' }).waitFor();
  expect(await page.getByTestId('amount').textContent()).toBe('$1.99');
  return decodeURIComponent(new URL(page.url()).pathname.split('/').at(-1)!);
}

const onJobPage = (page: Page, jobId: string) =>
  page.waitForURL((url) => url.origin === server.url && url.pathname === `/gallery/${jobId}`);

describe('paid HD in the browser', () => {
  it(
    'Unlock HD → Stripe’s page → Pay → the return page waits for the webhook → Download HD gives the full size',
    { timeout: 120_000 },
    async () => {
      const page = await context.newPage();
      // Sign up on the account screen.
      await page.goto('/account');
      const signUp = page.getByRole('form', { name: 'Create an account' });
      await signUp.getByLabel('Email').fill(EMAIL);
      await signUp.getByLabel('Password').fill(PASSWORD);
      await signUp.getByRole('button', { name: 'Create account' }).click();
      await page.waitForURL((url) => url.pathname === '/studio');

      // A photo and a render, through the API with this browser's session.
      imageId = await api.upload(photo('rocket.jpg'));
      const rendered = await api.render(imageId, 'cartoon');
      expect(rendered.status).toBe('succeeded');
      paidJobId = rendered.id;
      const before = await getJob(paidJobId);
      expect(before.output).toMatchObject(FULL);
      expect(before.hd).toEqual({
        state: 'locked',
        price: { amount: 199, currency: 'usd' },
        standard: STANDARD,
      });

      // The studio, with that render in its address, offers the same.
      await page.goto(`/studio?image=${imageId}&style=cartoon&job=${paidJobId}`);
      await unlockButton(page).waitFor({ timeout: 20_000 });
      await page.getByRole('link', { name: `Download (${STANDARD.width} × ${STANDARD.height})` }).waitFor();
      expect(await hdLink(page).count()).toBe(0);

      // The result's page: the standard download named by its size, "Unlock HD", no HD download.
      await page.goto(`/gallery/${paidJobId}`);
      await page.getByRole('img', { name: 'Result', exact: true }).waitFor();
      await unlockButton(page).waitFor();
      const standard = page.getByRole('link', { name: `Download (${STANDARD.width} × ${STANDARD.height})` });
      await standard.waitFor();
      expect(await hdLink(page).count()).toBe(0);
      const standardFile = await fetchInPage(page, (await standard.getAttribute('href'))!);
      expect(standardFile.status).toBe(200);
      expect(await sizeOf(standardFile.bytes)).toEqual(STANDARD);
      // The HD file is refused before payment, even to its owner's session.
      const refused = await fetchInPage(page, `/files/jobs/${paidJobId}/hd`);
      expect(refused.status).toBe(402);
      expect(refused.code).toBe('PAYMENT_REQUIRED');
      await checkScreen(page, 'payments-unlock', (p) => unlockButton(p).waitFor());

      // Stripe's event will be late: the return page must wait for it.
      fake.webhookUrl = late.url;
      await unlockButton(page).click();
      const sessionId = await onCheckoutPage(page);
      await page.getByRole('button', { name: 'Pay' }).click();
      await onJobPage(page, paidJobId);
      const back = new URL(page.url());
      expect(back.searchParams.get('checkout')).toBe('success');
      expect(back.searchParams.get('session_id')).toBe(sessionId);

      // Waiting: the return address proves nothing, the job stays locked until the event.
      await statusText(page, 'Waiting for Stripe to confirm your payment…').waitFor();
      expect(late.held).toHaveLength(1);
      expect((await getJob(paidJobId)).hd?.state).toBe('locked');
      expect(await hdLink(page).count()).toBe(0);
      // Paid already: no second checkout is offered meanwhile.
      expect(await unlockButton(page).count()).toBe(0);
      await checkScreen(page, 'payments-return', (p) =>
        statusText(p, 'Waiting for Stripe to confirm your payment…').waitFor(),
      );

      // Stripe's event arrives: the page (polling, no reload) offers the HD download.
      const answers = await late.release();
      expect(answers).toEqual([{ status: 200, body: { received: true, outcome: expect.any(String) } }]);
      expect((await getJob(paidJobId)).hd?.state).toBe('unlocked');
      await statusText(page, 'Payment received — your HD result is ready.').waitFor({ timeout: 10_000 });
      const download = page.getByRole('link', { name: `Download HD (${FULL.width} × ${FULL.height})` });
      await download.waitFor();
      expect(await unlockButton(page).count()).toBe(0);
      await settle(page);
      await writeScreenshot(page, 'payments-paid');
      await axeCheck(page, 'payments return page, paid');

      // The HD link, fetched as the page does, is the full-size image.
      const hd = await fetchInPage(page, (await download.getAttribute('href'))!);
      expect(hd.status).toBe(200);
      expect(await sizeOf(hd.bytes)).toEqual(FULL);
      await page.close();
    },
  );

  it(
    'cancelling says nothing was charged; a late confirmation gets a calm message, then the download',
    { timeout: 120_000 },
    async () => {
      const job = await api.render(imageId, 'sketch');
      expect((await getJob(job.id)).hd?.state).toBe('locked');
      const page = await context.newPage();
      // The page's clock, so that "a minute without Stripe's answer" takes no minute.
      await page.clock.install();
      await page.goto(`/gallery/${job.id}`);
      await unlockButton(page).click();
      await onCheckoutPage(page);
      await page.getByRole('link', { name: 'Cancel' }).click();
      await onJobPage(page, job.id);
      expect(new URL(page.url()).searchParams.get('checkout')).toBe('cancelled');
      await statusText(page, 'Checkout cancelled; nothing was charged.').waitFor();
      expect((await getJob(job.id)).hd?.state).toBe('locked');
      await unlockButton(page).waitFor();

      // Again: the same open Checkout (one pending payment per job), paid, the event late.
      fake.webhookUrl = late.url;
      await unlockButton(page).click();
      await onCheckoutPage(page);
      await page.getByRole('button', { name: 'Pay' }).click();
      await onJobPage(page, job.id);
      await statusText(page, 'Waiting for Stripe to confirm your payment…').waitFor();
      await page.clock.fastForward(61_000);
      const calm = statusText(page, 'Stripe has not confirmed your payment yet');
      await calm.waitFor();
      const payments = calm.getByRole('link', { name: 'your account’s payments' });
      expect(await payments.getAttribute('href')).toBe('/account#payments');
      expect(await hdLink(page).count()).toBe(0);

      // The event comes later still: the page, still asking now and then, updates by itself.
      expect(await late.release()).toHaveLength(1);
      await page.clock.fastForward(20_000);
      await statusText(page, 'Payment received — your HD result is ready.').waitFor({ timeout: 10_000 });
      await hdLink(page).waitFor();
      await page.close();
      fake.webhookUrl = `${server.url}/webhooks/stripe`;
    },
  );

  it(
    'the account lists the payments, newest first: paid, and one to continue',
    { timeout: 60_000 },
    async () => {
      // A third result whose Checkout is open and unpaid.
      const open = await api.render(imageId, 'watercolor');
      const checkout = ok(
        'payments.createCheckout',
        await api.mutate<{ status: string; url: string }>('payments.createCheckout', { jobId: open.id }),
      );
      expect(checkout.status).toBe('open');
      const page = await context.newPage();
      await page.goto('/account');
      const table = page.getByRole('table', { name: 'Your payments, newest first' });
      await table.waitFor();
      const rows = table.locator('tbody tr');
      await expect.poll(() => rows.count()).toBe(3);
      const pending = rows.first();
      expect(await pending.getByText('Pending', { exact: true }).count()).toBe(1);
      expect(await pending.locator(`a[href="/gallery/${open.id}"]`).count()).toBe(1);
      const resume = pending.getByRole('link', { name: 'Continue to checkout' });
      expect(await resume.getAttribute('href')).toBe(checkout.url);
      const paid = rows.filter({ has: page.locator(`a[href="/gallery/${paidJobId}"]`) });
      expect(await paid.count()).toBe(1);
      expect(await paid.getByText('Paid', { exact: true }).count()).toBe(1);
      expect(await paid.getByText('$1.99').count()).toBe(1);
      const listed = ok(
        'payments.list',
        await api.query<{ items: { status: string }[] }>('payments.list', {}),
      );
      expect(listed.items.map((p) => p.status)).toEqual(['pending', 'paid', 'paid']);
      await checkScreen(page, 'payments-account', (p) =>
        p.getByRole('table', { name: /Your payments/ }).waitFor(),
      );
      await page.close();
    },
  );

  it(
    'an administrator sees every payment, filters them, and grants and revokes HD',
    { timeout: 90_000 },
    async () => {
      const adminContext = await newContext(browser, server.url);
      await new Api(adminContext, server.url).signIn(ADMIN.email, ADMIN.password);
      const page = await adminContext.newPage();
      await page.goto('/admin/payments');
      await page.getByRole('heading', { level: 1, name: 'Admin', exact: true }).waitFor();
      await page.getByRole('link', { name: 'Payments', exact: true }).waitFor();
      const table = page.getByRole('table', { name: /^Payments 1 to 3/ });
      await table.waitFor();
      const row = table.locator('tbody tr').filter({ hasText: paidJobId });
      expect(await row.getByRole('rowheader').textContent()).toBe(EMAIL);
      expect(await row.getByText('Paid', { exact: true }).count()).toBe(1);
      expect(await row.getByText('$1.99').count()).toBe(1);
      await checkScreen(page, 'admin-payments', (p) => p.getByRole('table', { name: /^Payments/ }).waitFor());

      // The status filter asks the server again.
      const status = page.getByLabel('Status', { exact: true });
      await status.selectOption('refunded');
      await page.getByText('No refunded payments.').waitFor();
      await status.selectOption('paid');
      await page.getByRole('table', { name: /paid only/ }).waitFor();
      expect(
        await page
          .getByRole('table', { name: /paid only/ })
          .locator('tbody tr')
          .count(),
      ).toBe(2);

      // Revoke, then grant, the paid job's HD: confirmed in a dialog, checked through the API.
      const form = page.getByRole('form', { name: 'Grant or revoke HD' });
      await form.getByLabel('Job id').fill(paidJobId);
      await form.getByRole('button', { name: 'Revoke HD' }).click();
      const revoke = page.getByRole('dialog', { name: `Revoke HD for job ${paidJobId.slice(0, 8)}?` });
      await revoke.getByRole('button', { name: 'Revoke HD' }).click();
      await statusText(page, /is locked/).waitFor();
      expect((await getJob(paidJobId)).hd?.state).toBe('locked');
      await form.getByRole('button', { name: 'Grant HD' }).click();
      const grant = page.getByRole('dialog', { name: `Grant HD for job ${paidJobId.slice(0, 8)}?` });
      await grant.getByRole('button', { name: 'Grant HD' }).click();
      await statusText(page, /is unlocked/).waitFor();
      expect((await getJob(paidJobId)).hd?.state).toBe('unlocked');

      // An unknown job: the dialog says so, with the app's sentence.
      await form.getByLabel('Job id').fill('00000000-0000-4000-8000-000000000000');
      await form.getByRole('button', { name: 'Grant HD' }).click();
      const unknown = page.getByRole('dialog', { name: 'Grant HD for job 00000000?' });
      await unknown.getByRole('button', { name: 'Grant HD' }).click();
      await unknown.getByRole('alert').waitFor();
      expect(await unknown.getByRole('alert').textContent()).toContain('This render no longer exists.');
      await adminContext.close();
    },
  );
});
