// What one user can learn about another through shared machinery, and how long a signed download
// URL lives: the result cache, upload dedup and preview proxies stay per owner; signed URLs stay
// out of the logs and end with the sessions. All over the real API.
import { uploadForm } from '@atelier/client';
import type { AtelierClient, AtelierOutputs } from '@atelier/client';
import { createLogger } from '@atelier/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { photo, read } from './helpers.ts';
import { codeOf, startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';

type Job = AtelierOutputs['jobs']['get'];
type User = { client: AtelierClient; token: string; userId: string };

const logLines: string[] = [];
let h: ApiHarness;

beforeAll(async () => {
  // The logger `atelier serve` uses, writing here instead of stderr.
  const logger = createLogger('info', { write: (line: string) => void logLines.push(line) });
  h = await startApi({}, { logger: logger.pino });
});
afterAll(() => h.close());

const upload = async (user: User, file = 'chelsea.png') =>
  user.client.images.upload.mutate(uploadForm(new Blob([await read(photo(file))]), file));

async function finished(user: User, id: string): Promise<Job> {
  const until = Date.now() + 60_000;
  for (;;) {
    const job = await user.client.jobs.get.query({ id });
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) return job;
    if (Date.now() > until) throw new Error(`job ${id} still ${job.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const cartoon = (imageId: string) => ({
  imageId,
  style: 'cartoon' as const,
  params: {},
  output: { format: 'png' as const },
});

describe('the result cache', () => {
  it("is per owner: B's job on A's photo and style is computed, A's second is served from A's cache", async () => {
    const a = await h.signUp('cache-a@example.org');
    const b = await h.signUp('cache-b@example.org');
    const imageA = await upload(a);
    const first = await finished(a, (await a.client.jobs.create.mutate(cartoon(imageA.id))).id);
    expect(first).toMatchObject({ status: 'succeeded', fromCache: false });

    const imageB = await upload(b);
    expect(imageB.id).not.toBe(imageA.id);
    const created = await b.client.jobs.create.mutate(cartoon(imageB.id));
    expect(created.status).toBe('queued');
    const jobB = await finished(b, created.id);
    expect(jobB).toMatchObject({ status: 'succeeded', fromCache: false });
    expect(jobB.timings?.totalMs).toBeGreaterThan(0);
    expect(jobB.timings?.steps?.map((s) => s.plugin)).toEqual(['cartoon']);
    // What ran, for the gallery's detail and "run again": every parameter, defaults filled in.
    expect(jobB.plan?.steps.map((s) => s.plugin)).toEqual(['cartoon']);
    expect(Object.keys(jobB.plan?.steps[0]?.params ?? {}).sort()).toEqual(
      ['edgeStrength', 'edgeThickness', 'levels', 'saturation', 'smoothing'].sort(),
    );
    expect(jobB.plan?.output.format).toMatch(/^(jpeg|png|webp|avif)$/);

    const again = await a.client.jobs.create.mutate(cartoon(imageA.id));
    expect(again).toMatchObject({ status: 'succeeded', fromCache: true });
    expect(again.output).toEqual(first.output);
    const bAgain = await b.client.jobs.create.mutate(cartoon(imageB.id));
    expect(bAgain).toMatchObject({ status: 'succeeded', fromCache: true });

    // One stored file serves both owners (same plan, same input); each owner has an entry.
    const key = (await h.core.jobs.get(first.id)).output!.key;
    expect((await h.core.jobs.get(jobB.id)).output!.key).toBe(key);
    const entries = await h.database.db
      .selectFrom('results')
      .select('owner_id')
      .where('output_key', '=', key)
      .execute();
    expect(entries.map((e) => e.owner_id).sort()).toEqual([a.userId, b.userId].sort());

    // A lets go of her jobs: the file stays for B, but A's entry goes (its surviving would reveal B).
    await a.client.jobs.delete.mutate({ id: first.id });
    await a.client.jobs.delete.mutate({ id: again.id });
    expect(await h.core.storage.head(key)).toBeDefined();
    const download = await fetch(`${h.url}/files/jobs/${jobB.id}`, {
      headers: { authorization: `Bearer ${b.token}` },
    });
    expect(download.status).toBe(200);
    const third = await a.client.jobs.create.mutate(cartoon(imageA.id));
    expect(third.status).toBe('queued');
    expect(await finished(a, third.id)).toMatchObject({ status: 'succeeded', fromCache: false });

    // B lets go: A's job still holds the file. Then A: nothing holds it, file and entries go.
    await b.client.images.delete.mutate({ id: imageB.id });
    expect(await h.core.storage.head(key)).toBeDefined();
    expect(
      (await fetch(`${h.url}/files/jobs/${third.id}`, { headers: { authorization: `Bearer ${a.token}` } }))
        .status,
    ).toBe(200);
    await a.client.jobs.delete.mutate({ id: third.id });
    expect(await h.core.storage.head(key)).toBeUndefined();
    const left = await h.database.db
      .selectFrom('results')
      .select('owner_id')
      .where('output_key', '=', key)
      .execute();
    expect(left).toEqual([]);
  });

  it("keeps a shared result file while another owner's identical job may still write it", async () => {
    const a = await h.signUp('gc-a@example.org');
    const c = await h.signUp('gc-c@example.org');
    const imageA = await upload(a, 'rocket.jpg');
    const done = await finished(a, (await a.client.jobs.create.mutate(cartoon(imageA.id))).id);
    const row = await h.database.db
      .selectFrom('jobs')
      .selectAll()
      .where('id', '=', done.id)
      .executeTakeFirstOrThrow();
    // C's identical job, caught between its claim and its done (no queue entry: no worker takes it).
    const imageC = await upload(c, 'rocket.jpg');
    await h.database.db
      .insertInto('jobs')
      .values({
        owner_id: c.userId,
        image_id: imageC.id,
        input_sha256: row.input_sha256,
        plan: JSON.stringify(row.plan),
        plan_hash: row.plan_hash,
        style: row.style,
        status: 'running',
        max_attempts: 3,
        updated_at: new Date(),
      })
      .execute();
    await a.client.jobs.delete.mutate({ id: done.id });
    expect(await h.core.storage.head(row.output_key!)).toBeDefined();
    // Once nothing may write it any more, the next release (here: the orphan sweep) removes it.
    await h.database.db
      .updateTable('jobs')
      .set({ status: 'failed' })
      .where('owner_id', '=', c.userId)
      .execute();
    expect(await h.core.jobs.collectOrphans(0)).toContain(row.output_key);
  });

  it("writes an upload's bytes even when another owner already stored the same photo", async () => {
    const a = await h.signUp('upload-a@example.org');
    const b = await h.signUp('upload-b@example.org');
    const { storageKey } = await h.core.jobs.getImage((await upload(a, 'coffee.png')).id);
    const before = await h.core.storage.head(storageKey);
    await new Promise((r) => setTimeout(r, 20));
    const imageB = await h.core.jobs.getImage((await upload(b, 'coffee.png')).id);
    expect(imageB.storageKey).toBe(storageKey);
    const after = await h.core.storage.head(storageKey);
    // Skipping the write would make B's upload faster than a first upload: B would learn of A's.
    expect(after!.modified.getTime()).toBeGreaterThan(before!.modified.getTime());
  });

  it("keeps preview proxies per owner's image, not per stored file", async () => {
    const a = await h.signUp('preview-a@example.org');
    const b = await h.signUp('preview-b@example.org');
    const imageA = await upload(a, 'astronaut.png');
    await a.client.styles.preview.mutate({ imageId: imageA.id, style: 'sketch' });
    const imageB = await upload(b, 'astronaut.png');
    // With the stored original gone, only a proxy made earlier can answer a preview.
    await h.core.storage.delete((await h.core.jobs.getImage(imageB.id)).storageKey);
    expect(await codeOf(b.client.styles.preview.mutate({ imageId: imageB.id, style: 'sketch' }))).toBe(
      'NOT_FOUND',
    );
    expect((await a.client.styles.preview.mutate({ imageId: imageA.id, style: 'sketch' })).dataUrl).toMatch(
      /^data:image\/jpeg;base64,/,
    );
  });
});

describe('signed download URLs', () => {
  const status = async (url: string) => {
    const response = await fetch(`${h.url}${url}`);
    const body = response.status === 200 ? null : ((await response.json()) as { code: string });
    return response.status === 200 ? 200 : `${response.status} ${body?.code}`;
  };

  it('are logged without their signature', async () => {
    const user = await h.signUp('logs@example.org');
    const image = await upload(user);
    const { url } = await user.client.images.downloadUrl.query({ id: image.id });
    const sig = new URL(url, h.url).searchParams.get('sig')!;
    expect(sig.length).toBeGreaterThan(20);
    logLines.length = 0;
    expect(await status(url)).toBe(200);
    expect(await status(url.replace('sig=', 'sig=x'))).not.toBe(200);
    // A URL no route matches is logged in Fastify's message ("Route GET:... not found").
    expect((await fetch(`${h.url}${url.replace('?', '/extra?')}`)).status).toBe(404);
    const log = logLines.join('');
    expect(log).toContain(`/files/images/${image.id}?expires=`);
    expect(log).toContain('sig=[REDACTED]');
    expect(log).toMatch(/Route GET:\/files\/images\/[\w-]+\/extra\?expires=\d+&sig=\[REDACTED\] not found/);
    expect(log).not.toContain(sig);
    expect(log).not.toMatch(/sig=(?!\[REDACTED\])/);
  });

  it('stop working after logout everywhere', async () => {
    const user = await h.signUp('urls-everywhere@example.org', 'a long enough secret');
    const image = await upload(user);
    const job = await finished(user, (await user.client.jobs.create.mutate(cartoon(image.id))).id);
    const imageUrl = (await user.client.images.downloadUrl.query({ id: image.id })).url;
    const jobUrl = (await user.client.jobs.downloadUrl.query({ id: job.id })).url;
    expect([await status(imageUrl), await status(jobUrl)]).toEqual([200, 200]);

    await user.client.auth.logoutEverywhere.mutate();
    expect(await status(imageUrl)).toBe('403 DOWNLOAD_URL_INVALID');
    expect(await status(jobUrl)).toBe('403 DOWNLOAD_URL_INVALID');

    // Signed in again: new URLs work, the old ones stay dead.
    const { token } = await h
      .client()
      .auth.login.mutate({ email: 'urls-everywhere@example.org', password: 'a long enough secret' });
    const fresh = (await h.client(token).images.downloadUrl.query({ id: image.id })).url;
    expect(await status(fresh)).toBe(200);
    expect(await status(imageUrl)).toBe('403 DOWNLOAD_URL_INVALID');
  });

  it('stop working after a password change, also those of the session that changed it', async () => {
    const user = await h.signUp('urls-password@example.org', 'a long enough secret');
    const other = await h
      .client()
      .auth.login.mutate({ email: 'urls-password@example.org', password: 'a long enough secret' });
    const image = await upload(user);
    const mine = (await user.client.images.downloadUrl.query({ id: image.id })).url;
    const theirs = (await h.client(other.token).images.downloadUrl.query({ id: image.id })).url;
    expect([await status(mine), await status(theirs)]).toEqual([200, 200]);

    await user.client.auth.changePassword.mutate({
      currentPassword: 'a long enough secret',
      newPassword: 'another long secret',
    });
    expect(await status(mine)).toBe('403 DOWNLOAD_URL_INVALID');
    expect(await status(theirs)).toBe('403 DOWNLOAD_URL_INVALID');
    // The session that changed the password lives on and gets working URLs.
    expect(await status((await user.client.images.downloadUrl.query({ id: image.id })).url)).toBe(200);
  });

  it('stop working when an administrator disables the account, and stay dead after re-enabling', async () => {
    const admin = await h.signUp('urls-admin@example.org');
    await h.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', admin.userId).execute();
    const user = await h.signUp('urls-disabled@example.org');
    const image = await upload(user);
    const { url } = await user.client.images.downloadUrl.query({ id: image.id });
    expect(await status(url)).toBe(200);
    await admin.client.admin.setUserDisabled.mutate({ id: user.userId, disabled: true });
    expect(await status(url)).toBe('403 DOWNLOAD_URL_INVALID');
    await admin.client.admin.setUserDisabled.mutate({ id: user.userId, disabled: false });
    expect(await status(url)).toBe('403 DOWNLOAD_URL_INVALID');
  });

  it('made in a session outlive its plain logout until they expire; forged or expired ones are refused', async () => {
    const user = await h.signUp('urls-logout@example.org', 'a long enough secret');
    const image = await upload(user);
    const other = await upload(user, 'coffee.png');
    const { url } = await user.client.images.downloadUrl.query({ id: image.id });
    await user.client.auth.logout.mutate();
    expect(await codeOf(user.client.users.me.query())).toBe('UNAUTHORIZED');
    expect(await status(url)).toBe(200);

    const forged = url.replace(/sig=(.)/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
    expect(await status(forged)).toBe('403 DOWNLOAD_URL_INVALID');
    const expired = url.replace(/expires=\d+/, 'expires=1000');
    expect(await status(expired)).toBe('403 DOWNLOAD_URL_INVALID');
    // Without any signature it is a plain unauthenticated request.
    expect(await status(url.split('?')[0]!)).toBe('401 AUTH_REQUIRED');
    // A valid signature for one file opens no other.
    expect(await status(url.replace(image.id, other.id))).toBe('403 DOWNLOAD_URL_INVALID');
  });
});
