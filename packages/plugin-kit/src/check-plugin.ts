import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import {
  ENGINE_VERSION,
  Engine,
  PluginRegistry,
  importPluginModule,
  isAtelierError,
  paramsJsonSchema,
  parseParams,
  validatePlugin,
} from '@atelier/core';
import type { AnyPlugin, ImageSize, Plan, PlanRequest, RunResult } from '@atelier/core';
import fc from 'fast-check';
import sharp from 'sharp';
import { ssim } from 'ssim.js';
import { invalidObject, validObject } from './schema-arbitraries.ts';
import type { JsonSchema } from './schema-arbitraries.ts';
import { oddInputs, samplePng } from './samples.ts';

/**
 * The checks, in the order they run and are reported.
 *
 * @example
 * await checkPlugin('./src/index.ts', { only: CHECKS.filter((c) => c !== 'budget') });
 */
export const CHECKS = [
  'manifest',
  'params-valid',
  'params-invalid',
  'determinism',
  'golden',
  'budget',
  'cancellation',
  'odd-inputs',
] as const;
export type CheckName = (typeof CHECKS)[number];

/** Time and memory a plugin may take for one 1920-pixel image with its default parameters. */
export interface Budget {
  /** Most milliseconds the step may take; run as the plan's `stepTimeoutMs`. */
  readonly ms: number;
  /** Most megabytes (JavaScript heap plus buffers) the run may hold; run as the plan's `maxMemoryMb`. */
  readonly memoryMb: number;
}

/** Where golden images live and what counts as a match. */
export interface GoldenOptions {
  /** Directory of the goldens, one `<plugin id with ":" as "__">.png` per plugin. */
  readonly dir: string;
  /** Write (or overwrite) the goldens instead of comparing. @default false */
  readonly update?: boolean;
  /** Lowest SSIM (1 = identical) that passes. @default 0.98 */
  readonly minSsim?: number;
}

/** Options of {@link checkPlugin}. */
export interface CheckOptions {
  /** Budget of every plugin the module exports; without one (here or in `budgets`) the budget check is skipped. */
  readonly budget?: Budget | undefined;
  /** Budgets per plugin id, over `budget` (for modules that export several plugins). */
  readonly budgets?: Readonly<Record<string, Partial<Budget>>> | undefined;
  /** Without it the golden check is skipped. */
  readonly goldens?: GoldenOptions | undefined;
  /** Valid parameter sets rendered by the `params-valid` check. @default 24 */
  readonly fuzzRuns?: number | undefined;
  /** Invalid parameter sets planned by the `params-invalid` check (planning is cheap). @default 200 */
  readonly invalidRuns?: number | undefined;
  /** fast-check's seed; a failure's message names the seed that reproduces it. @default 42 */
  readonly seed?: number | undefined;
  /** Run only these checks. @default all of {@link CHECKS} */
  readonly only?: readonly CheckName[] | undefined;
  /** Check only these plugin ids of the module. @default every plugin it exports */
  readonly plugins?: readonly string[] | undefined;
  /** Called with each result as soon as it is known (for progress output). */
  readonly onResult?: ((result: CheckResult) => void) | undefined;
}

export type CheckStatus = 'pass' | 'fail' | 'skip';

/** One row of a {@link CheckReport}. */
export interface CheckResult {
  /** The plugin id, or the module URL when the module itself failed to load. */
  readonly plugin: string;
  readonly check: CheckName;
  readonly status: CheckStatus;
  /** One sentence: what was found, or what to do. */
  readonly message: string;
  /** Measurements and counter-examples, for `--json` and debugging. */
  readonly details?: Readonly<Record<string, unknown>>;
  /** Wall-clock time of the check. */
  readonly ms: number;
}

/** What {@link checkPlugin} returns. */
export interface CheckReport {
  /** The `file:` URL of the module checked. */
  readonly module: string;
  /** The engine version manifests were checked against. */
  readonly engineVersion: string;
  /** True when no check failed. */
  readonly ok: boolean;
  readonly results: readonly CheckResult[];
}

