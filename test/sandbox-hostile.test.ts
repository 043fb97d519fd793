// The hostile plugin suite: the real `atelier serve`, with secrets planted in its environment and
// data directory, loads test/fixtures/hostile-plugins as third-party plugins (sandboxed). Each
// attack runs as a job over HTTP and must end with its exact coded error, the server must serve a
// job right after it, and at the end no planted secret may appear in any job, HTTP body or log.
// docs/security.md lists these cases; keep the two in step.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createAtelierClient, isApiError, uploadForm } from '@atelier/client';
import type { AtelierClient } from '@atelier/client';
import { Engine, PluginRegistry } from '@atelier/core';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { closeHostSandbox, loadSandboxedModule } from '@atelier/sandbox';
import { cleanupsAfterAll, openTempDir } from './cleanups.ts';
import { errorCodeOf, photo, read, root } from './helpers.ts';
import { eventually } from './plugin-packages.ts';
import { registerOver, serveEnv, spawnServe } from './serve-process.ts';
import type { ServeProcess } from './serve-process.ts';

const defer = cleanupsAfterAll();
const pluginDir = path.join(root, 'test/fixtures/hostile-plugins');
const secretModule = path.join(root, 'test/.tmp/hostile-secret.mjs');
/** A real native addon on this machine: sharp's own binding. */
function nativeAddon(): string {
  const fromSharp = createRequire(fileURLToPath(import.meta.resolve('sharp')));
  const lib = path.join(
    path.dirname(fromSharp.resolve(`@img/sharp-${process.platform}-${process.arch}/package`)),
    'lib',
  );
  const file = readdirSync(lib).find((f) => f.endsWith('.node'));
  if (!file) throw new Error(`no .node file in ${lib}`);
  return path.join(lib, file);
}

// The secrets a hostile plugin wants. Each is random, so finding it anywhere proves a leak.
const canary = `canary-${randomBytes(12).toString('hex')}`;
const urlSecret = randomBytes(32).toString('hex');
const secretsKey = randomBytes(32).toString('hex');
/** The value of EVIL_API_KEY, the secret granted to evil:fetch only. */
const grantedSecret = `canary-granted-${randomBytes(12).toString('hex')}`;
// Generous for a loaded machine: a sandbox process that was killed (after a timeout) starts
// cold for the next job.
const STEP_TIMEOUT_MS = 4000;

let dir: string;
let dataDir: string;
let database: TestDatabase;
let serve: ServeProcess;
let url: string;
type Account = { client: AtelierClient; token: string; imageId: string };
let user: Account;
/** A second user, for the attack that carries one user's pixels into another's job. */
let other: Account;
let adminHeaders: Record<string, string>;
/** Every HTTP body the suite received, for the final scan. */
const bodies: string[] = [];
/** Every connection the loopback listener saw (none may come from a plugin). */
const connections: string[] = [];
let listener: Server;
let listenerPort: number;

/** fetch that keeps a copy of every response body. */
const recordingFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  bodies.push(await response.clone().text());
  return response;
};

async function getJson(pathname: string, headers: Record<string, string> = {}): Promise<unknown> {
  const response = await recordingFetch(`${url}${pathname}`, { headers });
  expect(response.status, pathname).toBe(200);
  return response.json();
}

/** What a job of `plugin` with `params` ended as: its status and error (or the create call's code). */
async function outcome(
  plugin: `${string}:${string}`,
  params: Record<string, unknown> = {},
  account: Account = user,
): Promise<{ status: string; code?: string; message?: string; id?: string }> {
  let created: { id: string };
  try {
    created = await account.client.jobs.create.mutate({ imageId: account.imageId, style: plugin, params });
  } catch (error) {
    if (!isApiError(error)) throw error;
    const data = error.data as { atelierCode?: string; code?: string } | undefined;
    return { status: 'refused', code: data?.atelierCode ?? data?.code ?? 'UNKNOWN', message: error.message };
  }
  const job = await eventually(
    `job ${created.id} of ${plugin}`,
    () => account.client.jobs.get.query({ id: created.id }),
    (j) => ['succeeded', 'failed', 'cancelled'].includes(j.status),
    45_000,
  );
  bodies.push(
    JSON.stringify(await getJson(`/api/jobs/${job.id}`, { authorization: `Bearer ${account.token}` })),
  );
  return {
    id: job.id,
    status: job.status,
    ...(job.error ? { code: job.error.code, message: job.error.message } : {}),
  };
}

