// The sandbox process: started by a SandboxProcess with an empty environment and Node's permission
// model (read access to its own code and dependencies only, no writes, no child processes, no
// workers). It holds one isolated-vm isolate per plugin module, kept warm between runs, and runs
// the sharp recordings the isolate sends. Everything it knows about plugin files comes from its
// owner over IPC ('resolve'), so it never reads a plugin's directory itself.
import ivm from 'isolated-vm';
import type {
  CachedDataResult,
  Context,
  ExternalCopy,
  Isolate,
  Module,
  Reference,
  Script,
} from 'isolated-vm';
import { readSync, writeSync } from 'node:fs';
import { SDK_SPECIFIERS } from './protocol.ts';
import type { FromSandbox, ImageMeta, SandboxRequest, ToSandbox } from './protocol.ts';
import { checkSharpRecording, runSharpRecording } from './sharp-recording.ts';

const send = (message: FromSandbox): void => {
  process.send?.(message);
};
/**
 * Pixels come and go through fd 4: an unlinked file in /dev/shm (tmpfs: memory) that the owner
 * opened and handed over at spawn, written and read at offset 0, one run at a time. One copy each
 * way and no chunking, where Node's IPC would serialize the bytes and re-assemble them from 64 KB
 * chunks. Operations on an inherited descriptor are not path-based, so the permission model (no
 * --allow-fs-write) still denies this process every file by name.
 */
const PIXELS_FD = 4;
function readPixels(bytes: number): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let done = 0; done < bytes;) {
    const n = readSync(PIXELS_FD, data, done, bytes - done, done);
    if (n === 0) throw new Error('The pixel exchange file is shorter than announced.');
    done += n;
  }
  return data;
}
function writePixels(data: Uint8Array): void {
  for (let done = 0; done < data.length;) done += writeSync(PIXELS_FD, data, done, data.length - done, done);
}
// The owner gone (its thread or process ended, even by SIGKILL): nothing left to do.
process.on('disconnect', () => process.exit(0));

type Payload = { code: string; message: string; details?: Record<string, unknown> };
class CodedError extends Error {
  readonly payload: Payload;
  constructor(payload: Payload) {
    super(payload.message);
    this.payload = payload;
  }
}

// --- Requests to the owner (module sources, host calls).
let nextId = 1;
const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
function ask(message: (id: number) => FromSandbox): Promise<unknown> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    send(message(id));
  });
}

// --- The SDK every isolate starts with.
interface Sdk {
  readonly code: string;
  /** V8's code cache of `code`: a fresh isolate compiles the bundle from it in a few milliseconds. */
  readonly cachedData: ExternalCopy<ArrayBuffer> | undefined;
  /** The names each namespace of the bundle exports. */
  readonly exports: Readonly<Record<'core' | 'zod', readonly string[]>>;
}
const SDK_FILENAME = 'file:///atelier/sandbox-sdk.js';
let sdkOnce: Promise<Sdk> | undefined;
/**
 * The owner's SDK bundle (sdk-bundle.ts), compiled once in a scratch isolate for its code cache
 * and its export names, at the first load of this process. Each run's fresh isolate then compiles
 * it from the cache and runs it: some 15 ms, where compiling the SDK's module files took 100-300.
 * (A V8 heap snapshot, isolated-vm's Isolate.createSnapshot, would be faster still, but isolates
 * made from one failed their memory accounting or crashed the process every few dozen runs here.)
 */
