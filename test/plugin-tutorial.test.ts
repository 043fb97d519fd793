// The tutorial of docs/plugins.md, done as a reader does it: with `atelier serve` running, the
// three commands the page shows, taken from the page itself, run in a shell in a temporary
// directory outside the checkout (the SDK goes there as packed tarballs, as from a registry).
// Then, as a frontend, the new style is in the running server's list and renders through the API.
import { spawn } from 'node:child_process';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import sharp from 'sharp';
import { EventSource } from 'eventsource';
import { describe, expect, inject, it } from 'vitest';
import { createAtelierClient, uploadForm } from '@atelier/client';
import { createTestDatabase } from '@atelier/db';
import { CHECKS } from '@atelier/plugin-kit';
import { cleanupsAfterAll, openTempDir } from './cleanups.ts';
import { photo, read, root } from './helpers.ts';
import { serveEnv, spawnServe } from './serve-process.ts';

const defer = cleanupsAfterAll();

/** The limit the issue sets for the whole tutorial. */
const TEN_MINUTES = 10 * 60_000;

/** The shell lines of the first `sh` block after the heading `heading` in docs/plugins.md. */
async function tutorialCommands(heading: string): Promise<string[]> {
  const guide = await readFile(path.join(root, 'docs/plugins.md'), 'utf8');
  const section = guide.slice(guide.indexOf(`\n${heading}\n`));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Runs one line in bash, its output collected; the exit code and the output. */
function sh(
  line: string,
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', line], { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** Whether `command` is on PATH. */
async function onPath(command: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  return (await sh(`command -v ${command}`, { cwd: root, env })).code === 0;
}

describe('docs/plugins.md, the tutorial', () => {
  it(
    'takes a new style from nothing to the running server in three commands',
    { timeout: 2 * TEN_MINUTES },
    async () => {
      const tmp = await openTempDir('atelier-tutorial-', defer);
      expect(path.relative(root, tmp).startsWith('..')).toBe(true); // outside the checkout
      const database = await createTestDatabase(inject('pgAdminUrl'));
      defer(() => database.drop());
      const env = serveEnv(database, tmp, {
        ATELIER_DATA_DIR: path.join(tmp, 'data'),
        ATELIER_LOG_LEVEL: 'warn',
      });
      const serve = spawnServe({ cwd: root, env, defer });
      const url = await serve.url;

      const commands = await tutorialCommands('## From nothing to a new style in three commands');
      expect(commands).toHaveLength(3);
      // The reader's shell: the server's settings (its data directory) and a home for `~`. pnpm is
      // what the README installs Atelier with; where it is not on PATH, npx runs it.
      const shell: NodeJS.ProcessEnv = { ...env, HOME: tmp };
      delete shell['PORT'];
      const pnpm = (await onPath('pnpm', shell)) ? 'pnpm' : 'npx -y pnpm@12';
      const timings: string[] = [];
      const started = Date.now();
      for (const line of commands) {
        const t = Date.now();
        const command = line.replace(/^pnpm /, `${pnpm} `).replaceAll('~/', `${tmp}/`);
        const result = await sh(command, { cwd: root, env: shell });
        timings.push(`${((Date.now() - t) / 1000).toFixed(1)} s  ${line}`);
        expect(result.code, `${line}\n${result.output}`).toBe(0);
        if (line.includes(' test')) {
          // The plugin's own tests ran the harness and passed.
          const output = stripVTControlCharacters(result.output);
          for (const check of CHECKS) expect(output).toMatch(new RegExp(`✓ .*${check}`));
          expect(output).toMatch(/Tests\s+\d+ passed/);
          expect(output).not.toMatch(/\bfailed\b|skipped/);
        }
      }
      const elapsed = Date.now() - started;
      console.info(`tutorial commands: ${(elapsed / 1000).toFixed(1)} s\n${timings.join('\n')}`);
      expect(elapsed).toBeLessThanOrEqual(TEN_MINUTES);

      // As a frontend: the running server lists the new style once its plugins folder reloads.
      const client = (token?: string) =>
        createAtelierClient({
          url,
          ...(token ? { token } : {}),
          EventSource: EventSource as unknown as typeof globalThis.EventSource,
        });
      let ids: string[] = [];
      for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
        ids = (await client().styles.list.query()).map((s) => s.id);
        if (ids.includes('acme:my-style')) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(ids).toContain('acme:my-style');

      const { token } = await client().auth.register.mutate({
        email: 'author@example.org',
        password: 'a plugin author password',
        displayName: 'Author',
      });
      const alice = client(token);
      const input = await read(photo('chelsea.png'));
      const image = await alice.images.upload.mutate(uploadForm(new Blob([input]), 'chelsea.png'));
      const created = await alice.jobs.create.mutate({
        imageId: image.id,
        style: 'acme:my-style',
        params: { ink: '#2a6f97', levels: 3 },
      });
      let job = await alice.jobs.get.query({ id: created.id });
      for (
        const deadline = Date.now() + 60_000;
        !['succeeded', 'failed', 'cancelled'].includes(job.status);
      ) {
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((resolve) => setTimeout(resolve, 200));
        job = await alice.jobs.get.query({ id: created.id });
      }
      expect(job).toMatchObject({ status: 'succeeded', style: 'acme:my-style' });

      const download = await fetch(`${url}/files/jobs/${created.id}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(download.status).toBe(200);
      const result = await sharp(Buffer.from(await download.arrayBuffer()))
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true });
      const original = await sharp(input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      expect([result.info.width, result.info.height]).toEqual([original.info.width, original.info.height]);
      let difference = 0;
      for (let i = 0; i < original.data.length; i++)
        difference += Math.abs(result.data[i]! - original.data[i]!);
      expect(difference / original.data.length).toBeGreaterThan(20);

      // `atelier styles`, with the server's settings, lists it too.
      const styles = await sh(`node packages/server/src/cli.ts styles --json`, { cwd: root, env: shell });
      expect(styles.code, styles.output).toBe(0);
      expect(styles.output).toContain('"id": "acme:my-style"');
      // So does `atelier styles` pointed at the package directory itself, nothing installed.
      const pointed = await sh(`node packages/server/src/cli.ts styles --json`, {
        cwd: root,
        env: { ...shell, ATELIER_DATA_DIR: path.join(tmp, 'other-data'), ATELIER_PLUGIN_DIR: tmp },
      });
      expect(pointed.code, pointed.output).toBe(0);
      expect(pointed.output).toContain('"id": "acme:my-style"');

      // `atelier plugin check` (which the page shows next) passes on it from the checkout, where the
      // engine is the checkout's and the plugin brings its own copy of the SDK.
      const check = await sh(`node packages/server/src/cli.ts plugin check ${tmp}/my-style`, {
        cwd: root,
        env: shell,
      });
      expect(check.code, check.output).toBe(0);
      expect(check.output).toMatch(/8 passed, 0 failed, 0 skipped/);

      // The package's scripts run on the Node 24 it installed, whatever Node the machine has.
      const node = await sh(`${path.join(tmp, 'my-style/node_modules/.bin/node')} -v`, {
        cwd: tmp,
        env: shell,
      });
      expect(node.output.trim()).toMatch(/^v24\./);

      // A second `plugin new` reuses the packed SDK (its sources did not change) and refuses a
      // directory that has files, before any work.
      const packages = path.join(tmp, 'data/packages');
      const packed = await tarballTimes(packages);
      expect(Object.keys(packed)).toHaveLength(3);
      const second = await sh(
        `node packages/server/src/cli.ts plugin new ${tmp}/second --id acme:second --no-install`,
        { cwd: root, env: shell },
      );
      expect(second.code, second.output).toBe(0);
      expect(second.output).not.toMatch(/packing/);
      expect(await tarballTimes(packages)).toEqual(packed);
      expect(await readFile(path.join(tmp, 'second/src/index.ts'), 'utf8')).toContain("id: 'acme:second'");
      // The packed scaffolder runs on Node 20 (what `npm create` runs it with on many machines).
      const node20 = await nodeOfLine(20, tmp);
      await sh(
        `mkdir -p ${tmp}/scaffolder && tar xzf ${packages}/create-atelier-plugin-*.tgz -C ${tmp}/scaffolder`,
        {
          cwd: tmp,
          env: shell,
        },
      );
      const onNode20 = await sh(
        `${node20} ${tmp}/scaffolder/package/dist/cli.js ${tmp}/node20 --id acme:node-twenty --no-install`,
        { cwd: tmp, env: shell },
      );
      expect(onNode20.code, onNode20.output).toBe(0);
      expect(await readFile(path.join(tmp, 'node20/src/index.ts'), 'utf8')).toContain(
        "id: 'acme:node-twenty'",
      );

      const again = await sh(`node packages/server/src/cli.ts plugin new ${tmp}/my-style`, {
        cwd: root,
        env: shell,
      });
      expect(again.code).toBe(1);
      expect(again.output.trim().split('\n').at(-1)).toMatch(
        /^atelier: TARGET_NOT_EMPTY: .*my-style exists and is not empty; choose a new directory$/,
      );
    },
  );
});

/** The modification times of the tarballs in `dir`, by name. */
async function tarballTimes(dir: string): Promise<Record<string, number>> {
  const times: Record<string, number> = {};
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.tgz')))
    times[name] = (await stat(path.join(dir, name))).mtimeMs;
  return times;
}

/** A Node binary of the `major` line: the machine's /usr/bin/node when it is one, else npm's `node@<major>` installed in `dir`. */
async function nodeOfLine(major: number, dir: string): Promise<string> {
  const system = await sh('/usr/bin/node -v', { cwd: dir, env: process.env });
  if (system.output.startsWith(`v${major}.`)) return '/usr/bin/node';
  const install = await sh(
    `npm install --no-save --no-audit --no-fund --prefix ${dir}/node${major} node@${major}`,
    {
      cwd: dir,
      env: process.env,
    },
  );
  expect(install.code, install.output).toBe(0);
  return path.join(dir, `node${major}/node_modules/.bin/node`);
}
