// Capabilities end to end over the real API: a third-party plugin declaring a loopback host and the
// secret TEST_KEY is refused until an administrator grants both and stores the secret; then a job
// runs, the fake provider sees the secret, and revoking refuses it again. No answer, REST or tRPC,
// nor the audit log, ever carries the secret's value.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadForm } from '@atelier/client';
import type { AtelierError } from '@atelier/core';
import { openServices, readConfig } from '@atelier/server';
import type { Services } from '@atelier/server';
import type { AtelierClient } from '@atelier/client';
import { codeOf, failure, startApi } from './api-harness.ts';
import type { ApiHarness } from './api-harness.ts';
import { photo, read } from './helpers.ts';
import { eventually } from './jobs-harness.ts';

const SECRET = `sk-test-${randomBytes(12).toString('hex')}`;
const KEY = randomBytes(32).toString('base64');
const pluginDir = fileURLToPath(new URL('./fixtures/capability-plugins/', import.meta.url));

let h: ApiHarness;
let admin: { client: AtelierClient; token: string };
let user: { client: AtelierClient; token: string };
let imageId: string;
let provider: Server;
let providerUrl: string;
const seenKeys: (string | undefined)[] = [];
/** Every answer body this test received, to check that none carries the secret. */
const answers: string[] = [];
let envBefore: string | undefined;

const remember = <T>(value: T): T => {
  answers.push(JSON.stringify(value));
  return value;
};

beforeAll(async () => {
  // The engine's threads copy the environment at start: the loopback override must be set first.
  envBefore = process.env['ATELIER_FETCH_ALLOW_LOOPBACK'];
  process.env['ATELIER_FETCH_ALLOW_LOOPBACK'] = '1';
  provider = createServer((req, res) => {
    seenKeys.push(req.headers['x-test-key'] as string | undefined);
    res.end('20');
  });
  await new Promise<void>((resolve) => provider.listen(0, '127.0.0.1', resolve));
  providerUrl = `http://127.0.0.1:${(provider.address() as AddressInfo).port}/brightness`;
  h = await startApi({
    ATELIER_PLUGIN_DIR: pluginDir,
    ATELIER_SECRETS_KEY: KEY,
  });
  const root = await h.signUp('root@example.org', 'administrator password');
  await h.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', root.userId).execute();
  admin = root;
  user = await h.signUp('user@example.org', 'ordinary password');
  imageId = (
    await user.client.images.upload.mutate(
      uploadForm(new Blob([await read(photo('coffee.png'))]), 'coffee.png'),
    )
  ).id;
});
afterAll(async () => {
  await h.close();
  provider.closeAllConnections();
  await new Promise((resolve) => provider.close(resolve));
  if (envBefore === undefined) delete process.env['ATELIER_FETCH_ALLOW_LOOPBACK'];
  else process.env['ATELIER_FETCH_ALLOW_LOOPBACK'] = envBefore;
});

const createJob = () =>
  user.client.jobs.create.mutate({ imageId, style: 'test:fetcher', params: { url: providerUrl } });

async function finished(id: string): Promise<{ status: string; error: unknown }> {
  return eventually(async () => {
    const job = await user.client.jobs.get.query({ id });
    return job.status === 'succeeded' || job.status === 'failed' ? job : undefined;
  }, 60_000);
}

