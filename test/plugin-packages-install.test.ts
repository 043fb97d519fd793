// Installing plugin packages for a cluster, through the service every front door calls: real
// tarballs (`pnpm pack` of plugins written here), real pnpm in a real plugins folder, real
// Postgres, and a loopback npm registry (the registry protocol: a packument and a tarball).
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { sql } from 'kysely';
import * as tar from 'tar';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { DEFAULT_LIMITS, parsePlan } from '@atelier/core';
import {
  PluginPackageService,
  PluginPackageSync,
  createRegistry,
  readConfig,
  syncPluginPackages,
} from '@atelier/server';
import type { AtelierConfig } from '@atelier/server';
import { cleanupsAfterAll, openTempDir } from './cleanups.ts';
import { packPackage } from './pack-package.ts';
import { atelier, writePluginPackage } from './plugin-packages.ts';

const defer = cleanupsAfterAll();
let dir: string;
let database: TestDatabase;
let config: AtelierConfig;
let service: PluginPackageService;
let registryUrl: string;
/** What the loopback registry serves: packuments by name, tarballs by file name. */
const packuments = new Map<string, unknown>();
const files = new Map<string, Buffer>();
const tarballs: Record<'v1' | 'v2' | 'v3' | 'future' | 'other1' | 'empty', Buffer> = {} as never;

const NAME = '@acme/atelier-tint';
const sha512 = (bytes: Uint8Array): string => `sha512-${createHash('sha512').update(bytes).digest('base64')}`;

const configFor = (data: string): AtelierConfig =>
  readConfig(
    {
      ...process.env,
      DATABASE_URL: database.url,
      ATELIER_DATA_DIR: path.join(dir, data),
      ATELIER_PLUGIN_DIR: path.join(dir, 'no-plugin-files'),
      ATELIER_NPM_REGISTRY: registryUrl,
    },
    dir,
  );

const folderManifest = (c: AtelierConfig = config): Promise<{ dependencies: Record<string, string> }> =>
  readFile(path.join(c.pluginsFolder, 'package.json'), 'utf8').then(
    (text) => JSON.parse(text) as { dependencies: Record<string, string> },
  );

const rows = () =>
  database.db
    .selectFrom('plugin_packages')
    .select(['name', 'version', 'integrity', 'active', 'plugins', 'source', 'size'])
    .orderBy('version')
    .execute();

const auditActions = async (): Promise<{ action: string; details: Record<string, unknown> }[]> =>
  database.db.selectFrom('audit_log').select(['action', 'details']).orderBy('created_at').execute();

