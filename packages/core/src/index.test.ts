import { readFile } from 'node:fs/promises';
import { z as zod } from 'zod';
import { describe, expect, it } from 'vitest';
import * as sdk from './index.ts';

describe('the SDK front door', () => {
  it("re-exports the engine's own zod, so a plugin's schemas are the engine's", () => {
    expect(sdk.z).toBe(zod);
  });

  it('has every runtime export documented in docs/sdk.md', async () => {
    const doc = await readFile(new URL('../../../docs/sdk.md', import.meta.url), 'utf8');
    const missing = Object.keys(sdk).filter((name) => !new RegExp(`\\b${name}\\b`).test(doc));
    expect(missing).toEqual([]);
  });
});