function sdk(): Promise<Sdk> {
  sdkOnce ??= (async () => {
    const code = (await ask((id) => ({ t: 'sdk', id }))) as string;
    const scratch = new ivm.Isolate({ memoryLimit: 128 });
    try {
      // compileScript's result carries `cachedData` when asked to produce it (isolated-vm's
      // CachedDataOptions); its declaration names that result type without attaching it.
      const script: Script & CachedDataResult = await scratch.compileScript(code, {
        filename: SDK_FILENAME,
        produceCachedData: true,
      });
      const context = await scratch.createContext();
      await script.run(context);
      const names = (await context.eval(
        `JSON.stringify({ core: Object.keys(globalThis.__atelierSdk.core), zod: Object.keys(globalThis.__atelierSdk.zod) })`,
      )) as string;
      return { code, cachedData: script.cachedData, exports: JSON.parse(names) as Sdk['exports'] };
    } finally {
      scratch.dispose();
    }
  })();
  sdkOnce.catch(() => {
    sdkOnce = undefined;
  });
  return sdkOnce;
}

/** The module a plugin gets for `@atelier/core` or `zod`: the bundle's namespace, re-exported. */
function sdkModuleCode(key: 'core' | 'zod', names: readonly string[]): string {
  const lines = [`const m = globalThis.__atelierSdk.${key};`];
  names.forEach((name, i) => lines.push(`const e${i} = m[${JSON.stringify(name)}];`));
  lines.push(`export { ${names.map((name, i) => `e${i} as ${JSON.stringify(name)}`).join(', ')} };`);
  return lines.join('\n');
}

/**
 * The sources of each module URL's graph, as the owner answered them: a module's next isolate
 * (one per run) compiles them without asking again. A reload comes with a new URL (its revision in
 * the query); 'forget' drops the old one's.
 */
const sourceCache = new Map<string, Map<string, Promise<{ path: string; code: string }>>>();

// --- Loaded modules: one isolate each.
interface Loaded {
  readonly url: string;
  readonly memoryMb: number;
  readonly isolate: Isolate;
  readonly context: Context;
  readonly bridge: { load: Reference; outputSize: Reference; run: Reference; collect: Reference };
  readonly descriptions: unknown;
}
const loaded = new Map<string, Promise<Loaded>>();
/** The run in progress, for routing its log, progress and host calls. */
let activeRun: { id: number; url: string } | undefined;

const BRIDGE = new URL(
  import.meta.url.endsWith('.ts') ? './isolate-bridge.ts' : './isolate-bridge.js',
  import.meta.url,
).href;

