// The real API with payments on, for the paid-HD tests (test/payments*.test.ts): a test database
// with a worker, the fake Stripe API behind the server's real `stripe` SDK, and the small reads
// the tests make of what the server did (its rows, its audit log, its answers over HTTP).
import { uploadForm } from '@atelier/client';
import type { AtelierClient, AtelierOutputs } from '@atelier/client';
import type { Defer } from './cleanups.ts';
import { startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';
import { photo, read } from './helpers.ts';
import { eventually } from './jobs-harness.ts';
import { startFakeStripe } from './stripe/fake-stripe.ts';
import type { FakeEvent, FakeStripe } from './stripe/fake-stripe.ts';

export type ApiJob = AtelierOutputs['jobs']['get'];
export type User = Awaited<ReturnType<ApiHarness['signUp']>>;

/** The free size the tests run with: chelsea.png (451×300) renders larger, so its HD is paid. */
export const FREE_MAX_SIDE = 256;

/**
 * The API with Stripe keys, talking to a fresh fake Stripe; the fake delivers its events to the
 * API's webhook. Both are closed after the file's tests.
 */
export async function startPaymentsApi(
  defer: Defer,
  env: Record<string, string> = {},
): Promise<{ h: ApiHarness; fake: FakeStripe }> {
  const fake = await startFakeStripe();
  defer(() => fake.close());
  const h = await startApi({
    STRIPE_SECRET_KEY: fake.secretKey,
    STRIPE_WEBHOOK_SECRET: fake.webhookSecret,
    ATELIER_STRIPE_API_URL: fake.origin,
    ATELIER_FREE_MAX_SIDE: String(FREE_MAX_SIDE),
    ...env,
  });
  defer(() => h.close());
  fake.webhookUrl = `${h.url}/webhooks/stripe`;
  return { h, fake };
}

/** Uploads a fixture photo as `user`; returns the image's id. */
export async function uploadPhoto(user: User, name = 'chelsea.png'): Promise<string> {
  const blob = new Blob([await read(photo(name))]);
  return (await user.client.images.upload.mutate(uploadForm(blob, name))).id;
}

/** A new `amount` for each job that names none: each is a plan (and an image) of its own. */
let rendered = 0;

/**
 * A succeeded job of `user` on `imageId` (acme:invert, png). Without `amount`, a plan of its own
 * (another amount each time), so that no two jobs share an output: a job whose image the owner
 * already unlocked in another job is unlocked with it. The same `amount` twice gives the cached
 * output (a new job row, the same stored file).
 */
export async function renderJob(
  user: User,
  imageId: string,
  amount = 1 - ++rendered / 1024,
): Promise<ApiJob> {
  const created = await user.client.jobs.create.mutate({
    imageId,
    plan: { steps: [{ plugin: 'acme:invert', params: { amount } }], output: { format: 'png' } },
  });
  return eventually(
    async () => {
      const job = await user.client.jobs.get.query({ id: created.id });
      if (job.status === 'failed' || job.status === 'cancelled')
        throw new Error(`job ${job.id} ${job.status}: ${JSON.stringify(job.error)}`);
      return job.status === 'succeeded' ? job : undefined;
    },
    30_000,
    `job ${created.id} to succeed`,
  );
}

/** A GET over HTTP: the status, the body's bytes, and the body as JSON when it is JSON. */
export async function get(
  h: { readonly url: string },
  path: string,
  token?: string,
): Promise<{ status: number; bytes: Buffer; json: Record<string, unknown> | null; type: string | null }> {
  const response = await fetch(`${h.url}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  const type = response.headers.get('content-type');
  const json = type?.startsWith('application/json')
    ? (JSON.parse(bytes.toString('utf8')) as Record<string, unknown>)
    : null;
  return { status: response.status, bytes, json, type };
}

/** The stored bytes of a job's full output, read from the server's storage. */
export async function storedOutput(h: ApiHarness, jobId: string): Promise<Buffer> {
  const row = await h.database.db
    .selectFrom('jobs')
    .select('output_key')
    .where('id', '=', jobId)
    .executeTakeFirstOrThrow();
  return Buffer.from(await h.core.storage.get(row.output_key!));
}

/** A job's payment rows, oldest first. */
export function paymentRows(h: ApiHarness, jobId: string) {
  return h.database.db
    .selectFrom('payments')
    .selectAll()
    .where('job_id', '=', jobId)
    .orderBy('created_at')
    .orderBy('attempt')
    .execute();
}

/** The audit log's entries about a job, oldest first. */
export function auditRows(h: ApiHarness, jobId: string) {
  return h.database.db
    .selectFrom('audit_log')
    .selectAll()
    .where('target_type', '=', 'job')
    .where('target_id', '=', jobId)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** The unlock columns of a job's row. */
export function unlockOf(h: ApiHarness, jobId: string) {
  return h.database.db
    .selectFrom('jobs')
    .select(['hd_unlocked_at', 'hd_unlock_source', 'hd_payment_id'])
    .where('id', '=', jobId)
    .executeTakeFirstOrThrow();
}

/** The stored Stripe events, by id when given. */
export function stripeEventRows(h: ApiHarness, ids?: readonly string[]) {
  let query = h.database.db.selectFrom('stripe_events').selectAll().orderBy('received_at');
  if (ids) query = query.where('id', 'in', ids.length > 0 ? [...ids] : ['']);
  return query.execute();
}

/**
 * Runs `act` (fake actions such as `complete` or `refund`) with the fake's deliveries sent where
 * the server answers 404 and changes nothing, and returns the events they made, so that a test
 * can deliver them to the real webhook later, in any order.
 */
export async function heldEvents(
  h: ApiHarness,
  fake: FakeStripe,
  act: () => Promise<unknown>,
): Promise<FakeEvent[]> {
  const before = fake.deliveries.length;
  const target = fake.webhookUrl;
  fake.webhookUrl = `${h.url}/webhooks/held-by-the-test`;
  try {
    await act();
  } finally {
    fake.webhookUrl = target;
  }
  const made = fake.deliveries.slice(before);
  if (made.some((d) => d.status !== 404)) throw new Error('heldEvents: a held event reached a handler');
  return made.map((d) => d.event!);
}

/** Opens a checkout for `jobId` as `user`; fails the test unless it is open. */
export async function openCheckout(user: User, jobId: string) {
  const answer = await user.client.payments.createCheckout.mutate({ jobId });
  if (answer.status !== 'open') throw new Error(`expected an open checkout, got ${JSON.stringify(answer)}`);
  return answer;
}

/** The Checkout Session id of a checkout URL (the fake's `<origin>/c/pay/<id>`). */
export function sessionIdOf(url: string): string {
  const id = /\/c\/pay\/([^/?#]+)$/.exec(url)?.[1];
  if (!id) throw new Error(`not a fake checkout URL: ${url}`);
  return decodeURIComponent(id);
}

/** The client type, re-exported for the tests' signatures. */
export type { AtelierClient };
