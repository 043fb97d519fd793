// This module runs INSIDE the isolate (no Node APIs, no process): the sandbox process loads it
// before the plugin's module, with '@atelier/core' mapped to the SDK's pure-JavaScript part. It
// takes the host's functions from a global the sandbox process set and deletes that global before
// any plugin code runs, so a plugin can reach the host only through the context built here. It
// turns the plugin's exports into descriptions, and runs apply/outputSize with a context whose
// host-mediated parts (sharp, fetch, decode, ...) are calls to the sandbox process.
import { AtelierError, SeededRandom, isAtelierError, z } from '@atelier/core';
import type { AnyPlugin, RawImage } from '@atelier/core';

/** A function of the sandbox process, as isolated-vm hands it in (a Reference). */
interface HostRef {
  apply(receiver: undefined, args: unknown[], options: object): Promise<unknown>;
  applyIgnored(receiver: undefined, args: unknown[], options: object): void;
}

interface HostFunctions {
  readonly log: HostRef;
  readonly progress: HostRef;
  readonly call: HostRef;
  readonly sharp: HostRef;
  readonly sleep: HostRef;
  readonly transfer: (buffer: ArrayBuffer) => unknown;
}

type Envelope = { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } };

const host = (globalThis as { __atelierHost?: HostFunctions }).__atelierHost!;
delete (globalThis as { __atelierHost?: HostFunctions }).__atelierHost;
// V8's gc() (the sandbox process runs with --expose-gc): the bridge's, not the plugin's.
const gc = (globalThis as { gc?: () => void }).gc;
try {
  delete (globalThis as { gc?: () => void }).gc;
} catch {
  // Not configurable: left where it is. A plugin calling it only slows itself down.
}

/** Collects garbage after a run: its image buffers go back to the allocator for the next run. */
export function collect(): void {
  gc?.();
}

async function callHost(ref: HostRef, args: unknown[]): Promise<unknown> {
  const envelope = (await ref.apply(undefined, args, {
    arguments: { copy: true },
    result: { promise: true, copy: true },
  })) as Envelope;
  if (!envelope.ok) throw new AtelierError(envelope.error.code as 'PLUGIN_FAILED', envelope.error.message);
  return envelope.value;
}

// --- The web platform pieces a plugin expects from its context: AbortSignal and AbortController.
class SandboxAbortSignal {
  aborted = false;
  reason: unknown = undefined;
  onabort: ((event: { type: string }) => void) | null = null;
  readonly #listeners = new Set<(event: { type: string }) => void>();
  addEventListener(type: string, listener: (event: { type: string }) => void): void {
    if (type === 'abort') this.#listeners.add(listener);
  }
  removeEventListener(type: string, listener: (event: { type: string }) => void): void {
    if (type === 'abort') this.#listeners.delete(listener);
  }
  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }
  dispatch(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const event = { type: 'abort' };
    this.onabort?.(event);
    for (const listener of this.#listeners) listener(event);
  }
}
class SandboxAbortController {
  readonly signal = new SandboxAbortSignal();
  abort(reason?: unknown): void {
    this.signal.dispatch(reason ?? new Error('This operation was aborted'));
  }
}
const g = globalThis as Record<string, unknown>;
g['AbortSignal'] ??= SandboxAbortSignal;
g['AbortController'] ??= SandboxAbortController;

// --- setTimeout / clearTimeout: a plugin may wait (a provider's Retry-After, a backoff). The wait
// is on the sandbox process's clock; the step's timeout and cancel still end the run (its isolate
// is disposed with any timer pending). No setInterval: nothing a step does needs to repeat on its
// own, and a module that starts one at load is refused (it fails to load).
const MAX_PENDING_TIMERS = 1000;
const pendingTimers = new Set<number>();
let lastTimer = 0;
g['setTimeout'] = (callback: unknown, ms?: unknown, ...args: unknown[]): number => {
  if (typeof callback !== 'function') throw new TypeError('setTimeout takes a function in the sandbox.');
  if (pendingTimers.size >= MAX_PENDING_TIMERS) {
    throw new AtelierError('SANDBOX_VIOLATION', `More than ${MAX_PENDING_TIMERS} timers pending in one run.`);
  }
  const id = ++lastTimer;
  pendingTimers.add(id);
  void host.sleep
    .apply(undefined, [Number(ms) || 0], { arguments: { copy: true }, result: { promise: true } })
    .then(
      () => {
        if (pendingTimers.delete(id)) (callback as (...a: unknown[]) => void)(...args);
      },
      () => pendingTimers.delete(id),
    );
  return id;
};
g['clearTimeout'] = (id: unknown): void => {
  pendingTimers.delete(Number(id));
};

