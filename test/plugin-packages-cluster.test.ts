// Live install, upgrade and uninstall of a plugin package across a cluster: two `atelier serve`
// processes (and later `atelier worker`s) with separate data directories (so separate plugins
// folders) on one database and one storage. An upload through one serve reaches the other within
// seconds without a restart; a job queued through one runs on the other; a job planned on v1 and
// run by a worker that has v2 fails PLUGIN_VERSION_MISMATCH instead of rendering v2; an uninstall
// is refused while a job needs the package, then forced. Real pnpm, real Postgres, real HTTP.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import * as tar from 'tar';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createAtelierClient } from '@atelier/client';
import type { AtelierClient } from '@atelier/client';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { cleanupsAfterAll, openTempDir } from './cleanups.ts';
import { packPackage } from './pack-package.ts';
import { accountWithPhoto, eventually, listedStyles, writePluginPackage } from './plugin-packages.ts';
import { registerOver, serveEnv, spawnServe } from './serve-process.ts';
import type { ServeProcess } from './serve-process.ts';

const defer = cleanupsAfterAll();
const NAME = '@acme/atelier-tint';
let dir: string;
let database: TestDatabase;
let v1: Buffer;
let v2: Buffer;
/** Serves the API only (no worker): every job it queues runs in another process. */
let front: ServeProcess;
let frontUrl: string;
/** Serves the API with a worker, in its own data directory; stopped in the second test. */
let back: ServeProcess;
let backUrl: string;
let adminToken: string;
let admin: AtelierClient;
let account: Awaited<ReturnType<typeof accountWithPhoto>>;

const envFor = (data: string): NodeJS.ProcessEnv =>
  serveEnv(database, dir, {
    ATELIER_DATA_DIR: path.join(dir, data),
    ATELIER_PLUGIN_DIR: path.join(dir, 'no-plugin-files'),
  });

/** Starts `atelier worker` on data directory `data`; resolves once it takes jobs. */
async function startWorker(data: string): Promise<ServeProcess> {
  const worker = spawnServe({ command: 'worker', cwd: dir, env: envFor(data), defer });
  await worker.waitFor(/"msg":"worker ready"/);
  return worker;
}

async function stop(process: ServeProcess): Promise<void> {
  process.child.kill('SIGTERM');
  await process.exited;
}

/** A job once it has ended. */
async function ended(id: string) {
  return eventually(
    `job ${id}`,
    () => account.client.jobs.get.query({ id }),
    (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status),
    30_000,
  );
}

/** The mean grey of a succeeded job's result. */
async function meanOf(id: string): Promise<number> {
  const response = await fetch(`${frontUrl}/files/jobs/${id}`, {
    headers: { authorization: `Bearer ${account.token}` },
  });
  const { channels } = await sharp(Buffer.from(await response.arrayBuffer())).stats();
  return channels[0]!.mean;
}

const adminHeaders = (): Record<string, string> => ({ authorization: `Bearer ${adminToken}` });

beforeAll(async () => {
  dir = await openTempDir('atelier-plugin-cluster-', defer);
  await writePluginPackage(path.join(dir, 'src/v1'), { name: NAME, id: 'acme:tint', value: 40 });
  await writePluginPackage(path.join(dir, 'src/v2'), {
    name: NAME,
    id: 'acme:tint',
    value: 200,
    version: '2.0.0',
  });
  v1 = await readFile(await packPackage(path.join(dir, 'src/v1'), path.join(dir, 'packed/v1')));
  // v2 in npm's tarball layout (gzipped, under `package/`) by tar: a second pnpm pack costs seconds.
  const v2File = path.join(dir, 'packed/atelier-tint-2.0.0.tgz');
  await tar.create(
    { gzip: true, portable: true, cwd: path.join(dir, 'src/v2'), prefix: 'package', file: v2File },
    ['package.json', 'index.js'],
  );
  v2 = await readFile(v2File);
  database = await createTestDatabase(inject('pgAdminUrl'));
  defer(() => database.drop());
  front = spawnServe({ cwd: dir, env: envFor('front'), args: ['--no-worker'], defer });
  back = spawnServe({ cwd: dir, env: envFor('back'), defer });
  [frontUrl, backUrl] = await Promise.all([front.url, back.url]);
  const response = await registerOver(frontUrl, {
    email: 'admin@example.org',
    password: 'a good long password',
    displayName: 'Admin',
  });
  const { result } = (await response.json()) as { result: { data: { token: string; user: { id: string } } } };
  adminToken = result.data.token;
  await database.db
    .updateTable('users')
    .set({ role: 'admin' })
    .where('id', '=', result.data.user.id)
    .execute();
  admin = createAtelierClient({ url: frontUrl, token: adminToken });
  account = await accountWithPhoto(frontUrl, 'painter@example.org');
}, 120_000);

