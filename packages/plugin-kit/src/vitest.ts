// `@atelier/plugin-kit/vitest`: the checks of @atelier/plugin-kit as vitest tests.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKS, PluginChecker } from './check-plugin.ts';
import type { CheckName, CheckOptions, CheckResult } from './check-plugin.ts';
import { findPackageDir, optionsFromPackage, readPluginPackage } from './package-config.ts';

/** Options of {@link pluginSuite}: those of `checkPlugin`, and where the package's settings come from. */
export interface PluginSuiteOptions extends CheckOptions {
  /**
   * The plugin package whose package.json `atelier` field gives the budget(s) and the goldens
   * directory; `false` reads none. Options given here win over the field.
   * @default the nearest directory at or above the target module that has a package.json
   */
  readonly packageDir?: string | false;
  /** Time each test may take. @default 120000 */
  readonly timeout?: number;
}

const label = (target: string | URL): string => {
  const text = String(target);
  return text.slice(text.lastIndexOf('/') + 1) || text;
};

function explain(result: CheckResult): string {
  return `${result.plugin} ${result.check}: ${result.message}${
    result.details ? `\n${JSON.stringify(result.details, null, 2)}` : ''
  }`;
}

/**
 * Registers the checks of a plugin module as vitest tests: a `describe` block with one test per
 * check (per plugin id when `options.plugins` names them; otherwise each test checks every plugin
 * the module exports). A failed check fails its test with the check's message and details; a
 * skipped one (no budget, no goldens) is reported as skipped.
 *
 * Budgets and the goldens directory come from the package.json `atelier` field (see
 * `readPluginPackage`); set `ATELIER_UPDATE_GOLDENS=1` to write the goldens instead of comparing.
 *
 * @param target - the plugin module, e.g. `new URL('../src/index.ts', import.meta.url)`.
 * @example
 * // test/plugin.test.ts
 * import { pluginSuite } from '@atelier/plugin-kit/vitest';
 *
 * pluginSuite(new URL('../src/index.ts', import.meta.url));
 */
export function pluginSuite(target: string | URL, options: PluginSuiteOptions = {}): void {
  const checks: readonly CheckName[] = options.only ?? CHECKS;
  const timeout = options.timeout ?? 120_000;
  let checker: PluginChecker | undefined;

  const open = async (): Promise<PluginChecker> => {
    const update = process.env['ATELIER_UPDATE_GOLDENS'] === '1';
    let fromPackage: CheckOptions = {};
    const dir = options.packageDir === undefined ? await findPackageDir(target) : options.packageDir;
    if (dir !== false && dir !== undefined)
      fromPackage = optionsFromPackage(await readPluginPackage(dir), update);
    const goldens = options.goldens ?? fromPackage.goldens;
    return PluginChecker.open(target, {
      ...fromPackage,
      ...options,
      budget: options.budget ?? fromPackage.budget,
      budgets: { ...fromPackage.budgets, ...options.budgets },
      ...(goldens === undefined ? {} : { goldens: { ...goldens, update: goldens.update ?? update } }),
    });
  };

  const assertResults = (results: readonly CheckResult[], skip: (note?: string) => void): void => {
    const failed = results.filter((r) => r.status === 'fail');
    expect(failed.map(explain), 'failed checks').toEqual([]);
    if (results.length > 0 && results.every((r) => r.status === 'skip')) skip(results[0]?.message);
  };

  describe(`plugin-kit: ${label(target)}`, () => {
    beforeAll(async () => {
      checker = await open();
    }, timeout);
    afterAll(async () => {
      await checker?.close();
    });
    const ids = options.plugins;
    if (ids) {
      for (const id of ids) {
        describe(id, () => {
          for (const check of checks) {
            it(check, { timeout }, async (context) => {
              if (!checker) throw new Error('The plugin checker did not open.');
              assertResults([await checker.run(id, check)], (note) => context.skip(note));
            });
          }
        });
      }
    } else {
      for (const check of checks) {
        it(check, { timeout }, async (context) => {
          if (!checker) throw new Error('The plugin checker did not open.');
          const results: CheckResult[] = [];
          for (const id of checker.pluginIds) results.push(await checker.run(id, check));
          assertResults(results, (note) => context.skip(note));
        });
      }
    }
  });
}