/** The server still serves: /readyz answers, and a sandboxed job renders the photo, inverted. */
async function stillServing(): Promise<void> {
  const ready = await recordingFetch(`${url}/readyz`);
  expect(ready.status).toBe(200);
  const probe = await outcome('acme:probe');
  expect(probe, 'acme:probe right after').toMatchObject({ status: 'succeeded' });
  const download = await recordingFetch(`${url}/files/jobs/${probe.id}`, {
    headers: { authorization: `Bearer ${user.token}` },
  });
  const { info } = await sharp(Buffer.from(await download.arrayBuffer()))
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect([info.width, info.height]).toEqual([451, 300]);
}

/** A new user of the served API, with chelsea.png uploaded. */
async function account(email: string): Promise<Account> {
  const { token } = await createAtelierClient({ url }).auth.register.mutate({
    email,
    password: 'correct horse battery',
    displayName: email.split('@')[0]!,
  });
  const client = createAtelierClient({ url, token, fetch: recordingFetch });
  const image = await client.images.upload.mutate(
    uploadForm(new Blob([await read(photo('chelsea.png'))]), 'chelsea.png'),
  );
  return { client, token, imageId: image.id };
}

/** Stores EVIL_API_KEY and grants evil:fetch everything it declares, as an administrator would. */
async function grantFetchPlugin(): Promise<void> {
  const stored = await recordingFetch(`${url}/api/admin/secrets/EVIL_API_KEY`, {
    method: 'POST',
    headers: adminHeaders,
    body: JSON.stringify({ value: grantedSecret }),
  });
  expect(stored.status, await stored.clone().text()).toBe(200);
  const granted = await recordingFetch(`${url}/api/admin/plugins/evil:fetch/grants`, {
    method: 'POST',
    headers: adminHeaders,
    body: JSON.stringify({
      network: ['api.example.com', '127.0.0.1', 'localhost', '[::1]', '169.254.169.254'],
      secrets: ['EVIL_API_KEY'],
    }),
  });
  expect(granted.status, await granted.clone().text()).toBe(200);
  expect(await granted.json()).toMatchObject({ missing: { network: [], secrets: [] }, unsetSecrets: [] });
}

interface Case {
  readonly name: string;
  readonly plugin: `${string}:${string}`;
  readonly params?: () => Record<string, unknown>;
  readonly code: string;
  /** What the error's message must say. */
  readonly message?: RegExp;
  /** A job that the sandbox contains without failing (its output is checked elsewhere). */
  readonly succeeds?: boolean;
  /** Run by the second user. @default the first */
  readonly other?: boolean;
}

const loopback = (host: string) => () => ({ url: `http://${host}:${listenerPort}/steal` });

