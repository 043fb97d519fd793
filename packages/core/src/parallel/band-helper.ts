// A band helper thread of the engine: listens for band jobs on a BroadcastChannel, imports the
// kernel's module (once), and claims bands from the job's counter until none is left. A job that
// was finished by others before this thread got to it costs one atomic add.
import { BroadcastChannel, workerData } from 'node:worker_threads';
import { isAtelierError } from '../errors.ts';
import type { BandJob } from './band-runner.ts';
import { DONE, ERROR_BYTES, ERROR_LENGTH, FAILED, LEFT, NEXT, SEATS, STOP } from './band-runner.ts';
import type { BandAbort, BandFunction } from './bands.ts';
import { bandStart } from './bands.ts';

const { channel: name } = workerData as { channel: string };
const kernels = new Map<string, Promise<BandFunction<unknown>>>();

class Aborted extends Error {}

function kernelOf(module: string, exportName: string): Promise<BandFunction<unknown>> {
  const key = `${module}#${exportName}`;
  let loaded = kernels.get(key);
  if (!loaded) {
    loaded = import(module).then((ns: Record<string, unknown>) => {
      const kernel = ns[exportName] as { run?: unknown } | undefined;
      if (typeof kernel?.run !== 'function')
        throw new Error(`Module ${module} has no band kernel exported as "${exportName}".`);
      return kernel.run as BandFunction<unknown>;
    });
    kernels.set(key, loaded);
  }
  return loaded;
}

function fail(job: BandJob, band: number, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  const code = isAtelierError(error) ? error.code : undefined;
  let bytes = new TextEncoder().encode(JSON.stringify({ code, message, band }));
  if (bytes.length > ERROR_BYTES)
    bytes = new TextEncoder().encode(JSON.stringify({ code, message: message.slice(0, 1000), band }));
  job.error.set(bytes.subarray(0, ERROR_BYTES));
  Atomics.store(job.control, ERROR_LENGTH, bytes.length);
  Atomics.store(job.control, NEXT, STOP);
  Atomics.store(job.control, FAILED, 1);
  Atomics.notify(job.control, DONE);
}

async function work(job: BandJob): Promise<void> {
  const { control, abortFlag } = job;
  // Nothing left, or enough helpers already: do not even load the kernel.
  if (Atomics.load(control, NEXT) >= job.count || Atomics.load(abortFlag, 0) !== 0) return;
  // A helper with a seat says when it leaves: a failed or cancelled call waits for that.
  const seat = Atomics.add(control, SEATS, 1);
  try {
    if (seat < job.helpers) await claimBands(job);
  } finally {
    Atomics.add(control, LEFT, 1);
    Atomics.notify(control, LEFT);
  }
}

/** Runs bands of `job` until none is left to claim. */
async function claimBands(job: BandJob): Promise<void> {
  const { control, abortFlag } = job;
  let run: BandFunction<unknown>;
  try {
    run = await kernelOf(job.module, job.name);
  } catch (error) {
    if (Atomics.load(control, NEXT) < job.count) fail(job, -1, error);
    return;
  }
  const abort: BandAbort = {
    throwIfAborted() {
      if (Atomics.load(abortFlag, 0) !== 0) throw new Aborted('cancelled');
    },
  };
  for (;;) {
    const band = Atomics.add(control, NEXT, 1);
    if (band >= job.count) return;
    if (Atomics.load(abortFlag, 0) !== 0) {
      Atomics.store(control, NEXT, STOP);
      return;
    }
    try {
      run(job.args, bandStart(band, job.count, job.size), bandStart(band + 1, job.count, job.size), abort);
    } catch (error) {
      // A cancelled run: the caller sees the flag and stops by itself.
      if (!(error instanceof Aborted)) fail(job, band, error);
      return;
    }
    Atomics.add(control, DONE, 1);
    Atomics.notify(control, DONE);
  }
}

let queue = Promise.resolve();
const channel = new BroadcastChannel(name);
channel.onmessage = (event: unknown): void => {
  const job = (event as { data: BandJob }).data;
  if (job?.t !== 'bands') return;
  queue = queue.then(() => work(job)).catch(() => {});
};