/** Parameter sets for fuzzing are rendered at this size: big enough for real code paths, small enough to be quick. */
const FUZZ_LONG_SIDE = 96;
const DETERMINISM_LONG_SIDE = 128;
const GOLDEN_LONG_SIDE = 256;
const BUDGET_LONG_SIDE = 1920;
/** Valid parameters may ask for huge outputs (a resize to 16383 px); past this many pixels the engine refuses them with OUTPUT_TOO_LARGE. */
const FUZZ_OUTPUT_PIXELS = 4_000_000;
/** Node 20 cannot read a worker thread's heap (`getHeapStatistics` came in 22.16): memory goes unmeasured there. */
const CAN_MEASURE_MEMORY = typeof (Worker.prototype as Partial<Worker>).getHeapStatistics === 'function';
/** How soon after `abort()` a run must reject. */
export const CANCEL_DEADLINE_MS = 100;
/** Tries per abort point before the cancellation check fails. */
const CANCEL_ATTEMPTS = 3;
/** How long the step runs before the cancellation check aborts it. */
const CANCEL_AFTER_MS = 25;
/** Codes that mean "these parameters do not fit this image", a proper answer to a valid parameter set. */
const REFUSALS: ReadonlySet<string> = new Set([
  'PARAMS_INVALID',
  'OUTPUT_TOO_LARGE',
  'OUTPUT_TOO_LARGE_FOR_FORMAT',
]);

/**
 * The file name of a plugin's golden image in the goldens directory.
 *
 * @example
 * goldenFileName('acme:mosaic'); // 'acme__mosaic.png'
 */
export function goldenFileName(pluginId: string): string {
  return `${pluginId.replaceAll(':', '__')}.png`;
}

function moduleUrl(target: string | URL): string {
  if (target instanceof URL) return target.href;
  if (target.startsWith('file:')) return target;
  return pathToFileURL(path.resolve(target)).href;
}

function describeError(error: unknown): string {
  if (isAtelierError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** An error's message without its final full stop, to append to. */
const sentence = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).replace(/\.$/, '');

const codeOf = (error: unknown): string | undefined => (isAtelierError(error) ? error.code : undefined);

const json = (value: unknown): string => {
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
};

/** A check's finding: its message becomes the row's, its details the row's details. */
class Failure extends Error {
  readonly details: Record<string, unknown>;
  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.details = details;
  }
}

interface Outcome {
  readonly status: CheckStatus;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

/**
 * Runs the conformance checks on every plugin a module exports, through a real
 * {@link PluginRegistry} and {@link Engine} of `@atelier/core` with the engine's real limits (the
 * plugin runs in a worker thread, imported by its module URL, as in `atelier serve`). It never
 * throws for a bad plugin: every problem is a `fail` row.
 *
 * Checks: `manifest` (validatePlugin against {@link ENGINE_VERSION}; every parameter has a
 * default and a description), `params-valid` (fuzzed valid parameter sets render a decodable image
 * no larger than the declared `outputSize`, or the input size when none is declared),
 * `params-invalid` (fuzzed invalid sets are refused with `PARAMS_INVALID`), `determinism` (the same
 * plan twice gives the same pixels), `golden` (SSIM against a stored image), `budget` (time and
 * memory at 1920 px under `stepTimeoutMs` / `maxMemoryMb` set from the budget), `cancellation`
 * (rejects within 100 ms of an abort) and `odd-inputs` (1x1, alpha, grey, 16-bit, 20:1).
 *
 * @param target - the plugin module: a file path or a `file:` URL.
 * @example
 * import { checkPlugin, formatReport } from '@atelier/plugin-kit';
 *
 * const report = await checkPlugin('./src/index.ts', {
 *   budget: { ms: 4000, memoryMb: 512 },
 *   goldens: { dir: 'test/goldens', update: process.env.ATELIER_UPDATE_GOLDENS === '1' },
 * });
 * console.log(formatReport(report));
 * process.exitCode = report.ok ? 0 : 1;
 */
export async function checkPlugin(target: string | URL, options: CheckOptions = {}): Promise<CheckReport> {
  const checker = await PluginChecker.open(target, options);
  const results: CheckResult[] = [];
  try {
    for (const plugin of checker.pluginIds) {
      for (const check of options.only ?? CHECKS) {
        const result = await checker.run(plugin, check);
        options.onResult?.(result);
        results.push(result);
      }
    }
  } finally {
    await checker.close();
  }
  return {
    module: checker.module,
    engineVersion: ENGINE_VERSION,
    ok: results.every((r) => r.status !== 'fail'),
    results,
  };
}

/**
 * The checks of one plugin module, to run one at a time (what the vitest suite does, one test per
 * check). {@link checkPlugin} is the all-at-once form.
 *
 * @example
 * const checker = await PluginChecker.open('./src/index.ts', { budget: { ms: 4000, memoryMb: 512 } });
 * try {
 *   for (const id of checker.pluginIds) console.log(await checker.run(id, 'determinism'));
 * } finally {
 *   await checker.close();
 * }
 */
export class PluginChecker {
  /** The plugin ids checked: those the module exports (all of them, or those named in `options.plugins`). */
  readonly pluginIds: readonly string[];
  readonly #module: string;
  readonly #options: CheckOptions;
  readonly #plugins: ReadonlyMap<string, AnyPlugin>;
  /** Why a plugin (or the module, under its URL) could not be registered. */
  readonly #manifestErrors: ReadonlyMap<string, unknown>;
  readonly #engine: Engine;
  readonly #inputs = new Map<number, Promise<Uint8Array>>();