const cases: readonly Case[] = [
  // The environment: DATABASE_URL, ATELIER_URL_SECRET, the canary.
  {
    name: 'reads process.env',
    plugin: 'evil:read-env',
    code: 'PLUGIN_FAILED',
    message: /process is not defined/,
  },
  {
    name: 'reads globalThis.process.env',
    plugin: 'evil:read-env',
    params: () => ({ via: 'globalThis' }),
    code: 'PLUGIN_FAILED',
    message: /Cannot read properties of undefined \(reading 'env'\)/,
  },
  {
    name: "reads Function('return this')().process.env",
    plugin: 'evil:read-env',
    params: () => ({ via: 'function' }),
    code: 'PLUGIN_FAILED',
    message: /Cannot read properties of undefined \(reading 'env'\)/,
  },
  {
    name: 'hunts for the database URL through globalThis and the context, then process.env',
    plugin: 'evil:database-url',
    code: 'PLUGIN_FAILED',
    message: /process is not defined/,
  },
  // Files.
  {
    name: 'reads /etc/passwd with import("node:fs")',
    plugin: 'evil:read-file',
    code: 'SANDBOX_VIOLATION',
    message: /dynamic import\(\)/,
  },
  {
    name: 'reads /etc/passwd with import("fs/promises")',
    plugin: 'evil:read-file',
    params: () => ({ via: 'import-promises' }),
    code: 'SANDBOX_VIOLATION',
    message: /dynamic import\(\)/,
  },
  {
    name: 'reads /etc/passwd with require',
    plugin: 'evil:read-file',
    params: () => ({ via: 'require' }),
    code: 'PLUGIN_FAILED',
    message: /require is not defined/,
  },
  {
    name: "reads /etc/passwd with process.binding('fs')",
    plugin: 'evil:read-file',
    params: () => ({ via: 'binding' }),
    code: 'PLUGIN_FAILED',
    message: /process is not defined/,
  },
  {
    name: 'reads /etc/passwd with ctx.fetch("file://…")',
    plugin: 'evil:read-file',
    params: () => ({ via: 'fetch-file' }),
    code: 'CAPABILITY_DENIED',
    message: /only http and https/,
  },
  {
    name: 'reads a file of the data directory',
    plugin: 'evil:read-file',
    params: () => ({ path: path.join(dataDir, 'canary.txt') }),
    code: 'SANDBOX_VIOLATION',
  },
  {
    name: "reads the embedded Postgres's credential file",
    plugin: 'evil:read-file',
    params: () => ({ path: path.join(dataDir, 'atelier-credentials.json'), via: 'import-promises' }),
    code: 'SANDBOX_VIOLATION',
  },
  {
    name: 'writes a file with import("node:fs")',
    plugin: 'evil:write-file',
    params: () => ({ path: path.join(dir, 'pwned-import') }),
    code: 'SANDBOX_VIOLATION',
  },
  {
    name: 'writes a file with require',
    plugin: 'evil:write-file',
    params: () => ({ path: path.join(dir, 'pwned-require'), via: 'require' }),
    code: 'PLUGIN_FAILED',
    message: /require is not defined/,
  },
  // Processes.
  {
    name: 'spawns a process with import("node:child_process")',
    plugin: 'evil:spawn',
    code: 'SANDBOX_VIOLATION',
    message: /dynamic import\(\)/,
  },
  {
    name: 'spawns a process with require',
    plugin: 'evil:spawn',
    params: () => ({ via: 'require' }),
    code: 'PLUGIN_FAILED',
    message: /require is not defined/,
  },
  {
    name: "spawns a process with process.binding('spawn_sync')",
    plugin: 'evil:spawn',
    params: () => ({ via: 'process-binding' }),
    code: 'PLUGIN_FAILED',
    message: /process is not defined/,
  },
  // Network of its own.
  {
    name: 'opens a socket with import("node:net")',
    plugin: 'evil:socket',
    params: () => ({ port: listenerPort }),
    code: 'SANDBOX_VIOLATION',
    message: /dynamic import\(\)/,
  },
  {
    name: 'opens a socket with require("net")',
    plugin: 'evil:socket',
    params: () => ({ port: listenerPort, via: 'require' }),
    code: 'PLUGIN_FAILED',
    message: /require is not defined/,
  },
  {
    name: 'uses the global fetch',
    plugin: 'evil:socket',
    params: () => ({ port: listenerPort, via: 'global-fetch' }),
    code: 'PLUGIN_FAILED',
    message: /fetch is not defined/,
  },
  {
    name: 'opens a WebSocket',
    plugin: 'evil:socket',
    params: () => ({ port: listenerPort, via: 'websocket' }),
    code: 'PLUGIN_FAILED',
    message: /WebSocket is not defined/,
  },
  // The host fetch beyond the grant.
  {
    name: 'ctx.fetch to a host not granted',
    plugin: 'evil:fetch',
    code: 'CAPABILITY_DENIED',
    message: /evil\.example\.net/,
  },
  {
    name: 'ctx.fetch to 127.0.0.1 (granted by name)',
    plugin: 'evil:fetch',
    params: loopback('127.0.0.1'),
    code: 'CAPABILITY_DENIED',
  },
  {
    name: 'ctx.fetch to localhost (granted by name)',
    plugin: 'evil:fetch',
    params: loopback('localhost'),
    code: 'CAPABILITY_DENIED',
  },
  {
    name: 'ctx.fetch to [::1] (granted by name)',
    plugin: 'evil:fetch',
    params: loopback('[::1]'),
    code: 'CAPABILITY_DENIED',
  },
  {
    name: 'ctx.fetch to 169.254.169.254, the cloud metadata address (granted by name)',
    plugin: 'evil:fetch',
    params: () => ({ url: 'http://169.254.169.254/latest/meta-data/' }),
    code: 'CAPABILITY_DENIED',
  },
  {
    name: 'ctx.fetch POSTs its secret to 127.0.0.1 written as 127.1',
    plugin: 'evil:fetch',
    params: () => ({ url: `http://127.1:${listenerPort}/steal`, method: 'POST' }),
    code: 'CAPABILITY_DENIED',
  },
  {
    name: "ctx.secret of another plugin's secret",
    plugin: 'evil:secret',
    code: 'CAPABILITY_DENIED',
    message: /EVIL_API_KEY/,
  },
  {
    name: "ctx.secret of the server's own ATELIER_URL_SECRET",
    plugin: 'evil:secret',
    params: () => ({ name: 'ATELIER_URL_SECRET' }),
    code: 'CAPABILITY_DENIED',
  },
  // Native addons.
  {
    name: 'loads a native addon with process.dlopen',
    plugin: 'evil:native',
    params: () => ({ path: nativeAddon() }),
    code: 'PLUGIN_FAILED',
    message: /process is not defined/,
  },
  {
    name: 'loads a native addon with import("….node")',
    plugin: 'evil:native',
    params: () => ({ path: nativeAddon(), via: 'import' }),
    code: 'SANDBOX_VIOLATION',
  },
  {
    name: 'loads a native addon with createRequire',
    plugin: 'evil:native',
    params: () => ({ path: nativeAddon(), via: 'create-require' }),
    code: 'SANDBOX_VIOLATION',
    message: /dynamic import\(\)/,
  },
  // Escapes through host objects, and prototype pollution.
  ...(
    [
      'ctx-constructor',
      'image-data-constructor',
      'sharp-constructor',
      'sharp-pipeline',
      'logger',
      'signal',
    ] as const
  ).map((via): Case => ({
    name: `reaches the host's process through ${via}`,
    plugin: 'evil:pollute',
    params: () => ({ via }),
    code: 'PLUGIN_FAILED',
    // The isolate's own Function: `return process` finds no process there.
    message: /process is not defined/,
  })),
  {
    name: 'pollutes Object, Array and Uint8Array prototypes and the globals of its realm',
    plugin: 'evil:pollute',
    params: () => ({ via: 'prototypes' }),
    code: '',
    succeeds: true,
  },
  {
    name: 'hands the host __proto__ keys through the logger, progress and sharp options',
    plugin: 'evil:pollute',
    params: () => ({ via: 'host-arguments' }),
    code: '',
    succeeds: true,
  },
  {
    name: "keeps one user's pixels on globalThis",
    plugin: 'evil:stash',
    code: '',
    succeeds: true,
  },
  {
    name: "hands them out in another user's job",
    plugin: 'evil:stash',
    params: () => ({ via: 'replay' }),
    other: true,
    code: 'PLUGIN_FAILED',
    message: /nothing stashed from an earlier run/,
  },
  // Resources.
  { name: 'blocks forever in a loop', plugin: 'evil:block', code: 'PLUGIN_TIMEOUT' },
  {
    name: 'awaits a promise that never settles',
    plugin: 'evil:block',
    params: () => ({ via: 'promise' }),
    code: 'PLUGIN_TIMEOUT',
  },
  {
    name: 'spins on microtasks forever',
    plugin: 'evil:block',
    params: () => ({ via: 'microtasks' }),
    code: 'PLUGIN_TIMEOUT',
  },
  { name: 'allocates 4 GB at once', plugin: 'evil:memory', code: 'PLUGIN_OUT_OF_MEMORY' },
  {
    name: 'allocates 16 MB buffers in a loop',
    plugin: 'evil:memory',
    params: () => ({ via: 'buffers' }),
    code: 'PLUGIN_OUT_OF_MEMORY',
  },
  {
    name: 'grows its heap in a loop',
    plugin: 'evil:memory',
    params: () => ({ via: 'heap' }),
    code: 'PLUGIN_OUT_OF_MEMORY',
  },
  {
    name: "makes the host's sharp resize to 40000 x 40000",
    plugin: 'evil:memory',
    params: () => ({ via: 'sharp' }),
    code: 'OUTPUT_TOO_LARGE',
  },
  // Output.
  ...(['short', 'long', 'width', 'channels', 'array', 'string', 'nothing'] as const).map((via): Case => ({
    name: `returns a wrong output (${via})`,
    plugin: 'evil:wrong-output',
    params: () => ({ via }),
    code: 'PLUGIN_OUTPUT_INVALID',
  })),
];

