import { availableParallelism } from 'node:os';
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { PluginGrants } from './capabilities.ts';
import { missingGrants, notGrantedError } from './capabilities.ts';
import type {
  ProxyResult,
  ProxyTask,
  Stage,
  StepTiming,
  WorkerMessage,
  WorkerResult,
  WorkerTask,
} from './engine-protocol.ts';
import { AtelierError, isAtelierError } from './errors.ts';
import type { InputInfo } from './image-io.ts';
import { checkInputInfo, decodeImage, inspectInput } from './image-io.ts';
import type { Logger } from './logger.ts';
import { silentLogger } from './logger.ts';
import type { OutputFormat, Plan, PlanLimits, PlanRequest } from './plan.ts';
import { checkOutputSize, createPlan, planHash, planLimits, stepSeed } from './plan.ts';
import type { RawImage } from './plugin.ts';
import type { PreviewProxy } from './preview-proxy.ts';
import type { PluginRegistry } from './registry.ts';
import type { StepAnnotation, StepCost } from './plugin-reports.ts';
import { BandHelpers } from './parallel/band-helpers.ts';
import type { WarmUpOptions, WarmUpReport } from './warm-up.ts';
import { WARM_UP_SCALE, warmUpPng } from './warm-up.ts';

/** Options of {@link Engine}. */
export interface EngineOptions {
  readonly registry: PluginRegistry;
  /** Worker threads for pixel work. @default the number of cores */
  readonly threads?: number;
  /** libvips threads per operation; 1 keeps each run on one core while runs use the others. @default 1 */
  readonly sharpConcurrency?: number;
  /**
   * Helper threads that split the work of one image: a step that calls `runBands` (core's heavy
   * kernels and the built-in styles do) hands bands of rows to them, so a single large image
   * uses several cores. Shared by all runs; a busy helper only leaves more bands to the run's own
   * thread, and the result is the same byte for byte with any number. 0 turns them off.
   * Sandboxed plugins never use them. Env `ATELIER_BAND_THREADS` in the server.
   * @default the number of cores minus one
   */
  readonly bandThreads?: number;
  /** Defaults for every plan's limits. */
  readonly limits?: Partial<PlanLimits>;
  /** Time a cancelled or timed-out step gets to stop by itself before its thread is terminated. @default 250 */
  readonly abortGraceMs?: number;
  /** How often running threads' memory is checked against the plan's `maxMemoryMb`. @default 25 */
  readonly memoryCheckMs?: number;
  readonly logger?: Logger;
}

/** A progress event of a run. `fraction` is the whole run's, from 0 to 1. */
export interface RunProgress {
  readonly stage: Stage;
  readonly step?: number;
  readonly plugin?: string;
  readonly fraction: number;
  readonly message?: string;
}

export interface RunOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: RunProgress) => void;
  /**
   * What administrators granted, by plugin id, with secret values decrypted. A plan step whose
   * plugin declares capabilities that are not all granted here is refused with
   * `CAPABILITY_NOT_GRANTED` before anything runs.
   * @default nothing granted
   */
  readonly grants?: Readonly<Record<string, PluginGrants>>;
  /**
   * For a preview run on a small proxy of the photo: the proxy's size over the photo's, in
   * (0, 1]. Steps see it as `ctx.previewScale` and draw their textures at the real render's
   * scale, shrunk. @default 1 (a real render)
   */
  readonly previewScale?: number;
}

/**
 * An image read and decoded ahead of time by {@link Engine.decode}: runs on it skip both, which
 * is most of what a run on a small image costs besides its steps (a preview's proxy, run again
 * and again while a slider moves). Each run gets a copy of the pixels: a step cannot change them.
 */
export interface DecodedInput {
  readonly info: InputInfo;
  readonly image: RawImage;
}

