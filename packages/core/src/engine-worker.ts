// The worker-thread side of the engine: decode, run each step, encode; and preview proxies. One
// task at a time.
import { getHeapStatistics } from 'node:v8';
import { threadId } from 'node:worker_threads';
import sharp from 'sharp';
import type {
  ProxyResult,
  ProxyTask,
  SandboxRunnerModule,
  WorkerMessage,
  WorkerResult,
  WorkerTask,
  StepTiming,
} from './engine-protocol.ts';
import { redactSecrets } from './capabilities.ts';
import { AtelierError, isAtelierError } from './errors.ts';
import type { ErrorPayload } from './errors.ts';
import { decodeImage, encodeImage } from './image-io.ts';
import type { Logger } from './logger.ts';
import type { AnyPlugin, RawImage } from './plugin.ts';
import { outputPixelLimit, outputTooLarge } from './plan.ts';
import type { PlanLimits } from './plan.ts';
import { importPluginModule } from './plugin-loader.ts';
import { makePreviewProxy } from './preview-proxy.ts';
import type { StepAnnotation, StepCost } from './plugin-reports.ts';
import { runStep } from './step-runner.ts';
import { HelperBandRunner } from './parallel/band-runner.ts';
import { setBandRunner, setOutputArrays, setRunInput } from './parallel/bands.ts';
import { OutputPool } from './parallel/output-pool.ts';

// libvips' operation cache holds whole images between calls; a worker processes one image after
// another, so the cache only costs memory here.
sharp.cache(false);
const concurrency = Number(process.env.ATELIER_SHARP_CONCURRENCY ?? '1');
if (Number.isInteger(concurrency) && concurrency > 0) sharp.concurrency(concurrency);

const modules = new Map<string, Promise<Map<string, AnyPlugin>>>();

/** The plugins of a sandboxed module, from its runner: never imported in this thread. */
async function sandboxedPluginsOf(
  url: string,
  runner: string,
  limits: PlanLimits,
): Promise<Map<string, AnyPlugin>> {
  const { sandboxedPlugins } = (await import(runner)) as SandboxRunnerModule;
  return new Map((await sandboxedPlugins(url, limits)).map((p) => [p.id, p]));
}

function pluginsOf(url: string): Promise<Map<string, AnyPlugin>> {
  let loaded = modules.get(url);
  if (!loaded) {
    loaded = importPluginModule(url).then((list) => new Map(list.map((p) => [p.id, p])));
    loaded.catch(() => modules.delete(url));
    modules.set(url, loaded);
  }
  return loaded;
}

async function resolvePlugin(
  id: string,
  version: string,
  url: string | undefined,
  task: WorkerTask,
): Promise<AnyPlugin> {
  if (!url) throw new AtelierError('PLUGIN_NOT_FOUND', `No module is known for plugin "${id}".`);
  const sandbox = task.sandbox?.modules.includes(url) ? task.sandbox : undefined;
  const plugin = (
    await (sandbox ? sandboxedPluginsOf(url, sandbox.runner, task.plan.limits) : pluginsOf(url))
  ).get(id);
  if (!plugin) throw new AtelierError('PLUGIN_NOT_FOUND', `Module ${url} no longer exports plugin "${id}".`);
  if (plugin.version !== version) {
    throw new AtelierError(
      'PLUGIN_VERSION_MISMATCH',
      `The plan needs ${id}@${version}, but this worker has ${plugin.version}.`,
    );
  }
  return plugin;
}

const nativeAborted = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;

/** An AbortSignal whose `aborted` also reads a shared flag, so synchronous loops see a cancel at once. */
function sharedSignal(flag: Int32Array, controller: AbortController): AbortSignal {
  const signal = controller.signal;
  const check = (): boolean => {
    if (!nativeAborted.call(signal) && Atomics.load(flag, 0) !== 0) controller.abort(new Error('cancelled'));
    return nativeAborted.call(signal) as boolean;
  };
  Object.defineProperty(signal, 'aborted', { get: check });
  Object.defineProperty(signal, 'throwIfAborted', {
    value: () => {
      if (check()) throw signal.reason;
    },
  });
  return signal;
}

/**
 * This thread's steps' outputs (`outputArray`) and shared copies of its inputs (`toShared`), kept
 * between runs: a 5120x2880 image is 44 MB, so two of that size, or a few smaller ones. Runs
 * measure their memory from what the thread held before them, these included: a run that reuses
 * one is charged less than its size.
 */
const outputPool = new OutputPool({ maxBuffers: 4, maxBytes: 96 * 2 ** 20 });

/**
 * A preview proxy (`Engine.previewProxy`), made here rather than in the caller's thread: its
 * averaging loop would stall the caller's event loop for 20-50 ms. A photo that libvips cannot
 * read is IMAGE_CORRUPT.
 */
export async function previewProxy(task: ProxyTask): Promise<ProxyResult> {
  try {
    const { png, scale } = await makePreviewProxy(task.bytes, task.longSide);
    return { ok: true, png, scale };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return {
      ok: false,
      error: isAtelierError(error)
        ? error.toJSON()
        : new AtelierError(
            'IMAGE_CORRUPT',
            `The image cannot be decoded for a preview: ${(message.split('\n')[0] ?? message).replace(/\.$/, '')}.`,
          ).toJSON(),
    };
  }
}

