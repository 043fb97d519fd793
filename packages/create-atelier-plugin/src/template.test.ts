// The template's plugin as a new package gets it: valid for this engine, and its render matches
// the golden image the template ships (so a scaffolded package passes its own tests out of the box).
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkPlugin, goldenFileName as kitGoldenFileName } from '@atelier/plugin-kit';
import { goldenFileName } from './index.ts';
import { withScaffoldedTemplate } from './render-golden.ts';

describe('the template plugin', () => {
  it("passes the harness's manifest and golden checks with the golden it ships", async () => {
    const results = await withScaffoldedTemplate(async (dir) => {
      const report = await checkPlugin(path.join(dir, 'src/index.ts'), {
        only: ['manifest', 'golden'],
        goldens: { dir: path.join(dir, 'test/goldens') },
      });
      return report.results.map((r) => ({ check: r.check, status: r.status, message: r.message }));
    });
    expect(results).toEqual([
      { check: 'manifest', status: 'pass', message: expect.any(String) },
      { check: 'golden', status: 'pass', message: expect.any(String) },
    ]);
  });

  it('names the golden as the harness looks for it', () => {
    for (const id of ['acme:my-style', 'local:x', 'plain'])
      expect(goldenFileName(id)).toBe(kitGoldenFileName(id));
  });
});