beforeAll(async () => {
  dir = await openTempDir('atelier-plugin-packages-', defer);
  /**
   * v1 is packed by pnpm, as an author ships it; the variants are written by `tar` in the layout
   * npm and pnpm give a tarball (gzipped, everything under `package/`), which takes a fraction of
   * a `pnpm pack` on a busy machine.
   */
  const pack = async (key: keyof typeof tarballs, options: Parameters<typeof writePluginPackage>[1]) => {
    const src = path.join(dir, 'src', key);
    await writePluginPackage(src, options);
    if (key === 'v1') {
      tarballs[key] = await readFile(await packPackage(src, path.join(dir, 'packed', key)));
      return;
    }
    if (key === 'empty') await writeFile(path.join(src, 'index.js'), 'export const answer = 42;\n');
    const file = path.join(dir, 'packed', `${key}.tgz`);
    await mkdir(path.dirname(file), { recursive: true });
    await tar.create({ gzip: true, portable: true, cwd: src, prefix: 'package', file }, [
      'package.json',
      'index.js',
    ]);
    tarballs[key] = await readFile(file);
  };
  await pack('v1', { name: NAME, id: 'acme:tint', value: 40 });
  await pack('v2', { name: NAME, id: 'acme:tint', value: 200, version: '2.0.0' });
  await pack('v3', { name: NAME, id: 'acme:tint', value: 120, version: '3.0.0' });
  await pack('future', { name: '@acme/atelier-future', id: 'acme:future', value: 90, engine: '^2' });
  // Same name and version as v1, other code: a rebuild that was not given a new version.
  await pack('other1', { name: NAME, id: 'acme:tint', value: 41 });
  // A package whose module exports no plugin.
  await pack('empty', { name: '@acme/atelier-empty', id: 'acme:empty', value: 1 });

  const server = createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '/').slice(1);
    const file = files.get(url);
    if (file) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.length });
      res.end(file);
      return;
    }
    const packument = packuments.get(url);
    if (!packument) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(packument));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  defer(() => new Promise((resolve) => server.close(resolve)));
  registryUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/registry/`;
  database = await createTestDatabase(inject('pgAdminUrl'));
  defer(() => database.drop());
  config = configFor('data-a');
  service = new PluginPackageService({ db: database.db, config });
}, 120_000);

/** Publishes `bytes` as `name@version` on the loopback registry (`integrity` may lie). */
function publish(
  name: string,
  versions: Record<string, { bytes: Buffer; integrity?: string }>,
  latest: string,
) {
  const base = `${registryUrl}${name}/-/`;
  packuments.set(`registry/${name}`, {
    name,
    'dist-tags': { latest },
    versions: Object.fromEntries(
      Object.entries(versions).map(([version, { bytes, integrity }]) => {
        const file = `${name.split('/').pop()}-${version}.tgz`;
        files.set(`registry/${name}/-/${file}`, bytes);
        return [
          version,
          { name, version, dist: { tarball: base + file, integrity: integrity ?? sha512(bytes) } },
        ];
      }),
    ),
  });
}

describe('installing an uploaded tarball', () => {
  it('records the package with its integrity and plugins, installs it in the folder and audits it', async () => {
    const result = await service.install({
      bytes: tarballs.v1,
      source: 'upload',
      origin: 'atelier-tint-1.0.0.tgz',
      actor: null,
      via: 'cli',
    });
    expect(result).toEqual({
      action: 'install',
      name: NAME,
      version: '1.0.0',
      integrity: sha512(tarballs.v1),
      plugins: ['acme:tint'],
      previousVersion: null,
    });
    expect(await rows()).toEqual([
      {
        name: NAME,
        version: '1.0.0',
        integrity: sha512(tarballs.v1),
        active: true,
        plugins: ['acme:tint'],
        source: 'upload',
        size: tarballs.v1.length,
      },
    ]);
    const stored = await database.db
      .selectFrom('plugin_packages')
      .select('tarball')
      .executeTakeFirstOrThrow();
    expect(Buffer.from(stored.tarball).equals(tarballs.v1)).toBe(true);
    expect((await folderManifest()).dependencies[NAME]).toMatch(/^file:(?:\.\/)?tarballs\//);
    expect((await auditActions()).at(-1)).toMatchObject({
      action: 'plugin.install',
      details: { package: NAME, version: '1.0.0', integrity: sha512(tarballs.v1), via: 'cli' },
    });
  });

  it('refuses what is not a package, over the size cap, or an engine it does not support; nothing changes', async () => {
    const manifestBefore = await readFile(path.join(config.pluginsFolder, 'package.json'), 'utf8');
    const lockBefore = await readFile(path.join(config.pluginsFolder, 'pnpm-lock.yaml'), 'utf8');
    const auditBefore = (await auditActions()).length;
    const attempt = (bytes: Uint8Array) =>
      service.install({ bytes, source: 'upload', actor: null, via: 'api' }).then(
        () => 'installed',
        (error: { code?: string; message: string }) => `${error.code}: ${error.message}`,
      );
    expect(await attempt(Buffer.from('not a tarball at all'))).toMatch(
      /^PLUGIN_PACKAGE_INVALID: The upload is not a package tarball/,
    );
    expect(await attempt(new Uint8Array(50 * 1024 * 1024 + 1))).toMatch(
      /^PLUGIN_PACKAGE_INVALID: The package is 52428801 bytes; the limit is 52428800 bytes/,
    );
    expect(await attempt(tarballs.future)).toMatch(
      /^PLUGIN_ENGINE_MISMATCH: Plugin "acme:future" supports engine \^2, but this engine is 1\.0\.0/,
    );
    expect(await attempt(tarballs.empty)).toMatch(/^PLUGIN_INVALID: Module .* exports no plugin/);
    // A published version never changes: other bytes under 1.0.0 are refused.
    expect(await attempt(tarballs.other1)).toMatch(
      /^PLUGIN_PACKAGE_INVALID: @acme\/atelier-tint@1\.0\.0 is already recorded with other bytes/,
    );
    expect(await readFile(path.join(config.pluginsFolder, 'package.json'), 'utf8')).toBe(manifestBefore);
    expect(await readFile(path.join(config.pluginsFolder, 'pnpm-lock.yaml'), 'utf8')).toBe(lockBefore);
    expect((await rows()).map((r) => r.version)).toEqual(['1.0.0']);
    expect((await auditActions()).length).toBe(auditBefore);
  });
});

describe('installing name@version from the npm registry', () => {
  it('upgrades to the registry version: the old row stays inactive, one version is active', async () => {
    publish(NAME, { '2.0.0': { bytes: tarballs.v2 } }, '2.0.0');
    const result = await service.installFromRegistry({ spec: `${NAME}@2.0.0`, actor: null, via: 'api' });
    expect(result).toMatchObject({ action: 'upgrade', version: '2.0.0', previousVersion: '1.0.0' });
    expect((await rows()).map((r) => [r.version, r.active, r.source])).toEqual([
      ['1.0.0', false, 'upload'],
      ['2.0.0', true, 'registry'],
    ]);
    expect((await auditActions()).at(-1)).toMatchObject({
      action: 'plugin.upgrade',
      details: { package: NAME, version: '2.0.0', previousVersion: '1.0.0', integrity: sha512(tarballs.v2) },
    });
  });

  it("refuses a tarball that does not match the registry's integrity; nothing changes", async () => {
    publish(
      NAME,
      { '2.0.0': { bytes: tarballs.v2 }, '3.0.0': { bytes: tarballs.v3, integrity: sha512(tarballs.v1) } },
      '3.0.0',
    );
    const manifestBefore = await readFile(path.join(config.pluginsFolder, 'package.json'), 'utf8');
    await expect(service.installFromRegistry({ spec: NAME, actor: null, via: 'api' })).rejects.toMatchObject({
      code: 'PLUGIN_INTEGRITY_MISMATCH',
      message: expect.stringMatching(/atelier-tint@3\.0\.0 .* is sha512-.*, but the registry says sha512-/),
    });
    await expect(
      service.installFromRegistry({ spec: `${NAME}@9.9.9`, actor: null, via: 'api' }),
    ).rejects.toMatchObject({ code: 'PLUGIN_NOT_FOUND' });
    await expect(
      service.installFromRegistry({ spec: '@acme/nothing-here@1.0.0', actor: null, via: 'api' }),
    ).rejects.toMatchObject({ code: 'PLUGIN_NOT_FOUND' });
    expect((await rows()).map((r) => r.version)).toEqual(['1.0.0', '2.0.0']);
    expect(await readFile(path.join(config.pluginsFolder, 'package.json'), 'utf8')).toBe(manifestBefore);
  });
});

describe('rolling back', () => {
  it('is an install of the old version: its row is active again, no new row', async () => {
    const back = await service.install({ bytes: tarballs.v1, source: 'upload', actor: null, via: 'api' });
    expect(back).toMatchObject({ action: 'upgrade', version: '1.0.0', previousVersion: '2.0.0' });
    expect((await rows()).map((r) => [r.version, r.active])).toEqual([
      ['1.0.0', true],
      ['2.0.0', false],
    ]);
    const forward = await service.install({ bytes: tarballs.v2, source: 'upload', actor: null, via: 'api' });
    expect(forward).toMatchObject({ action: 'upgrade', version: '2.0.0', previousVersion: '1.0.0' });
    expect((await rows()).map((r) => [r.version, r.active, r.source])).toEqual([
      ['1.0.0', false, 'upload'],
      ['2.0.0', true, 'registry'],
    ]);
  });
});

describe('another process', () => {
  it('syncs its own folder from the recorded tarball, and refuses bytes that no longer match', async () => {
    const other = configFor('data-b');
    const first = await syncPluginPackages({ db: database.db, config: other });
    expect(first).toEqual({ installed: [`${NAME}@2.0.0`], removed: [], failed: [] });
    expect((await folderManifest(other)).dependencies[NAME]).toMatch(/^file:(?:\.\/)?tarballs\//);
    // In step: nothing to do.
    expect(await syncPluginPackages({ db: database.db, config: other })).toEqual({
      installed: [],
      removed: [],
      failed: [],
    });
    // The recorded bytes changed behind the record's back (a bad restore, tampering): refused.
    const third = configFor('data-c');
    await sql`update plugin_packages set tarball = ${tarballs.v3} where version = '2.0.0'`.execute(
      database.db,
    );
    try {
      expect(await syncPluginPackages({ db: database.db, config: third })).toEqual({
        installed: [],
        removed: [],
        failed: [`${NAME}@2.0.0: PLUGIN_INTEGRITY_MISMATCH`],
      });
    } finally {
      await sql`update plugin_packages set tarball = ${tarballs.v2} where version = '2.0.0'`.execute(
        database.db,
      );
    }
  });
});

describe('a worker that took a job before the change reached it', () => {
  it('installs the planned version when it is the active one, and refuses another with PLUGIN_VERSION_MISMATCH', async () => {
    const other = configFor('data-d');
    // What the worker loaded at start: the folder before the package arrived.
    const registry = await createRegistry(other);
    expect(registry.has('acme:tint')).toBe(false);
    const sync = new PluginPackageSync({
      db: database.db,
      url: database.url,
      config: other,
      registry,
      // What PluginReloader does: load the folder afresh and swap the third-party plugins in.
      reload: async () => registry.replacePlugins(await createRegistry(other, { revision: Date.now() })),
    });
    try {
      const plan = (version: string) =>
        parsePlan({
          version: 1,
          steps: [{ plugin: 'acme:tint', version, params: {} }],
          output: { format: 'png', quality: 100, stripMetadata: true },
          limits: DEFAULT_LIMITS,
        });
      await sync.preparePlan(plan('2.0.0'));
      expect(registry.get('acme:tint').version).toBe('2.0.0');
      await expect(sync.preparePlan(plan('1.0.0'))).rejects.toMatchObject({
        code: 'PLUGIN_VERSION_MISMATCH',
        message: expect.stringMatching(/needs acme:tint@1\.0\.0, but 2\.0\.0 is installed/),
      });
      await expect(
        sync.preparePlan(
          parsePlan({ ...plan('1.0.0'), steps: [{ plugin: 'acme:gone', version: '1.0.0', params: {} }] }),
        ),
      ).rejects.toMatchObject({ code: 'PLUGIN_NOT_FOUND' });
    } finally {
      await sync.close();
    }
  });
});

describe('uninstalling', () => {
  it('is refused while a queued job needs the active version, then forced; the history stays', async () => {
    // A queued job planned on acme:tint@2.0.0 (as jobs.create records it), and one on 1.0.0.
    const { id: owner } = await database.db
      .insertInto('users')
      .values({ email: 'owner@example.org', display_name: 'Owner' })
      .returning('id')
      .executeTakeFirstOrThrow();
    const { id: image } = await database.db
      .insertInto('images')
      .values({
        owner_id: owner,
        sha256: 'x',
        bytes: 1,
        width: 1,
        height: 1,
        format: 'png',
        storage_key: 'originals/x',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    for (const version of ['2.0.0', '1.0.0']) {
      const plan = { version: 1, steps: [{ plugin: 'acme:tint', version, params: {} }], output: {} };
      await database.db
        .insertInto('jobs')
        .values({
          owner_id: owner,
          image_id: image,
          input_sha256: 'x',
          plan: JSON.stringify(plan),
          plan_hash: `p${version}`,
          style: 'acme:tint',
          max_attempts: 3,
          updated_at: new Date(),
        })
        .execute();
    }
    await expect(service.uninstall({ name: NAME, actor: null, via: 'api' })).rejects.toMatchObject({
      code: 'PLUGIN_IN_USE',
      message: expect.stringMatching(/@acme\/atelier-tint@2\.0\.0 is needed by 1 queued and 0 running job/),
      details: { package: NAME, version: '2.0.0', queued: 1, running: 0 },
    });
    expect((await rows()).find((r) => r.active)?.version).toBe('2.0.0');
    expect((await folderManifest()).dependencies[NAME]).toBeDefined();

    const result = await service.uninstall({ name: NAME, force: true, actor: null, via: 'cli' });
    expect(result).toEqual({
      name: NAME,
      version: '2.0.0',
      plugins: ['acme:tint'],
      jobs: { queued: 1, running: 0 },
      forced: true,
    });
    expect((await rows()).map((r) => [r.version, r.active])).toEqual([
      ['1.0.0', false],
      ['2.0.0', false],
    ]);
    expect((await folderManifest()).dependencies[NAME]).toBeUndefined();
    expect((await auditActions()).at(-1)).toMatchObject({
      action: 'plugin.uninstall',
      details: { package: NAME, version: '2.0.0', forced: true, jobs: { queued: 1, running: 0 } },
    });
    const listed = await service.list({ includeInactive: true });
    expect(listed.map((p) => [p.version, p.active, p.installedBy])).toEqual([
      ['2.0.0', false, null],
      ['1.0.0', false, null],
    ]);
    expect(await service.list()).toEqual([]);
    await expect(service.uninstall({ name: NAME, actor: null, via: 'api' })).rejects.toMatchObject({
      code: 'PLUGIN_NOT_FOUND',
    });
    // The other process's folder follows on its next sync.
    expect(await syncPluginPackages({ db: database.db, config: configFor('data-b') })).toEqual({
      installed: [],
      removed: [NAME],
      failed: [],
    });
  });
});

describe('atelier plugins (with DATABASE_URL: for the cluster)', () => {
  it('add records the tarball for the cluster; list --cluster shows every version with its integrity', async () => {
    const env = {
      DATABASE_URL: database.url,
      ATELIER_DATA_DIR: path.join(dir, 'data-cli'),
      ATELIER_PLUGIN_DIR: path.join(dir, 'no-plugin-files'),
    };
    const file = path.join(dir, 'packed', 'v3.tgz');
    const added = await atelier(dir, env, 'plugins', 'add', file);
    expect(added.stderr).not.toMatch(/^atelier: [A-Z_]+:/m);
    expect(added.code).toBe(0);
    expect(added.stdout).toMatch(/^ {2}acme:tint@3\.0\.0 \(style\)$/m);
    expect(added.stdout).toContain(
      `Recorded ${NAME}@3.0.0 for the cluster (install, ${sha512(tarballs.v3)}); every serve and worker installs it within seconds.`,
    );
    const listed = await atelier(dir, env, 'plugins', 'list', '--cluster', '--all', '--json');
    expect(listed.code).toBe(0);
    expect(
      (
        JSON.parse(listed.stdout) as { version: string; active: boolean; source: string; origin: string }[]
      ).map((p) => [p.version, p.active, p.source, p.origin]),
    ).toEqual([
      ['3.0.0', true, 'upload', 'v3.tgz'],
      ['2.0.0', false, 'registry', `${registryUrl}${NAME}/-/atelier-tint-2.0.0.tgz`],
      ['1.0.0', false, 'upload', 'atelier-tint-1.0.0.tgz'],
    ]);
    expect((await auditActions()).at(-1)).toMatchObject({
      action: 'plugin.install',
      details: { version: '3.0.0', via: 'cli', source: 'upload' },
    });
  });
});