describe('a plugin package installed through one process', () => {
  it('is listed by the other within seconds, and a job queued through one runs on the other', async () => {
    expect(await listedStyles(backUrl)).not.toContain('acme:tint');
    const form = new FormData();
    form.set('file', new Blob([v1]), 'atelier-tint-1.0.0.tgz');
    const started = Date.now();
    const response = await fetch(`${frontUrl}/api/admin/plugin-packages`, {
      method: 'POST',
      headers: adminHeaders(),
      body: form,
    });
    expect(response.status).toBe(200);
    // Recorded (committed and announced) now: the rest is the other process's sync and reload.
    const recorded = Date.now();
    expect(await response.json()).toMatchObject({
      action: 'install',
      name: NAME,
      version: '1.0.0',
      plugins: ['acme:tint'],
    });
    await eventually(
      'styles on the other serve',
      () => listedStyles(backUrl),
      (ids) => ids.includes('acme:tint'),
      20_000,
    );
    const seconds = (Date.now() - recorded) / 1000;
    console.info(
      `plugin package: install through one serve ${(recorded - started) / 1000} s, then listed by the other after ${seconds} s`,
    );
    // About 5 s on an idle 2-core machine, most of it pnpm; the margin is for a busy one.
    expect(seconds).toBeLessThan(15);
    await back.waitFor(/"installed":\["@acme\/atelier-tint@1\.0\.0"\].*"msg":"plugin packages synced"/);

    // Queued through the front (no worker there); the back's worker runs it.
    const created = await account.client.jobs.create.mutate({ imageId: account.imageId, style: 'acme:tint' });
    const job = await ended(created.id);
    expect(job).toMatchObject({ status: 'succeeded' });
    expect(job.plan?.steps.map((s) => `${s.plugin}@${s.version}`)).toEqual(['acme:tint@1.0.0']);
    expect(Math.abs((await meanOf(job.id)) - 40)).toBeLessThan(3);

    const listed = (await (
      await fetch(`${frontUrl}/api/admin/plugin-packages`, { headers: adminHeaders() })
    ).json()) as { name: string; version: string; integrity: string; installedBy: string; source: string }[];
    expect(listed).toEqual([
      expect.objectContaining({
        name: NAME,
        version: '1.0.0',
        integrity: expect.stringMatching(/^sha512-[A-Za-z0-9+/]+=*$/),
        installedBy: 'admin@example.org',
        source: 'upload',
        origin: 'atelier-tint-1.0.0.tgz',
      }),
    ]);
  });

  it('refuses a bad upload with its code over REST, and the other serve is untouched', async () => {
    const response = await fetch(`${frontUrl}/api/admin/plugin-packages`, {
      method: 'POST',
      headers: { ...adminHeaders(), 'content-type': 'application/gzip' },
      body: Buffer.from('no tarball'),
    });
    expect(response.status).toBe(422);
    expect(((await response.json()) as { data: { atelierCode: string } }).data.atelierCode).toBe(
      'PLUGIN_PACKAGE_INVALID',
    );
    const noFile = await fetch(`${frontUrl}/api/admin/plugin-packages`, {
      method: 'POST',
      headers: { ...adminHeaders(), 'content-type': 'application/json' },
      body: JSON.stringify({ spec: NAME }),
    });
    expect(noFile.status).toBe(400);
    expect(((await noFile.json()) as { data: { atelierCode: string } }).data.atelierCode).toBe(
      'PARAMS_INVALID',
    );
    const user = await fetch(`${frontUrl}/api/admin/plugin-packages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${account.token}`, 'content-type': 'application/gzip' },
      body: v2,
    });
    expect(user.status).toBe(403);
    expect(await database.db.selectFrom('plugin_packages').select('version').execute()).toEqual([
      { version: '1.0.0' },
    ]);
  });
});

