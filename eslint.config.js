// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      'tmp/**',
      '.atelier/**',
      'test/fixtures/**',
      'docs/sheets/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The AI-provider plugins reach the network and their API key only through the host's
    // ctx.fetch and ctx.secret, which enforce the administrator's grants (docs/plugins.md).
    files: ['packages/plugins/src/ai/**/*.ts'],
    ignores: ['packages/plugins/src/ai/**/*.test.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'fetch', message: 'Use ctx.fetch: it enforces the granted hosts.' },
        { name: 'process', message: 'Use ctx.secret for keys; plugins read no environment.' },
        { name: 'XMLHttpRequest', message: 'Use ctx.fetch.' },
        { name: 'WebSocket', message: 'Use ctx.fetch.' },
        { name: 'require', message: 'Plugins import only @atelier/core.' },
        {
          name: 'Buffer',
          message: 'Node only: the sandbox has no Buffer; use Uint8Array (toBase64/fromBase64).',
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'globalThis', property: 'fetch', message: 'Use ctx.fetch.' },
        { object: 'globalThis', property: 'process', message: 'Use ctx.secret.' },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { regex: '^node:', message: 'Plugins import only @atelier/core.' },
            {
              regex: '^(http|https|net|tls|dns|dgram|child_process|fs|undici|axios|node-fetch|openai)(/|$)',
              message: 'Use ctx.fetch; plugins import only @atelier/core.',
            },
          ],
        },
      ],
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);