async function createLoaded(url: string, memoryMb: number): Promise<Loaded> {
  const { code, cachedData, exports } = await sdk();
  const isolate = new ivm.Isolate({ memoryLimit: memoryMb, onCatastrophicError: () => process.exit(70) });
  try {
    const context = await isolate.createContext();
    const sdkScript = await isolate.compileScript(code, {
      filename: SDK_FILENAME,
      ...(cachedData ? { cachedData } : {}),
    });
    await sdkScript.run(context);
    sdkScript.release();
    const modules = new Map<string, Promise<Module>>();
    const pathOf = new Map<Module, string>();
    let loadError: Payload | undefined;
    let sources = sourceCache.get(url);
    if (!sources) sourceCache.set(url, (sources = new Map()));
    const known = sources;
    const sourceOf = (
      specifier: string,
      referrer: string | undefined,
    ): Promise<{ path: string; code: string }> => {
      const key = `${referrer ?? ''}\n${specifier}`;
      let source = known.get(key);
      if (!source) {
        source = ask((id) => ({
          t: 'resolve',
          id,
          specifier,
          ...(referrer === undefined ? {} : { referrer }),
        })) as Promise<{ path: string; code: string }>;
        known.set(key, source);
        source.catch(() => known.delete(key));
      }
      return source;
    };
    const compile = (specifier: string, referrer: string | undefined): Promise<Module> =>
      (async () => {
        const sdkKey = SDK_SPECIFIERS.get(specifier);
        if (sdkKey !== undefined) {
          let module = modules.get(`atelier-sdk:${sdkKey}`);
          if (!module) {
            module = isolate.compileModule(sdkModuleCode(sdkKey, exports[sdkKey]), {
              filename: `file:///atelier/${sdkKey}.js`,
            });
            module.catch(() => {});
            modules.set(`atelier-sdk:${sdkKey}`, module);
          }
          return module;
        }
        let source: { path: string; code: string };
        try {
          source = await sourceOf(specifier, referrer);
        } catch (error) {
          if (error instanceof CodedError) loadError ??= error.payload;
          throw error;
        }
        let module = modules.get(source.path);
        if (!module) {
          module = isolate.compileModule(source.code, { filename: `file://${source.path}` }).then((m) => {
            pathOf.set(m, source.path);
            return m;
          });
          module.catch(() => {});
          modules.set(source.path, module);
        }
        return module;
      })();
    const resolver = (specifier: string, referrer: Module): Promise<Module> =>
      compile(specifier, pathOf.get(referrer));
    const evaluate = async (specifier: string): Promise<Module> => {
      try {
        const module = await compile(specifier, undefined);
        await module.instantiate(context, resolver);
        await module.evaluate({ promise: true } as object);
        return module;
      } catch (error) {
        if (loadError) throw new CodedError(loadError);
        throw new CodedError({
          code: 'PLUGIN_LOAD_FAILED',
          message: `Could not load plugin module ${url} in the sandbox: ${(error as Error).message}`,
          details: { module: url },
        });
      }
    };
    // The host's functions, for the bridge only: it takes them and deletes the global.
    // `transfer` moves an ArrayBuffer's memory out of the isolate without a copy (the bridge uses
    // it for the output pixels); it closes over isolated-vm, which no plugin code can reach.
    await context.evalClosure(
      `const ivm = $4;
      globalThis.__atelierHost = {
        log: $0, progress: $1, call: $2, sharp: $3, sleep: $5,
        transfer: (buffer) => new ivm.ExternalCopy(buffer, { transferOut: true }).copyInto({ release: true, transferIn: true }),
      };`,
      [
        new ivm.Reference((level: string, message: string) => {
          if (activeRun)
            send({ t: 'log', run: activeRun.id, level: level as 'info', message: String(message) });
        }),
        new ivm.Reference((fraction: number, message?: string) => {
          if (activeRun)
            send({
              t: 'progress',
              run: activeRun.id,
              fraction,
              ...(message === undefined ? {} : { message }),
            });
        }),
        new ivm.Reference((name: string, args: unknown[]) => envelope(hostCall(name, args))),
        new ivm.Reference((recording: unknown) => envelope(sharpCall(recording))),
        ivm,
        // The isolate's setTimeout: a wait on this process's clock. Unref'd, so a timer left
        // behind never holds the process; a run's isolate is disposed after it, timers and all.
        new ivm.Reference(
          (ms: number) =>
            new Promise<void>((resolve) => {
              setTimeout(resolve, Math.min(Math.max(Number(ms) || 0, 0), 2_147_483_647)).unref();
            }),
        ),
      ],
    );
    const bridgeModule = await evaluate(BRIDGE);
    // Functions taken from the namespace through the context (a namespace's own Reference does
    // not proxy the promises they return when they call back into this process).
    const exported = (name: string): Promise<Reference> =>
      context.evalClosure(`return $0.${name};`, [bridgeModule.namespace.derefInto()], {
        result: { reference: true },
      }) as Promise<Reference>;
    const bridge = {
      load: await exported('load'),
      outputSize: await exported('outputSize'),
      run: await exported('run'),
      collect: await exported('collect'),
    };
    const entry = await evaluate(url);
    const described = (await bridge.load.apply(undefined, [entry.namespace.derefInto()], {
      result: { copy: true },
    })) as { ok: boolean; value?: unknown; error?: Payload };
    if (!described.ok) throw new CodedError(described.error!);
    return { url, memoryMb, isolate, context, bridge, descriptions: described.value };
  } catch (error) {
    if (!isolate.isDisposed) isolate.dispose();
    throw error;
  }
}

