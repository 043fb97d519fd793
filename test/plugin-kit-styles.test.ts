// Every built-in style passes every check of the plugin kit, through the vitest suite a plugin
// author uses, with the budgets and goldens of packages/plugins/package.json ("atelier" field).
// After a deliberate change of look: ATELIER_UPDATE_GOLDENS=1 npx vitest run test/plugin-kit-styles.test.ts
import path from 'node:path';
import { pluginSuite } from '@atelier/plugin-kit/vitest';
import { builtinPlugins } from '@atelier/plugins';
import { root } from './helpers.ts';

pluginSuite(path.join(root, 'packages/plugins/src/index.ts'), {
  packageDir: path.join(root, 'packages/plugins'),
  // Not openai-image: it needs a granted host and key (test/ai-plugins.test.ts runs it against a fake provider).
  plugins: builtinPlugins.filter((p) => p.kind === 'style' && p.capabilities === undefined).map((p) => p.id),
  fuzzRuns: 8,
});
