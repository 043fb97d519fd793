#!/usr/bin/env node
// The `atelier` command line. Every failure ends with one line `atelier: CODE: message` on stderr
// and a non-zero exit code: 1 for a failed run, 2 for a usage mistake.
import { Command, CommanderError, Option } from 'commander';
import { isAtelierError, paramsJsonSchema, shareCompileCache } from '@atelier/core';
import type { PluginInfo, PluginLoadFailure } from '@atelier/core';
import { registerAnalyseCommand } from './cli-analyse.ts';
import { applyFiles } from './cli-apply.ts';
import { collect, integer, parseSetOptions } from './cli-args.ts';
import { benchStyle } from './cli-bench.ts';
import { registerClientCommands } from './cli-client.ts';
import { runAgainOnPluginChange } from './cli-dev.ts';
import { registerJobCommands } from './cli-jobs.ts';
import { registerPluginCheckCommand } from './cli-plugin-check.ts';
import { registerPluginNewCommand } from './cli-plugin-new.ts';
import { applyStoredPluginState, loadStoredGrants } from './cli-plugin-state.ts';
import { registerPaymentCommands } from './cli-payments.ts';
import { registerPluginsCommands } from './cli-plugins.ts';
import { registerCapabilityCommands } from './cli-capabilities.ts';
import { registerServeCommand } from './cli-serve.ts';
import { registerUserCommands } from './cli-users.ts';
import { readConfig, withDevFlag } from './config.ts';
import { openRuntimeRoot } from './runtime.ts';
import { TOKENS, resolve } from './tokens.ts';

function table(rows: readonly PluginInfo[]): string {
  const header = ['ID', 'KIND', 'VERSION', 'NAME', 'DESCRIPTION'];
  const cells = rows.map((p) => [
    p.id + (p.enabled ? '' : ' (disabled)'),
    p.kind,
    p.version,
    p.name,
    p.description,
  ]);
  const widths = header.map((h, i) =>
    Math.max(h.length, ...cells.map((c) => Math.min(c[i]!.length, i === 4 ? 70 : 40))),
  );
  const line = (c: readonly string[]): string =>
    c
      .map((v, i) => (v.length > widths[i]! ? `${v.slice(0, widths[i]! - 1)}…` : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)].join('\n');
}

/** The skipped plugins, after the table: one line each with where it came from, its code and why. */
function notLoaded(failures: readonly PluginLoadFailure[]): string {
  if (failures.length === 0) return '';
  const lines = failures.map((f) => `  ${f.plugin ?? f.source}  ${f.code}: ${f.message}`);
  return `\nNot loaded (skipped; ATELIER_STRICT_PLUGINS=1 makes this fatal):\n${lines.join('\n')}\n`;
}