// --- ctx.sharp(): a recording proxy. Methods only record; toBuffer() sends the recording to the
// sandbox process, which checks it again (this side is not trusted: plugin code shares the isolate)
// and runs it with the real sharp on raw pixels.
const OPERATIONS = [
  'resize',
  'extend',
  'extract',
  'flip',
  'flop',
  'rotate',
  'blur',
  'sharpen',
  'median',
  'modulate',
  'greyscale',
  'grayscale',
  'gamma',
  'negate',
  'normalise',
  'normalize',
  'linear',
  'recomb',
  'convolve',
  'threshold',
  'tint',
  'flatten',
  'removeAlpha',
  'ensureAlpha',
  'extractChannel',
  'composite',
  'clahe',
  'toColourspace',
  'toColorspace',
] as const;
const OUTPUTS = ['png', 'jpeg', 'webp', 'raw'] as const;

function isRawImage(value: unknown): value is RawImage {
  const image = value as RawImage | null;
  return (
    image !== null &&
    typeof image === 'object' &&
    image.data instanceof Uint8Array &&
    Number.isInteger(image.width) &&
    Number.isInteger(image.height) &&
    Number.isInteger(image.channels)
  );
}

function violation(message: string): AtelierError {
  return new AtelierError('SANDBOX_VIOLATION' as 'PLUGIN_FAILED', message);
}

interface SharpRecording {
  input: { data: Uint8Array; width: number; height: number; channels: number };
  ops: [string, unknown[]][];
  output: [string, unknown[]];
}

class SandboxPipeline {
  readonly #recording: SharpRecording;
  constructor(image: RawImage) {
    this.#recording = {
      input: { data: image.data, width: image.width, height: image.height, channels: image.channels },
      ops: [],
      output: ['raw', []],
    };
  }
  toBuffer(options?: { resolveWithObject?: boolean }): Promise<unknown> {
    const recording = this.#recording;
    return callHost(host.sharp, [recording]).then((result) => {
      const { data: buffer, info } = result as { data: ArrayBuffer; info: Record<string, unknown> };
      const data = new Uint8Array(buffer);
      return options?.resolveWithObject === true ? { data, info } : data;
    });
  }
  clone(): SandboxPipeline {
    const copy = new SandboxPipeline({ ...this.#recording.input } as RawImage);
    for (const op of this.#recording.ops) copy.#recording.ops.push(op);
    copy.#recording.output = this.#recording.output;
    return copy;
  }
  static {
    for (const name of OPERATIONS) {
      Object.defineProperty(SandboxPipeline.prototype, name, {
        value(this: SandboxPipeline, ...args: unknown[]) {
          this.#recording.ops.push([name, args]);
          return this;
        },
      });
    }
    for (const name of OUTPUTS) {
      Object.defineProperty(SandboxPipeline.prototype, name, {
        value(this: SandboxPipeline, ...args: unknown[]) {
          this.#recording.output = [name, args];
          return this;
        },
      });
    }
    for (const name of ['toFile', 'metadata', 'stats', 'pipe', 'boolean', 'joinChannel', 'withMetadata']) {
      Object.defineProperty(SandboxPipeline.prototype, name, {
        value() {
          throw violation(
            `sharp's ${name}() is not available in the sandbox; see docs/plugins.md, "Running in the sandbox".`,
          );
        },
      });
    }
  }
}

// --- The plugins of the loaded module.
const plugins = new Map<string, AnyPlugin>();

function looksLikePlugin(value: unknown): value is AnyPlugin {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { id?: unknown }).id === 'string' &&
    typeof (value as { apply?: unknown }).apply === 'function'
  );
}

type Result =
  { ok: true; value: unknown } | { ok: false; error: { code: string; message: string; details?: unknown } };

