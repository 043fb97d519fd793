// `atelier plugin check <dir|file|package>`: the @atelier/plugin-kit checks from the command line,
// as a table (or `--json`), exit code 1 when a check fails.
import { stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Command } from 'commander';
import { AtelierError } from '@atelier/core';
import type { CheckName, CheckOptions } from '@atelier/plugin-kit';
import { integer } from './cli-args.ts';

interface CheckCommandOptions {
  json?: boolean;
  updateGoldens?: boolean;
  only?: string;
  plugins?: string;
  fuzzRuns?: number;
  seed?: number;
}

const kind = (file: string): Promise<'file' | 'dir' | undefined> =>
  stat(file).then(
    (s) => (s.isDirectory() ? 'dir' : s.isFile() ? 'file' : undefined),
    () => undefined,
  );

/** The directory of package `name` as installed beside `fromDir`. */
async function packageDir(name: string, fromDir: string): Promise<string> {
  const require = createRequire(path.join(fromDir, 'noop.js'));
  for (const candidate of require.resolve.paths(name) ?? []) {
    const dir = path.join(candidate, name);
    if ((await kind(path.join(dir, 'package.json'))) === 'file') return dir;
  }
  throw new AtelierError(
    'PLUGIN_LOAD_FAILED',
    `"${name}" is neither a file, a directory nor a package installed beside ${fromDir}.`,
    { details: { package: name } },
  );
}

function list(value: string | undefined): string[] | undefined {
  return value === undefined
    ? undefined
    : value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

/** Registers `check` under the `plugin` command. */
export function registerPluginCheckCommand(plugin: Command): void {
  plugin
    .command('check')
    .description(
      'run the conformance checks of @atelier/plugin-kit (manifest, parameter fuzzing, determinism, goldens, budget, cancellation, odd inputs) on a plugin',
    )
    .argument(
      '<target>',
      'a plugin package directory (its package.json "atelier" field gives budget and goldens), a plugin module file, or the name of an installed plugin package',
    )
    .option('--json', 'print the report as JSON')
    .option('--update-goldens', 'write the golden images instead of comparing with them')
    .option('--only <checks>', 'comma-separated checks to run (default: all)')
    .option('--plugins <ids>', 'comma-separated plugin ids of the module to check (default: all)')
    .option(
      '--fuzz-runs <n>',
      'fuzzed valid parameter sets rendered per plugin',
      integer('fuzz-runs', 1, 10_000),
      24,
    )
    .option('--seed <n>', 'seed of the fuzzing', integer('seed', 0, 2 ** 31 - 1), 42)
    .action(async (target: string, opts: CheckCommandOptions) => {
      const kit = await import('@atelier/plugin-kit');
      const only = list(opts.only);
      for (const check of only ?? []) {
        if (!(kit.CHECKS as readonly string[]).includes(check)) {
          throw new AtelierError(
            'USAGE_INVALID',
            `Unknown check "${check}"; the checks are ${kit.CHECKS.join(', ')}.`,
          );
        }
      }
      const resolved = path.resolve(target);
      let module: string;
      let fromPackage: CheckOptions = {};
      const found = await kind(resolved);
      if (found === 'file') {
        module = resolved;
      } else {
        const dir = found === 'dir' ? resolved : await packageDir(target, process.cwd());
        const pkg = await kit.readPluginPackage(dir);
        module = pkg.module;
        fromPackage = kit.optionsFromPackage(pkg, opts.updateGoldens === true);
      }
      const plugins = list(opts.plugins);
      const report = await kit.checkPlugin(module, {
        ...fromPackage,
        fuzzRuns: opts.fuzzRuns,
        seed: opts.seed,
        ...(only ? { only: only as CheckName[] } : {}),
        ...(plugins ? { plugins } : {}),
        onResult: (result) => {
          if (!opts.json && process.stderr.isTTY) {
            process.stderr.write(`  ${result.status.padEnd(4)}  ${result.plugin}  ${result.check}\n`);
          }
        },
      });
      process.stdout.write(
        opts.json ? `${JSON.stringify(report, null, 2)}\n` : `${kit.formatReport(report)}\n`,
      );
      process.exitCode = report.ok ? 0 : 1;
    });
}