export function buildProgram(): Command {
  const program = new Command('atelier')
    .description('Atelier: plugin-based image stylization engine')
    .exitOverride()
    .configureOutput({
      outputError: (message, write) =>
        write(`atelier: USAGE_INVALID: ${message.replace(/^error: /, '').trim()}\n`),
    });

  program
    .command('styles')
    .description('list the installed plugins')
    .option('--json', 'print JSON: id, name, version, kind and the JSON Schema of the params')
    .option('--kind <kind>', 'only plugins of this kind (style, transform, analysis)')
    .action(async (opts: { json?: boolean; kind?: 'style' | 'transform' | 'analysis' }) => {
      const config = readConfig();
      const registry = resolve((await openRuntimeRoot(config)).container, TOKENS.PluginRegistry);
      await applyStoredPluginState(config, registry, process.stderr);
      const list = registry.list({ includeDisabled: true, ...(opts.kind ? { kind: opts.kind } : {}) });
      if (opts.json) {
        const out = list.map((p) => ({
          id: p.id,
          name: p.name,
          description: p.description,
          version: p.version,
          kind: p.kind,
          enabled: p.enabled,
          defaults: p.defaults,
          params: paramsJsonSchema(registry.get(p.id)),
        }));
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        // stdout stays the array it always was; the skipped plugins go to stderr, one coded line each.
        for (const f of registry.failures())
          process.stderr.write(`atelier: warning: ${f.code}: ${f.plugin ?? f.source}: ${f.message}\n`);
      } else {
        process.stdout.write(`${table(list)}\n${notLoaded(registry.failures())}`);
      }
    });

  program
    .command('apply')
    .description('apply a style (or a plan of several steps) to one or many images')
    .argument('<input...>', 'image files')
    .option('-s, --style <id>', 'plugin id, e.g. cartoon')
    .option('--set <key=value>', 'a parameter of the style (repeatable)', collect, [])
    .option(
      '--plan <file>',
      'a JSON plan: { "steps": [{ "plugin": "...", "params": {...} }], "output": {...} }',
    )
    .requiredOption('-o, --out <file|dir>', 'output file (one input) or directory')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['jpeg', 'png', 'webp', 'avif']))
    .option('-q, --quality <q>', 'output quality 1-100', integer('quality', 1, 100))
    .option(
      '--dev',
      'development mode (env ATELIER_DEV=1): run again each time plugin code changes, until Ctrl-C',
    )
    .action(
      async (
        inputs: string[],
        opts: {
          style?: string;
          set: string[];
          plan?: string;
          out: string;
          format?: string;
          quality?: number;
          dev?: boolean;
        },
      ) => {
        const config = withDevFlag(readConfig(), opts.dev);
        await runAgainOnPluginChange(config, process.stderr, async (revision) => {
          const root = await openRuntimeRoot(config, { engine: true, ...(revision ? { revision } : {}) });
          const engine = resolve(root.container, TOKENS.Engine);
          try {
            await applyStoredPluginState(config, engine.registry, process.stderr);
            const reports = await applyFiles(
              engine,
              inputs,
              {
                ...opts,
                params: parseSetOptions(opts.set),
                grants: (plan) => loadStoredGrants(config, engine.registry, plan),
              },
              { stderr: process.stderr, isTTY: process.stderr.isTTY === true },
            );
            const failed = reports.filter((r) => r.error);
            for (const r of reports) {
              if (r.result) {
                process.stdout.write(
                  `${r.output}\t${r.result.width}x${r.result.height}\t${r.result.bytes} bytes\t${Math.round(r.result.timings.totalMs)} ms\n`,
                );
              }
            }
            if (failed.length > 0) {
              for (const r of failed)
                process.stderr.write(`atelier: ${r.error!.code}: ${r.input}: ${r.error!.message}\n`);
              process.exitCode = 1;
            }
          } finally {
            await root.close();
          }
          return engine.registry;
        });
      },
    );

  program
    .command('bench')
    .description(
      'median time and peak RSS of one style on one image, single-threaded by default, under the limits of apply',
    )
    .argument('<input>', 'image file')
    .requiredOption('-s, --style <id>', 'plugin id')
    .option('--width <w>', 'resize the image to this width first', integer('width', 1, 16383))
    .option('--repeat <n>', 'timed runs after the warm-up', integer('repeat', 1, 1000), 5)
    .option('--warmup <n>', 'untimed runs before the timed ones', integer('warmup', 0, 1000), 1)
    .option(
      '--threads <n>',
      'threads for the one image: the run thread plus n - 1 band helpers, and n libvips threads',
      integer('threads', 1, 256),
      1,
    )
    .option('--set <key=value>', 'a parameter of the style (repeatable)', collect, [])
    .option(
      '--json',
      'print {"style","width","height","threads","medianMs","medianCpuMs","peakRssMb","outputHash"}',
    )
    .option(
      '--dev',
      'development mode (env ATELIER_DEV=1): bench again each time plugin code changes, until Ctrl-C',
    )
    .action(
      async (
        input: string,
        opts: {
          style: string;
          width?: number;
          repeat: number;
          warmup: number;
          threads: number;
          set: string[];
          json?: boolean;
          dev?: boolean;
        },
      ) => {
        const config = withDevFlag(readConfig(), opts.dev);
        await runAgainOnPluginChange(config, process.stderr, async (revision) => {
          // One engine thread, held to the same limits as `apply` (ATELIER_STEP_TIMEOUT_MS,
          // ATELIER_MAX_MEMORY_MB); --threads is how many cores the one image gets: band helper
          // threads beside it and libvips' threads within it.
          const root = await openRuntimeRoot(config, {
            engine: true,
            threads: 1,
            sharpConcurrency: opts.threads,
            bandThreads: opts.threads - 1,
            ...(revision ? { revision } : {}),
          });
          const engine = resolve(root.container, TOKENS.Engine);
          let result;
          try {
            result = await benchStyle(engine, input, {
              style: opts.style,
              repeat: opts.repeat,
              warmup: opts.warmup,
              params: parseSetOptions(opts.set),
              ...(opts.width === undefined ? {} : { width: opts.width }),
            });
          } finally {
            await root.close();
          }
          if (opts.json) {
            const { style, width, height, medianMs, medianCpuMs, peakRssMb, outputHash } = result;
            process.stdout.write(
              `${JSON.stringify({ style, width, height, threads: opts.threads, medianMs, medianCpuMs, peakRssMb, outputHash })}\n`,
            );
          } else {
            process.stdout.write(
              `${result.style} on ${result.width}x${result.height}, ${opts.threads} thread(s): median ${result.medianMs} ms (min ${result.minMs} ms, ${opts.repeat} runs after ${opts.warmup} warm-up), CPU ${result.medianCpuMs} ms${result.medianMs > 0 ? ` (${(result.medianCpuMs / result.medianMs).toFixed(2)} cores)` : ''}, peak RSS ${result.peakRssMb} MB, output ${result.outputHash.slice(0, 16)}\n`,
            );
          }
          return engine.registry;
        });
      },
    );

  // Tools for plugin authors; each subcommand (check, new) registers itself on this one command.
  const plugin = program.command('plugin').description('develop plugins: write a new one, check one');
  registerPluginCheckCommand(plugin);
  registerPluginNewCommand(plugin);

  registerJobCommands(program);
  registerAnalyseCommand(program);
  registerServeCommand(program);
  registerUserCommands(program);
  registerPaymentCommands(program);
  registerClientCommands(program);
  registerPluginsCommands(program);
  registerCapabilityCommands(program);
  return program;
}

/** Runs the CLI with `argv` (as in process.argv) and returns the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.exitCode === 0
      )
        return 0;
      return 2;
    }
    // A lost or refused database connection is DATABASE_UNAVAILABLE here as in the API; the
    // operator also sees what the socket or Postgres said.
    const coded = isAtelierError(error) ? error : (await import('@atelier/db')).databaseUnavailable(error);
    if (coded) {
      const reason =
        coded.code === 'DATABASE_UNAVAILABLE' && coded.cause instanceof Error
          ? ` (${coded.cause.message})`
          : '';
      process.stderr.write(`atelier: ${coded.code}: ${coded.message}${reason}\n`);
      return coded.code === 'USAGE_INVALID' ? 2 : 1;
    }
    process.stderr.write(`atelier: INTERNAL: ${error instanceof Error ? error.message : String(error)}\n`);
    return 70;
  }
}

if (import.meta.main) {
  // Before any engine starts its threads: they inherit the cache's directory.
  shareCompileCache();
  process.exitCode = await main(process.argv);
}
