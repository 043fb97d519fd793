// The job system's benchmarks, on a fresh embedded Postgres and local storage:
//  1. submit→start latency with an idle worker (p50, p99; goal ≤ 15 ms / 50 ms);
//  2. throughput of small real jobs (512 px cartoon) through queue + worker + storage, against the
//     bare engine on the same images and threads in the same run (goal ≥ 90 %).
//   node bench/jobs-bench.ts [--samples 200] [--jobs 120] [--style cartoon] [--rounds 5]
// The machines are noisy and their speed drifts within a run: each round measures both back to
// back (in turn, bare first then queue first), and the ratio reported is the median of the rounds'.
import { chmod, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { Engine, PluginRegistry, loadPluginModule } from '@atelier/core';
import { ensureDatabase, migrateUp, openDatabase, startEmbeddedPostgres } from '@atelier/db';
import { JobEventListener, JobService, RenderWorker, createJobQueue } from '@atelier/jobs';
import { LocalStorage } from '@atelier/storage';
import { median } from './stats.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '200' },
    jobs: { type: 'string', default: '120' },
    style: { type: 'string', default: 'cartoon' },
    threads: { type: 'string', default: '2' },
    concurrency: { type: 'string' },
    rounds: { type: 'string', default: '5' },
  },
});
const root = fileURLToPath(new URL('..', import.meta.url));
const threads = Number(values.threads);

const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/** utime, stime, cutime and cstime of a process, in clock ticks (Linux /proc; 100 a second). */
async function ticksOf(pid: number | string): Promise<{ ppid: number; own: number; reaped: number } | null> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return null;
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  return { ppid: f[1]!, own: f[11]! + f[12]!, reaped: f[13]! + f[14]! };
}

/**
 * CPU seconds used so far by the embedded Postgres: the postmaster, its live children (backends
 * and helpers) and the children it has reaped. Null where /proc is not there.
 */
async function postgresCpu(pid: number): Promise<number | null> {
  const main = await ticksOf(pid);
  if (!main) return null;
  let ticks = main.own + main.reaped;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = await ticksOf(entry);
    if (child?.ppid === pid) ticks += child.own;
  }
  return ticks / 100;
}

