// Packs a workspace package into a tarball as a user would (`pnpm pack`, which runs the package's
// prepack build and applies its publishConfig). Test files run in parallel and several pack the
// same packages: a prepack empties and rebuilds `dist/` in the package's own directory, so two
// packs of one package at once could ship a half-built `dist/`. The lock `atelier plugin new`
// takes (a directory: mkdir is atomic) makes all packs, of every test process, run one at a time.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { withPackLock } from '../packages/server/src/cli-plugin-new.ts';
import { root } from './helpers.ts';

const run = promisify(execFile);
/** The environment for child tools: no npm_* settings inherited from a pnpm that started vitest. */
export const toolEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)),
);

/** Runs pnpm 12 (`npx -y pnpm@12`) in `cwd`. */
export function pnpm(args: readonly string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return run('npx', ['-y', 'pnpm@12', ...args], { cwd, env: toolEnv, maxBuffer: 16 * 1024 * 1024 });
}

/**
 * Packs `packages/<dir>` (or the package directory `dir`, when absolute) into `destination` and
 * returns the tarball's path, holding the pack lock of `atelier plugin new`.
 *
 * @example
 * const tarball = await packPackage('core', path.join(work, 'packages')); // .../atelier-core-1.0.0.tgz
 */
export async function packPackage(dir: string, destination: string): Promise<string> {
  await mkdir(destination, { recursive: true });
  return withPackLock(async () => {
    const { stdout } = await pnpm(
      ['pack', '--pack-destination', destination],
      path.isAbsolute(dir) ? dir : path.join(root, 'packages', dir),
    );
    const tarball = stdout
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .findLast((l) => l.endsWith('.tgz'));
    if (!tarball) throw new Error(`pnpm pack printed no tarball:\n${stdout}`);
    return path.resolve(destination, tarball);
  });
}
