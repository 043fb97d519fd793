import { tmpdir } from 'node:os';
import path from 'node:path';
import { configDefaults, defineConfig } from 'vitest/config';
import { SlowFirstSequencer } from './test/slow-first-sequencer.ts';

// Node's compile cache for every process the run starts (the test workers, and the hundreds of
// `atelier` commands, servers and workers the tests spawn, which inherit the environment): each
// compiles the same modules (type-stripped TypeScript included) once instead of once per process.
// The code that runs is the same; Node checks each entry against the source before using it.
process.env['NODE_COMPILE_CACHE'] ??= path.join(tmpdir(), 'atelier-test-node-compile-cache');

/**
 * Unit tests that share their workers (`isolate: false`): a worker runs file after file without
 * being started and importing the package again for each (with ~50 files, that was a third of
 * their time). Only the packages that compute (pixels, styles, analysis, the web app's logic).
 * The server's unit tests keep a fresh worker per file: sharing one with the other packages'
 * tests once hung its tRPC stream test, for a reason not found. So does every cross-package test
 * in test/ (servers, child processes, browsers, databases).
 */
const computing = ['analysis', 'core', 'plugins', 'web'].map((name) => `packages/${name}/src/**/*.test.ts`);

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Image work is CPU-bound and the machines have 2 cores: run test files two at a time.
    maxWorkers: 2,
    // The longest files first, so that both workers end together (see the sequencer).
    sequence: { sequencer: SlowFirstSequencer },
    projects: [
      {
        extends: true,
        test: {
          name: 'isolated',
          include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...computing],
        },
      },
      { extends: true, test: { name: 'computing', include: computing, isolate: false } },
    ],
  },
});
