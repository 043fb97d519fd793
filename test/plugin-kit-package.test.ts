// The published plugin kit as a plugin author gets it: @atelier/core and @atelier/plugin-kit
// packed into tarballs with pnpm, installed into a project in the system's temp directory
// (outside this workspace), type-checked there with a plain strict tsconfig, then used both ways:
// checkPlugin() from a script, and pluginSuite() in the project's own vitest, with the budget and
// goldens of its package.json (goldens written with ATELIER_UPDATE_GOLDENS=1, then compared).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { packPackage, pnpm, toolEnv } from './pack-package.ts';

const run = promisify(execFile);

const PLUGIN = `import { definePlugin, z } from '@atelier/core';

export default definePlugin({
  id: 'acme:dim',
  name: 'Dim',
  description: 'Darkens the image.',
  version: '1.0.0',
  engine: '^1',
  kind: 'style',
  params: z.object({ amount: z.number().min(0).max(1).default(0.5).describe('How much darker.') }),
  apply({ image, params, signal }) {
    const out = new Uint8Array(image.data.length);
    for (let i = 0; i < out.length; i++) {
      if ((i & 0xffff) === 0) signal.throwIfAborted();
      out[i] = image.data[i]! * (1 - params.amount);
    }
    return { ...image, data: out };
  },
});
`;

const CHECK = `import { checkPlugin, formatReport } from '@atelier/plugin-kit';
import type { CheckReport } from '@atelier/plugin-kit';

const report: CheckReport = await checkPlugin(new URL('./index.js', import.meta.url), {
  budget: { ms: 5000, memoryMb: 256 },
  fuzzRuns: 4,
});
console.log(formatReport(report));
process.exitCode = report.ok ? 0 : 1;
`;

const SUITE = `import { pluginSuite } from '@atelier/plugin-kit/vitest';

pluginSuite(new URL('../src/index.ts', import.meta.url), { fuzzRuns: 4 });
`;

let work: string;
let project: string;

async function node(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, args, {
      cwd: project,
      env: { ...toolEnv, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'atelier-kit-'));
  project = path.join(work, 'acme-dim');
  await mkdir(path.join(project, 'src'), { recursive: true });
  await mkdir(path.join(project, 'test'), { recursive: true });
  const packDir = path.join(work, 'packages');
  const core = await packPackage('core', packDir);
  const kit = await packPackage('plugin-kit', packDir);
  await writeFile(
    path.join(project, 'package.json'),
    JSON.stringify({
      name: 'acme-dim',
      private: true,
      type: 'module',
      exports: { '.': './dist/index.js' },
      dependencies: { '@atelier/core': `file:${core}` },
      devDependencies: { '@atelier/plugin-kit': `file:${kit}`, typescript: '~5.9.3', vitest: '^5.1.1' },
      atelier: { budget: { ms: 5000, memoryMb: 256 }, goldens: 'test/goldens' },
    }),
  );
  await writeFile(
    path.join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, outDir: 'dist', rootDir: 'src' },
      include: ['src'],
    }),
  );
  await writeFile(path.join(project, 'src/index.ts'), PLUGIN);
  await writeFile(path.join(project, 'src/check.ts'), CHECK);
  await writeFile(path.join(project, 'test/plugin.test.ts'), SUITE);
  await pnpm(['install', '--prefer-offline', '--no-frozen-lockfile'], project);
}, 240_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

it('type-checks and builds against the packed kit with a plain tsconfig', async () => {
  const tsc = await node(['node_modules/typescript/bin/tsc', '-p', '.']);
  expect(tsc.stdout + tsc.stderr).toBe('');
  expect(tsc.code).toBe(0);
}, 120_000);

it('checkPlugin from the packed kit runs every check through the packed engine', async () => {
  const { code, stdout } = await node(['dist/check.js']);
  expect(stdout).toMatch(/^acme:dim\s+params-valid\s+pass/m);
  expect(stdout).toMatch(
    /^acme:dim\s+budget\s+pass\s+\d+ ms\s+\d+ ms of 5000, [\d.]+ MB of 256 at 1920x1281\.$/m,
  );
  expect(stdout).toMatch(/^acme:dim\s+golden\s+skip/m);
  expect(stdout).toMatch(/^7 passed, 0 failed, 1 skipped \(engine 1\.0\.0\)$/m);
  expect(code).toBe(0);
}, 120_000);

it("pluginSuite in the project's vitest writes the goldens, then passes against them", async () => {
  const vitest = ['node_modules/vitest/vitest.mjs', 'run'];
  const update = await node(vitest, { ATELIER_UPDATE_GOLDENS: '1' });
  expect(update.code, update.stdout + update.stderr).toBe(0);
  expect(await readdir(path.join(project, 'test/goldens'))).toEqual(['acme__dim.png']);
  const check = await node(vitest);
  expect(stripVTControlCharacters(check.stdout)).toMatch(/Tests\s+8 passed \(8\)/);
  expect(check.code).toBe(0);
}, 180_000);
