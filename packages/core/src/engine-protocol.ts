import type { MessagePort } from 'node:worker_threads';
import type { PluginGrants } from './capabilities.ts';
import type { ErrorPayload } from './errors.ts';
import type { InputInfo } from './image-io.ts';
import type { Plan, PlanLimits } from './plan.ts';
import type { AnyPlugin, RawImage } from './plugin.ts';
import type { StepAnnotation, StepCost } from './plugin-reports.ts';
import type { BandHelpersRef } from './parallel/band-helpers.ts';

/** What the engine sends a worker thread for one run. */
export interface WorkerTask {
  /** The image's bytes, or its pixels decoded ahead of time (`Engine.decode`). */
  readonly input: Uint8Array | RawImage;
  readonly info: InputInfo;
  readonly plan: Plan;
  /** Module URL of each plugin the plan uses, by plugin id. */
  readonly modules: Readonly<Record<string, string>>;
  /**
   * The plugins of the plan that run in the sandbox: the module URL of the runner that runs them
   * (see `PluginSource.runner`) and their module URLs. Absent when every plugin runs in-process.
   */
  readonly sandbox?: { readonly runner: string; readonly modules: readonly string[] };
  /** Seed of each step. */
  readonly seeds: readonly number[];
  /** `ctx.previewScale` of every step (1 outside previews). */
  readonly previewScale: number;
  /** What was granted to each plugin the plan uses that declares capabilities, by plugin id. */
  readonly grants: Readonly<Record<string, PluginGrants>>;
  /** Messages from the worker (stage, progress, log) go through this port. */
  readonly port: MessagePort;
  /** Int32Array over a SharedArrayBuffer: non-zero once the run is cancelled, seen even by synchronous loops. */
  readonly abortFlag: Int32Array;
  /** The engine's band helper threads, when it has any. */
  readonly bands?: BandHelpersRef;
}

/** What `Engine.previewProxy` sends a worker thread (its `previewProxy` export). */
export interface ProxyTask {
  /** The photo's bytes, already inspected against the engine's limits. */
  readonly bytes: Uint8Array;
  readonly longSide: number;
}

export type ProxyResult =
  | { readonly ok: true; readonly png: Uint8Array; readonly scale: number }
  | { readonly ok: false; readonly error: ErrorPayload };

export type Stage = 'decode' | 'step' | 'encode';

export type WorkerMessage =
  | { readonly t: 'hello'; readonly threadId: number; readonly baselineBytes: number }
  | { readonly t: 'stage'; readonly stage: Stage; readonly step?: number }
  | { readonly t: 'progress'; readonly step: number; readonly fraction: number; readonly message?: string }
  /**
   * A cost as the plugin reports it: sent at once, so that the host knows what was spent even
   * when the thread is lost afterwards (a timeout, a crash); the result repeats the full list.
   */
  | { readonly t: 'cost'; readonly cost: StepCost }
  | {
      readonly t: 'log';
      readonly level: 'debug' | 'info' | 'warn' | 'error';
      readonly message: string;
      readonly fields?: Record<string, unknown>;
    };

/** How long one step of a run took. */
export interface StepTiming {
  readonly plugin: string;
  /** Wall-clock time of the step, in milliseconds. */
  readonly ms: number;
  /**
   * CPU time of the whole process while the step ran, in milliseconds: every thread's (the
   * engine's thread, its band helpers, libvips' threads, V8's collector), so also other runs' if
   * the process had any at the time. With one run at a time, `cpuMs / ms` is the cores the step
   * kept busy: above 1 on one thread where libvips works beside the JavaScript (`pnpm bench
   * --only threads` prints it). Not stored with a job.
   */
  readonly cpuMs: number;
}

/** What the plugins of a run reported beside pixels. */
export interface WorkerReports {
  readonly costs: readonly StepCost[];
  readonly annotations: readonly StepAnnotation[];
}

interface WorkerSuccess extends WorkerReports {
  readonly ok: true;
  readonly output: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly timings: {
    readonly decodeMs: number;
    readonly steps: readonly StepTiming[];
    readonly encodeMs: number;
  };
}

/**
 * What a sandbox runner module (`PluginSource.runner`) exports for the engine's worker threads:
 * the plugins of a sandboxed module as in-thread proxies whose `apply` runs the real code in the
 * sandbox. The worker thread runs them with `runStep` like any plugin.
 */
export interface SandboxRunnerModule {
  sandboxedPlugins(moduleUrl: string, limits: PlanLimits): Promise<readonly AnyPlugin[]>;
}

export type WorkerResult =
  WorkerSuccess | ({ readonly ok: false; readonly error: ErrorPayload } & Partial<WorkerReports>);
