import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PLUGIN_ID_PATTERN as CORE_PLUGIN_ID_PATTERN } from '@atelier/core';
import {
  DEPENDENCY_RANGES,
  PLUGIN_ID_PATTERN,
  ScaffoldError,
  humanName,
  main,
  packageManagerFromUserAgent,
  packageNameFor,
  scaffold,
} from './index.ts';

const temps: string[] = [];
afterEach(async () => {
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'create-atelier-plugin-'));
  temps.push(dir);
  return dir;
}

const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof ScaffoldError ? e.code : `not a ScaffoldError: ${String(e)}`),
  );

function collector(): { write(text: string): void; text(): string } {
  let text = '';
  return { write: (t) => void (text += t), text: () => text };
}

describe('scaffold', () => {
  it('writes the whole package with the id, name and package name filled in', async () => {
    const dir = path.join(await tempDir(), 'my-style');
    const result = await scaffold({ dir, id: 'acme:my-style', install: false });
    expect(result).toMatchObject({
      dir,
      id: 'acme:my-style',
      name: 'My style',
      packageName: 'atelier-plugin-acme-my-style',
      installedWith: undefined,
    });
    expect(result.files).toEqual(
      expect.arrayContaining([
        '.gitignore',
        'README.md',
        'eslint.config.js',
        'package.json',
        'src/index.ts',
        'test/plugin.test.ts',
        'tsconfig.build.json',
        'tsconfig.json',
      ]),
    );
    expect(result.files).toContain('test/goldens/acme__my-style.png');
    const written = (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
      .sort();
    expect(written).toEqual(result.files);

    const source = await readFile(path.join(dir, 'src/index.ts'), 'utf8');
    expect(source).toContain("id: 'acme:my-style'");
    expect(source).toContain("name: 'My style'");
    for (const file of result.files.filter((f) => !f.endsWith('.png'))) {
      expect(await readFile(path.join(dir, file), 'utf8'), file).not.toMatch(/\{\{[A-Z_]+\}\}/);
    }
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg).toMatchObject({
      name: 'atelier-plugin-acme-my-style',
      type: 'module',
      exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' } },
      scripts: {
        test: 'vitest run --reporter=verbose',
        lint: 'eslint .',
        prepare: 'tsc -p tsconfig.build.json',
      },
      peerDependencies: { '@atelier/core': '^1.0.0' },
      devDependencies: DEPENDENCY_RANGES,
      allowScripts: { node: true },
      atelier: { budget: { ms: expect.any(Number), memoryMb: expect.any(Number) }, goldens: 'test/goldens' },
    });
    expect(pkg).not.toHaveProperty('overrides');
  });

  it('escapes a name with quotes for the code and keeps it as is in the README', async () => {
    const dir = path.join(await tempDir(), 'quoted');
    await scaffold({ dir, id: 'acme:quoted', name: "Maria's \\ poster", install: false });
    expect(await readFile(path.join(dir, 'src/index.ts'), 'utf8')).toContain("name: 'Maria\\'s \\\\ poster'");
    expect(await readFile(path.join(dir, 'README.md'), 'utf8')).toMatch(/^# Maria's \\ poster$/m);
  });

  it('takes local:<dir name> as the default id', async () => {
    const dir = path.join(await tempDir(), 'Neon_Glow');
    const result = await scaffold({ dir, install: false });
    expect(result.id).toBe('local:neon-glow');
    expect(result.name).toBe('Neon glow');
  });

  it('fills an existing empty directory', async () => {
    const dir = await tempDir();
    await scaffold({ dir, id: 'acme:here', install: false });
    expect(existsSync(path.join(dir, 'package.json'))).toBe(true);
  });

  it('refuses a directory that has files, and writes nothing', async () => {
    const parent = await tempDir();
    const dir = path.join(parent, 'taken');
    await mkdir(dir);
    await writeFile(path.join(dir, 'notes.txt'), 'mine');
    expect(await codeOf(scaffold({ dir, id: 'acme:taken', install: false }))).toBe('TARGET_NOT_EMPTY');
    expect(await readdir(dir)).toEqual(['notes.txt']);
    expect(await readdir(parent)).toEqual(['taken']); // no staging directory left behind
  });

  it('refuses an id that is not a plugin id, and writes nothing', async () => {
    const parent = await tempDir();
    for (const id of ['Acme:Style', 'acme:', 'acme:my_style', 'a:b:c', '1st:style']) {
      expect(await codeOf(scaffold({ dir: path.join(parent, 'x'), id, install: false })), id).toBe(
        'USAGE_INVALID',
      );
    }
    expect(await readdir(parent)).toEqual([]);
  });

  it('points the SDK at tarballs with --packages, and makes the harness share that copy', async () => {
    const parent = await tempDir();
    const packages = path.join(parent, 'packages');
    await mkdir(packages);
    for (const name of ['atelier-core-1.0.0.tgz', 'atelier-core-1.2.0.tgz', 'atelier-plugin-kit-1.0.0.tgz'])
      await writeFile(path.join(packages, name), '');
    const dir = path.join(parent, 'style');
    await scaffold({ dir, id: 'acme:style', packages, install: false });
    const pkg = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as {
      devDependencies: Record<string, string>;
      overrides: Record<string, string>;
    };
    expect(pkg.devDependencies['@atelier/core']).toBe(
      `file:${path.join(packages, 'atelier-core-1.2.0.tgz')}`,
    );
    expect(pkg.devDependencies['@atelier/plugin-kit']).toBe(
      `file:${path.join(packages, 'atelier-plugin-kit-1.0.0.tgz')}`,
    );
    expect(pkg.overrides).toEqual({ '@atelier/core': '$@atelier/core' });
  });

  it('refuses --packages without the tarballs, and writes nothing', async () => {
    const parent = await tempDir();
    const packages = path.join(parent, 'packages');
    await mkdir(packages);
    await writeFile(path.join(packages, 'atelier-core-1.0.0.tgz'), '');
    const dir = path.join(parent, 'style');
    expect(await codeOf(scaffold({ dir, packages, install: false }))).toBe('PACKAGES_NOT_FOUND');
    expect(await codeOf(scaffold({ dir, packages: path.join(parent, 'nowhere'), install: false }))).toBe(
      'PACKAGES_NOT_FOUND',
    );
    expect(await readdir(parent)).toEqual(['packages']);
  });

  it('reports a failed install with INSTALL_FAILED and keeps the files', async () => {
    const dir = path.join(await tempDir(), 'style');
    // An SDK tarball that is not a tarball: npm cannot install it.
    const packages = path.dirname(dir);
    await writeFile(path.join(packages, 'atelier-core-1.0.0.tgz'), 'not a tarball');
    await writeFile(path.join(packages, 'atelier-plugin-kit-1.0.0.tgz'), 'not a tarball');
    // Offline, so npm gives up at once instead of fetching the other dependencies first.
    process.env['npm_config_offline'] = 'true';
    try {
      const failure = scaffold({ dir, id: 'acme:style', packages, packageManager: 'npm', stdio: 'pipe' });
      expect(await codeOf(failure)).toBe('INSTALL_FAILED');
    } finally {
      delete process.env['npm_config_offline'];
    }
    expect(existsSync(path.join(dir, 'src/index.ts'))).toBe(true);
  });
});

describe('helpers', () => {
  it('keeps the plugin id rule equal to the SDK', () => {
    expect(PLUGIN_ID_PATTERN.source).toBe(CORE_PLUGIN_ID_PATTERN.source);
  });

  it('asks for the versions Atelier itself is built with', async () => {
    const root = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      devDependencies: Record<string, string>;
    };
    const core = JSON.parse(await readFile(new URL('../../core/package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    for (const [name, range] of Object.entries(DEPENDENCY_RANGES)) {
      if (name.startsWith('@atelier/')) expect(range, name).toBe(`^${core.version}`);
      else expect(range, name).toBe(root.devDependencies[name]);
    }
  });

  it('reads the package manager from npm_config_user_agent', () => {
    expect(packageManagerFromUserAgent('pnpm/12.21.0 npm/? node/v24.21.0 linux x64')).toBe('pnpm');
    expect(packageManagerFromUserAgent('npm/11.19.1 node/v20.20.2 linux x64 workspaces/false')).toBe('npm');
    expect(packageManagerFromUserAgent('yarn/4.9.0 npm/? node/v24.0.0')).toBe('yarn');
    expect(packageManagerFromUserAgent(undefined)).toBe('npm');
    expect(packageManagerFromUserAgent('deno/2.0')).toBe('npm');
  });

  it('names things from the id', () => {
    expect(humanName('acme:neon-glow')).toBe('Neon glow');
    expect(packageNameFor('acme:neon-glow')).toBe('atelier-plugin-acme-neon-glow');
    expect(packageNameFor('neon-glow')).toBe('atelier-plugin-neon-glow');
  });
});

describe('the command line', () => {
  it('prints its usage with --help', async () => {
    const out = collector();
    expect(await main(['--help'], out, collector())).toBe(0);
    expect(out.text()).toMatch(/^Usage: create-atelier-plugin <dir>/);
  });

  it('exits 2 with a coded line on a usage mistake', async () => {
    for (const args of [[], ['a', 'b'], ['a', '--colour', 'red'], ['a', '--id', 'Bad Id', '--no-install']]) {
      const err = collector();
      expect(await main(args, collector(), err), args.join(' ')).toBe(2);
      expect(err.text()).toMatch(/^create-atelier-plugin: USAGE_INVALID: /);
    }
  });

  it('writes the package and says what to do next', async () => {
    const dir = path.join(await tempDir(), 'cli-style');
    const out = collector();
    expect(
      await main([dir, '--id', 'acme:cli-style', '--name', 'CLI style', '--no-install'], out, collector()),
    ).toBe(0);
    expect(out.text()).toContain(`Created acme:cli-style ("CLI style") in ${dir}.`);
    expect(out.text()).toContain('npm install');
    expect(out.text()).toContain(`atelier plugins add ${dir}`);
  });

  it('exits 1 with TARGET_NOT_EMPTY on a directory with files', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'x'), '');
    const err = collector();
    expect(await main([dir, '--no-install'], collector(), err)).toBe(1);
    expect(err.text()).toMatch(/^create-atelier-plugin: TARGET_NOT_EMPTY: .* exists and is not empty/);
  });
});
