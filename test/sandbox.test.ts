// Third-party plugins in the sandbox, end to end: the scaffold template's plugin (what every new
// plugin starts from) gives the same image sandboxed as in a worker thread, under the real Engine;
// and `atelier serve` with a plugin in ATELIER_PLUGIN_DIR runs a job over HTTP through its
// sandbox, and leaves no sandbox process behind after SIGTERM.
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import sharp from 'sharp';
import { ssim } from 'ssim.js';
import { EventSource } from 'eventsource';
import { describe, expect, inject, it } from 'vitest';
import { createAtelierClient, uploadForm } from '@atelier/client';
import { Engine, PluginRegistry, loadPluginModule } from '@atelier/core';
import { createTestDatabase } from '@atelier/db';
import { closeHostSandbox, loadSandboxedModule } from '@atelier/sandbox';
import { cleanupsAfterAll } from './cleanups.ts';
import { photo, read, root } from './helpers.ts';
import { serveEnv, spawnServe } from './serve-process.ts';

const defer = cleanupsAfterAll();

/** The template's plugin as `create-atelier-plugin` writes it, in a directory inside the checkout. */
async function scaffoldPlugin(id: string): Promise<string> {
  const dir = path.join(root, 'test', '.tmp', `sandbox-${process.pid}-${Date.now()}`);
  await mkdir(dir, { recursive: true });
  defer(() => rm(dir, { recursive: true, force: true }));
  const template = await readFile(
    path.join(root, 'packages/create-atelier-plugin/template/src/index.ts'),
    'utf8',
  );
  const file = path.join(dir, 'poster.ts');
  await writeFile(file, template.replaceAll('{{PLUGIN_ID}}', id).replaceAll('{{PLUGIN_NAME}}', 'Poster'));
  return file;
}

/** Pids of the running sandbox processes (their command line names sandbox-child). */
async function sandboxPids(): Promise<Map<number, number>> {
  const found = new Map<number, number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes('sandbox-child')) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    found.set(Number(entry), ppid);
  }
  return found;
}

describe('the scaffold template plugin in the sandbox', () => {
  it('gives the same image as in a worker thread', async () => {
    const file = await scaffoldPlugin('acme:poster');
    const inThread = new PluginRegistry();
    await loadPluginModule(inThread, pathToFileURL(file).href);
    const sandboxed = new PluginRegistry();
    await loadSandboxedModule(sandboxed, pathToFileURL(file).href);
    expect(sandboxed.source('acme:poster').sandboxed).toBe(true);
    // The same schema as the real one, for forms and OpenAPI.
    expect(sandboxed.describe('acme:poster')).toEqual({ ...inThread.describe('acme:poster') });
    const engines = [
      new Engine({ registry: inThread, threads: 1 }),
      new Engine({ registry: sandboxed, threads: 1 }),
    ];
    try {
      const input = await read(photo('coffee.png'));
      const request = {
        steps: [{ plugin: 'acme:poster', params: { ink: '#2a6f97', levels: 5 } }],
        output: { format: 'png' as const },
      };
      const [a, b] = await Promise.all(engines.map((engine) => engine.run(input, engine.plan(request))));
      const [ra, rb] = await Promise.all(
        [a!, b!].map((r) => sharp(r.data).ensureAlpha().raw().toBuffer({ resolveWithObject: true })),
      );
      expect([rb!.info.width, rb!.info.height]).toEqual([ra!.info.width, ra!.info.height]);
      const score = ssim(
        { data: new Uint8ClampedArray(ra!.data), width: ra!.info.width, height: ra!.info.height },
        { data: new Uint8ClampedArray(rb!.data), width: rb!.info.width, height: rb!.info.height },
      ).mssim;
      expect(score).toBeGreaterThanOrEqual(0.99);
      // In fact the very same bytes: the same libvips and the same JavaScript.
      expect(ra!.data.equals(rb!.data)).toBe(true);
    } finally {
      await Promise.all(engines.map((e) => e.close()));
      await closeHostSandbox();
    }
  });
});

describe('atelier serve with a plugin in ATELIER_PLUGIN_DIR', () => {
  it('runs a job over HTTP through the sandbox and leaves no sandbox process after SIGTERM', async () => {
    const file = await scaffoldPlugin('acme:served');
    const database = await createTestDatabase(inject('pgAdminUrl'));
    defer(() => database.drop());
    const dir = path.dirname(file);
    const env = serveEnv(database, dir, {
      ATELIER_PLUGIN_DIR: dir,
      ATELIER_DATA_DIR: path.join(dir, 'data'),
      ATELIER_LOG_LEVEL: 'warn',
      ATELIER_THREADS: '1',
      // A secret of the server's that the plugin must never see (its sandbox has no environment).
      ATELIER_TEST_SECRET: 'server-secret-value-42',
    });
    const serve = spawnServe({ cwd: root, env, defer });
    const url = await serve.url;

    const styles = (await (await fetch(`${url}/api/styles`)).json()) as { id: string }[];
    expect(styles.map((s) => s.id)).toContain('acme:served');
    const client = (token?: string) =>
      createAtelierClient({
        url,
        ...(token ? { token } : {}),
        EventSource: EventSource as unknown as typeof globalThis.EventSource,
      });
    const { token } = await client().auth.register.mutate({
      email: 'sandbox@example.org',
      password: 'a sandbox test password',
      displayName: 'Sandbox',
    });
    const user = client(token);
    const auth = { authorization: `Bearer ${token}` };
    const image = await user.images.upload.mutate(
      uploadForm(new Blob([await read(photo('chelsea.png'))]), 'chelsea.png'),
    );
    const created = await user.jobs.create.mutate({
      imageId: image.id,
      style: 'acme:served',
      params: { levels: 3 },
    });
    const jobId = created.id;
    let job = await user.jobs.get.query({ id: jobId });
    for (const deadline = Date.now() + 60_000; !['succeeded', 'failed', 'cancelled'].includes(job.status);) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = await user.jobs.get.query({ id: jobId });
    }
    expect(job).toMatchObject({ status: 'succeeded', style: 'acme:served' });
    const download = await fetch(`${url}/files/jobs/${jobId}`, { headers: auth });
    expect(download.status).toBe(200);
    expect((await sharp(Buffer.from(await download.arrayBuffer())).metadata()).width).toBe(451);

    // The server's process tree holds sandbox processes (the API's and the engine thread's), each
    // with nothing of the server's environment.
    const pid = serve.child.pid!;
    const running = [...(await sandboxPids())].filter(([, ppid]) => ppid === pid).map(([p]) => p);
    expect(running.length).toBeGreaterThanOrEqual(2);
    for (const p of running) {
      const environ = await readFile(`/proc/${p}/environ`, 'utf8');
      expect(environ).not.toContain('server-secret-value-42');
      expect(environ).not.toContain('DATABASE_URL');
    }

    serve.child.kill('SIGTERM');
    expect(await serve.exitedWithin(30_000)).toBe(0);
    // No sandbox process outlives the server (orphans would be re-parented, not gone).
    for (const deadline = Date.now() + 5_000; ;) {
      const now = await sandboxPidsNow();
      const left = running.filter((p) => now.includes(p));
      if (left.length === 0) break;
      expect(Date.now(), `sandbox processes left: ${left.join(', ')}`).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
});

async function sandboxPidsNow(): Promise<number[]> {
  return [...(await sandboxPids()).keys()];
}