describe('versions per job', () => {
  it('a job planned on v1 and taken by a worker that has v2 fails PLUGIN_VERSION_MISMATCH, never renders v2', async () => {
    await stop(back);
    // No worker runs now: the job waits, planned on 1.0.0 (WebP: not the plan whose result is cached).
    const queued = await account.client.jobs.create.mutate({
      imageId: account.imageId,
      style: 'acme:tint',
      output: { format: 'webp' },
    });
    expect(queued.status).toBe('queued');
    expect((await account.client.jobs.get.query({ id: queued.id })).plan?.steps[0]?.version).toBe('1.0.0');
    const form = new FormData();
    form.set('file', new Blob([v2]), 'atelier-tint-2.0.0.tgz');
    const upgraded = await admin.admin.installPluginPackage.mutate(form);
    expect(upgraded).toMatchObject({ action: 'upgrade', version: '2.0.0', previousVersion: '1.0.0' });
    // The front had 1.0.0 loaded: it now lists 2.0.0, without a restart.
    await eventually(
      'the version the front lists',
      async () => {
        const body = (await (await fetch(`${frontUrl}/trpc/styles.list`)).json()) as {
          result: { data: { id: string; version: string }[] };
        };
        return body.result.data.find((s) => s.id === 'acme:tint')?.version;
      },
      (version) => version === '2.0.0',
      10_000,
    );

    // The back's data directory still has 1.0.0: the worker installs 2.0.0 from the recorded tarball.
    const worker = await startWorker('back');
    expect(worker.stderr()).toMatch(
      /"installed":\["@acme\/atelier-tint@2\.0\.0"\].*"msg":"plugin packages synced"/,
    );
    const failed = await ended(queued.id);
    expect(failed).toMatchObject({
      status: 'failed',
      error: {
        code: 'PLUGIN_VERSION_MISMATCH',
        message: expect.stringMatching(/needs acme:tint@1\.0\.0, but 2\.0\.0 is installed/),
      },
    });
    const row = await database.db
      .selectFrom('jobs')
      .select(['attempts', 'output_key'])
      .where('id', '=', queued.id)
      .executeTakeFirstOrThrow();
    // Failed at its first attempt (not retried), with no output.
    expect(row).toEqual({ attempts: 1, output_key: null });

    // Planned now, it runs on 2.0.0.
    const fresh = await account.client.jobs.create.mutate({ imageId: account.imageId, style: 'acme:tint' });
    const done = await ended(fresh.id);
    expect(done.plan?.steps[0]?.version).toBe('2.0.0');
    expect(Math.abs((await meanOf(done.id)) - 200)).toBeLessThan(3);
    await stop(worker);
  });
});

describe('uninstalling', () => {
  it('is refused while a queued job needs it; forced, it leaves every process and the job fails PLUGIN_NOT_FOUND', async () => {
    // PNG: not the plan of the job that already ran on 2.0.0 (whose result the cache would give).
    const queued = await account.client.jobs.create.mutate({
      imageId: account.imageId,
      style: 'acme:tint',
      output: { format: 'png' },
    });
    expect(queued.status).toBe('queued');
    const uninstall = (force: boolean) =>
      fetch(`${frontUrl}/api/admin/plugin-packages/uninstall`, {
        method: 'POST',
        headers: { ...adminHeaders(), 'content-type': 'application/json' },
        body: JSON.stringify({ name: NAME, force }),
      });
    const refused = await uninstall(false);
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({
      message: expect.stringMatching(/atelier-tint@2\.0\.0 is needed by 1 queued and 0 running job/),
      data: { atelierCode: 'PLUGIN_IN_USE', details: { queued: 1, running: 0 } },
    });
    expect(await listedStyles(frontUrl)).toContain('acme:tint');

    const forced = await uninstall(true);
    expect(forced.status).toBe(200);
    expect(await forced.json()).toMatchObject({ version: '2.0.0', forced: true, jobs: { queued: 1 } });
    await eventually(
      'styles on the front',
      () => listedStyles(frontUrl),
      (ids) => !ids.includes('acme:tint'),
      10_000,
    );
    const worker = await startWorker('back');
    expect(worker.stderr()).toMatch(/"removed":\["@acme\/atelier-tint"\].*"msg":"plugin packages synced"/);
    expect(await ended(queued.id)).toMatchObject({ status: 'failed', error: { code: 'PLUGIN_NOT_FOUND' } });
    const manifest = JSON.parse(await readFile(path.join(dir, 'back/plugins/package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    expect(Object.keys(manifest.dependencies)).toEqual(['@atelier/core']);

    const audit = await database.db
      .selectFrom('audit_log')
      .select(['action', 'actor_id', 'details'])
      .where('action', 'like', 'plugin.%')
      .orderBy('created_at')
      .execute();
    expect(audit.map((a) => [a.action, a.details['version'], a.details['forced']])).toEqual([
      ['plugin.install', '1.0.0', undefined],
      ['plugin.upgrade', '2.0.0', undefined],
      ['plugin.uninstall', '2.0.0', true],
    ]);
    expect(audit.every((a) => a.actor_id !== null && typeof a.details['integrity'] === 'string')).toBe(true);
    const history = await admin.admin.pluginPackages.query();
    expect(history.map((p) => [p.version, p.active])).toEqual([
      ['2.0.0', false],
      ['1.0.0', false],
    ]);
  });
});
