// The owner's side of one sandbox process: spawns it (empty environment, Node's permission model,
// a heap cap), answers its module and host-call requests, watches its memory during a run, stops a
// run on abort (and kills the process when it does not answer), and reports a crash with a code.
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import {
  closeSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { readdir, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AtelierError, isAtelierError } from '@atelier/core';
import type { ErrorPayload, Logger } from '@atelier/core';
import { ModuleSources } from './module-source.ts';
import { sdkBundle } from './sdk-bundle.ts';
import type { FromSandbox, PluginDescription, SandboxRequest, ToSandbox, WireImage } from './protocol.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(HERE, import.meta.url.endsWith('.ts') ? 'sandbox-child.ts' : 'sandbox-child.js');
/** How long loading a plugin module (evaluating it and describing its plugins) may take. */
const LOAD_TIMEOUT_MS = 5000;
/** How long a sandbox gets to confirm an abort before it is killed. */
const ABORT_ANSWER_MS = 100;
/** The largest spare output buffer kept between runs (a 2560 px RGBA image), and for how long. */
const SPARE_MAX_BYTES = 32 * 2 ** 20;
const SPARE_IDLE_MS = 10_000;

/** Options of {@link SandboxProcess}. */
export interface SandboxProcessOptions {
  /** Heap of the sandbox process itself (not the isolates: they have their own limit). @default 256 */
  readonly heapMb?: number;
  readonly logger?: Logger;
}

/** What a run of a sandboxed step gets from and gives to its owner. */
export interface SandboxRunHooks {
  readonly progress?: (fraction: number, message?: string) => void;
  readonly log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
  /** A host-mediated call of the plugin (fetch, decode, reportCost, annotate). */
  readonly host?: (name: string, args: unknown[]) => Promise<unknown>;
  readonly signal?: AbortSignal;
}

/** A step for the sandbox to run. */
export interface SandboxRunRequest {
  readonly moduleUrl: string;
  readonly plugin: string;
  readonly image: WireImage;
  readonly params: unknown;
  readonly seed: number;
  /** `ctx.previewScale`. @default 1 */
  readonly previewScale?: number;
  readonly memoryMb: number;
  readonly maxPixels: number;
  readonly secrets?: Readonly<Record<string, string>>;
  /**
   * The output's size in bytes when it is known before the run (a style that keeps its input's
   * size): its buffer is made ready while the sandbox works (see preparedBuffer).
   */
  readonly outputBytes?: number;
}

/**
 * The directories the sandbox process may read under `--permission`: its own code and the
 * packages it loads (isolated-vm, sharp and sharp's platform packages), by their real paths
 * (pnpm links them from its store), plus the two files sharp's libc detection reads. Nothing of
 * the workspace, the data directory or the plugins: plugin sources come over IPC.
 */
async function readableRoots(): Promise<string[]> {
  const roots = new Set<string>([HERE, path.dirname(HERE)]);
  // The packages as this package's node_modules links them (pnpm: into the workspace's store).
  const packageDir = (name: string): Promise<string> =>
    realpath(path.join(path.dirname(HERE), 'node_modules', name));
  // isolated-vm and sharp, and their own dependencies (node-gyp-build, the libvips binaries,
  // detect-libc, semver), which pnpm links beside each of them.
  for (const name of ['isolated-vm', 'sharp']) {
    const dir = await packageDir(name);
    roots.add(dir);
    const siblings = path.dirname(name.startsWith('@') ? path.dirname(dir) : dir);
    roots.add(siblings);
    for (const entry of await readdir(siblings)) {
      const names = entry.startsWith('@')
        ? (await readdir(path.join(siblings, entry))).map((n) => path.join(entry, n))
        : [entry];
      for (const sibling of names) {
        roots.add(await realpath(path.join(siblings, sibling)).catch(() => path.join(siblings, sibling)));
      }
    }
  }
  return [...roots, '/usr/bin/ldd', '/etc/alpine-release'];
}

let rootsOnce: Promise<string[]> | undefined;

function crashed(message: string): AtelierError {
  return new AtelierError('SANDBOX_CRASHED', message);
}

/**
 * Resident memory of a process in bytes, from /proc (Linux); undefined elsewhere. Read
 * synchronously: a procfs read takes microseconds, where the thread pool (busy with sharp's work)
 * could delay an asynchronous one by tens of milliseconds, on the run's clock.
 */
function residentBytes(pid: number): number | undefined {
  try {
    const statm = readFileSync(`/proc/${pid}/statm`, 'utf8');
    return Number(statm.split(' ')[1]) * 4096;
  } catch {
    return undefined;
  }
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly hooks?: SandboxRunHooks;
}

/**
 * One sandbox process, spawned on first use and again after it died. Requests are answered in
 * order of completion; the engine's threads send one run at a time.
 *
 * @example
 * const sandbox = new SandboxProcess();
 * const plugins = await sandbox.describe(moduleUrl, 512);
 * await sandbox.close();
 */
export class SandboxProcess {
  readonly #options: SandboxProcessOptions;
  readonly #sources = new ModuleSources();
  #child: ChildProcess | undefined;
  /** The pixel exchange file of the running process (see sandbox-child.ts). */
  #pixelsFd: number | undefined;
  /** The buffer the current run's output is read into when it has the expected size. */
  #outputBuffer: Uint8Array | undefined;
  /** An output buffer made ready after a run, for the next one (see #prepareSpare). */
  #spare: Uint8Array | undefined;
  #spareDrop: NodeJS.Timeout | undefined;
  /** Runs go one at a time: they share the exchange file. */
  #runQueue: Promise<unknown> = Promise.resolve();
  #spawning: Promise<ChildProcess> | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  /** Why the current process was killed by us, to name the failure of its runs. */
  #killedFor: AtelierError | undefined;
  #closed = false;

  constructor(options: SandboxProcessOptions = {}) {
    this.#options = options;
  }

  /** The process id of the running sandbox process, if one runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  async #spawn(): Promise<ChildProcess> {
    if (this.#child) return this.#child;
    this.#spawning ??= (async () => {
      rootsOnce ??= readableRoots();
      const roots = await rootsOnce;
      const pixelsFd = openExchangeFile();
      const child = fork(CHILD, [], {
        // Nothing inherited: no DATABASE_URL, no secrets. Only glibc's malloc is told to keep large
        // blocks (up to 32 MB: a 1920 px RGBA image) in its heap for reuse instead of mapping fresh
        // pages for every image, which costs more than the plugin's own work on a small image.
        env: { MALLOC_MMAP_THRESHOLD_: '33554432', MALLOC_TRIM_THRESHOLD_: '268435456' },
        execArgv: [
          '--permission',
          '--allow-addons',
          ...roots.map((r) => `--allow-fs-read=${r}`),
          `--max-old-space-size=${this.#options.heapMb ?? 256}`,
          // gc() in every isolate: the sandbox collects a run's image buffers when it ends (see
          // sandbox-child.ts), so the next run reuses their memory instead of faulting in new pages.
          '--expose-gc',
          '--no-warnings',
        ],
        serialization: 'advanced',
        // fd 4: the pixel exchange file.
        stdio: ['ignore', 'ignore', 'pipe', 'ipc', pixelsFd],
      });
      this.#pixelsFd = pixelsFd;
      child.once('exit', () => {
        closeSync(pixelsFd);
        if (this.#pixelsFd === pixelsFd) this.#pixelsFd = undefined;
      });
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString('utf8')).slice(-2000);
      });
      // Its requests are answered from the start: before it says it is ready, the process asks for
      // the SDK bundle and compiles it (see sandbox-child.ts), so that no plugin's load timeout
      // pays for that.
      child.on('message', (message: FromSandbox) => this.#onMessage(child, message));
      await new Promise<void>((resolve, reject) => {
        const onMessage = (m: FromSandbox): void => {
          if (m.t !== 'ready') return;
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve();
        };
        const onExit = (code: number | null, signal: string | null): void =>
          reject(crashed(`The sandbox process did not start (exit ${code ?? signal}): ${stderr.trim()}`));
        child.on('message', onMessage);
        child.once('exit', onExit);
      });
      child.once('exit', (code, signal) => {
        if (this.#child === child) this.#child = undefined;
        const error =
          this.#killedFor ??
          crashed(`The sandbox process exited (${signal ?? `code ${code}`}) during the request.`);
        this.#killedFor = undefined;
        for (const [id, pending] of this.#pending) {
          this.#pending.delete(id);
          pending.reject(error);
        }
      });
      this.#child = child;
      this.#updateRef();
      return child;
    })().finally(() => {
      this.#spawning = undefined;
    });
    return this.#spawning;
  }

  /** An idle sandbox does not keep its owner's event loop alive. */
  #updateRef(): void {
    const child = this.#child;
    if (!child) return;
    const channel = child.channel as { ref(): void; unref(): void } | undefined;
    const stderr = child.stderr as (NodeJS.ReadableStream & { ref?(): void; unref?(): void }) | null;
    if (this.#pending.size > 0) {
      child.ref();
      channel?.ref();
      stderr?.ref?.();
    } else {
      child.unref();
      channel?.unref();
      stderr?.unref?.();
    }
  }

  #send(child: ChildProcess, message: ToSandbox): void {
    if (child.connected) child.send(message);
  }

  #onMessage(child: ChildProcess, message: FromSandbox): void {
    switch (message.t) {
      case 'ready':
        return;
      case 'reply': {
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        this.#pending.delete(message.id);
        this.#updateRef();
        if (!message.ok) pending.reject(AtelierError.fromPayload(message.error));
        else if (message.image) {
          const meta = message.image;
          try {
            const prepared = this.#outputBuffer;
            this.#outputBuffer = undefined;
            const data = readExchange(
              this.#pixelsFd,
              meta.bytes,
              prepared?.length === meta.bytes ? prepared : undefined,
            );
            pending.resolve({ data, width: meta.width, height: meta.height, channels: meta.channels });
          } catch (error) {
            pending.reject(crashed(`Reading the sandbox's output failed: ${(error as Error).message}`));
          }
        } else pending.resolve(message.value);
        return;
      }
      case 'resolve':
        this.#sources.load(message.specifier, message.referrer).then(
          (source) =>
            this.#send(child, {
              t: 'resolved',
              id: message.id,
              ok: true,
              path: source.path,
              code: source.code,
            }),
          (error: unknown) =>
            this.#send(child, { t: 'resolved', id: message.id, ok: false, error: payloadOf(error) }),
        );
        return;
      case 'sdk':
        sdkBundle().then(
          (code) => this.#send(child, { t: 'sdk', id: message.id, ok: true, code }),
          (error: unknown) =>
            this.#send(child, {
              t: 'sdk',
              id: message.id,
              ok: false,
              error: crashed(`Building the sandbox's SDK failed: ${(error as Error).message}`).toJSON(),
            }),
        );
        return;
      case 'host': {
        const hooks = this.#pending.get(message.run)?.hooks;
        const call = hooks?.host
          ? hooks.host(message.name, message.args)
          : Promise.reject(new AtelierError('PLUGIN_FAILED', `ctx.${message.name}() is not available here.`));
        call.then(
          (value) => this.#send(child, { t: 'hostResult', id: message.id, ok: true, value }),
          (error: unknown) =>
            this.#send(child, { t: 'hostResult', id: message.id, ok: false, error: payloadOf(error) }),
        );
        return;
      }
      case 'log':
        this.#pending.get(message.run)?.hooks?.log?.(message.level, message.message);
        return;
      case 'progress':
        this.#pending.get(message.run)?.hooks?.progress?.(message.fraction, message.message);
        return;
    }
  }

  async #request<T>(
    make: (id: number) => SandboxRequest,
    hooks?: SandboxRunHooks,
  ): Promise<{ id: number; result: Promise<T> }> {
    if (this.#closed) throw new AtelierError('ENGINE_CLOSED', 'The sandbox is closed.');
    const child = await this.#spawn();
    const id = this.#nextId++;
    const result = new Promise<T>((resolve, reject) => {
      this.#pending.set(id, {
        resolve: resolve as (v: unknown) => void,
        reject,
        ...(hooks ? { hooks } : {}),
      });
    });
    this.#updateRef();
    this.#send(child, make(id));
    return { id, result };
  }

  /**
   * Loads a module in an isolate (kept warm) and describes its plugins. A module that does not
   * finish loading within {@link LOAD_TIMEOUT_MS} (an endless loop or a wait at its top level) is
   * `PLUGIN_TIMEOUT`: the sandbox process is killed, so it cannot hold up the caller's start-up.
   */
  async describe(moduleUrl: string, memoryMb: number): Promise<PluginDescription[]> {
    const { result } = await this.#request<PluginDescription[]>((id) => ({
      t: 'describe',
      id,
      moduleUrl,
      memoryMb,
    }));
    const child = this.#child;
    const timer = setTimeout(() => {
      if (child)
        this.#kill(
          child,
          new AtelierError(
            'PLUGIN_TIMEOUT',
            `Plugin module ${moduleUrl} did not finish loading within ${LOAD_TIMEOUT_MS} ms in the sandbox; it was stopped.`,
            { details: { module: moduleUrl } },
          ),
        );
    }, LOAD_TIMEOUT_MS);
    try {
      return await result;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A sandboxed plugin's `outputSize`. */
  async outputSize(
    moduleUrl: string,
    memoryMb: number,
    plugin: string,
    args: { width: number; height: number; params: unknown },
  ): Promise<{ width: number; height: number }> {
    const { result } = await this.#request<{ width: number; height: number }>((id) => ({
      t: 'outputSize',
      id,
      moduleUrl,
      memoryMb,
      plugin,
      ...args,
    }));
    return result;
  }

  /** Drops the isolates of other revisions of `moduleUrl` (a reload). */
  async forget(moduleUrl: string): Promise<void> {
    if (!this.#child) return;
    const { result } = await this.#request<unknown>((id) => ({ t: 'forget', id, keep: moduleUrl }));
    await result;
  }

  /**
   * Runs one step. The signal stops it (the isolate is disposed; the process is killed when it
   * does not confirm within 100 ms); the process is killed with `PLUGIN_OUT_OF_MEMORY` when its
   * resident memory grows past `memoryMb` over its level at the start of the run.
   */
  run(request: SandboxRunRequest, hooks: SandboxRunHooks = {}): Promise<WireImage | { invalid: true }> {
    const run = this.#runQueue.then(() => this.#run(request, hooks));
    this.#runQueue = run.catch(() => {});
    return run;
  }

  async #run(request: SandboxRunRequest, hooks: SandboxRunHooks): Promise<WireImage | { invalid: true }> {
    hooks.signal?.throwIfAborted();
    const child = await this.#spawn();
    const pid = child.pid;
    const baseline = pid === undefined ? undefined : residentBytes(pid);
    if (this.#pixelsFd === undefined) throw crashed('The sandbox process has no pixel exchange file.');
    writeExchange(this.#pixelsFd, request.image.data);
    const { id, result } = await this.#request<WireImage | { invalid: true }>(
      (rid) => ({
        t: 'run',
        id: rid,
        moduleUrl: request.moduleUrl,
        memoryMb: request.memoryMb,
        plugin: request.plugin,
        image: {
          width: request.image.width,
          height: request.image.height,
          channels: request.image.channels,
          bytes: request.image.data.length,
        },
        params: request.params,
        seed: request.seed,
        previewScale: request.previewScale ?? 1,
        maxPixels: request.maxPixels,
        secrets: request.secrets ?? {},
      }),
      hooks,
    );
    let watchdog: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      this.#send(child, { t: 'abort', id: this.#nextId++, run: id });
      killTimer = setTimeout(() => this.#kill(child, undefined), ABORT_ANSWER_MS);
    };
    if (baseline !== undefined && pid !== undefined) {
      watchdog = setInterval(() => {
        const rss = residentBytes(pid);
        if (rss !== undefined && rss - baseline > request.memoryMb * 2 ** 20) {
          this.#kill(
            child,
            new AtelierError(
              'PLUGIN_OUT_OF_MEMORY',
              `Plugin "${request.plugin}" used more than ${request.memoryMb} MB in its sandbox and was stopped.`,
              { details: { plugin: request.plugin } },
            ),
          );
        }
      }, 25);
    }
    // The output's buffer, ready before the output arrives when its size is known: a fresh
    // buffer's first touch of each page costs about as much as a plugin's whole loop over it (tens
    // of milliseconds at 1920 px on a virtual machine), which would otherwise come after the run,
    // on its clock. The spare made after the last run when it has the size; else made now, while
    // the sandbox works. A reply of another size gets a buffer of its own.
    const expected = request.outputBytes;
    const known = expected !== undefined && expected <= request.image.data.length;
    if (known && this.#spare?.length === expected) {
      this.#outputBuffer = this.#spare;
      this.#spare = undefined;
    } else {
      this.#outputBuffer = known ? preparedBuffer(this.#pixelsFd, expected) : undefined;
    }
    hooks.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await result;
    } finally {
      clearInterval(watchdog);
      clearTimeout(killTimer);
      this.#outputBuffer = undefined;
      hooks.signal?.removeEventListener('abort', onAbort);
      if (known) this.#prepareSpare(expected);
    }
  }

  /**
   * Makes a spare output buffer of `bytes` once the thread is idle, for the next run of the same
   * size (a worker renders the same size again and again): its pages are touched off the next
   * run's clock. One spare of at most {@link SPARE_MAX_BYTES}, dropped after {@link SPARE_IDLE_MS}
   * without a run, so an idle worker holds no image-sized memory.
   */
  #prepareSpare(bytes: number): void {
    clearTimeout(this.#spareDrop);
    if (bytes > SPARE_MAX_BYTES || this.#closed) return;
    setImmediate(() => {
      const fd = this.#pixelsFd;
      if (fd === undefined || this.#closed || this.#spare?.length === bytes) return;
      this.#spare = preparedBuffer(fd, bytes);
      this.#spareDrop = setTimeout(() => {
        this.#spare = undefined;
      }, SPARE_IDLE_MS).unref();
    });
  }

  #kill(child: ChildProcess, reason: AtelierError | undefined): void {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (this.#child === child) {
      this.#killedFor = reason ?? new AtelierError('ABORTED', 'The run was stopped.');
      this.#child = undefined;
    }
    child.kill('SIGKILL');
  }

  /** Stops the sandbox process; pending requests fail with `ENGINE_CLOSED`. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#spare = undefined;
    clearTimeout(this.#spareDrop);
    const child = this.#child ?? (await this.#spawning?.catch(() => undefined));
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.#killedFor = new AtelierError('ENGINE_CLOSED', 'The sandbox was closed.');
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.disconnect();
    const timer = setTimeout(() => child.kill('SIGKILL'), 500);
    await exited;
    clearTimeout(timer);
  }
}

/** An unlinked file in /dev/shm (memory), or in the temporary directory where there is none. */
function openExchangeFile(): number {
  const dir = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const file = path.join(
    dir,
    `atelier-sandbox-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`,
  );
  const fd = openSync(file, 'wx+', 0o600);
  unlinkSync(file);
  return fd;
}