/** The outcome of a run: the encoded image and what it took. */
export interface RunResult {
  readonly data: Uint8Array;
  readonly format: OutputFormat;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly bytes: number;
  readonly planHash: string;
  readonly input: InputInfo;
  /**
   * The most memory the run's thread held above its idle level (JavaScript heap plus external
   * buffers), as sampled by the memory watchdog every `memoryCheckMs`: the
   * figure that `maxMemoryMb` is enforced against. 0 when the run was too short to be sampled.
   */
  readonly peakMemoryMb: number;
  /**
   * What the plugins reported spending (`ctx.reportCost`), in the order they reported it. A run
   * that fails carries its costs too: {@link runCosts} reads them from the error.
   */
  readonly costs: readonly StepCost[];
  /** What `analysis` plugins found (`ctx.annotate`), one per step that annotated, in step order. */
  readonly annotations: readonly StepAnnotation[];
  readonly timings: {
    readonly queueMs: number;
    readonly decodeMs: number;
    readonly steps: readonly StepTiming[];
    readonly encodeMs: number;
    readonly totalMs: number;
  };
}

/**
 * The costs a failed run had already reported (`details.costs` of the error {@link Engine.run}
 * threw): money spent before the failure, which the job still records. Empty for any other error.
 */
export function runCosts(error: unknown): readonly StepCost[] {
  if (!isAtelierError(error)) return [];
  const costs = error.details?.['costs'];
  return Array.isArray(costs) ? (costs as StepCost[]) : [];
}

/** `error` with `costs` in its details, so a failed run still tells what it spent. */
function withCosts(error: AtelierError, costs: readonly StepCost[]): AtelierError {
  if (costs.length === 0) return error;
  return new AtelierError(error.code, error.message, {
    ...(error.cause === undefined ? {} : { cause: error.cause }),
    details: { ...error.details, costs },
  });
}

interface ActiveRun {
  readonly plan: Plan;
  /** The plan's maxMemoryMb, capped at the engine's. */
  readonly memoryBudgetMb: number;
  worker: Worker | undefined;
  baselineBytes: number;
  /** The highest memory use the watchdog saw, in bytes above the baseline. */
  peakBytes: number;
  failure?: 'timeout' | 'memory' | 'cancel';
  failedStep?: number;
  step: number;
  memoryCheckPending: boolean;
  readonly abort: (reason: 'timeout' | 'memory' | 'cancel') => void;
}

/**
 * `worker.getHeapStatistics()` came in Node 22.16 and 24. Without it (Node 20) the watchdog cannot
 * see a thread's memory, and V8's heap limit alone caps a run, set to the engine's `maxMemoryMb`.
 */
const canMeasureWorkers = typeof (Worker.prototype as Partial<Worker>).getHeapStatistics === 'function';

// tsc rewrites the extensions of imports, not of URLs: from source (the workspace, on Node 24) the
// worker is engine-worker.ts, from the published build (dist/) engine-worker.js.
const WORKER_URL = new URL(
  import.meta.url.endsWith('.ts') ? './engine-worker.ts' : './engine-worker.js',
  import.meta.url,
).href;

/**
 * The environment of the engine's threads: the process's, without the key that seals plugin
 * secrets (the threads get the secrets they need, decrypted, with each run's grants). Plugin code
 * that runs in these threads sees `process.env`; this keeps the key out of a casual read. It is
 * not a boundary against hostile code (the sandbox is).
 */
function threadEnv(sharpConcurrency: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ATELIER_SHARP_CONCURRENCY: String(sharpConcurrency) };
  delete env['ATELIER_SECRETS_KEY'];
  return env;
}

/**
 * Runs plans on images in a pool of worker threads, so the caller's event loop never blocks.
 * A step that throws, runs past `stepTimeoutMs` or holds more than `maxMemoryMb` fails its own
 * run with a coded error; the thread is replaced and other runs carry on.
 *
 * @example
 * const engine = new Engine({ registry });
 * const plan = engine.plan({ steps: [{ plugin: 'cartoon' }], output: { format: 'webp' } });
 * const result = await engine.run(await readFile('photo.jpg'), plan);
 * await engine.close();
 */
