// The command line of the scaffolder, apart from the process so tests can call it.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ScaffoldError, scaffold } from './scaffold.ts';
import type { PackageManager } from './scaffold.ts';

/** The usage text of `create-atelier-plugin --help`. */
export const USAGE = `Usage: create-atelier-plugin <dir> [options]

Writes a new Atelier style plugin package in <dir> (which must not exist or be empty), then
installs its dependencies, which also builds it.

Options:
  --id <scope:name>     the plugin id (default: local:<dir name>)
  --name <text>         the name shown in catalogues (default: from the id)
  --packages <dir>      depend on the packed atelier-core-*.tgz and atelier-plugin-kit-*.tgz in
                        <dir> instead of the registry
  --no-install          write the files only
  -h, --help            this text
`;

interface Output {
  write(text: string): unknown;
}

/**
 * Runs the scaffolder with `args` (without node and the script) and returns the exit code.
 *
 * @example
 * process.exitCode = await main(['my-style', '--id', 'acme:my-style'], process.stdout, process.stderr);
 */
export async function main(args: readonly string[], stdout: Output, stderr: Output): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: {
        id: { type: 'string' },
        name: { type: 'string' },
        packages: { type: 'string' },
        'no-install': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    stderr.write(`create-atelier-plugin: USAGE_INVALID: ${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    stdout.write(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    stderr.write(
      `create-atelier-plugin: USAGE_INVALID: ${positionals.length === 0 ? 'name the directory to create' : `one directory, not ${positionals.length}`}\n${USAGE}`,
    );
    return 2;
  }
  try {
    const result = await scaffold({
      dir: positionals[0]!,
      ...(values.id === undefined ? {} : { id: values.id }),
      ...(values.name === undefined ? {} : { name: values.name }),
      ...(values.packages === undefined ? {} : { packages: values.packages }),
      install: values['no-install'] !== true,
    });
    const relative = path.relative(process.cwd(), result.dir) || '.';
    const shown = relative.startsWith('..') ? result.dir : relative;
    const pm: PackageManager = result.installedWith ?? 'npm';
    const run = pm === 'npm' ? 'npm run' : pm;
    const step = (command: string, what: string): string => `  ${command.padEnd(22)} ${what}`;
    stdout.write(
      [
        `Created ${result.id} ("${result.name}") in ${result.dir}.`,
        '',
        'Next:',
        `  cd ${shown}`,
        ...(result.installedWith ? [] : [step(`${pm} install`, 'dependencies; also builds dist/')]),
        step(`${pm} test`, 'the harness: manifest, parameters, golden image, budget, ...'),
        step(`${run} build`, 'dist/ again after editing src/'),
        `  atelier plugins add ${result.dir}`,
        step('', 'installs it into Atelier (a running serve picks it up)'),
        '',
      ].join('\n'),
    );
    return 0;
  } catch (error) {
    if (error instanceof ScaffoldError) {
      stderr.write(`create-atelier-plugin: ${error.code}: ${error.message}\n`);
      return error.code === 'USAGE_INVALID' ? 2 : 1;
    }
    throw error;
  }
}
