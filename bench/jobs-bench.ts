// The job system's benchmarks, on a fresh embedded Postgres and local storage:
//  1. submit→start latency with an idle worker (p50, p99; goal ≤ 15 ms / 50 ms);
//  2. throughput of small real jobs (512 px cartoon) through queue + worker + storage, against the
//     bare engine on the same images and threads in the same run (goal ≥ 90 %).
//   node bench/jobs-bench.ts [--samples 200] [--jobs 120] [--style cartoon] [--rounds 5]
// The machines are noisy and their speed drifts within a run: each round measures both back to
// back (in turn, bare first then queue first), and the ratio reported is the median of the rounds'.
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Kysely } from 'kysely';
import sharp from 'sharp';
import { Engine, PluginRegistry, loadPluginModule } from '@atelier/core';
import { ensureDatabase, migrateUp, openDatabase, startEmbeddedPostgres } from '@atelier/db';
import { JobEventListener, JobService, RenderWorker, createBoss, ensureQueues } from '@atelier/jobs';
import { LocalStorage } from '@atelier/storage';

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
  await migrateUp(database.db as unknown as Kysely<unknown>);
  const registry = new PluginRegistry();
  await loadPluginModule(registry, import.meta.resolve('@atelier/plugins'), { builtin: true });
  const engine = new Engine({ registry, threads });
  const storage = new LocalStorage({ root: path.join(dir, 'storage') });
  const boss = createBoss({ url });
  await boss.start();
  await ensureQueues(boss);
  const jobs = new JobService({ db: database.db, boss, storage, registry });
  const ownerId = await jobs.ensureUser('bench@atelier.local');
  try {
    // 1. Latency at idle: one job at a time, the worker waiting between them.
    const tiny = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    const image = await jobs.storeImage({ ownerId, bytes: tiny });
    const worker = new RenderWorker({ db: database.db, boss, storage, engine, url });
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
    const bare = async (): Promise<number> => {
      const t0 = performance.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: inFlight }, async () => {
          while (next < inputs.length) await engine.run(inputs[next++]!, plan);
        }),
      );
      return (inputs.length / (performance.now() - t0)) * 1000;
    };
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
    const queued = async (round: number): Promise<number> => {
      for (const imageId of imageIds) {
        await jobs.submit({
          ownerId,
          imageId,
          plan: { steps: [{ plugin: values.style }], output: { format: 'jpeg', quality: 90 - round } },
        });
      }
      const worker = new RenderWorker({
        db: database.db,
        boss,
        storage,
        engine,
        url,
        ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
      });
      finished = 0;
      const t0 = performance.now();
      await worker.start();
      while (finished < imageIds.length) await new Promise((r) => setTimeout(r, 5));
      const rate = (imageIds.length / (performance.now() - t0)) * 1000;
      await worker.stop();
      return rate;
    };
    // Each round measures both back to back, in turn bare first and queue first, so that both see
    // the same machine; the ratio is the median of the rounds' ratios.
    const rounds = Number(values.rounds);
    const ratios: number[] = [];
    const bareRates: number[] = [];
    const queueRates: number[] = [];
    for (let round = 0; round < rounds; round++) {
      let b: number;
      let q: number;
      if (round % 2 === 0) {
        b = await bare();
        q = await queued(round);
      } else {
        q = await queued(round);
        b = await bare();
      }
      bareRates.push(b);
      queueRates.push(q);
      ratios.push(q / b);
    }
    await listener.close();
    const median = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      const mid = s.length >> 1;
      return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
    };
    const ratio = median(ratios);
    const failed = await database.db.selectFrom('jobs').select('id').where('status', '=', 'failed').execute();
    console.log(
      `Throughput, ${count} × 512 px ${values.style}, ${threads} threads, ${rounds} rounds: bare engine ` +
        `${median(bareRates).toFixed(1)} jobs/s, queue + worker + storage ${median(queueRates).toFixed(1)} jobs/s ` +
        `(medians); median of the rounds' ratios ${(ratio * 100).toFixed(0)} % (goal ≥ 90 %) ` +
        `${ratio >= 0.9 ? 'ok' : 'BELOW GOAL'}` +
        (failed.length ? `, ${failed.length} FAILED` : ''),
    );
    console.log(`  rounds' ratios: ${ratios.map((r) => `${(r * 100).toFixed(0)} %`).join(', ')}`);
  } finally {
    await boss.stop({ graceful: false, close: true, timeout: 2000 });
    await engine.close();
    await database.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
