// What `atelier plugin new` checks before any packing, and the tarball names it expects from pnpm.
// The whole command (packing, the packed scaffolder, the install) runs in test/plugin-tutorial.test.ts.
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isAtelierError } from '@atelier/core';
import { pluginNew, tarballName } from './cli-plugin-new.ts';

const temps: string[] = [];
afterEach(async () => {
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true });
});

const sink = { write: () => true };
const codeOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (e: unknown) => (isAtelierError(e) ? e.code : `not coded: ${String(e)}`),
  );

describe('atelier plugin new', () => {
  it('names tarballs as pnpm pack does', () => {
    expect(tarballName('@atelier/core', '1.0.0')).toBe('atelier-core-1.0.0.tgz');
    expect(tarballName('@atelier/plugin-kit', '1.2.3')).toBe('atelier-plugin-kit-1.2.3.tgz');
    expect(tarballName('create-atelier-plugin', '1.0.0')).toBe('create-atelier-plugin-1.0.0.tgz');
  });

  it('refuses a directory with files, or a bad id, before packing anything', async () => {
    const tmp = await mkdtemp(path.join(os.tmpdir(), 'atelier-plugin-new-'));
    temps.push(tmp);
    const dataDir = path.join(tmp, 'data');
    await writeFile(path.join(tmp, 'notes.txt'), 'mine');
    expect(await codeOf(pluginNew({ dir: tmp, dataDir, stdout: sink, stderr: sink }))).toBe(
      'TARGET_NOT_EMPTY',
    );
    expect(
      await codeOf(
        pluginNew({ dir: path.join(tmp, 'new'), id: 'Acme:Style', dataDir, stdout: sink, stderr: sink }),
      ),
    ).toBe('USAGE_INVALID');
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(path.join(tmp, 'new'))).toBe(false);
  });
});