export default async function runTask(task: WorkerTask): Promise<WorkerResult> {
  const { port, plan } = task;
  const post = (message: WorkerMessage): void => port.postMessage(message);
  const heap = getHeapStatistics();
  post({ t: 'hello', threadId, baselineBytes: heap.used_heap_size + Math.max(0, heap.external_memory) });
  const controller = new AbortController();
  const signal = sharedSignal(task.abortFlag, controller);
  port.on('message', (m: { t?: string }) => {
    if (m.t === 'abort') controller.abort(new Error('cancelled'));
  });
  // Secret values never leave the thread in a log line or an error, whoever wrote them there.
  const secrets = Object.values(task.grants).flatMap((g) => Object.values(g.secrets));
  const redact = (text: string): string => (secrets.length === 0 ? text : redactSecrets(text, secrets));
  const redactFields = (fields: Record<string, unknown>): Record<string, unknown> =>
    secrets.length === 0 ? fields : (JSON.parse(redact(JSON.stringify(fields))) as Record<string, unknown>);
  const log =
    (level: keyof Logger): Logger[keyof Logger] =>
    (message, fields) =>
      post({
        t: 'log',
        level,
        message: redact(message),
        ...(fields ? { fields: redactFields(fields) } : {}),
      });
  const failure = (error: ErrorPayload): WorkerResult => ({
    ok: false,
    ...reports(),
    error: {
      ...error,
      message: redact(error.message),
      ...(error.details === undefined ? {} : { details: redactFields({ ...error.details }) }),
    },
  });
  const logger: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  const costs: StepCost[] = [];
  // Band kernels of this run's steps may hand bands to the engine's helper threads.
  if (task.bands && task.bands.helpers > 0)
    setBandRunner(
      new HelperBandRunner(task.bands.channel, task.bands.helpers, task.abortFlag, task.bands.exits),
    );
  const outputs = outputPool.lease();
  const previousOutputs = setOutputArrays(outputs);
  let succeeded = false;
  // One per step: a second ctx.annotate in the same step replaces the first.
  const annotations = new Map<number, StepAnnotation>();
  const reports = (): { costs: StepCost[]; annotations: StepAnnotation[] } => ({
    costs,
    annotations: [...annotations.values()],
  });
  try {
    const plugins = await Promise.all(
      plan.steps.map((s) => resolvePlugin(s.plugin, s.version, task.modules[s.plugin], task)),
    );
    post({ t: 'stage', stage: 'decode' });
    let t0 = performance.now();
    let image: RawImage =
      task.input instanceof Uint8Array ? await decodeImage(task.input, task.info, plan.limits) : task.input;
    // Decoded for this run alone: its shared copy, if a step makes one, can reuse kept memory.
    setRunInput(image.data);
    const decodeMs = performance.now() - t0;
    const steps: StepTiming[] = [];
    const outputLimit = outputPixelLimit(plan.limits);
    for (const [index, step] of plan.steps.entries()) {
      signal.throwIfAborted();
      post({ t: 'stage', stage: 'step', step: index });
      let last = 0;
      t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const where = { step: index, plugin: step.plugin, version: step.version };
      image = await runStep(plugins[index]!, image, step.params, {
        signal,
        logger,
        limits: plan.limits,
        // What plugins report is shown to users: secret values are redacted from it as from logs.
        onCost: (cost) => {
          const entry: StepCost = {
            ...where,
            ...cost,
            ...(cost.detail === undefined ? {} : { detail: redact(cost.detail) }),
          };
          costs.push(entry);
          post({ t: 'cost', cost: entry });
        },
        onAnnotation: (annotation) =>
          annotations.set(index, {
            ...where,
            ...(annotation.caption === undefined ? {} : { caption: redact(annotation.caption) }),
            ...(annotation.tags === undefined ? {} : { tags: annotation.tags.map(redact) }),
          }),
        seed: task.seeds[index] ?? 0,
        previewScale: task.previewScale,
        ...(task.grants[step.plugin] ? { grants: task.grants[step.plugin] } : {}),
        progress: (fraction, message) => {
          const now = performance.now();
          if (now - last < 40 && fraction < 1) return;
          last = now;
          const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
          post({ t: 'progress', step: index, fraction: f, ...(message === undefined ? {} : { message }) });
        },
      });
      const cpu = process.cpuUsage(cpu0);
      steps.push({ plugin: step.plugin, ms: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 });
      // The backstop for plugins whose outputSize is missing or wrong: nothing over the limit
      // goes on to the next step or to the encoder.
      if (image.width * image.height > outputLimit)
        throw outputTooLarge(image, outputLimit, { index, plugin: step.plugin }, 'run');
    }
    signal.throwIfAborted();
    post({ t: 'stage', stage: 'encode' });
    t0 = performance.now();
    // A preview is shown once: encoded for time, not size.
    const output = await encodeImage(image, plan.output, { fast: task.previewScale < 1 });
    const encodeMs = performance.now() - t0;
    succeeded = true;
    return {
      ok: true,
      output,
      width: image.width,
      height: image.height,
      channels: image.channels,
      timings: { decodeMs, steps, encodeMs },
      ...reports(),
    };
  } catch (error) {
    if (isAtelierError(error)) return failure(error.toJSON());
    if (signal.aborted)
      return { ok: false, error: { code: 'ABORTED', message: 'The run was cancelled.' }, ...reports() };
    return failure({
      code: 'PLUGIN_FAILED',
      message: error instanceof Error ? error.message : String(error),
    });
  } finally {
    setBandRunner(undefined);
    setOutputArrays(previousOutputs);
    setRunInput(undefined);
    // The result is encoded: the outputs' memory serves the next runs. After a failure a helper
    // thread may still be finishing a band in one of them: those are not reused.
    if (succeeded) outputs.reclaim();
    else outputs.forget();
    port.close();
  }
}