/** CPU seconds of this process, every thread. */
const selfCpu = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** `count` different 512 px photos: crops of the fixture photos at different places. */
async function photos(count: number): Promise<Buffer[]> {
  const sources = ['colorful-cups-2560x1600.jpg', 'evening-glow-2560x1600.jpg', 'fallen-leaf-2560x1600.jpg'];
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const src = path.join(root, 'test/fixtures/images', sources[i % sources.length]!);
    const k = Math.floor(i / sources.length);
    const left = (k * 97) % (2560 - 1024);
    const top = (k * 61) % (1600 - 640);
    out.push(
      await sharp(src)
        .extract({ left, top, width: 1024, height: 640 })
        .resize(512)
        .jpeg({ quality: 90 })
        .toBuffer(),
    );
  }
  return out;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'atelier-bench-'));
  await chmod(dir, 0o755);
  const server = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), persistent: false });
  const url = await ensureDatabase(server.adminUrl, 'atelier');
  const database = await openDatabase({ url, poolSize: 20 });
  await migrateUp(database.db);
  const registry = new PluginRegistry();
  await loadPluginModule(registry, import.meta.resolve('@atelier/plugins'), { builtin: true });
  const engine = new Engine({ registry, threads });
  const storage = new LocalStorage({ root: path.join(dir, 'storage') });
  const queue = createJobQueue({ url });
  await queue.start();
  const jobs = new JobService({ db: database.db, queue, storage, registry });
  const ownerId = await jobs.ensureUser('bench@atelier.local');
  try {
    // 1. Latency at idle: one job at a time, the worker waiting between them.
    const tiny = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const image = await jobs.storeImage({ ownerId, bytes: tiny });
    const worker = new RenderWorker({ db: database.db, queue, storage, engine, url });
    await worker.start();
    const samples = Number(values.samples);
    const latencies: number[] = [];
    for (let i = 0; i < samples + 10; i++) {
      await new Promise((r) => setTimeout(r, 15)); // idle
      const t0 = Date.now();
      // Distinct parameters: no result-cache hit.
      const job = await jobs.submit({
        ownerId,
        imageId: image.id,
        plan: { steps: [{ plugin: 'blur', params: { sigma: 0.3 + i / 1000 } }] },
      });
      let row;
      do {
        row = await database.db
          .selectFrom('jobs')
          .select(['status', 'started_at'])
          .where('id', '=', job.id)
          .executeTakeFirstOrThrow();
      } while (row.status !== 'succeeded' && row.status !== 'failed');
      if (i >= 10) latencies.push(row.started_at!.getTime() - t0); // first 10 warm up
    }
    latencies.sort((a, b) => a - b);
    console.log(
      `Submit→start latency at idle (${samples} jobs): p50 ${percentile(latencies, 50)} ms, p99 ${percentile(latencies, 99)} ms (goal ≤ 15 / 50 ms)`,
    );
    await worker.stop();

    // 2. Throughput: the same photos and plan, bare engine against queue + worker + storage.
    const count = Number(values.jobs);
    const inputs = await photos(count);
    const plan = engine.plan({ steps: [{ plugin: values.style }], output: { format: 'jpeg' } });
    const inFlight = threads * 2;
    const postmaster = Number(
      (await readFile(path.join(dir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0],
    );
    /** What a run cost: jobs per second, and CPU ms per job of this process and of Postgres. */
    interface Run {
      readonly rate: number;
      readonly cpuMs: number;
      readonly pgMs: number | null;
    }
    const measure = async (count: number, run: () => Promise<void>): Promise<Run> => {
      // Postgres read first at the start and last at the end: reading /proc is not the run's CPU.
      const pg0 = await postgresCpu(postmaster);
      const self0 = selfCpu();
      const t0 = performance.now();
      await run();
      const seconds = (performance.now() - t0) / 1000;
      const self1 = selfCpu();
      const pg1 = await postgresCpu(postmaster);
      return {
        rate: count / seconds,
        cpuMs: ((self1 - self0) / count) * 1000,
        pgMs: pg0 === null || pg1 === null ? null : ((pg1 - pg0) / count) * 1000,
      };
    };
    const bare = (): Promise<Run> =>
      measure(inputs.length, async () => {
        let next = 0;
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (next < inputs.length) await engine.run(inputs[next++]!, plan);
          }),
        );
      });
    await bare(); // warm-up: threads started, plugin modules loaded

    const imageIds: string[] = [];
    for (const bytes of inputs) imageIds.push((await jobs.storeImage({ ownerId, bytes })).id);
    const listener = new JobEventListener(url, undefined, ['event']);
    let finished = 0;
    listener.on('event', (e) => {
      if (e.status === 'succeeded' || e.status === 'failed') finished++;
    });
    await listener.start();
    /** Queues every photo (another quality each round, so nothing is a cache hit), then drains. */
    const queued = async (round: number): Promise<Run> => {
      for (const imageId of imageIds) {
        await jobs.submit({
          ownerId,
          imageId,
          plan: { steps: [{ plugin: values.style }], output: { format: 'jpeg', quality: 90 - round } },
        });
      }
      const worker = new RenderWorker({
        db: database.db,
        queue,
        storage,
        engine,
        url,
        ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
      });
      finished = 0;
      const run = await measure(imageIds.length, async () => {
        await worker.start();
        while (finished < imageIds.length) await new Promise((r) => setTimeout(r, 5));
      });
      await worker.stop();
      return run;
    };
    // Each round measures both back to back, in turn bare first and queue first, so that both see
    // the same machine; the ratio is the median of the rounds' ratios.
    const rounds = Number(values.rounds);
    const bareRuns: Run[] = [];
    const queueRuns: Run[] = [];
    for (let round = 0; round < rounds; round++) {
      if (round % 2 === 0) {
        bareRuns.push(await bare());
        queueRuns.push(await queued(round));
      } else {
        queueRuns.push(await queued(round));
        bareRuns.push(await bare());
      }
    }
    await listener.close();
    const ratios = queueRuns.map((q, i) => q.rate / bareRuns[i]!.rate);
    const ratio = median(ratios);
    // CPU per job: both paths keep the two cores busy, so throughput follows what a job costs in
    // CPU, and CPU time drifts less than the machine's speed does.
    const cpuOf = (r: Run): number => r.cpuMs + (r.pgMs ?? 0);
    const [bareCpu, queueCpu] = [median(bareRuns.map(cpuOf)), median(queueRuns.map(cpuOf))];
    const queuePg = median(queueRuns.map((r) => r.pgMs ?? 0));
    const failed = await database.db.selectFrom('jobs').select('id').where('status', '=', 'failed').execute();
    console.log(
      `Throughput, ${count} × 512 px ${values.style}, ${threads} threads, ${rounds} rounds: bare engine ` +
        `${median(bareRuns.map((r) => r.rate)).toFixed(1)} jobs/s, queue + worker + storage ` +
        `${median(queueRuns.map((r) => r.rate)).toFixed(1)} jobs/s (medians); median of the rounds' ratios ` +
        `${(ratio * 100).toFixed(0)} % (goal ≥ 90 %) ${ratio >= 0.9 ? 'ok' : 'BELOW GOAL'}` +
        (failed.length ? `, ${failed.length} FAILED` : ''),
    );
    console.log(`  rounds' ratios: ${ratios.map((r) => `${(r * 100).toFixed(0)} %`).join(', ')}`);
    console.log(
      `  CPU per job (medians): bare engine ${bareCpu.toFixed(1)} ms; queue + worker + storage ` +
        `${queueCpu.toFixed(1)} ms, of which Postgres ${queuePg.toFixed(1)} ms` +
        `${bareRuns[0]!.pgMs === null ? ' (Postgres not measured: no /proc)' : ''}: the bare engine's cost is ` +
        `${((bareCpu / queueCpu) * 100).toFixed(0)} % of the queue path's`,
    );
  } finally {
    await queue.stop();
    await engine.close();
    await database.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