describe('hostile third-party plugins under atelier serve', () => {
  beforeAll(async () => {
    dir = await openTempDir('atelier-hostile-', defer);
    dataDir = path.join(dir, 'data');
    await mkdir(dataDir, { recursive: true });
    // What a plugin reading the data directory would find.
    await writeFile(path.join(dataDir, 'canary.txt'), `${canary}\n`);
    // What evil:import-file imports from outside its package: a module of the server's disk.
    await mkdir(path.dirname(secretModule), { recursive: true });
    await writeFile(secretModule, `export const secret = '${canary}';\n`);
    defer(() => rm(secretModule, { force: true }));
    listener = createServer((socket: Socket) => {
      connections.push(`${socket.remoteAddress}:${socket.remotePort}`);
      socket.on('data', (d: Buffer) => connections.push(d.toString()));
      socket.on('error', () => {});
      socket.end();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    listenerPort = (listener.address() as { port: number }).port;
    defer(() => new Promise((resolve) => listener.close(resolve)));

    database = await createTestDatabase(inject('pgAdminUrl'));
    defer(() => database.drop());
    serve = spawnServe({
      cwd: dir,
      env: serveEnv(database, dir, {
        ATELIER_DATA_DIR: dataDir,
        ATELIER_PLUGIN_DIR: pluginDir,
        ATELIER_CANARY_SECRET: canary,
        ATELIER_URL_SECRET: urlSecret,
        ATELIER_SECRETS_KEY: secretsKey,
        ATELIER_STEP_TIMEOUT_MS: String(STEP_TIMEOUT_MS),
        ATELIER_MAX_MEMORY_MB: '128',
        ATELIER_JOB_RETRIES: '0',
        // One engine thread, so one sandbox process runs every job: what one plugin leaves in it
        // is there for the next (acme:probe looks).
        ATELIER_THREADS: '1',
        ATELIER_RATE_LIMIT_PER_MINUTE: '100000',
        ATELIER_QUOTA_JOBS_PER_HOUR: '100000',
      }),
      defer,
    });
    url = await serve.url;

    const registered = await registerOver(url, {
      email: 'admin@example.org',
      password: 'a good long password',
      displayName: 'Admin',
    });
    const { result } = (await registered.json()) as {
      result: { data: { token: string; user: { id: string } } };
    };
    await database.db
      .updateTable('users')
      .set({ role: 'admin' })
      .where('id', '=', result.data.user.id)
      .execute();
    adminHeaders = { authorization: `Bearer ${result.data.token}`, 'content-type': 'application/json' };
    // evil:fetch gets everything it declares, loopback names included, and a secret.
    await grantFetchPlugin();

    user = await account('user@example.org');
    other = await account('other@example.org');
    // The engine thread's sandbox process starts with the first sandboxed job: not on an attack's clock.
    expect(await outcome('acme:probe')).toMatchObject({ status: 'succeeded' });
  }, 60_000);

  it('are refused at load when they import node builtins statically or never finish loading', async () => {
    const failures = (await getJson('/api/admin/plugin-failures', adminHeaders)) as {
      plugin?: string;
      source: string;
      code: string;
      message: string;
    }[];
    const bySource = (file: string) => failures.find((f) => f.source.endsWith(file));
    expect(bySource('evil-static-fs.js')).toMatchObject({ code: 'SANDBOX_VIOLATION' });
    expect(bySource('evil-static-fs.js')?.message).toMatch(/node:fs/);
    expect(bySource('evil-static-spawn.js')).toMatchObject({ code: 'SANDBOX_VIOLATION' });
    expect(bySource('evil-static-spawn.js')?.message).toMatch(/child_process/);
    expect(bySource('evil-load-spin.js')).toMatchObject({ code: 'PLUGIN_TIMEOUT' });
    expect(bySource('evil-import-file.js')).toMatchObject({ code: 'SANDBOX_VIOLATION' });
    const styles = ((await getJson('/api/styles')) as { id: string }[]).map((s) => s.id);
    expect(styles).not.toContain('evil:static-fs');
    expect(styles).not.toContain('evil:static-spawn');
    expect(styles).not.toContain('evil:load-spin');
    expect(styles).not.toContain('evil:import-file');
    // The others are offered: a hostile plugin looks like any other until it runs.
    expect(styles).toEqual(expect.arrayContaining(['acme:probe', 'evil:read-env', 'evil:pollute']));
    const refused = await outcome('evil:static-fs');
    expect(refused).toMatchObject({ status: 'refused', code: 'PLUGIN_NOT_FOUND' });
  });

  it('cannot put the environment into its manifest at load', async () => {
    const styles = (await getJson('/api/styles')) as { id: string; description: string }[];
    expect(styles.find((s) => s.id === 'evil:manifest-leak')?.description).toBe('Secrets at load: none');
    expect(await outcome('evil:manifest-leak')).toMatchObject({ status: 'succeeded' });
  });

  it.each(cases)('$name: $plugin ends with $code, and the server serves right after', async (c) => {
    const result = await outcome(c.plugin, c.params?.() ?? {}, c.other ? other : user);
    if (c.succeeds) expect(result).toMatchObject({ status: 'succeeded' });
    else {
      expect(result, JSON.stringify(result)).toMatchObject({ status: 'failed', code: c.code });
      expect(result.message).not.toMatch(/LEAKED|POLLUTED/);
      if (c.message) expect(result.message).toMatch(c.message);
    }
    await stillServing();
  });

  it('wrote no file and made no connection of its own', () => {
    expect(existsSync(path.join(dir, 'pwned-import'))).toBe(false);
    expect(existsSync(path.join(dir, 'pwned-require'))).toBe(false);
    expect(connections).toEqual([]);
  });

  it('left the host unpolluted: a built-in job renders, the API answers plain JSON', async () => {
    expect(await outcome('cartoon' as `${string}:${string}`)).toMatchObject({ status: 'succeeded' });
    const health = await recordingFetch(`${url}/healthz`);
    expect(await health.json()).not.toBe('polluted');
    const styles = (await getJson('/api/styles')) as { id: string; polluted?: unknown }[];
    expect(styles.find((s) => s.id === 'cartoon')).not.toHaveProperty('polluted');
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('leaked no secret into any job, HTTP body or log line', () => {
    // Run last, over everything gathered: every job's view, every HTTP body, the server's logs.
    const everything = [...bodies, serve.stdout(), serve.stderr()].join('\n');
    const password = new URL(database.url).password;
    const secrets = { canary, urlSecret, secretsKey, grantedSecret, databaseUrl: database.url, password };
    for (const [name, value] of Object.entries(secrets)) {
      if (value === '') continue;
      expect(everything.includes(value), `${name} appears in an output`).toBe(false);
    }
    // The canary pattern too (a partial or re-encoded copy would still carry it).
    expect(everything).not.toMatch(/canary-[0-9a-f]{8}/);
    expect(everything).not.toMatch(/LEAKED/);
  });
});

// The same plugins through an Engine in this very process, which is then the host whose
// prototypes a pollution would reach: they must stay clean.
describe('hostile plugins through an in-process Engine', () => {
  it("leave this process's prototypes and the sandbox's sharp clean", async () => {
    const registry = new PluginRegistry();
    for (const file of ['evil-pollute.js', 'acme-probe.js']) {
      await loadSandboxedModule(registry, pathToFileURL(path.join(pluginDir, file)).href);
    }
    const engine = new Engine({ registry, threads: 1, limits: { stepTimeoutMs: 10_000 } });
    try {
      const input = await read(photo('chelsea.png'));
      const run = (plugin: string, params: Record<string, unknown> = {}) =>
        engine.run(input, engine.plan({ steps: [{ plugin, params }], output: { format: 'png' } }));
      expect((await run('evil:pollute', { via: 'prototypes' })).width).toBe(451);
      // A resize to half the height, with `{ width: 7, channels: 1 }` on an own `__proto__` key:
      // sharp on the host must see only the height.
      const halved = await run('evil:pollute', { via: 'host-arguments' });
      expect([halved.width, halved.height, halved.channels]).toEqual([226, 150, 3]);
      for (const via of ['ctx-constructor', 'sharp-constructor', 'sharp-pipeline']) {
        expect(await errorCodeOf(run('evil:pollute', { via }))).toBe('PLUGIN_FAILED');
      }
      expect((await run('acme:probe')).width).toBe(451);
      const probe = {} as Record<string, unknown>;
      expect(probe['polluted']).toBeUndefined();
      expect(probe['width']).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('toJSON');
      expect(([] as unknown as Record<string, unknown>)['polluted']).toBeUndefined();
      expect((globalThis as Record<string, unknown>)['stolen']).toBeUndefined();
    } finally {
      await engine.close();
      await closeHostSandbox();
    }
  });
});