  private constructor(
    module: string,
    options: CheckOptions,
    plugins: ReadonlyMap<string, AnyPlugin>,
    manifestErrors: ReadonlyMap<string, unknown>,
    ids: readonly string[],
  ) {
    this.#module = module;
    this.#options = options;
    this.#plugins = plugins;
    this.#manifestErrors = manifestErrors;
    this.pluginIds = ids;
    const registry = new PluginRegistry();
    for (const plugin of plugins.values()) registry.register(plugin, { module });
    // One thread: measurements are not disturbed by other runs of the checker itself. The
    // watchdog samples memory more often than the default, as the budget check reports its peak.
    this.#engine = new Engine({ registry, threads: 1, memoryCheckMs: 10 });
  }

  /** Imports the module and registers the plugins that pass validation. */
  static async open(target: string | URL, options: CheckOptions = {}): Promise<PluginChecker> {
    const module = moduleUrl(target);
    const plugins = new Map<string, AnyPlugin>();
    const errors = new Map<string, unknown>();
    const ids: string[] = [];
    let exported: AnyPlugin[] = [];
    try {
      exported = await importPluginModule(module);
      if (exported.length === 0) throw new Error(`Module ${module} exports no plugin (use definePlugin()).`);
    } catch (error) {
      errors.set(module, error);
      ids.push(module);
    }
    for (const plugin of exported) {
      if (options.plugins && !options.plugins.includes(plugin.id)) continue;
      ids.push(plugin.id);
      try {
        validatePlugin(plugin, ENGINE_VERSION);
        plugins.set(plugin.id, plugin);
      } catch (error) {
        errors.set(plugin.id, error);
      }
    }
    for (const wanted of options.plugins ?? []) {
      if (!ids.includes(wanted)) {
        ids.push(wanted);
        errors.set(wanted, new Error(`Module ${module} exports no plugin "${wanted}".`));
      }
    }
    return new PluginChecker(module, options, plugins, errors, ids);
  }

  /** The `file:` URL of the module. */
  get module(): string {
    return this.#module;
  }

  /** Stops the engine's worker threads. */
  async close(): Promise<void> {
    await this.#engine.close();
  }

  /** Runs one check on one plugin. Never throws for a plugin's fault: that is a `fail` result. */
  async run(pluginId: string, check: CheckName): Promise<CheckResult> {
    const started = performance.now();
    let outcome: Outcome;
    try {
      outcome = await this.#run(pluginId, check);
    } catch (error) {
      outcome = {
        status: 'fail',
        message: describeError(error),
        ...(error instanceof Failure ? { details: error.details } : {}),
      };
    }
    return {
      plugin: pluginId,
      check,
      ...outcome,
      ms: Math.round(performance.now() - started),
    };
  }

