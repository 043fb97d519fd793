// What ties a sharp pipeline to its step's cancel, without importing sharp: run-pipeline.ts and
// work-size.ts use it, and so does the sandbox's copy of the SDK, which has no sharp of its own.

/**
 * Where a pipeline made by `ctx.sharp` keeps its step's signal (sharp's methods return the same
 * object). A registry-wide symbol, not a module-local map: a plugin package may bring its own copy
 * of the SDK (its `runPipeline` is then not this module's), and the signal must reach it anyway.
 */
export const PIPELINE_SIGNAL = Symbol.for('atelier.pipelineSignal');

/** Attaches `signal` to `pipeline` (see {@link pipelineSignal}). */
export function withSignal<T extends object>(pipeline: T, signal: AbortSignal): T {
  Object.defineProperty(pipeline, PIPELINE_SIGNAL, { value: signal, configurable: true });
  return pipeline;
}

/** The signal of the step that made `pipeline` with `ctx.sharp` (in any copy of the SDK), if it was made so. */
export function pipelineSignal(pipeline: object): AbortSignal | undefined {
  const signal: unknown = Reflect.get(pipeline, PIPELINE_SIGNAL);
  return signal instanceof AbortSignal ? signal : undefined;
}

/**
 * `work`, or a rejection with the signal's reason as soon as `signal` aborts, whichever comes
 * first. Only for libvips work: libvips cannot be interrupted, but the step need not wait for it
 * (the abandoned operation finishes on libuv's threads, unused). JavaScript work must stop by
 * itself, on its signal, or lose its thread.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error as Error);
      },
    );
  });
}
