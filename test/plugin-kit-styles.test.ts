// Every built-in style passes every check of the plugin kit, through the vitest suite a plugin
// author uses, with the budgets and goldens of packages/plugins/package.json ("atelier" field).
// After a deliberate change of look: ATELIER_UPDATE_GOLDENS=1 npx vitest run test/plugin-kit-styles.test.ts
import path from 'node:path';
import { pluginSuite } from '@atelier/plugin-kit/vitest';
import { builtinPlugins } from '@atelier/plugins';
import { root } from './helpers.ts';

pluginSuite(path.join(root, 'packages/plugins/src/index.ts'), {
  packageDir: path.join(root, 'packages/plugins'),
  plugins: builtinPlugins.filter((p) => p.kind === 'style').map((p) => p.id),
  fuzzRuns: 8,
});
