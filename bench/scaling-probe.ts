// What this machine gives two threads, as context for the threads section's ratio (issue 16's
// goal: a large render on 2 threads in ≤ 0.6 of its time on 1): the same work done by one thread
// and split in halves between two, for a loop that computes (registers only) and for one that
// streams through 59 MB of floats (a 5120x2880 plane, as the styles' passes do), read and
// written; and for a loop of eight independent multiply-adds ("throughput": it keeps a core's
// floating-point units busy, as the styles' SIMD kernels do, where the compute loop waits on one
// chain of dependent operations: two virtual CPUs that share a physical core, or its power,
// split that loop well and this one badly). Ratio = wall time on 2 threads / on 1; 0.5 is perfect
// scaling. Workers are started and
// warmed before timing; median of --rounds.
//   node bench/scaling-probe.ts [--rounds 5]
import { parseArgs } from 'node:util';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { median } from './stats.ts';

interface Job {
  readonly kind: 'compute' | 'throughput' | 'stream';
  readonly from: number;
  readonly to: number;
  readonly passes: number;
}

/** A plane of 5120 x 2880 floats. */
const SAMPLES = 5120 * 2880;

/** `n` steps of eight independent multiply-add chains. */
function multiplyAdds(n: number): number {
  let a0 = 1;
  let a1 = 1;
  let a2 = 1;
  let a3 = 1;
  let a4 = 1;
  let a5 = 1;
  let a6 = 1;
  let a7 = 1;
  const m = 0.9999999;
  const c = 1e-7;
  for (let i = 0; i < n; i++) {
    a0 = a0 * m + c;
    a1 = a1 * m + c;
    a2 = a2 * m + c;
    a3 = a3 * m + c;
    a4 = a4 * m + c;
    a5 = a5 * m + c;
    a6 = a6 * m + c;
    a7 = a7 * m + c;
  }
  return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}

if (!isMainThread) {
  const plane = new Float32Array(workerData as SharedArrayBuffer);
  parentPort!.on('message', (job: Job) => {
    let sum = 0;
    if (job.kind === 'compute') {
      for (let i = job.from; i < job.to; i++) sum += Math.sqrt(i * 1.0001) % 7;
    } else if (job.kind === 'throughput') {
      sum = multiplyAdds(job.to - job.from);
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
    const total = kind === 'compute' ? 60_000_000 : kind === 'throughput' ? 200_000_000 : SAMPLES;
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
    const labels = {
      compute: 'compute (registers)',
      throughput: 'throughput (8 multiply-adds at once)',
      stream: 'stream (59 MB, read and written)',
    } as const;
    for (const kind of ['compute', 'throughput', 'stream'] as const) {
      await timed(kind, 2); // warm both threads' code
      const one: number[] = [];
      const two: number[] = [];
      for (let r = 0; r < rounds; r++) {
        one.push(await timed(kind, 1));
        two.push(await timed(kind, 2));
      }
      const ratio = median(two) / median(one);
      console.log(
        `${labels[kind]}: 1 thread ${median(one).toFixed(0)} ms, 2 threads ${median(two).toFixed(0)} ms, ratio ${ratio.toFixed(2)}`,
      );
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