async function envelope(work: Promise<unknown>): Promise<unknown> {
  try {
    return { ok: true, value: await work };
  } catch (error) {
    if (error instanceof CodedError) return { ok: false, error: error.payload };
    return { ok: false, error: { code: 'PLUGIN_FAILED', message: (error as Error).message } };
  }
}

/** Moves pixels into the isolate without a copy when they own their whole buffer. */
function transferIn(data: Uint8Array): unknown {
  const own =
    data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
  const buffer = own ? (data.buffer as ArrayBuffer) : data.slice().buffer;
  return new ivm.ExternalCopy(buffer, { transferOut: true }).copyInto({ release: true, transferIn: true });
}

let maxPixels = 268_402_689;
async function sharpCall(recording: unknown): Promise<unknown> {
  const checked = checkSharpRecording(recording);
  if (!checked.ok) throw new CodedError({ code: 'SANDBOX_VIOLATION', message: checked.message });
  try {
    const { data, info } = await runSharpRecording(checked.recording, maxPixels);
    return { data: transferIn(data), info };
  } catch (error) {
    const code =
      (error as { code?: unknown }).code === 'OUTPUT_TOO_LARGE' ? 'OUTPUT_TOO_LARGE' : 'PLUGIN_FAILED';
    throw new CodedError({ code, message: `sharp: ${(error as Error).message}` });
  }
}

async function hostCall(name: string, args: unknown[]): Promise<unknown> {
  const run = activeRun;
  if (!run)
    throw new CodedError({ code: 'PLUGIN_FAILED', message: `ctx.${name}() called outside of a run.` });
  return ask((id) => ({
    t: 'host',
    id,
    run: run.id,
    name: String(name),
    args: Array.isArray(args) ? args : [],
  }));
}

function moduleFor(url: string, memoryMb: number): Promise<Loaded> {
  let entry = loaded.get(url);
  if (entry) {
    const current = entry;
    entry = current.then((l) => (l.memoryMb === memoryMb && !l.isolate.isDisposed ? l : reload()));
    loaded.set(url, entry);
  } else entry = reload();
  return entry;
  function reload(): Promise<Loaded> {
    const fresh = createLoaded(url, memoryMb);
    loaded.set(url, fresh);
    fresh.catch(() => {
      if (loaded.get(url) === fresh) loaded.delete(url);
    });
    return fresh;
  }
}

function drop(url: string): void {
  const entry = loaded.get(url);
  loaded.delete(url);
  void entry?.then(
    (l) => {
      if (!l.isolate.isDisposed) l.isolate.dispose();
    },
    () => {},
  );
}

type Result = { ok: boolean; value?: unknown; error?: Payload };

/** A run's output: its pixels go in the exchange file, its shape in the reply. */
class ImageReply {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  constructor(data: Uint8Array, shape: { width: number; height: number; channels: number }) {
    this.data = data;
    this.width = shape.width;
    this.height = shape.height;
    this.channels = shape.channels;
  }
}