function writeExchange(fd: number, data: Uint8Array): void {
  for (let done = 0; done < data.length;) done += writeSync(fd, data, done, data.length - done, done);
}

/**
 * A buffer of `bytes` that the output can be read into at once: filled by a read from the
 * exchange file (which holds the run's input, of that size), so every page is touched and mapped
 * for the kernel's copies before the output arrives. On this project's virtual machines the first
 * touch of fresh memory, by the process or by a read into it, costs some 5 ms per megabyte.
 */
function preparedBuffer(fd: number, bytes: number): Uint8Array {
  const data = new Uint8Array(bytes);
  for (let done = 0; done < bytes;) {
    const n = readSync(fd, data, done, bytes - done, done);
    if (n === 0) break;
    done += n;
  }
  return data;
}

function readExchange(fd: number | undefined, bytes: number, into?: Uint8Array): Uint8Array {
  if (fd === undefined) throw new Error('the sandbox process is gone');
  const data = into ?? new Uint8Array(bytes);
  for (let done = 0; done < bytes;) {
    const n = readSync(fd, data, done, bytes - done, done);
    if (n === 0) throw new Error('the output is shorter than announced');
    done += n;
  }
  // Up to 64 MB stays (written again at the next run without new pages); a big image's does not.
  if (fstatSync(fd).size > 64 * 2 ** 20) ftruncateSync(fd, 0);
  return data;
}

function payloadOf(error: unknown): ErrorPayload {
  if (isAtelierError(error)) return error.toJSON();
  return {
    code: 'PLUGIN_FAILED',
    message: error instanceof Error ? error.message : String(error),
  } as ErrorPayload;
}