function failure(error: unknown, where: string): Result {
  if (isAtelierError(error)) {
    return {
      ok: false,
      error: {
        code: error.code,
        message: error.message,
        ...(error.details ? { details: JSON.parse(JSON.stringify(error.details)) as unknown } : {}),
      },
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  // What isolated-vm answers a dynamic import() with: the isolate has no module loader at run time.
  if (
    error instanceof Error &&
    message === 'Not supported' &&
    /\bimport\b/.test(error.stack ?? '') === false
  ) {
    return {
      ok: false,
      error: {
        code: 'SANDBOX_VIOLATION',
        message: `${where}: it used a dynamic import(), which the sandbox does not provide; import modules statically.`,
      },
    };
  }
  // The isolate's allocator refuses an ArrayBuffer that would take it over its memory limit: the
  // plugin asked for more memory than it has, whether or not the isolate itself survives.
  if (error instanceof RangeError && message === 'Array buffer allocation failed') {
    return {
      ok: false,
      error: {
        code: 'PLUGIN_OUT_OF_MEMORY',
        message: `${where}: it asked for more memory than its limit (${message}).`,
      },
    };
  }
  return { ok: false, error: { code: 'PLUGIN_FAILED', message: `${where}: ${message}` } };
}

/** Registers the module's plugins (every export that is one, or an array of them) and describes them. */
export function load(namespace: Record<string, unknown>): Result {
  try {
    const found = new Set<AnyPlugin>();
    const keys = Object.keys(namespace).sort((a, b) => (a === 'default' ? -1 : b === 'default' ? 1 : 0));
    for (const key of keys) {
      const value = namespace[key];
      if (looksLikePlugin(value)) found.add(value);
      else if (Array.isArray(value)) for (const item of value) if (looksLikePlugin(item)) found.add(item);
    }
    const descriptions = [];
    for (const plugin of found) {
      plugins.set(plugin.id, plugin);
      // A schema that cannot be described is reported as null: the host's validatePlugin then
      // refuses the plugin in its usual order (id, version, engine range, then params), as it
      // would in-process, so an engine mismatch still says so.
      let schema: unknown = null;
      try {
        schema = z.toJSONSchema(plugin.params, { io: 'input' });
      } catch {
        schema = null;
      }
      const capabilities = (plugin as { capabilities?: unknown }).capabilities;
      descriptions.push({
        id: plugin.id,
        name: plugin.name,
        description: plugin.description,
        version: plugin.version,
        engine: plugin.engine,
        kind: plugin.kind,
        ...(plugin.alpha === undefined ? {} : { alpha: plugin.alpha }),
        ...(plugin.tags === undefined ? {} : { tags: [...plugin.tags] }),
        ...(capabilities === undefined
          ? {}
          : { capabilities: JSON.parse(JSON.stringify(capabilities)) as unknown }),
        schema,
        hasOutputSize: typeof plugin.outputSize === 'function',
      });
    }
    return { ok: true, value: JSON.parse(JSON.stringify(descriptions)) as unknown };
  } catch (error) {
    return failure(error, 'Loading the plugin module failed');
  }
}

function pluginOf(id: string): AnyPlugin {
  const plugin = plugins.get(id);
  if (!plugin) throw new AtelierError('PLUGIN_NOT_FOUND', `The module no longer exports plugin "${id}".`);
  return plugin;
}

/** Parses params with the plugin's real schema (refinements included): `PARAMS_INVALID` when they fail. */
function parse(plugin: AnyPlugin, params: unknown): Record<string, unknown> {
  const result = plugin.params.strict().safeParse(params ?? {});
  if (!result.success) {
    throw new AtelierError(
      'PARAMS_INVALID',
      `Invalid parameters for "${plugin.id}": ${result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(params)'}: ${i.message}`).join('; ')}`,
    );
  }
  return result.data as Record<string, unknown>;
}

export function outputSize(id: string, width: number, height: number, params: unknown): Result {
  try {
    const plugin = pluginOf(id);
    const size = plugin.outputSize!({ width, height, params: parse(plugin, params) });
    return { ok: true, value: { width: Number(size.width), height: Number(size.height) } };
  } catch (error) {
    return failure(error, `Plugin "${id}" failed in outputSize`);
  }
}

/** Runs `apply` and returns raw pixels (a returned pipeline is rendered here). */
export async function run(
  id: string,
  buffer: ArrayBuffer,
  width: number,
  height: number,
  channels: RawImage['channels'],
  rawParams: unknown,
  seed: number,
  previewScale: number,
  secrets: Record<string, string>,
): Promise<Result> {
  try {
    const image: RawImage = { data: new Uint8Array(buffer), width, height, channels };
    const plugin = pluginOf(id);
    const params = parse(plugin, rawParams);
    const controller = new SandboxAbortController();
    // The same generator as the engine's threads give ctx.random: same seed, same numbers.
    const rng = new SeededRandom(seed >>> 0);
    const log =
      (level: string) =>
      (message: unknown): void =>
        host.log.applyIgnored(undefined, [level, String(message)], { arguments: { copy: true } });
    const context = {
      image,
      params,
      seed: seed >>> 0,
      previewScale,
      signal: controller.signal,
      progress: (fraction: number, message?: string) =>
        host.progress.applyIgnored(
          undefined,
          [Number(fraction), message === undefined ? undefined : String(message)],
          {
            arguments: { copy: true },
          },
        ),
      logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
      sharp: (input?: RawImage) => {
        const source = input ?? image;
        if (!isRawImage(source)) {
          throw violation(
            'ctx.sharp() takes a raw image ({ data, width, height, channels }) or nothing; files, paths and URLs are not available in the sandbox.',
          );
        }
        return new SandboxPipeline(source);
      },
      random: (): number => rng.next(),
      secret: (name: string): string => {
        const value = secrets[name];
        if (value === undefined) {
          throw new AtelierError(
            'CAPABILITY_DENIED' as 'PLUGIN_FAILED',
            `Plugin "${id}" asked for secret "${String(name)}", which is not granted to it.`,
          );
        }
        return value;
      },
      fetch: (url: string, init?: unknown) =>
        callHost(host.call, ['fetch', [String(url), init]]).then(toResponse),
      decode: (bytes: Uint8Array) => callHost(host.call, ['decode', [bytes]]),
      reportCost: (cost: unknown) => void callHost(host.call, ['reportCost', [cost]]),
      annotate: (annotation: unknown) => void callHost(host.call, ['annotate', [annotation]]),
    };
    let output = (await plugin.apply(context as never)) as unknown;
    if (output instanceof SandboxPipeline) {
      const pipeline = output as SandboxPipeline & { raw(options: object): SandboxPipeline };
      const { data, info } = (await pipeline
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true })) as {
        data: Uint8Array;
        info: { width: number; height: number; channels: number };
      };
      output = { data, width: info.width, height: info.height, channels: info.channels };
    }
    const raw = output as RawImage | null;
    if (raw === null || typeof raw !== 'object' || !(raw.data instanceof Uint8Array)) {
      return { ok: true, value: { invalid: true } };
    }
    // The output's memory leaves the isolate without a copy (a view of part of a buffer is copied first).
    const own = raw.data.byteOffset === 0 && raw.data.byteLength === raw.data.buffer.byteLength;
    const data = host.transfer((own ? raw.data : raw.data.slice()).buffer as ArrayBuffer);
    return {
      ok: true,
      value: { data, width: Number(raw.width), height: Number(raw.height), channels: Number(raw.channels) },
    };
  } catch (error) {
    return failure(error, `Plugin "${id}" failed`);
  }
}

/** A host fetch response as the context gives it: the body's bytes, with text() and json(). */
function toResponse(value: unknown): unknown {
  const response = value as {
    status: number;
    ok: boolean;
    headers: Record<string, string>;
    body: Uint8Array;
  };
  const text = (): string => decodeUtf8(response.body);
  return { ...response, text, json: (): unknown => JSON.parse(text()) };
}

/** UTF-8 bytes to a string (the isolate has no TextDecoder). */
function decodeUtf8(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const b = bytes[i++]!;
    let cp: number;
    if (b < 0x80) cp = b;
    else if (b >= 0xf0)
      cp =
        ((b & 0x07) << 18) |
        ((bytes[i++]! & 0x3f) << 12) |
        ((bytes[i++]! & 0x3f) << 6) |
        (bytes[i++]! & 0x3f);
    else if (b >= 0xe0) cp = ((b & 0x0f) << 12) | ((bytes[i++]! & 0x3f) << 6) | (bytes[i++]! & 0x3f);
    else cp = ((b & 0x1f) << 6) | (bytes[i++]! & 0x3f);
    out += String.fromCodePoint(cp);
  }
  return out;
}
