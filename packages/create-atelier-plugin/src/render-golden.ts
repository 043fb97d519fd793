// Renders the template's golden image (template/test/goldens/golden.png) with the harness, as
// `ATELIER_UPDATE_GOLDENS=1 npm test` does in a new package: run it after changing the template's
// look, look at the image, commit it. src/template.test.ts proves the committed one matches.
//
//   node packages/create-atelier-plugin/src/render-golden.ts
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPlugin } from '@atelier/plugin-kit';
import { TEMPLATE_DIR, goldenFileName, scaffold } from './scaffold.ts';

/** Scratch space inside the checkout, so the scaffolded module resolves `@atelier/core` here. */
const SCRATCH = fileURLToPath(new URL('../../../tmp/', import.meta.url));
const ID = 'template:golden';

/**
 * Scaffolds the template (no install) in the checkout's tmp/ and returns its directory; `use`
 * runs with it, then it is removed.
 */
export async function withScaffoldedTemplate<T>(use: (dir: string, id: string) => Promise<T>): Promise<T> {
  await mkdir(SCRATCH, { recursive: true });
  const parent = await mkdtemp(path.join(SCRATCH, 'template-'));
  try {
    const dir = path.join(parent, 'style');
    await scaffold({ dir, id: ID, install: false });
    return await use(dir, ID);
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  await withScaffoldedTemplate(async (dir, id) => {
    const goldens = path.join(dir, 'test/goldens');
    const report = await checkPlugin(path.join(dir, 'src/index.ts'), {
      only: ['manifest', 'golden'],
      goldens: { dir: goldens, update: true },
    });
    if (!report.ok) throw new Error(JSON.stringify(report.results, null, 2));
    const target = path.join(TEMPLATE_DIR, 'test/goldens/golden.png');
    await copyFile(path.join(goldens, goldenFileName(id)), target);
    process.stdout.write(`wrote ${target}\n`);
  });
}