  #run(pluginId: string, check: CheckName): Promise<Outcome> | Outcome {
    const plugin = this.#plugins.get(pluginId);
    if (check === 'manifest') return this.#manifest(pluginId, plugin);
    if (!plugin) return { status: 'skip', message: 'The manifest check failed; nothing else can run.' };
    switch (check) {
      case 'params-valid':
        return this.#paramsValid(plugin);
      case 'params-invalid':
        return this.#paramsInvalid(plugin);
      case 'determinism':
        return this.#determinism(plugin);
      case 'golden':
        return this.#golden(plugin);
      case 'budget':
        return this.#budget(plugin);
      case 'cancellation':
        return this.#cancellation(plugin);
      case 'odd-inputs':
        return this.#oddInputs(plugin);
    }
  }

  #input(longSide: number): Promise<Uint8Array> {
    let input = this.#inputs.get(longSide);
    if (!input) {
      input = samplePng(longSide);
      this.#inputs.set(longSide, input);
    }
    return input;
  }

  #plan(plugin: AnyPlugin, params: Record<string, unknown>, limits: PlanRequest['limits'] = {}): Plan {
    return this.#engine.plan({
      steps: [{ plugin: plugin.id, params }],
      output: { format: 'png' },
      limits,
    });
  }

  /** The size `plugin` must not exceed on `input`: its declared `outputSize`, or the input's. */
  #expectedSize(plugin: AnyPlugin, input: ImageSize, params: Readonly<Record<string, unknown>>): ImageSize {
    return plugin.outputSize
      ? plugin.outputSize({ width: input.width, height: input.height, params })
      : input;
  }

  /** Throws a {@link Failure} unless `result` is a decodable image of the size `plugin` declares. */
  async #checkImage(
    plugin: AnyPlugin,
    result: RunResult,
    params: Readonly<Record<string, unknown>>,
    what: string,
  ): Promise<void> {
    const meta = await sharp(result.data)
      .metadata()
      .catch((error: unknown) => {
        throw new Failure(`${what}: the output does not decode (${describeError(error)}).`, { params });
      });
    if (meta.width !== result.width || meta.height !== result.height) {
      throw new Failure(
        `${what}: the encoded output is ${meta.width}x${meta.height}, not ${result.width}x${result.height}.`,
      );
    }
    const expected = this.#expectedSize(plugin, result.input, params);
    const exact = plugin.outputSize === undefined;
    const fits = exact
      ? result.width === expected.width && result.height === expected.height
      : result.width <= expected.width && result.height <= expected.height;
    if (!fits) {
      throw new Failure(
        `${what}: made a ${result.width}x${result.height} image from ${result.input.width}x${result.input.height}, but ${
          exact
            ? 'declares no outputSize (so must keep the input size)'
            : `its outputSize says ${expected.width}x${expected.height}`
        }.`,
        {
          params,
          input: { width: result.input.width, height: result.input.height },
          output: { width: result.width, height: result.height },
          expected,
        },
      );
    }
  }

  #manifest(pluginId: string, plugin: AnyPlugin | undefined): Outcome {
    const error = this.#manifestErrors.get(pluginId);
    if (error !== undefined || !plugin) {
      return {
        status: 'fail',
        message: describeError(error),
        details: { code: codeOf(error) ?? 'PLUGIN_LOAD_FAILED' },
      };
    }
    const schema = paramsJsonSchema(plugin) as JsonSchema;
    const problems: string[] = [];
    for (const [key, property] of Object.entries(schema.properties ?? {})) {
      if (!('default' in property)) problems.push(`parameter "${key}" has no default`);
      const description = (property as { description?: unknown }).description;
      if (typeof description !== 'string' || description.trim() === '') {
        problems.push(`parameter "${key}" has no description (.describe())`);
      }
    }
    if (plugin.description.trim() === '') problems.push('description is empty');
    const details = {
      id: plugin.id,
      version: plugin.version,
      engine: plugin.engine,
      engineVersion: ENGINE_VERSION,
      params: Object.keys(schema.properties ?? {}).length,
    };
    if (problems.length > 0) return { status: 'fail', message: `${problems.join('; ')}.`, details };
    return {
      status: 'pass',
      message: `${plugin.id}@${plugin.version}, engine ${plugin.engine} accepts ${ENGINE_VERSION}; ${details.params} parameters, each with a default and a description.`,
      details,
    };
  }

  #fcParameters<T>(runs: number): fc.Parameters<T> {
    return { numRuns: runs, seed: this.#options.seed ?? 42, endOnFailure: true };
  }

  async #paramsValid(plugin: AnyPlugin): Promise<Outcome> {
    const input = await this.#input(FUZZ_LONG_SIDE);
    // The defaults must render: a plugin that refuses `{}` on a plain photo refuses everyone.
    const defaultPlan = this.#plan(plugin, {}, { maxOutputPixels: FUZZ_OUTPUT_PIXELS });
    const defaults = await this.#engine.run(input, defaultPlan);
    await this.#checkImage(plugin, defaults, defaultPlan.steps[0]!.params, 'With its default parameters it');
    let rendered = 0;
    let refused = 0;
    const refusedCodes = new Set<string>();
    const runs = this.#options.fuzzRuns ?? 24;
    const property = fc.asyncProperty(
      validObject(paramsJsonSchema(plugin) as JsonSchema),
      async (candidate) => {
        let parsed: Record<string, unknown>;
        try {
          parsed = parseParams(plugin, candidate);
        } catch {
          // Valid for the JSON Schema, refused by a refinement it cannot express (e.g. "use text or
          // image, not both"): not a valid set, so not one this check is about.
          fc.pre(false);
          return;
        }
        let result: RunResult;
        try {
          result = await this.#engine.run(
            input,
            this.#plan(plugin, candidate, { maxOutputPixels: FUZZ_OUTPUT_PIXELS }),
          );
        } catch (error) {
          const code = codeOf(error);
          if (code !== undefined && REFUSALS.has(code)) {
            refused++;
            refusedCodes.add(code);
            return;
          }
          throw new Failure(`Valid parameters ${json(candidate)} failed: ${describeError(error)}`);
        }
        await this.#checkImage(plugin, result, parsed, `Valid parameters ${json(candidate)}`);
        rendered++;
      },
    );
    const run = await fc.check(property, this.#fcParameters(runs));
    const details = {
      runs: run.numRuns,
      skipped: run.numSkips,
      rendered: rendered + 1,
      refused,
      refusedCodes: [...refusedCodes],
      seed: run.seed,
    };
    if (run.failed) {
      const error = run.errorInstance;
      throw new Failure(
        `${sentence(error)} (fast-check seed ${run.seed}, path ${run.counterexamplePath ?? '-'}).`,
        {
          ...details,
          counterexample: run.counterexample?.[0],
          ...(error instanceof Failure ? error.details : {}),
        },
      );
    }
    const refusedNote = refused > 0 ? `, ${refused} refused with ${[...refusedCodes].join('/')}` : '';
    return {
      status: 'pass',
      message: `The defaults and ${run.numRuns} fuzzed parameter sets: ${rendered + 1} rendered images of the declared size${refusedNote}.`,
      details,
    };
  }

  async #paramsInvalid(plugin: AnyPlugin): Promise<Outcome> {
    const runs = this.#options.invalidRuns ?? 200;
    const property = fc.property(
      invalidObject(paramsJsonSchema(plugin) as JsonSchema),
      ({ params, key, why }) => {
        try {
          this.#plan(plugin, params);
        } catch (error) {
          if (codeOf(error) === 'PARAMS_INVALID') return;
          throw new Failure(
            `${key} ${why} (${json(params[key])}) gave ${describeError(error)}, not PARAMS_INVALID.`,
          );
        }
        throw new Failure(`Invalid parameters were accepted: ${key} ${why} (${json(params[key])}).`, {
          params,
        });
      },
    );
    const run = fc.check(property, this.#fcParameters(runs));
    if (run.failed) {
      const error = run.errorInstance;
      throw new Failure(`${sentence(error)} (fast-check seed ${run.seed}).`, {
        seed: run.seed,
        counterexample: run.counterexample?.[0],
      });
    }
    return {
      status: 'pass',
      message: `${run.numRuns} invalid parameter sets (out of range, wrong type, bad option or pattern, unknown key) were refused with PARAMS_INVALID.`,
      details: { runs: run.numRuns, seed: run.seed },
    };
  }

  /** Decoded RGBA pixels of an engine output. */
  async #pixels(data: Uint8Array): Promise<{ data: Uint8ClampedArray; width: number; height: number }> {
    const { data: raw, info } = await sharp(data).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    return {
      data: new Uint8ClampedArray(raw.buffer, raw.byteOffset, raw.byteLength),
      width: info.width,
      height: info.height,
    };
  }

  async #determinism(plugin: AnyPlugin): Promise<Outcome> {
    const input = await this.#input(DETERMINISM_LONG_SIDE);
    const schema = paramsJsonSchema(plugin) as JsonSchema;
    const sets: Record<string, unknown>[] = [{}];
    for (const candidate of fc.sample(validObject(schema), { numRuns: 20, seed: this.#options.seed ?? 42 })) {
      if (sets.length >= 3) break;
      try {
        parseParams(plugin, candidate);
        this.#plan(plugin, candidate, { maxOutputPixels: FUZZ_OUTPUT_PIXELS });
        sets.push(candidate);
      } catch {
        // refined away; take the next
      }
    }
    let compared = 0;
    for (const params of sets) {
      const plan = this.#plan(plugin, params, { maxOutputPixels: FUZZ_OUTPUT_PIXELS });
      const first = await this.#engine.run(input, plan).catch((error: unknown) => error);
      const second = await this.#engine.run(input, plan).catch((error: unknown) => error);
      if (first instanceof Error || second instanceof Error) {
        const codes = [first, second].map((r) => (r instanceof Error ? (codeOf(r) ?? 'error') : 'image'));
        if (codes[0] === codes[1] && codes[0] !== undefined && REFUSALS.has(codes[0])) continue;
        throw new Failure(`Parameters ${json(params)} gave ${codes.join(' then ')}.`, { params });
      }
      const a = await this.#pixels((first as RunResult).data);
      const b = await this.#pixels((second as RunResult).data);
      let differing = 0;
      if (a.width === b.width && a.height === b.height) {
        for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) differing++;
      }
      if (a.width !== b.width || a.height !== b.height || differing > 0) {
        throw new Failure(
          `The same plan twice gave different images with parameters ${json(params)} (${
            differing > 0
              ? `${differing} of ${a.data.length} samples differ`
              : `${a.width}x${a.height} then ${b.width}x${b.height}`
          }); use ctx.seed for noise, not Math.random().`,
          { params, differing },
        );
      }
      compared++;
    }
    return {
      status: 'pass',
      message: `${compared} plans rendered twice gave identical pixels.`,
      details: { plans: compared },
    };
  }

  async #golden(plugin: AnyPlugin): Promise<Outcome> {
    const goldens = this.#options.goldens;
    if (!goldens) return { status: 'skip', message: 'No goldens directory given.' };
    const file = path.resolve(goldens.dir, goldenFileName(plugin.id));
    const result = await this.#engine.run(await this.#input(GOLDEN_LONG_SIDE), this.#plan(plugin, {}));
    if (goldens.update) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, result.data);
      return {
        status: 'pass',
        message: `Wrote ${file} (${result.width}x${result.height}); review it and commit it.`,
        details: { file, updated: true },
      };
    }
    let stored: Buffer;
    try {
      stored = await readFile(file);
    } catch {
      throw new Failure(
        `No golden image at ${file}. Create it with ATELIER_UPDATE_GOLDENS=1 (vitest) or \`atelier plugin check --update-goldens\`, then review and commit it.`,
        { file },
      );
    }
    const expected = await this.#pixels(stored);
    const actual = await this.#pixels(result.data);
    if (expected.width !== actual.width || expected.height !== actual.height) {
      throw new Failure(
        `The render is ${actual.width}x${actual.height} but the golden ${file} is ${expected.width}x${expected.height}.`,
        { file },
      );
    }
    const minSsim = goldens.minSsim ?? 0.98;
    const { mssim } = ssim(expected, actual);
    const score = Math.round(mssim * 10_000) / 10_000;
    const details = { file, ssim: score, minSsim };
    if (mssim < minSsim) {
      throw new Failure(
        `The render differs from ${file}: SSIM ${score} < ${minSsim}. If the change of look is intended, update the golden.`,
        details,
      );
    }
    return {
      status: 'pass',
      message: `SSIM ${score} against ${path.basename(file)} (≥ ${minSsim}).`,
      details,
    };
  }

  #budgetOf(plugin: AnyPlugin): Budget | undefined {
    const own = this.#options.budgets?.[plugin.id];
    const base = this.#options.budget;
    const ms = own?.ms ?? base?.ms;
    const memoryMb = own?.memoryMb ?? base?.memoryMb;
    return ms === undefined || memoryMb === undefined ? undefined : { ms, memoryMb };
  }

  async #budget(plugin: AnyPlugin): Promise<Outcome> {
    const budget = this.#budgetOf(plugin);
    if (!budget) {
      return {
        status: 'skip',
        message:
          'No budget declared: add "atelier": { "budget": { "ms": ..., "memoryMb": ... } } to package.json.',
      };
    }
    const input = await this.#input(BUDGET_LONG_SIDE);
    const plan = this.#plan(plugin, {}, { stepTimeoutMs: budget.ms, maxMemoryMb: budget.memoryMb });
    const result = await this.#engine.run(input, plan).catch((error: unknown) => {
      const code = codeOf(error);
      if (code === 'PLUGIN_TIMEOUT' || code === 'PLUGIN_OUT_OF_MEMORY') {
        throw new Failure(`Over budget at ${BUDGET_LONG_SIDE} px: ${describeError(error)}`, { budget, code });
      }
      throw error;
    });
    const ms = Math.round(result.timings.steps[0]?.ms ?? 0);
    const details = {
      budget,
      ms,
      memoryMb: result.peakMemoryMb,
      input: { width: result.input.width, height: result.input.height },
    };
    const memory = CAN_MEASURE_MEMORY
      ? `${result.peakMemoryMb} MB of ${budget.memoryMb}`
      : `memory not measured on Node ${process.versions.node} (V8's heap limit still applies)`;
    const summary = `${ms} ms of ${budget.ms}, ${memory} at ${result.input.width}x${result.input.height}`;
    if (ms > budget.ms || result.peakMemoryMb > budget.memoryMb)
      throw new Failure(`Over budget: ${summary}.`, details);
    return { status: 'pass', message: `${summary}.`, details };
  }

  async #cancellation(plugin: AnyPlugin): Promise<Outcome> {
    const input = await this.#input(BUDGET_LONG_SIDE);
    const plan = this.#plan(plugin, {});
    // How long the step takes uncancelled, to abort it early on and again well into its work
    // (a slow stage that never looks at the signal may sit anywhere).
    const full = await this.#engine.run(input, plan);
    const stepMs = full.timings.steps[0]?.ms ?? 0;
    const points = [CANCEL_AFTER_MS, Math.round(stepMs * 0.6)].filter(
      (at, i, all) => at < stepMs - 10 && all.indexOf(at) === i,
    );
    if (points.length === 0) {
      return {
        status: 'pass',
        message: `The step takes ${Math.round(stepMs)} ms at ${BUDGET_LONG_SIDE} px: nothing to cancel.`,
        details: { stepMs: Math.round(stepMs), cancelled: false },
      };
    }
    const stops: { abortAfterMs: number; latencyMs: number | null }[] = [];
    for (const at of points) {
      // The best of up to three tries: a busy machine can delay any one of them, while a plugin
      // that does not look at its signal is late every time.
      let latency: number | undefined;
      for (let attempt = 0; attempt < CANCEL_ATTEMPTS; attempt++) {
        const tried = await this.#cancelAt(input, plan, at);
        latency = tried === undefined || latency === undefined ? tried : Math.min(latency, tried);
        if (latency === undefined || latency <= CANCEL_DEADLINE_MS) break;
      }
      stops.push({ abortAfterMs: at, latencyMs: latency ?? null });
      if (latency !== undefined && latency > CANCEL_DEADLINE_MS) {
        throw new Failure(
          `Aborted ${at} ms into the step, the run took ${latency} ms to stop (limit ${CANCEL_DEADLINE_MS} ms); check ctx.signal in long loops and between pipeline stages.`,
          {
            abortAfterMs: at,
            latencyMs: latency,
            deadlineMs: CANCEL_DEADLINE_MS,
            stepMs: Math.round(stepMs),
          },
        );
      }
    }
    const said = stops
      .map(({ abortAfterMs, latencyMs }) =>
        latencyMs === null
          ? `at ${abortAfterMs} ms it had already finished`
          : `at ${abortAfterMs} ms it stopped ${latencyMs} ms later`,
      )
      .join('; ');
    return {
      status: 'pass',
      message: `Aborted during a ${Math.round(stepMs)} ms step: ${said} (limit ${CANCEL_DEADLINE_MS} ms).`,
      details: { stops, deadlineMs: CANCEL_DEADLINE_MS, stepMs: Math.round(stepMs) },
    };
  }

  /**
   * Runs `plan`, aborts it `at` ms after its step began, and returns how long the run took to
   * reject; `undefined` when the step had finished by then.
   */
  async #cancelAt(input: Uint8Array, plan: Plan, at: number): Promise<number | undefined> {
    const controller = new AbortController();
    let abortedAt = 0;
    let finishedFirst = false;
    let timer: NodeJS.Timeout | undefined;
    const settled = await this.#engine
      .run(input, plan, {
        signal: controller.signal,
        onProgress: (event) => {
          if (event.stage === 'step' && timer === undefined && abortedAt === 0) {
            timer = setTimeout(() => {
              abortedAt = performance.now();
              controller.abort();
            }, at);
          }
          if (event.stage === 'encode' && abortedAt === 0) finishedFirst = true;
        },
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    const latency = Math.round(performance.now() - abortedAt);
    clearTimeout(timer);
    if (finishedFirst || abortedAt === 0) return undefined;
    if (settled === undefined) throw new Failure('The run was aborted but resolved with an image.');
    if (codeOf(settled) !== 'ABORTED')
      throw new Failure(`The aborted run failed with ${describeError(settled)}, not ABORTED.`);
    return latency;
  }

  async #oddInputs(plugin: AnyPlugin): Promise<Outcome> {
    const outcomes: Record<string, string> = {};
    const failures: string[] = [];
    for (const odd of await oddInputs()) {
      const what = `On the ${odd.name} input it`;
      try {
        const plan = this.#plan(plugin, {});
        const result = await this.#engine.run(odd.bytes, plan);
        await this.#checkImage(plugin, result, plan.steps[0]!.params, what);
        outcomes[odd.name] = `${result.width}x${result.height}`;
      } catch (error) {
        const code = codeOf(error);
        if (error instanceof Failure) failures.push(error.message);
        else if (code === undefined || code.startsWith('PLUGIN_'))
          failures.push(`${what} failed: ${describeError(error)}`);
        outcomes[odd.name] = code ?? 'failed';
      }
    }
    if (failures.length > 0) throw new Failure(failures.join(' '), outcomes);
    const list = Object.entries(outcomes)
      .map(([name, outcome]) => `${name} → ${outcome}`)
      .join(', ');
    return { status: 'pass', message: `${list}.`, details: outcomes };
  }
}
