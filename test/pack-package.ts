// Packs a workspace package into a tarball as a user would (`pnpm pack`, which runs the package's
// prepack build and applies its publishConfig). Test files run in parallel and several pack the
// same packages: a prepack empties and rebuilds `dist/` in the package's own directory, so two
// packs of one package at once could ship a half-built `dist/`. A lock directory (mkdir is atomic)
// makes the packs of all test processes run one at a time.
import { execFile } from 'node:child_process';
import { mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { root } from './helpers.ts';

const run = promisify(execFile);
const LOCK = path.join(tmpdir(), 'atelier-pack.lock');
/** A lock older than this was left by a test process that died. */
const STALE_MS = 120_000;

/** The environment for child tools: no npm_* settings inherited from a pnpm that started vitest. */
export const toolEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)),
);

/** Runs pnpm 12 (`npx -y pnpm@12`) in `cwd`. */
export function pnpm(args: readonly string[], cwd: string): Promise<{ stdout: string; stderr: string }> {
  return run('npx', ['-y', 'pnpm@12', ...args], { cwd, env: toolEnv, maxBuffer: 16 * 1024 * 1024 });
}

async function lock(): Promise<void> {
  for (;;) {
    try {
      await mkdir(LOCK);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const age = await stat(LOCK).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > STALE_MS) await rm(LOCK, { recursive: true, force: true });
      else await sleep(200);
    }
  }
}

/**
 * Packs `packages/<dir>` into `destination` and returns the tarball's path.
 *
 * @example
 * const tarball = await packPackage('core', path.join(work, 'packages')); // .../atelier-core-1.0.0.tgz
 */
export async function packPackage(dir: string, destination: string): Promise<string> {
  await mkdir(destination, { recursive: true });
  await lock();
  try {
    const { stdout } = await pnpm(
      ['pack', '--pack-destination', destination],
      path.join(root, 'packages', dir),
    );
    const tarball = stdout
      .trim()
      .split('\n')
      .map((l) => l.trim())
      .findLast((l) => l.endsWith('.tgz'));
    if (!tarball) throw new Error(`pnpm pack printed no tarball:\n${stdout}`);
    return path.resolve(destination, tarball);
  } finally {
    await rm(LOCK, { recursive: true, force: true });
  }
}
