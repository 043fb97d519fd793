// Cleanups for the test files that make things by hand (servers, processes, directories): each is
// registered as it is made and undone after the file's tests, the last made first.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

/** Registers a cleanup to run after the file's tests. */
export type Defer = (cleanup: () => Promise<unknown>) => void;

/**
 * Cleanups run after the file's tests, the last registered first; one that fails does not stop
 * the others. Call it once, at the top of a test file.
 */
export function cleanupsAfterAll(): Defer {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });
  return (cleanup) => void cleanups.push(cleanup);
}

/** A temporary directory the postgres user can enter (mkdtemp makes it 0700), removed afterwards. */
export async function openTempDir(prefix: string, defer: Defer): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  defer(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
