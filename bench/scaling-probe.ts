// What this machine gives two threads, as context for the threads section's ratio (issue 16's
// goal: a large render on 2 threads in ≤ 0.6 of its time on 1): the same work done by one thread
// and split in halves between two, for a loop that computes (registers only) and for one that
// streams through 59 MB of floats (a 5120x2880 plane, as the styles' passes do), read and
// written. Ratio = wall time on 2 threads / on 1; 0.5 is perfect scaling. Workers are started and
// warmed before timing; median of --rounds.
//   node bench/scaling-probe.ts [--rounds 5]
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { median } from './stats.ts';

interface Job {
  readonly kind: 'compute' | 'stream';
  readonly from: number;
  readonly to: number;
  readonly passes: number;
}

/** A plane of 5120 x 2880 floats. */
const SAMPLES = 5120 * 2880;

if (!isMainThread) {
  const plane = new Float32Array(workerData as SharedArrayBuffer);
  parentPort!.on('message', (job: Job) => {
    let sum = 0;
    if (job.kind === 'compute') {
      for (let i = job.from; i < job.to; i++) sum += Math.sqrt(i * 1.0001) % 7;
    } else {
      for (let p = 0; p < job.passes; p++)
        for (let i = job.from; i < job.to; i++) {
          const v = plane[i]! * 0.999 + 0.001;
          plane[i] = v;
          sum += v;
        }
    }
    parentPort!.postMessage(sum);
  });
} else {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
  const rounds = Number(values.rounds);
  const buffer = new SharedArrayBuffer(SAMPLES * 4);
  new Float32Array(buffer).fill(0.5);
  const workers = [0, 1].map(() => new Worker(new URL(import.meta.url), { workerData: buffer }));
  const run = (worker: Worker, job: Job): Promise<void> =>
    new Promise((resolve) => {
      worker.once('message', () => resolve());
      worker.postMessage(job);
    });
  const timed = async (kind: Job['kind'], threads: number): Promise<number> => {
    const total = kind === 'compute' ? 60_000_000 : SAMPLES;
    const passes = 4;
    const start = performance.now();
    await Promise.all(
      workers
        .slice(0, threads)
        .map((worker, k) =>
          run(worker, { kind, from: (total * k) / threads, to: (total * (k + 1)) / threads, passes }),
        ),
    );
    return performance.now() - start;
  };
  try {
    for (const kind of ['compute', 'stream'] as const) {
      await timed(kind, 2); // warm both threads' code
      const one: number[] = [];
      const two: number[] = [];
      for (let r = 0; r < rounds; r++) {
        one.push(await timed(kind, 1));
        two.push(await timed(kind, 2));
      }
      const ratio = median(two) / median(one);
      console.log(
        `${kind === 'compute' ? 'compute (registers)' : 'stream (59 MB, read and written)'}: 1 thread ${median(one).toFixed(0)} ms, 2 threads ${median(two).toFixed(0)} ms, ratio ${ratio.toFixed(2)}`,
      );
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