async function rest(
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${h.url}/api${path}`, {
    method,
    headers: {
      authorization: `Bearer ${admin.token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  answers.push(text);
  return { status: res.status, json: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

describe('capabilities over the API', () => {
  it('styles.list and the admin views show what the plugin asks for', async () => {
    const style = remember(await user.client.styles.list.query()).find((s) => s.id === 'test:fetcher');
    expect(style?.capabilities).toEqual({ network: ['127.0.0.1', 'localhost'], secrets: ['TEST_KEY'] });
    const views = remember(await admin.client.admin.capabilities.query());
    // The built-in AI-provider plugins (openai-image, openai-describe) ask for capabilities too.
    expect(views.filter((v) => v.id.startsWith('test:'))).toEqual([
      expect.objectContaining({
        id: 'test:fetcher',
        requested: { network: ['127.0.0.1', 'localhost'], secrets: ['TEST_KEY'] },
        granted: { network: [], secrets: [] },
        missing: { network: ['127.0.0.1', 'localhost'], secrets: ['TEST_KEY'] },
        grantedAt: null,
      }),
    ]);
    expect(await codeOf(user.client.admin.capabilities.query())).toBe('FORBIDDEN');
    expect(await codeOf(user.client.admin.secrets.query())).toBe('FORBIDDEN');
    expect(await codeOf(user.client.admin.setSecret.mutate({ name: 'TEST_KEY', value: 'x' }))).toBe(
      'FORBIDDEN',
    );
  });

  it('jobs.create is refused with CAPABILITY_NOT_GRANTED (403) naming what is missing, and nothing is written', async () => {
    const error = await failure(createJob());
    expect(error).toMatchObject({
      httpStatus: 403,
      atelierCode: 'CAPABILITY_NOT_GRANTED',
      details: {
        plugin: 'test:fetcher',
        missingNetwork: ['127.0.0.1', 'localhost'],
        missingSecrets: ['TEST_KEY'],
      },
    });
    const restJob = await fetch(`${h.url}/api/jobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${user.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ imageId, style: 'test:fetcher', params: { url: providerUrl } }),
    });
    expect(restJob.status).toBe(403);
    expect(await restJob.json()).toMatchObject({ data: { atelierCode: 'CAPABILITY_NOT_GRANTED' } });
    // Previews too, before they are charged.
    const preview = await failure(user.client.styles.preview.mutate({ imageId, style: 'test:fetcher' }));
    expect(preview.atelierCode).toBe('CAPABILITY_NOT_GRANTED');
    expect(await h.database.db.selectFrom('jobs').select('id').execute()).toEqual([]);
    expect(seenKeys).toEqual([]);
  });

  it('grants only what the plugin declares', async () => {
    const host = await failure(
      admin.client.admin.setPluginGrants.mutate({
        id: 'test:fetcher',
        network: ['example.com'],
        secrets: [],
      }),
    );
    expect(host).toMatchObject({ atelierCode: 'CAPABILITY_DENIED', details: { host: 'example.com' } });
    const secret = await failure(
      admin.client.admin.setPluginGrants.mutate({
        id: 'test:fetcher',
        network: [],
        secrets: ['DATABASE_URL'],
      }),
    );
    expect(secret).toMatchObject({ atelierCode: 'CAPABILITY_DENIED', details: { secret: 'DATABASE_URL' } });
    const malformed = await failure(
      admin.client.admin.setPluginGrants.mutate({ id: 'test:fetcher', network: ['http://x/'], secrets: [] }),
    );
    expect(malformed.atelierCode).toBe('PARAMS_INVALID');
    const unknown = await failure(
      admin.client.admin.setPluginGrants.mutate({ id: 'acme:nothing', network: [], secrets: [] }),
    );
    expect(unknown.atelierCode).toBe('PLUGIN_NOT_FOUND');
    expect(await h.database.db.selectFrom('plugin_grants').selectAll().execute()).toEqual([]);
  });

  it('after the grant, a job needs the secret to be set (SECRET_NOT_FOUND)', async () => {
    const view = remember(
      await admin.client.admin.setPluginGrants.mutate({
        id: 'test:fetcher',
        network: ['127.0.0.1', 'localhost'],
        secrets: ['TEST_KEY'],
      }),
    );
    expect(view).toMatchObject({ missing: { network: [], secrets: [] }, unsetSecrets: ['TEST_KEY'] });
    expect((await failure(createJob())).atelierCode).toBe('SECRET_NOT_FOUND');
  });

  it('stores the secret write-only: no answer, list or audit entry holds its value', async () => {
    const stored = remember(await admin.client.admin.setSecret.mutate({ name: 'TEST_KEY', value: SECRET }));
    expect(Object.keys(stored).sort()).toEqual(['createdAt', 'name', 'updatedAt', 'updatedBy']);
    expect(remember(await admin.client.admin.secrets.query()).map((s) => s.name)).toEqual(['TEST_KEY']);
    const listed = await rest('GET', '/admin/secrets');
    expect(listed.status).toBe(200);
    expect(listed.json).toEqual([expect.objectContaining({ name: 'TEST_KEY' })]);
    const caps = await rest('GET', '/admin/capabilities');
    expect((caps.json as { id: string }[]).filter((v) => v.id === 'test:fetcher')).toEqual([
      expect.objectContaining({ unsetSecrets: [] }),
    ]);
    // A bad name over REST: a coded 400, no value echoed.
    const bad = await rest('POST', '/admin/secrets/lower-case', { value: SECRET });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ data: { atelierCode: 'PARAMS_INVALID' } });
    const row = await h.database.db.selectFrom('plugin_secrets').selectAll().executeTakeFirstOrThrow();
    expect(Buffer.from(row.ciphertext).toString('latin1')).not.toContain(SECRET);
  });

  it('a job now runs: the fake provider gets the secret, and the result uses its answer', async () => {
    const job = remember(await createJob());
    const done = remember(await finished(job.id));
    expect(done).toMatchObject({ status: 'succeeded' });
    expect(seenKeys).toEqual([SECRET]);
    const preview = remember(
      await user.client.styles.preview.mutate({
        imageId,
        style: 'test:fetcher',
        params: { url: providerUrl },
      }),
    );
    expect(preview.width).toBeGreaterThan(0);
    expect(seenKeys).toEqual([SECRET, SECRET]);
  });

  it('another process sees grants and secrets at once (they are read from Postgres per job)', async () => {
    const other: Services = await openServices(
      readConfig(
        {
          DATABASE_URL: h.database.url,
          ATELIER_PLUGIN_DIR: pluginDir,
          ATELIER_STORAGE_DIR: `${h.core.config.dataDir}/storage`,
          ATELIER_SECRETS_KEY: KEY,
          ATELIER_THREADS: '1',
        },
        h.core.config.root,
      ),
      {},
    );
    try {
      const plan = other.jobs.plan({ steps: [{ plugin: 'test:fetcher' }] });
      expect(await other.jobs.grantsFor(plan)).toEqual({
        'test:fetcher': { network: ['127.0.0.1', 'localhost'], secrets: { TEST_KEY: SECRET } },
      });
      await admin.client.admin.setPluginGrants.mutate({
        id: 'test:fetcher',
        network: ['127.0.0.1', 'localhost'],
        secrets: [],
      });
      const refused = await other.jobs.grantsFor(plan).catch((e: AtelierError) => e);
      expect(refused).toMatchObject({
        code: 'CAPABILITY_NOT_GRANTED',
        details: { missingSecrets: ['TEST_KEY'] },
      });
      await admin.client.admin.setPluginGrants.mutate({
        id: 'test:fetcher',
        network: ['127.0.0.1', 'localhost'],
        secrets: ['TEST_KEY'],
      });
      await admin.client.admin.setSecret.mutate({ name: 'TEST_KEY', value: `${SECRET}-2` });
      expect((await other.jobs.grantsFor(plan))['test:fetcher']?.secrets).toEqual({
        TEST_KEY: `${SECRET}-2`,
      });
      await admin.client.admin.setSecret.mutate({ name: 'TEST_KEY', value: SECRET });
    } finally {
      await other.close();
    }
  });

  it('a grant change counts for the next job, on this process and without restarts', async () => {
    // The render worker reads grants per job: revoking in the database is enough.
    const view = remember(
      await admin.client.admin.setPluginGrants.mutate({ id: 'test:fetcher', network: [], secrets: [] }),
    );
    expect(view.granted).toEqual({ network: [], secrets: [] });
    expect((await failure(createJob())).atelierCode).toBe('CAPABILITY_NOT_GRANTED');
    // A job queued before a revoke fails with the same code when it runs.
    await admin.client.admin.setPluginGrants.mutate({
      id: 'test:fetcher',
      network: ['127.0.0.1', 'localhost'],
      secrets: ['TEST_KEY'],
    });
    await h.core.worker!.stop(1000);
    // Another URL: the same plan would be answered from the result cache at once.
    const queued = await user.client.jobs.create.mutate({
      imageId,
      style: 'test:fetcher',
      params: { url: `${providerUrl}?queued` },
    });
    expect(queued.status).toBe('queued');
    await admin.client.admin.setPluginGrants.mutate({
      id: 'test:fetcher',
      network: ['127.0.0.1'],
      secrets: [],
    });
    await h.core.worker!.start();
    const failed = remember(await finished(queued.id));
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'CAPABILITY_NOT_GRANTED' } });
    expect(seenKeys).toHaveLength(2);
  });

  it('removes secrets, and audits every change without the value', async () => {
    expect(remember(await admin.client.admin.removeSecret.mutate({ name: 'TEST_KEY' }))).toEqual({
      name: 'TEST_KEY',
      deleted: true,
    });
    expect((await failure(admin.client.admin.removeSecret.mutate({ name: 'TEST_KEY' }))).atelierCode).toBe(
      'SECRET_NOT_FOUND',
    );
    const audit = remember(await admin.client.admin.audit.query({}));
    const actions = audit.map((a) => a.action);
    expect(actions).toEqual(
      expect.arrayContaining(['plugin.grant', 'plugin.revoke', 'secret.set', 'secret.remove']),
    );
    expect(audit.find((a) => a.action === 'secret.set')).toMatchObject({
      actor: 'root@example.org',
      target: { type: 'secret', id: 'TEST_KEY' },
    });
    const restAudit = await rest('GET', '/admin/audit');
    expect(restAudit.status).toBe(200);
    expect(answers.length).toBeGreaterThan(10);
    for (const answer of answers) expect(answer).not.toContain(SECRET);
  });
});