async function handle(request: SandboxRequest): Promise<unknown> {
  switch (request.t) {
    case 'describe':
      return (await moduleFor(request.moduleUrl, request.memoryMb)).descriptions;
    case 'outputSize': {
      const l = await moduleFor(request.moduleUrl, request.memoryMb);
      const result = (await l.bridge.outputSize.apply(
        undefined,
        [request.plugin, request.width, request.height, request.params],
        { arguments: { copy: true }, result: { copy: true }, timeout: 2000 },
      )) as Result;
      if (!result.ok) throw new CodedError(result.error!);
      return result.value;
    }
    case 'run': {
      const l = await moduleFor(request.moduleUrl, request.memoryMb);
      activeRun = { id: request.id, url: request.moduleUrl };
      maxPixels = request.maxPixels;
      try {
        const image = request.image;
        const data = readPixels(image.bytes);
        const result = (await l.bridge.run.apply(
          undefined,
          [
            request.plugin,
            transferIn(data),
            image.width,
            image.height,
            image.channels,
            new ivm.ExternalCopy(request.params).copyInto({ release: true }),
            request.seed,
            request.previewScale ?? 1,
            new ivm.ExternalCopy(request.secrets).copyInto({ release: true }),
          ],
          { result: { promise: true, copy: true } },
        )) as Result;
        if (!result.ok) throw new CodedError(result.error!);
        const value = result.value as { data?: ArrayBuffer; width: number; height: number; channels: number };
        if (!(value.data instanceof ArrayBuffer)) return value;
        return new ImageReply(new Uint8Array(value.data), value);
      } catch (error) {
        if (error instanceof CodedError) throw error;
        if (l.isolate.isDisposed) {
          drop(request.moduleUrl);
          const message = (error as Error).message;
          if (/memory/i.test(message)) {
            throw new CodedError({
              code: 'PLUGIN_OUT_OF_MEMORY',
              message: `Plugin "${request.plugin}" went over its memory limit (${request.memoryMb} MB) and was stopped.`,
            });
          }
          throw new CodedError({ code: 'ABORTED', message: `The run of "${request.plugin}" was stopped.` });
        }
        throw new CodedError({
          code: 'PLUGIN_FAILED',
          message: `Plugin "${request.plugin}" failed: ${(error as Error).message}`,
        });
      } finally {
        activeRun = undefined;
        // One isolate serves one run: whatever the plugin left in its realm (another user's
        // pixels on globalThis, polluted prototypes) goes with it. Once the reply is on its way,
        // this process frees the run's buffers and makes the next run's isolate, off that run's
        // clock (and out of the way of this one's output).
        drop(request.moduleUrl);
        setImmediate(() => {
          (globalThis as { gc?: () => void }).gc?.();
          moduleFor(request.moduleUrl, request.memoryMb).catch(() => {});
        });
      }
    }
    case 'abort': {
      // Disposing the isolate ends whatever it runs, a synchronous loop included; the module loads
      // again (a fresh isolate) at its next run.
      if (activeRun?.id === request.run) drop(activeRun.url);
      return true;
    }
    case 'forget': {
      const base = request.keep.replace(/[?#].*$/, '');
      for (const url of [...loaded.keys()])
        if (url !== request.keep && url.replace(/[?#].*$/, '') === base) drop(url);
      for (const url of [...sourceCache.keys()])
        if (url !== request.keep && url.replace(/[?#].*$/, '') === base) sourceCache.delete(url);
      return true;
    }
  }
}

process.on('message', (message: ToSandbox) => {
  if (message.t === 'resolved' || message.t === 'hostResult' || message.t === 'sdk') {
    const pending = waiting.get(message.id);
    waiting.delete(message.id);
    if (!pending) return;
    if (message.ok)
      pending.resolve(
        message.t === 'resolved'
          ? { path: message.path, code: message.code }
          : message.t === 'sdk'
            ? message.code
            : message.value,
      );
    else pending.reject(new CodedError(message.error as Payload));
    return;
  }
  handle(message).then(
    (value) => {
      if (value instanceof ImageReply) {
        const meta: ImageMeta = {
          width: value.width,
          height: value.height,
          channels: value.channels,
          bytes: value.data.length,
        };
        writePixels(value.data);
        send({ t: 'reply', id: message.id, ok: true, value: null, image: meta });
      } else send({ t: 'reply', id: message.id, ok: true, value });
    },
    (error: unknown) => {
      const payload: Payload =
        error instanceof CodedError
          ? error.payload
          : { code: 'SANDBOX_CRASHED', message: `The sandbox failed: ${(error as Error).message}` };
      send({ t: 'reply', id: message.id, ok: false, error: payload as never });
    },
  );
});
// Ready once the SDK is compiled: a plugin's load timeout starts after this process's own set-up.
sdk().then(
  () => send({ t: 'ready' }),
  (error: unknown) => {
    process.stderr.write(`The sandbox SDK could not be prepared: ${(error as Error).message}\n`);
    process.exit(1);
  },
);
