// docs/styles.md lists every built-in plugin's parameters; this fails when the page and the
// schemas disagree (run `node docs/styles-doc.ts` to regenerate).
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DOC, withParameters } from '../docs/styles-doc.ts';

describe('docs/styles.md', () => {
  it('shows the parameters the plugins really have', async () => {
    const page = await readFile(DOC, 'utf8');
    expect(page).toBe(withParameters(page));
  });
});
