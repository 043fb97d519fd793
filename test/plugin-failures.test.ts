// A plugin directory with one good and one bad plugin, as an operator meets it: `atelier styles`
// and `atelier serve` skip the bad one and show its code; ATELIER_STRICT_PLUGINS=1 makes it fatal.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestDatabase } from '@atelier/db';
import type { TestDatabase } from '@atelier/db';
import { cleanupsAfterAll } from './cleanups.ts';
import { root } from './helpers.ts';
import { atelier } from './plugin-packages.ts';
import { registerOver, serveEnv, spawnServe } from './serve-process.ts';

const defer = cleanupsAfterAll();
// Inside the repository, so the plugins resolve zod from its node_modules like installed ones.
const dir = path.join(root, 'test/.tmp', `failures-${process.pid}`);
let database: TestDatabase;

const plugin = (id: string, engine: string) => `import { z } from 'zod';
export const plugin = {
  id: '${id}', name: 'Same', description: 'Returns the image.', version: '1.0.0', engine: '${engine}',
  kind: 'style', params: z.object({}), apply: ({ image }) => image,
};
`;

beforeAll(async () => {
  await mkdir(path.join(dir, 'plugins'), { recursive: true });
  defer(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'plugins/good.js'), plugin('acme:same', '^1'));
  await writeFile(path.join(dir, 'plugins/future.js'), plugin('acme:future', '^2'));
  database = await createTestDatabase(inject('pgAdminUrl'));
  defer(() => database.drop());
});

describe('a plugin with a bad manifest', () => {
  it('is listed under "Not loaded" by atelier styles, with its code; the good one loads', async () => {
    const { code, stdout } = await atelier(dir, {}, 'styles');
    expect(code).toBe(0);
    const [styles, notLoaded] = stdout.split(/\nNot loaded.*\n/);
    expect(styles).toContain('acme:same');
    expect(styles).toContain('cartoon');
    expect(styles).not.toContain('acme:future');
    expect(notLoaded).toMatch(
      /acme:future\s+PLUGIN_ENGINE_MISMATCH: Plugin "acme:future" supports engine \^2, but this engine is 1\.0\.0\./,
    );
  });

  it('keeps the --json array as it was and reports the failure on stderr', async () => {
    const { code, stdout, stderr } = await atelier(dir, {}, 'styles', '--json');
    expect(code).toBe(0);
    const list = JSON.parse(stdout) as { id: string }[];
    expect(Array.isArray(list)).toBe(true);
    expect(list.map((p) => p.id)).toContain('acme:same');
    expect(list.map((p) => p.id)).not.toContain('acme:future');
    expect(stderr).toMatch(/^atelier: warning: PLUGIN_ENGINE_MISMATCH: acme:future: /m);
  });

  it('stops atelier styles with its coded error under ATELIER_STRICT_PLUGINS=1', async () => {
    const { code, stdout, stderr } = await atelier(dir, { ATELIER_STRICT_PLUGINS: '1' }, 'styles');
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim()).toMatch(
      /^atelier: PLUGIN_ENGINE_MISMATCH: Plugin "acme:future" supports engine \^2/,
    );
  });

  it(
    'does not stop atelier serve: it logs the code and the admin API reports it',
    { timeout: 60_000 },
    async () => {
      const serve = spawnServe({
        cwd: dir,
        env: serveEnv(database, dir, { ATELIER_LOG_LEVEL: 'warn' }),
        args: ['--no-worker'],
        defer,
      });
      const url = await serve.url;
      expect(serve.stderr()).toContain('PLUGIN_ENGINE_MISMATCH');
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
      const headers = { authorization: `Bearer ${result.data.token}` };
      const failures = await fetch(`${url}/api/admin/plugin-failures`, { headers });
      expect(failures.status).toBe(200);
      expect(await failures.json()).toEqual([
        {
          source: `file://${path.join(dir, 'plugins/future.js')}`,
          plugin: 'acme:future',
          code: 'PLUGIN_ENGINE_MISMATCH',
          message: 'Plugin "acme:future" supports engine ^2, but this engine is 1.0.0.',
        },
      ]);
      const plugins = (await (await fetch(`${url}/api/admin/plugins`, { headers })).json()) as {
        id: string;
      }[];
      expect(plugins.map((p) => p.id)).toContain('acme:same');
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
    },
  );

  it(
    'stops atelier serve with the coded error under ATELIER_STRICT_PLUGINS=1',
    { timeout: 60_000 },
    async () => {
      const serve = spawnServe({
        cwd: dir,
        env: serveEnv(database, dir, { ATELIER_LOG_LEVEL: 'warn', ATELIER_STRICT_PLUGINS: '1' }),
        args: ['--no-worker'],
        defer,
      });
      expect(await serve.exitedWithin(45_000)).toBe(1);
      expect(serve.stderr().trim().split('\n').at(-1)).toMatch(
        /^atelier: PLUGIN_ENGINE_MISMATCH: Plugin "acme:future" supports engine \^2/,
      );
    },
  );
});
