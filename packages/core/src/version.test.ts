import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ENGINE_VERSION } from './version.ts';

describe('ENGINE_VERSION', () => {
  it("is the published package's version, the one plugin manifests' engine ranges are checked against", async () => {
    const manifest = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(ENGINE_VERSION).toBe(manifest.version);
    expect(ENGINE_VERSION).toBe('1.0.0');
  });
});
