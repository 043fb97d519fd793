import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import cliProgress from 'cli-progress';
import { AtelierError, OUTPUT_EXTENSIONS, OUTPUT_FORMATS, isAtelierError } from '@atelier/core';
import type { Engine, OutputFormat, Plan, PlanRequest, PluginGrants, RunResult } from '@atelier/core';
import { isDirectory } from './file-kind.ts';

export interface ApplyOptions {
  readonly style?: string;
  readonly set: readonly string[];
  readonly params: Record<string, unknown>;
  readonly plan?: string;
  readonly out: string;
  readonly format?: string;
  readonly quality?: number;
  /** What the plan's plugins were granted (hosts, secrets), once the plan is made. @default nothing */
  readonly grants?: (plan: Plan) => Promise<Readonly<Record<string, PluginGrants>>>;
}

function formatFromExtension(file: string): OutputFormat | undefined {
  const ext = path.extname(file).slice(1).toLowerCase();
  if (ext === 'jpg' || ext === 'jpeg') return 'jpeg';
  return (OUTPUT_FORMATS as readonly string[]).includes(ext) ? (ext as OutputFormat) : undefined;
}

/** Writes a file so that readers see either nothing or the whole file: temp file, then rename. */
export async function writeFileAtomic(file: string, data: Uint8Array): Promise<void> {
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, data);
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw new AtelierError('OUTPUT_WRITE_FAILED', `Cannot write ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

async function readPlanFile(file: string): Promise<PlanRequest> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new AtelierError('INPUT_NOT_FOUND', `Cannot read plan file ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as PlanRequest;
  } catch (error) {
    throw new AtelierError(
      'PLAN_INVALID',
      `Plan file ${file} is not valid JSON: ${(error as Error).message}`,
    );
  }
}

/**
 * The plan request of a command line: one style with its `--set` parameters, or a `--plan` file,
 * never both. Shared by `apply` and `submit`, so both read and reject alike.
 */
export async function planRequestFromOptions(options: {
  readonly style?: string | undefined;
  readonly plan?: string | undefined;
  readonly params: Record<string, unknown>;
}): Promise<PlanRequest> {
  if (options.plan !== undefined) {
    if (options.style !== undefined) {
      throw new AtelierError('PLAN_INVALID', 'Give either --style or --plan, not both.');
    }
    return readPlanFile(options.plan);
  }
  if (options.style !== undefined) return { steps: [{ plugin: options.style, params: options.params }] };
  throw new AtelierError('PLAN_INVALID', 'Say what to apply: --style <id> or --plan <plan.json>.');
}

/** Where a result goes in an output directory: `<input name>.<style or plan label>.<extension>`. */
export function resultPath(dir: string, input: string, label: string, extension: string): string {
  return path.join(dir, `${path.parse(input).name}.${label.replaceAll(':', '-')}.${extension}`);
}

/** Builds the plan an `apply` command line asks for. */
export async function planFromOptions(engine: Engine, options: ApplyOptions): Promise<Plan> {
  const request = await planRequestFromOptions(options);
  const format = options.format ?? request.output?.format ?? formatFromExtension(options.out);
  if (format !== undefined && !(OUTPUT_FORMATS as readonly string[]).includes(format)) {
    throw new AtelierError(
      'OUTPUT_FORMAT_UNSUPPORTED',
      `Output format "${format}" is not supported; use ${OUTPUT_FORMATS.join(', ')}.`,
    );
  }
  return engine.plan({
    ...request,
    output: {
      ...request.output,
      ...(format === undefined ? {} : { format: format as OutputFormat }),
      ...(options.quality === undefined ? {} : { quality: options.quality }),
    },
  });
}

export interface ApplyReport {
  readonly input: string;
  readonly output?: string;
  readonly result?: RunResult;
  readonly error?: AtelierError;
}

/**
 * Applies a plan to each input and writes each result; a bad input fails alone, the rest go on.
 * A single input may go to a file; several go into a directory.
 */
export async function applyFiles(
  engine: Engine,
  inputs: readonly string[],
  options: ApplyOptions,
  ui: { stderr: NodeJS.WriteStream | NodeJS.WritableStream; isTTY: boolean },
): Promise<ApplyReport[]> {
  const plan = await planFromOptions(engine, options);
  const grants = options.grants ? await options.grants(plan) : {};
  const ext = OUTPUT_EXTENSIONS[plan.output.format];
  const outIsDir = inputs.length > 1 || options.out.endsWith('/') || (await isDirectory(options.out));
  if (outIsDir) await mkdir(options.out, { recursive: true });
  else await mkdir(path.dirname(path.resolve(options.out)), { recursive: true });
  const label = plan.steps.map((s) => s.plugin).join('+') || 'convert';
  const target = (input: string): string =>
    outIsDir ? resultPath(options.out, input, label, ext) : options.out;

  const bar =
    inputs.length > 1 && ui.isTTY
      ? new cliProgress.SingleBar(
          {
            stream: ui.stderr as NodeJS.WriteStream,
            format: ' {bar} {value}/{total} {file}',
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  bar?.start(inputs.length, 0, { file: '' });
  const reports: ApplyReport[] = [];
  // The engine runs as many images at once as it has threads.
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < inputs.length) {
      const input = inputs[next++]!;
      const output = target(input);
      try {
        let bytes: Buffer;
        try {
          bytes = await readFile(input);
        } catch (error) {
          throw new AtelierError(
            'INPUT_NOT_FOUND',
            `Cannot read ${input}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
          );
        }
        const result = await engine.run(bytes, plan, { grants });
        await writeFileAtomic(output, result.data);
        reports.push({ input, output, result });
      } catch (error) {
        const err = isAtelierError(error)
          ? error
          : new AtelierError('PLUGIN_FAILED', error instanceof Error ? error.message : String(error));
        reports.push({ input, error: err });
      }
      bar?.increment(1, { file: path.basename(input) });
      if (!bar && inputs.length > 1) {
        const last = reports.at(-1)!;
        ui.stderr.write(
          `[${reports.length}/${inputs.length}] ${input} ${last.error ? `failed: ${last.error.code}` : `-> ${last.output}`}\n`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(engine.threads, inputs.length) }, worker));
  bar?.stop();
  return reports;
}
