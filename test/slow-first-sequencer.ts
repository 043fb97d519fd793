// The order the test files start in. With two workers, a run ends when the later of them ends: a
// file of three minutes that starts last keeps one worker busy for three minutes after the other
// has finished. So the long files start first and the short ones fill in at the end.
import path from 'node:path';
import { BaseSequencer } from 'vitest/node';
import type { TestSpecification } from 'vitest/node';

/**
 * Seconds the longest files took in a full run on the 2-core CI machine (busy, so roughly twice
 * a quiet run's; only the order matters). Used where vitest has no duration of its own for a
 * file (its cache, node_modules/.vite/vitest, is empty on a fresh checkout such as CI's).
 */
const EXPECTED_SECONDS: Readonly<Record<string, number>> = {
  'test/jobs-crash.test.ts': 215,
  'test/plugin-tutorial.test.ts': 204,
  'test/cli.test.ts': 192,
  'test/web/screens.e2e.test.ts': 151,
  'test/gallery-search.test.ts': 130,
  'test/cli-jobs.test.ts': 124,
  'test/plugin-kit-package.test.ts': 96,
  'test/sandbox-hostile.test.ts': 95,
  'test/web/payments.e2e.test.ts': 93,
  'test/plugins-folder.test.ts': 86,
  'test/serve.test.ts': 86,
  'test/client-generate.test.ts': 82,
  'test/cli-admin-limits.test.ts': 80,
  'test/cli-capabilities.test.ts': 77,
  'test/payments-operators.test.ts': 73,
  'test/web/gallery-search.e2e.test.ts': 73,
  'test/plugin-packages-cluster.test.ts': 70,
  'test/web/studio.e2e.test.ts': 64,
  'test/serve-pg-restart.test.ts': 63,
  'test/sdk-package.test.ts': 60,
  'test/web/admin.e2e.test.ts': 58,
  'test/gallery-search-plans.test.ts': 54,
  'test/analysis.test.ts': 54,
  'test/fuzz.test.ts': 52,
  'test/embedded-postgres.test.ts': 52,
  'test/plugins-dev.test.ts': 49,
  'test/jobs-pg-restart.test.ts': 47,
  'test/plugin-failures.test.ts': 46,
  'test/web/capabilities.e2e.test.ts': 40,
  'test/plugin-packages-install.test.ts': 38,
  'packages/sandbox/src/sandbox.test.ts': 37,
  'packages/client/src/standalone.test.ts': 36,
};

/**
 * Longest first: by the duration vitest recorded for the file, else by {@link EXPECTED_SECONDS},
 * else after those in vitest's own order (largest file first). The files of the projects that
 * share workers (small unit tests, run back to back in one worker) come after all the others.
 */
export class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const position = new Map(base.map((spec, i) => [spec, i]));
    const expectedMs = (spec: TestSpecification): number => {
      const recorded = this.ctx.cache.getTestSpecificationResult(spec)?.duration;
      if (recorded !== undefined) return recorded;
      const file = path.relative(spec.project.config.root, spec.moduleId).split(path.sep).join('/');
      return (EXPECTED_SECONDS[file] ?? 0) * 1000;
    };
    const shared = (spec: TestSpecification): number => (spec.project.config.isolate ? 0 : 1);
    return [...base].sort(
      (a, b) => shared(a) - shared(b) || expectedMs(b) - expectedMs(a) || position.get(a)! - position.get(b)!,
    );
  }
}