export class Engine {
  readonly registry: PluginRegistry;
  #pool: Piscina;
  #helpers: BandHelpers;
  readonly #poolOptions: {
    readonly threads: number;
    readonly sharpConcurrency: number;
    readonly bandThreads: number;
  };
  /** Pools replaced by {@link restartThreads}, finishing their runs. */
  readonly #retiring = new Set<Promise<void>>();
  /** Runs in progress on each pool. */
  readonly #runsOn = new Map<Piscina, number>();
  /** Called when a retired pool's last run ends. */
  readonly #idle = new Map<Piscina, () => void>();
  readonly #logger: Logger;
  readonly #limits: Partial<PlanLimits>;
  readonly #graceMs: number;
  readonly #memoryCheckMs: number;
  /** A plan may lower the memory budget, not raise it above the engine's. */
  readonly #maxMemoryMb: number;
  readonly #active = new Set<ActiveRun>();
  #watchdog: NodeJS.Timeout | undefined;
  #closed = false;
  /** The options of the last {@link warmUp}: {@link restartThreads} warms its fresh threads with them. */
  #rewarm: WarmUpOptions | undefined;
  /** Stops the warm-up in progress, if any. */
  #warming: AbortController | undefined;

  constructor(options: EngineOptions) {
    this.registry = options.registry;
    this.#logger = options.logger ?? silentLogger;
    this.#limits = options.limits ?? {};
    this.#graceMs = options.abortGraceMs ?? 250;
    this.#memoryCheckMs = options.memoryCheckMs ?? 25;
    // The watchdog stops a run at its plan's maxMemoryMb; V8's own heap limit sits far above it, so
    // the watchdog's clean terminate() always comes first (a thread dying at V8's heap limit can
    // take the process down with it when it races a terminate()).
    this.#maxMemoryMb = this.#limits.maxMemoryMb ?? 2048;
    this.#poolOptions = {
      threads: Math.max(1, options.threads ?? availableParallelism()),
      sharpConcurrency: options.sharpConcurrency ?? 1,
      bandThreads: Math.max(0, Math.floor(options.bandThreads ?? availableParallelism() - 1)),
    };
    this.#pool = this.#newPool();
    this.#helpers = this.#newHelpers();
  }

  #heapMb(): number {
    return canMeasureWorkers ? 2 * this.#maxMemoryMb + 256 : this.#maxMemoryMb;
  }

  #newHelpers(): BandHelpers {
    return new BandHelpers(
      this.#poolOptions.bandThreads,
      {
        env: threadEnv(this.#poolOptions.sharpConcurrency),
        resourceLimits: { maxOldGenerationSizeMb: this.#heapMb() },
      },
      this.#logger,
    );
  }

  #newPool(): Piscina {
    const heapMb = this.#heapMb();
    const pool = new Piscina({
      filename: WORKER_URL,
      minThreads: 1,
      maxThreads: this.#poolOptions.threads,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
      resourceLimits: { maxOldGenerationSizeMb: heapMb },
      env: threadEnv(this.#poolOptions.sharpConcurrency),
    });
    pool.on('error', (error: unknown) => this.#logger.error('worker pool error', { error: String(error) }));
    return pool;
  }

  /**
   * Starts fresh worker threads for the runs that start from now on; runs in progress finish on
   * the old threads, which then stop. A thread keeps every module it ever imported, so this is how
   * plugin code changed on disk (a reinstalled package, an edited file in development) reaches
   * the engine. Resolves when the old threads have stopped. An engine that was warmed up
   * ({@link warmUp}) warms the fresh threads up again in the background.
   *
   * @example
   * registry.replacePlugins(await createRegistry(config, { revision: 2 }));
   * void engine.restartThreads();
   */
  async restartThreads(): Promise<void> {
    if (this.#closed) return;
    const old = this.#pool;
    const oldHelpers = this.#helpers;
    this.#pool = this.#newPool();
    this.#helpers = this.#newHelpers();
    // Fresh threads are cold: an engine that was warmed up is warmed up again, in the background.
    const rewarm = this.#rewarm;
    if (rewarm && rewarm.signal?.aborted !== true) {
      void this.warmUp(rewarm).then((report) => {
        if (!report.stopped)
          this.#logger.info('warm-up of the restarted threads: done', { runs: report.runs, ms: report.ms });
      });
    }
    // A run that took the old pool may not have handed it its task yet: close it after the last one.
    const idle =
      (this.#runsOn.get(old) ?? 0) === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => this.#idle.set(old, resolve));
    const retiring = idle
      .then(async () => {
        await Promise.all([old.close(), oldHelpers.close()]);
      })
      .catch((error: unknown) =>
        this.#logger.warn('old worker threads did not stop cleanly', { error: String(error) }),
      )
      .finally(() => this.#idle.delete(old));
    this.#retiring.add(retiring);
    try {
      await retiring;
    } finally {
      this.#retiring.delete(retiring);
    }
  }

  /** Worker threads in the pool. */
  get threads(): number {
    return this.#pool.options.maxThreads;
  }

  /** Helper threads that split one image's work (see {@link EngineOptions.bandThreads}). */
  get bandThreads(): number {
    return this.#poolOptions.bandThreads;
  }

  /** Makes a plan with this engine's registry and default limits. See {@link createPlan}. */
  plan(request: PlanRequest): Plan {
    return createPlan(this.registry, request, { limits: this.#limits });
  }

  /** Checks an input against the plan's limits from its header alone (no pixel decoded). */
  inspect(input: Uint8Array, plan: Plan): Promise<InputInfo> {
    return inspectInput(input, plan.limits);
  }

  /**
   * Reads and decodes an image as {@link run} does (first frame, EXIF orientation applied, 8-bit
   * sRGB), under this engine's default limits, in the calling thread: for an input that is run
   * many times (a preview's proxy). Each run still checks it against its own plan's limits.
   * Rejects with the codes of `run`'s input errors (`IMAGE_*`).
   */
  async decode(input: Uint8Array): Promise<DecodedInput> {
    const limits = planLimits(this.#limits, undefined);
    const info = await inspectInput(input, limits);
    return { info, image: await decodeImage(input, info, limits) };
  }

  /**
   * The preview proxy of an encoded photo ({@link makePreviewProxy}: first frame, oriented, area
   * averaged to ≤ `longSide` px, as a lossless PNG, and its scale), made in one of the engine's
   * threads: the averaging is a JavaScript loop over up to 26 MB that, in the caller's thread,
   * stalled its event loop (an API server's every request) for 20-50 ms per new photo. The photo
   * is first checked against this engine's default limits from its header. Rejects with the input
   * codes of {@link run} (`IMAGE_*`: `IMAGE_CORRUPT` for a photo libvips cannot read) and
   * `ENGINE_CLOSED`.
   *
   * @example
   * const { png, scale } = await engine.previewProxy(await storage.get(key));
   * const result = await engine.run(await engine.decode(png), plan, { previewScale: scale });
   */
  async previewProxy(input: Uint8Array, longSide = 512): Promise<PreviewProxy> {
    if (this.#closed) throw new AtelierError('ENGINE_CLOSED', 'The engine is closed.');
    if (!(Number.isInteger(longSide) && longSide >= 1 && longSide <= 16_384))
      throw new RangeError(`previewProxy: longSide must be an integer from 1 to 16384, got ${longSide}`);
    await inspectInput(input, planLimits(this.#limits, undefined));
    const task: ProxyTask = { bytes: input, longSide };
    const result = (await this.#onPool((pool) => pool.run(task, { name: 'previewProxy' }))) as ProxyResult;
    if (!result.ok) throw AtelierError.fromPayload(result.error);
    return { png: result.png, scale: result.scale };
  }

  /** `work` on the current threads, which restartThreads() does not close until it has settled. */
  async #onPool<T>(work: (pool: Piscina) => Promise<T>): Promise<T> {
    const pool = this.#pool;
    this.#runsOn.set(pool, (this.#runsOn.get(pool) ?? 0) + 1);
    try {
      return await work(pool);
    } finally {
      const left = (this.#runsOn.get(pool) ?? 1) - 1;
      if (left > 0) this.#runsOn.set(pool, left);
      else {
        this.#runsOn.delete(pool);
        this.#idle.get(pool)?.();
      }
    }
  }

  /**
   * Runs each enabled built-in style (those without capabilities, in the engine's threads) on a
   * small synthetic photo as a preview, `rounds` times on every thread, so that the first previews
   * people ask for run at their steady speed. A thread compiles each style's code on its own: the
   * first preview of a style in a thread loads its module and runs in V8's interpreter (200-400
   * ms), and the next ones speed up as V8 compiles the hot loops (oil painting's preview, one
   * thread, no helpers: 287, 70, 40, 38, 44, 27, 34 ms, then 23-30). `atelier serve` calls it once it listens
   * (`ATELIER_WARMUP`, docs/operations.md). Never rejects: a style that fails is reported and left
   * out of later rounds; `signal`, {@link close} or a later warm-up stops it between runs. Once
   * called, it runs again, with the same options and in the background, each time
   * {@link restartThreads} starts fresh threads (a plugin reload), until `signal` fires.
   *
   * @example
   * const report = await engine.warmUp({ rounds: 10 });
   * logger.info('warm-up done', { runs: report.runs, ms: report.ms });
   */
  async warmUp(options: WarmUpOptions = {}): Promise<WarmUpReport> {
    const started = performance.now();
    const rounds = options.rounds ?? 10;
    this.#rewarm = options;
    // A later warm-up (that of fresh threads after a restart) supersedes this one: plugin reloads
    // in quick succession (development mode) leave one warm-up running, not one per reload.
    this.#warming?.abort();
    const own = new AbortController();
    this.#warming = own;
    const signal = options.signal ? AbortSignal.any([options.signal, own.signal]) : own.signal;
    const styles = this.registry
      .list({ kind: 'style' })
      .filter(
        (p) =>
          p.builtin &&
          p.capabilities.network.length === 0 &&
          p.capabilities.secrets.length === 0 &&
          this.registry.source(p.id).sandboxed !== true,
      )
      .map((p) => p.id);
    const failed: { plugin: string; code: string; message: string }[] = [];
    let runs = 0;
    const stopped = (): boolean => this.#closed || signal.aborted;
    const report = (): WarmUpReport => ({
      styles,
      runs,
      failed,
      stopped: stopped(),
      ms: Math.round(performance.now() - started),
    });
    const fail = (id: string, error: unknown): void => {
      failed.push({
        plugin: id,
        code: isAtelierError(error) ? error.code : 'INTERNAL',
        message: error instanceof Error ? error.message : String(error),
      });
      this.#logger.warn('warm-up: a style failed on the warm-up photo', { plugin: id, error: String(error) });
    };
    if (stopped()) return report();
    let input: DecodedInput;
    try {
      input = await this.decode(await warmUpPng());
    } catch (error) {
      for (const id of styles) fail(id, error);
      return report();
    }
    // JPEG at the default quality, as styles.preview encodes.
    const plans = new Map<string, Plan>();
    for (const id of styles) {
      try {
        plans.set(id, this.plan({ steps: [{ plugin: id }], output: { format: 'jpeg' } }));
      } catch (error) {
        fail(id, error);
      }
    }
    for (let round = 0; round < rounds; round++) {
      for (const [id, plan] of plans) {
        if (stopped()) return report();
        // As many runs at once as there are threads: a thread takes one run at a time, so each
        // thread gets one.
        const results = await Promise.allSettled(
          Array.from({ length: this.threads }, () =>
            this.run(input, plan, { previewScale: WARM_UP_SCALE, signal }),
          ),
        );
        runs += results.filter((r) => r.status === 'fulfilled').length;
        const failure = results.find((r) => r.status === 'rejected');
        if (failure && !stopped()) {
          fail(id, failure.reason);
          plans.delete(id);
        }
      }
    }
    return report();
  }

  /**
   * Runs a plan on an encoded image. Rejects with an {@link AtelierError}: input errors
   * (`IMAGE_*`), plugin errors (`PLUGIN_*`), `OUTPUT_TOO_LARGE` (from the plugins' declared sizes
   * before decoding, or from a step's real output before encoding), `ABORTED` when `signal` fires.
   * `input` is the image's bytes, or what {@link decode} made of them.
   */
  async run(input: Uint8Array | DecodedInput, plan: Plan, options: RunOptions = {}): Promise<RunResult> {
    if (this.#closed) throw new AtelierError('ENGINE_CLOSED', 'The engine is closed.');
    // The threads of this run: those of the moment it was asked for, as are the plugins' modules,
    // even if restartThreads() replaces them meanwhile (the old pool closes once its runs end).
    const helpers = this.#helpers;
    return this.#onPool((pool) => this.#run(pool, helpers, input, plan, options));
  }

  async #run(
    pool: Piscina,
    helpers: BandHelpers,
    input: Uint8Array | DecodedInput,
    plan: Plan,
    options: RunOptions,
  ): Promise<RunResult> {
    const started = performance.now();
    if (options.signal?.aborted)
      throw new AtelierError('ABORTED', 'The run was cancelled before it started.');
    const previewScale = options.previewScale ?? 1;
    if (!(previewScale > 0 && previewScale <= 1))
      throw new RangeError(`Engine.run: previewScale must be in (0, 1], not ${previewScale}`);
    const modules: Record<string, string> = {};
    let sandbox: { runner: string; modules: string[] } | undefined;
    for (const step of plan.steps) {
      const plugin = this.registry.getEnabled(step.plugin);
      if (plugin.version !== step.version) {
        throw new AtelierError(
          'PLUGIN_VERSION_MISMATCH',
          `The plan needs ${step.plugin}@${step.version}, but ${plugin.version} is installed.`,
          { details: { plugin: step.plugin, requested: step.version, installed: plugin.version } },
        );
      }
      const source = this.registry.source(step.plugin);
      modules[step.plugin] = source.module;
      if (source.sandboxed) {
        if (!source.runner)
          throw new Error(`Sandboxed plugin "${step.plugin}" was registered without a runner.`);
        if (sandbox && sandbox.runner !== source.runner)
          throw new Error('The plugins of one plan must share one sandbox runner.');
        sandbox = { runner: source.runner, modules: [...(sandbox?.modules ?? []), source.module] };
      }
    }
    // Only the grants of the plugins this plan runs go to the thread: a plugin never sees
    // another plugin's secrets, even by accident.
    const grants: Record<string, PluginGrants> = {};
    for (const step of plan.steps) {
      const capabilities = this.registry.get(step.plugin).capabilities;
      if (!capabilities || (!capabilities.network?.length && !capabilities.secrets?.length)) continue;
      const granted = options.grants?.[step.plugin];
      const missing = missingGrants(capabilities, granted);
      if (missing.network.length > 0 || missing.secrets.length > 0)
        throw notGrantedError(step.plugin, missing);
      grants[step.plugin] = granted!;
    }
    const decoded = input instanceof Uint8Array ? undefined : input;
    const info = decoded
      ? checkInputInfo(decoded.info, plan.limits)
      : await inspectInput(input as Uint8Array, plan.limits);
    // Refuse a plan whose declared sizes go over the output limit before any pixel is decoded.
    const swap = info.orientation >= 5 && info.orientation <= 8;
    await checkOutputSize(this.registry, plan, {
      width: swap ? info.height : info.width,
      height: swap ? info.width : info.height,
    });
    const hash = planHash(plan);
    const seeds = plan.steps.map((s, i) => stepSeed(s.plugin, i));

    const { port1, port2 } = new MessageChannel();
    const abortFlag = new Int32Array(new SharedArrayBuffer(4));
    const hard = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    let dispatched = 0;
    const stepCount = plan.steps.length;
    const overall = (s: Stage, step: number, fraction: number): number => {
      // decode 5%, steps share 90% evenly, encode the last 5%.
      if (s === 'decode') return 0.05 * fraction;
      if (s === 'encode') return 0.95 + 0.05 * fraction;
      return 0.05 + (0.9 * (step + fraction)) / Math.max(1, stepCount);
    };

    const run: ActiveRun = {
      plan,
      memoryBudgetMb: Math.min(plan.limits.maxMemoryMb, this.#maxMemoryMb),
      worker: undefined,
      baselineBytes: 0,
      peakBytes: 0,
      step: -1,
      memoryCheckPending: false,
      abort: (reason) => {
        if (run.failure) return;
        run.failure = reason;
        run.failedStep = run.step;
        Atomics.store(abortFlag, 0, 1);
        port1.postMessage({ t: 'abort' });
        // A step that does not stop by itself within the grace period loses its thread.
        graceTimer = setTimeout(() => hard.abort(), reason === 'memory' ? 0 : this.#graceMs);
      },
    };
    const armStepTimer = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => run.abort('timeout'), plan.limits.stepTimeoutMs);
    };
    // Costs as they are reported: what a run lost with its thread (a timeout, a crash) had spent.
    const streamedCosts: StepCost[] = [];
    const onMessage = (message: WorkerMessage): void => {
      switch (message.t) {
        case 'cost':
          streamedCosts.push(message.cost);
          break;
        case 'hello':
          dispatched = performance.now();
          run.worker = pool.threads.find((w) => w.threadId === message.threadId);
          run.baselineBytes = message.baselineBytes;
          armStepTimer();
          break;
        case 'stage':
          run.step = message.step ?? run.step;
          armStepTimer();
          options.onProgress?.({
            stage: message.stage,
            ...(message.step === undefined
              ? {}
              : { step: message.step, plugin: plan.steps[message.step]?.plugin ?? '' }),
            fraction: overall(message.stage, message.step ?? 0, 0),
          });
          break;
        case 'progress':
          options.onProgress?.({
            stage: 'step',
            step: message.step,
            plugin: plan.steps[message.step]?.plugin ?? '',
            fraction: overall('step', message.step, message.fraction),
            ...(message.message === undefined ? {} : { message: message.message }),
          });
          break;
        case 'log':
          this.#logger[message.level](message.message, { ...message.fields, step: run.step });
          break;
      }
    };
    port1.on('message', onMessage);
    const onCancel = (): void => {
      if (dispatched === 0) hard.abort();
      run.abort('cancel');
    };
    options.signal?.addEventListener('abort', onCancel, { once: true });
    this.#active.add(run);
    this.#startWatchdog();

    // Sandboxed plugins run in their own process: their bands stay there, on one thread.
    const bands = helpers.ref();
    const task: WorkerTask = {
      input: decoded ? decoded.image : (input as Uint8Array),
      ...(bands ? { bands } : {}),
      info,
      plan,
      modules,
      grants,
      ...(sandbox ? { sandbox } : {}),
      seeds,
      previewScale,
      port: port2,
      abortFlag,
    };
    let result: WorkerResult;
    try {
      result = (await pool.run(task, { signal: hard.signal, transferList: [port2] })) as WorkerResult;
    } catch (error) {
      result = { ok: false, error: this.#explain(run, error).toJSON() };
    } finally {
      // The result comes over the pool's port, the run's messages over this one: what the
      // thread posted before its result may still wait here (Node delivers a port's messages
      // a batch per turn), and closing the port would drop it. Read it first, then stop the
      // timers its stage messages re-arm.
      for (let m = receiveMessageOnPort(port1); m; m = receiveMessageOnPort(port1))
        onMessage(m.message as WorkerMessage);
      clearTimeout(timer);
      clearTimeout(graceTimer);
      options.signal?.removeEventListener('abort', onCancel);
      port1.close();
      this.#active.delete(run);
    }
    if (!result.ok) {
      // A step that stopped by itself on a timeout or memory abort reports ABORTED; say why.
      const error =
        run.failure && result.error.code === 'ABORTED'
          ? this.#explain(run, undefined)
          : AtelierError.fromPayload(result.error);
      throw withCosts(error, result.costs ?? streamedCosts);
    }
    if (run.failure === 'cancel') throw withCosts(this.#explain(run, undefined), result.costs);
    const totalMs = performance.now() - started;
    return {
      data: result.output,
      format: plan.output.format,
      width: result.width,
      height: result.height,
      channels: result.channels,
      bytes: result.output.byteLength,
      planHash: hash,
      input: info,
      peakMemoryMb: Math.round((run.peakBytes / 2 ** 20) * 10) / 10,
      costs: result.costs,
      annotations: result.annotations,
      timings: {
        queueMs: dispatched === 0 ? 0 : dispatched - started,
        decodeMs: result.timings.decodeMs,
        steps: result.timings.steps,
        encodeMs: result.timings.encodeMs,
        totalMs,
      },
    };
  }

  #explain(run: ActiveRun, error: unknown): AtelierError {
    const step = run.failedStep ?? run.step;
    const plugin = step >= 0 ? run.plan.steps[step]?.plugin : undefined;
    const where = plugin ? `plugin "${plugin}"` : 'the run';
    const details = plugin ? { plugin, step } : {};
    switch (run.failure) {
      case 'timeout':
        return new AtelierError(
          'PLUGIN_TIMEOUT',
          `${where} ran longer than ${run.plan.limits.stepTimeoutMs} ms and was stopped.`,
          { details },
        );
      case 'memory':
        return new AtelierError(
          'PLUGIN_OUT_OF_MEMORY',
          `${where} used more than ${run.memoryBudgetMb} MB and was stopped.`,
          { details },
        );
      case 'cancel':
        return new AtelierError('ABORTED', 'The run was cancelled.', { details });
      case undefined:
        break;
    }
    if (isAtelierError(error)) return error;
    const code = (error as { code?: unknown } | undefined)?.code;
    if (code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return new AtelierError(
        'PLUGIN_OUT_OF_MEMORY',
        `${where} ran out of JavaScript heap and was stopped.`,
        {
          details,
          cause: error,
        },
      );
    }
    const message = error instanceof Error ? error.message : String(error);
    return new AtelierError('PLUGIN_FAILED', `${where} crashed its worker: ${message}`, {
      details,
      cause: error,
    });
  }

  #startWatchdog(): void {
    if (this.#watchdog || !canMeasureWorkers) return;
    this.#watchdog = setInterval(() => {
      if (this.#active.size === 0) {
        clearInterval(this.#watchdog);
        this.#watchdog = undefined;
        return;
      }
      for (const run of this.#active) {
        const worker = run.worker;
        if (!worker || run.failure || run.memoryCheckPending) continue;
        run.memoryCheckPending = true;
        worker
          .getHeapStatistics()
          .then((stats) => {
            const used = stats.used_heap_size + Math.max(0, stats.external_memory) - run.baselineBytes;
            run.peakBytes = Math.max(run.peakBytes, used);
            if (used > run.memoryBudgetMb * 1024 * 1024 && this.#active.has(run)) {
              this.#logger.warn('run exceeded its memory limit', { usedMb: Math.round(used / 2 ** 20) });
              run.abort('memory');
            }
          })
          .catch(() => {})
          .finally(() => {
            run.memoryCheckPending = false;
          });
      }
    }, this.#memoryCheckMs);
    this.#watchdog.unref();
  }

  /** Waits for running work and stops the threads. Later calls to `run` fail with `ENGINE_CLOSED`. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchdog);
    await Promise.all([this.#pool.close(), this.#helpers.close(), ...this.#retiring]);
  }
}
