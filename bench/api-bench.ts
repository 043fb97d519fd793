// The API's benchmarks, on a fresh embedded Postgres and local storage, each server in its own
// child process and the load generator (autocannon) in this one:
//  1. an authenticated `jobs.get` under load (64 connections) against a bare Fastify route that runs
//     the same SQL through a raw pg.Pool of the same size (goal ≥ 80 % of its req/s, p99 ≤ 20 ms),
//     then both with a few connections (latency without the queue that 64 clients make). Atelier
//     runs its hot lookups as prepared statements (@atelier/db's PreparingPool), which raw pg
//     does not do by default; so the same bare route with the two statements prepared is measured
//     too, and the ratio against it shows what the layers alone (Fastify plugins, tRPC, zod,
//     Kysely) cost;
//  2. `styles.preview` of each style on an uploaded photo (--photo), end to end over HTTP (median;
//     goal ≤ 40 ms, issue 16), and how well the preview predicts the result on each of the three
//     fixture photos (--ssim-photos): the SSIM between the preview and the full-size render of the
//     same photo (a job through the queue, downloaded) downscaled to the preview's size (goal ≥ 0.90).
//     The server warms up first, as `atelier serve` does (Engine.warmUp); ATELIER_WARMUP=off in the
//     environment times the previews on cold engine threads instead.
//   node bench/api-bench.ts [--duration 8] [--warmup 10] [--connections 64] [--rounds 3] [--light 4]
//                           [--repeat 10] [--preview-rounds 3] [--styles cartoon,...] [--only load,preview] [--prof <dir>]
//                           [--photo colorful-cups-2560x1600.jpg] [--ssim-photos a.jpg,b.jpg,...]
// --prof writes a V8 CPU profile of each server process to <dir> (open it in Chrome DevTools).
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import pg from 'pg';
import sharp from 'sharp';
import { ssim } from 'ssim.js';
import { ensureDatabase, migrateUp, openDatabase, startEmbeddedPostgres } from '@atelier/db';
import type { JobCost } from '@atelier/db';
import {
  HEAP_FLAGS,
  MALLOC_TUNABLES,
  buildApp,
  createApiServices,
  openServices,
  readConfig,
} from '@atelier/server';
import { median, pad } from './stats.ts';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '8' },
    // V8 needs several seconds of load to settle on the heavier stack: shorter warm-ups understate it.
    warmup: { type: 'string', default: '10' },
    light: { type: 'string', default: '4' },
    connections: { type: 'string', default: '64' },
    repeat: { type: 'string', default: '10' },
    styles: { type: 'string', default: 'cartoon,sketch,color-pencil,oil-painting,watercolor,pop-art' },
    photo: { type: 'string', default: 'colorful-cups-2560x1600.jpg' },
    // The preview's SSIM is taken on each of these (the time on --photo).
    'ssim-photos': {
      type: 'string',
      default: 'colorful-cups-2560x1600.jpg,evening-glow-2560x1600.jpg,fallen-leaf-2560x1600.jpg',
    },
    rounds: { type: 'string', default: '3' },
    // The previews are timed in this many rounds over the styles (a few slow seconds of a busy
    // machine then fall on every style, not on one style's every sample).
    'preview-rounds': { type: 'string', default: '3' },
    only: { type: 'string', default: 'load,preview' },
    prof: { type: 'string' },
    // Internal: how this file runs as one of the servers under test.
    role: { type: 'string' },
    db: { type: 'string' },
    dir: { type: 'string' },
  },
});
const root = fileURLToPath(new URL('..', import.meta.url));
const self = fileURLToPath(import.meta.url);

/** openServices opens the database with openDatabase's default pool; the bare server gets the same. */
const POOL_SIZE = 10;
/** High enough that @fastify/rate-limit never rejects the benchmark (it still runs on every request). */
const RATE_LIMIT_PER_MINUTE = 1_000_000_000;

// ---------------------------------------------------------------------------------------------
// The servers under test (child processes).

type ChildMessage = { url: string } | { error: string } | { cpu: NodeJS.CpuUsage };

/** The real API, as `atelier serve` runs it: services, in-process worker, every plugin of buildApp. */
async function serveAtelier(url: string, dir: string): Promise<() => Promise<void>> {
  // No preview or cost quota: the preview section sends more than a user's 60 previews a minute
  // (six styles, warm-ups included). Every preview is still charged (the same statements run).
  const config = readConfig(
    {
      DATABASE_URL: url,
      ATELIER_STORAGE_DIR: path.join(dir, 'storage'),
      ATELIER_QUOTA_PREVIEWS_PER_MINUTE: '0',
      ATELIER_QUOTA_COST_PER_MINUTE: '0',
      // The preview's goal is on one thread: no band helpers (docs/styles.md "Both cores on one image").
      ATELIER_BAND_THREADS: '0',
      // ATELIER_WARMUP=off in the bench's environment times previews on cold engine threads.
      ...(process.env['ATELIER_WARMUP'] ? { ATELIER_WARMUP: process.env['ATELIER_WARMUP'] } : {}),
    },
    dir,
  );
  const core = await openServices(config, { worker: true });
  const api = await createApiServices(core, { secureCookies: false });
  const app = await buildApp(api, { rateLimitPerMinute: RATE_LIMIT_PER_MINUTE });
  const listening = await app.listen({ port: 0, host: '127.0.0.1' });
  // As `atelier serve` does once it listens (ATELIER_WARMUP, on by default): each style runs as a
  // preview a few times on every engine thread. The bench starts once that is done, as people's
  // previews meet a server that has been up for more than the few seconds it takes.
  if (config.warmUp) {
    const report = await core.engine.warmUp();
    console.error(`warm-up: ${report.runs} runs of ${report.styles.length} styles in ${report.ms} ms`);
  }
  process.send!({ url: listening } satisfies ChildMessage);
  return async () => {
    await app.close();
    await api.close();
    await core.close();
  };
}

// The SQL that SessionService.validate and JobService.get run (as Kysely compiles them).
const SESSION_SQL =
  'select "sessions"."id", "sessions"."user_id", "sessions"."expires_at", "sessions"."created_at", ' +
  '"sessions"."last_seen_ip", "sessions"."user_agent", "users"."email", "users"."display_name", "users"."role", ' +
  '"users"."created_at" as "user_created_at", "users"."disabled_at" from "sessions" ' +
  'inner join "users" on "users"."id" = "sessions"."user_id" where "sessions"."id" = $1';
const JOB_SQL = 'select * from "jobs" where "id" = $1 and "owner_id" = $2';

type Row = Record<string, unknown>;

interface StoredPlan {
  readonly steps: readonly { plugin: string; version: string; params: Record<string, unknown> }[];
  readonly output: { format: string; quality: number };
}

/** The part of the stored plan `jobs.get` shows (as the server's planView). */
function planOf(stored: unknown): unknown {
  const plan = stored as StoredPlan | null;
  if (!plan) return null;
  return {
    steps: plan.steps.map((s) => ({ plugin: s.plugin, version: s.version, params: s.params })),
    output: { format: plan.output.format, quality: plan.output.quality },
  };
}

/** What the job's plugins reported spending (as the server's costView: sums in billionths). */
function costOf(costs: readonly JobCost[]): unknown {
  if (costs.length === 0) return null;
  const sums = new Map<string, number>();
  for (const c of costs) sums.set(c.currency, (sums.get(c.currency) ?? 0) + Math.round(c.amount * 1e9));
  return {
    totals: [...sums].map(([currency, units]) => ({ currency, amount: units / 1e9 })),
    items: costs.map((c) => ({ ...c, detail: c.detail ?? null })),
  };
}
const iso = (value: unknown): string | null => (value instanceof Date ? value.toISOString() : null);

/**
 * The minimum that can answer `jobs.get`: Fastify, one route, raw pg, the same JSON. `prepared`:
 * the two statements go out named, so Postgres parses and plans them once per connection.
 */
async function serveBare(url: string, prepared: boolean): Promise<() => Promise<void>> {
  const sessionStatement = prepared ? { name: 'bench-session', text: SESSION_SQL } : { text: SESSION_SQL };
  const jobStatement = prepared ? { name: 'bench-job', text: JOB_SQL } : { text: JOB_SQL };
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  const app = Fastify({ logger: false });
  const fail = (code: number, message: string) => ({ error: { message, code } });
  app.get<{ Querystring: { input?: string } }>('/trpc/jobs.get', async (req, reply) => {
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : '';
    const id = createHash('sha256').update(token).digest('hex');
    const session = (await pool.query<Row>({ ...sessionStatement, values: [id] })).rows[0];
    if (
      !session ||
      (session['expires_at'] as Date).getTime() <= Date.now() ||
      session['disabled_at'] !== null
    )
      return reply.code(401).send(fail(401, 'Sign in first.'));
    const input = JSON.parse(req.query.input ?? '{}') as { id?: string };
    const job = (
      await pool.query<Row>({ ...jobStatement, values: [input.id, session['user_id']] }).catch(() => null)
    )?.rows[0];
    if (!job) return reply.code(404).send(fail(404, `No job ${input.id}.`));
    return {
      result: {
        data: {
          id: job['id'],
          imageId: job['image_id'],
          style: job['style'],
          status: job['status'],
          progress: job['progress'],
          attempts: job['attempts'],
          error: job['error_code'] ? { code: job['error_code'], message: job['error_message'] ?? '' } : null,
          output:
            job['output_key'] && job['output_format']
              ? {
                  bytes: Number(job['output_bytes'] ?? 0),
                  width: job['output_width'] ?? 0,
                  height: job['output_height'] ?? 0,
                  format: job['output_format'],
                }
              : null,
          fromCache: job['from_cache'],
          plan: planOf(job['plan']),
          timings: job['timings'],
          // The bench runs Atelier with payments off: every result is free, at its own size.
          hd: job['output_key']
            ? {
                state: 'free',
                price: null,
                standard: { width: job['output_width'], height: job['output_height'] },
              }
            : null,
          cost: costOf((job['costs'] as JobCost[] | null) ?? []),
          createdAt: iso(job['created_at']),
          startedAt: iso(job['started_at']),
          finishedAt: iso(job['finished_at']),
        },
      },
    };
  });
  process.send!({ url: await app.listen({ port: 0, host: '127.0.0.1' }) } satisfies ChildMessage);
  return async () => {
    await app.close();
    await pool.end();
  };
}

async function runChild(role: string): Promise<void> {
  try {
    const close =
      role === 'atelier'
        ? await serveAtelier(values.db!, values.dir!)
        : await serveBare(values.db!, role === 'bare-prepared');
    // The parent asks for our CPU time, and says when to stop (or goes away).
    await new Promise<void>((resolve) => {
      process.on('message', (message) => {
        if (message === 'cpu') process.send!({ cpu: process.cpuUsage() } satisfies ChildMessage);
        else resolve();
      });
      process.once('disconnect', () => resolve());
    });
    await close();
  } catch (error) {
    process.send?.({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exitCode = 1;
  }
  process.disconnect?.();
}

interface Child {
  readonly url: string;
  /** CPU time (user + system) the server process has used so far, in µs. */
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

function startChild(role: 'atelier' | 'bare' | 'bare-prepared', db: string, dir: string): Promise<Child> {
  // With the V8 heap setting of `pnpm start` (docs/operations.md "V8 heap").
  const execArgv = [
    ...HEAP_FLAGS,
    ...(values.prof
      ? ['--cpu-prof', '--cpu-prof-dir', values.prof, '--cpu-prof-name', `${role}.cpuprofile`]
      : []),
  ];
  // The servers run with the malloc settings `pnpm start` gives Atelier (docs/operations.md
  // "Memory allocator"), the bare ones too; a value already in the environment is kept.
  const env = { ...process.env, GLIBC_TUNABLES: process.env['GLIBC_TUNABLES'] ?? MALLOC_TUNABLES };
  const child: ChildProcess = fork(self, ['--role', role, '--db', db, '--dir', dir], {
    cwd: root,
    execArgv,
    env,
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`${role} server exited with code ${code} before listening`)),
    );
    child.once('message', (message: ChildMessage) => {
      if ('error' in message) return reject(new Error(`${role} server: ${message.error}`));
      if (!('url' in message)) return reject(new Error(`${role} server: unexpected message`));
      resolve({
        url: message.url,
        cpu: () =>
          new Promise((resolve) => {
            child.once('message', (reply: ChildMessage) => {
              if ('cpu' in reply) resolve(reply.cpu.user + reply.cpu.system);
            });
            child.send('cpu');
          }),
        async stop() {
          if (child.connected) child.send('stop');
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        },
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// The load generator and the measurements (this process).

const note = (message: string): void => void process.stderr.write(`${message}\n`);

/** Calls a tRPC procedure over plain HTTP and returns `result.data`. */
async function trpc<T>(
  base: string,
  procedure: string,
  options: { token?: string; query?: unknown; body?: unknown },
): Promise<T> {
  const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
  let response: Response;
  if (options.query !== undefined) {
    const input = encodeURIComponent(JSON.stringify(options.query));
    response = await fetch(`${base}/trpc/${procedure}?input=${input}`, { headers });
  } else {
    const form = options.body instanceof FormData ? options.body : undefined;
    response = await fetch(`${base}/trpc/${procedure}`, {
      method: 'POST',
      headers: form ? headers : { ...headers, 'content-type': 'application/json' },
      body: form ?? JSON.stringify(options.body),
    });
  }
  const text = await response.text();
  if (!response.ok) throw new Error(`${procedure}: HTTP ${response.status} ${text.slice(0, 300)}`);
  return (JSON.parse(text) as { result: { data: T } }).result.data;
}

interface LoadResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU time of the server process per request (user + system), µs. */
  readonly cpuUs: number;
  readonly non2xx: number;
  readonly errors: number;
}

/** As fast as `connections` clients, each waiting for its answer, can go. */
async function load(
  server: Child,
  path: string,
  token: string,
  duration: number,
  connections = Number(values.connections),
): Promise<LoadResult> {
  const cpu0 = await server.cpu();
  const result = await autocannon({
    url: server.url + path,
    connections,
    duration,
    headers: { authorization: `Bearer ${token}` },
  });
  const cpu = (await server.cpu()) - cpu0;
  return {
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    cpuUs: cpu / Math.max(1, result.requests.total),
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

async function loadBench(
  atelier: Child,
  bare: Child,
  barePrepared: Child,
  token: string,
  jobId: string,
): Promise<void> {
  const query = `/trpc/jobs.get?input=${encodeURIComponent(JSON.stringify({ id: jobId }))}`;
  // All must answer the same thing, or the comparison means nothing.
  const bodies = await Promise.all(
    [atelier, bare, barePrepared].map(async (server) => {
      const response = await fetch(server.url + query, { headers: { authorization: `Bearer ${token}` } });
      if (!response.ok)
        throw new Error(`${server.url}${query}: HTTP ${response.status} ${await response.text()}`);
      return JSON.parse(await response.text()) as unknown;
    }),
  );
  for (const other of bodies.slice(1))
    if (!isDeepStrictEqual(bodies[0], other))
      throw new Error(
        `the servers answer differently:\n${JSON.stringify(bodies[0])}\n${JSON.stringify(other)}`,
      );

  const duration = Number(values.duration);
  const warmup = Number(values.warmup);
  const rounds = Number(values.rounds);
  note(`load: warming up (${warmup} s each)...`);
  for (const server of [bare, barePrepared, atelier]) await load(server, query, token, warmup);
  // The machines are noisy and drift: each round measures the three back to back, in a rotating
  // order, and the ratios reported are the medians of the rounds' ratios.
  const ours: LoadResult[] = [];
  const theirs: LoadResult[] = [];
  const theirsPrepared: LoadResult[] = [];
  for (let round = 0; round < rounds; round++) {
    note(`load: measuring (${duration} s each, round ${round + 1} of ${rounds})...`);
    const order = [
      () => load(bare, query, token, duration).then((r) => theirs.push(r)),
      () => load(atelier, query, token, duration).then((r) => ours.push(r)),
      () => load(barePrepared, query, token, duration).then((r) => theirsPrepared.push(r)),
    ];
    for (let k = 0; k < order.length; k++) await order[(round + k) % order.length]!();
  }
  // The round of median throughput of each, for its latencies and CPU.
  const pick = (rs: LoadResult[]): LoadResult => [...rs].sort((a, b) => a.rps - b.rps)[(rs.length - 1) >> 1]!;
  const [us, them, themPrepared] = [pick(ours), pick(theirs), pick(theirsPrepared)];
  const ratio = median(ours.map((r, i) => r.rps / theirs[i]!.rps));
  const layersRatio = median(ours.map((r, i) => r.rps / theirsPrepared[i]!.rps));

  const line = (name: string, r: LoadResult): string =>
    `  ${name.padEnd(40)}${pad(r.rps.toFixed(0), 7)} req/s   p50 ${pad(r.p50, 3)} ms   p99 ${pad(r.p99, 3)} ms   ` +
    `server CPU ${pad(r.cpuUs.toFixed(0), 4)} µs/req` +
    (r.non2xx || r.errors ? `   ${r.non2xx} non-2xx, ${r.errors} errors: INVALID` : '');
  const pct = (x: number): string => `${(x * 100).toFixed(0)} %`;
  console.log(
    `Authenticated jobs.get under load: autocannon, ${values.connections} connections, ${duration} s after a ` +
      `${warmup} s warm-up, ${rounds} round${rounds > 1 ? 's' : ''} (each server's median round shown); ` +
      `load generator in its own process; pg pool of ${POOL_SIZE} in every server; our rate limit raised to ` +
      `${RATE_LIMIT_PER_MINUTE.toExponential(0)}/min so that it never rejects (it still runs on every request)`,
  );
  console.log(line('Atelier (tRPC + Fastify + Kysely)', us));
  console.log(line('bare Fastify + pg, same SQL', them));
  console.log(line('bare Fastify + pg, same SQL prepared', themPrepared));
  console.log(
    `  ratio to the bare route ${pct(ratio)} (goal ≥ 80 %) ${ratio >= 0.8 ? 'ok' : 'BELOW GOAL'}` +
      (rounds > 1 ? ` (rounds: ${ours.map((r, i) => pct(r.rps / theirs[i]!.rps)).join(', ')})` : '') +
      `; our p99 ${us.p99} ms (goal ≤ 20 ms) ${us.p99 <= 20 ? 'ok' : 'OVER'}`,
  );
  console.log(
    `  ratio to the bare route with prepared statements (the layers alone) ${pct(layersRatio)}` +
      (rounds > 1 ? ` (rounds: ${ours.map((r, i) => pct(r.rps / theirsPrepared[i]!.rps)).join(', ')})` : ''),
  );
  // Flat out, 64 clients that each wait for their answer queue in front of the server: the mean
  // latency is 64 / throughput whatever the server does (autocannon's fixed rates come in bursts of
  // one request per connection, which measure the same queue). The latency of the code itself shows
  // with a few connections.
  const light = Number(values.light);
  if (light > 0) {
    note(`load: measuring with ${light} connections (${duration} s each)...`);
    const usLight = await load(atelier, query, token, duration, light);
    const themLight = await load(bare, query, token, duration, light);
    console.log(
      `  with ${light} connections: ours ${usLight.rps.toFixed(0)} req/s, p50 ${usLight.p50} ms, p99 ${usLight.p99} ms ` +
        `${usLight.p99 <= 20 ? 'ok' : 'OVER'}; bare ${themLight.rps.toFixed(0)} req/s, p50 ${themLight.p50} ms, ` +
        `p99 ${themLight.p99} ms` +
        (usLight.non2xx || usLight.errors
          ? `; ${usLight.non2xx} non-2xx, ${usLight.errors} errors: INVALID`
          : ''),
    );
  }
}

/** The preview's goal over HTTP, median (issue 16). */
const PREVIEW_GOAL_MS = 40;
/** A preview predicts its result when its SSIM against the full render, downscaled to its size, is at least this. */
const PREVIEW_MIN_SSIM = 0.9;

/** RGBA pixels of an encoded image, resized (exactly, no crop) to `size` when given. */
async function rgbaOf(
  bytes: Buffer,
  size?: { width: number; height: number },
): Promise<{ data: Uint8ClampedArray; width: number; height: number }> {
  let pipeline = sharp(bytes).ensureAlpha();
  if (size) pipeline = pipeline.resize(size.width, size.height, { fit: 'fill', kernel: 'lanczos3' });
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
  };
}

/** Runs a style on the whole photo as a job (the queue, the worker, the stored result) and waits for it; its id. */
async function finishedJob(atelier: Child, token: string, imageId: string, style: string): Promise<string> {
  const job = await trpc<{ id: string }>(atelier.url, 'jobs.create', { token, body: { imageId, style } });
  const deadline = Date.now() + 300_000;
  for (;;) {
    const { status } = await trpc<{ status: string }>(atelier.url, 'jobs.get', {
      token,
      query: { id: job.id },
    });
    if (status === 'succeeded') return job.id;
    if (status === 'failed' || status === 'cancelled' || Date.now() > deadline)
      throw new Error(`the ${style} job is ${status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Renders a style on the whole photo as a job and downloads the result. */
async function fullRender(atelier: Child, token: string, imageId: string, style: string): Promise<Buffer> {
  const id = await finishedJob(atelier, token, imageId, style);
  const { url } = await trpc<{ url: string }>(atelier.url, 'jobs.downloadUrl', { token, query: { id } });
  const response = await fetch(new URL(url, atelier.url));
  if (!response.ok) throw new Error(`download of the ${style} result: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/** A photo uploaded for the preview section: its file name and image id. */
interface Uploaded {
  readonly name: string;
  readonly id: string;
}

/** The SSIM between a preview of `style` on `imageId` and its full render resized to the preview's size. */
async function previewSsim(
  atelier: Child,
  token: string,
  imageId: string,
  style: string,
  /** The preview, when the timing loop already made it (of the same image and style). */
  made?: string,
): Promise<number> {
  const dataUrl =
    made ??
    (await trpc<{ dataUrl: string }>(atelier.url, 'styles.preview', { token, body: { imageId, style } }))
      .dataUrl;
  const preview = await rgbaOf(Buffer.from(dataUrl.slice(dataUrl.indexOf(',') + 1), 'base64'));
  const full = await rgbaOf(await fullRender(atelier, token, imageId, style), preview);
  return ssim(preview, full).mssim;
}

/** A style's preview timings over the rounds (see {@link timePreviews}). */
interface PreviewTimings {
  readonly http: number[];
  readonly server: number[];
  first: number;
  timed: string;
}

/**
 * `repeat` previews of `style` after 2 warm-ups, one request at a time, added to `timing`
 * (`first`: the first request's time, when this is the style's first round).
 */
async function timePreviews(
  atelier: Child,
  token: string,
  imageId: string,
  style: string,
  repeat: number,
  timing: PreviewTimings,
  firstRound: boolean,
): Promise<void> {
  for (let i = 0; i < repeat + 2; i++) {
    const t0 = performance.now();
    const result = await trpc<{ ms: number; width: number; dataUrl: string }>(atelier.url, 'styles.preview', {
      token,
      body: { imageId, style },
    });
    const ms = performance.now() - t0;
    if (result.width > 512) throw new Error(`preview of ${style} is ${result.width} px wide`);
    if (i === 0 && firstRound) timing.first = ms;
    if (i >= 2) {
      timing.http.push(ms);
      timing.server.push(result.ms);
    }
    timing.timed = result.dataUrl;
  }
}

async function previewBench(
  atelier: Child,
  token: string,
  imageId: string,
  photos: readonly Uploaded[],
): Promise<void> {
  const repeat = Number(values.repeat);
  const rounds = Number(values['preview-rounds']);
  if (!(Number.isInteger(rounds) && rounds >= 1))
    throw new Error(`--preview-rounds must be a whole number of at least 1, not ${values['preview-rounds']}`);
  const styles = values.styles.split(',');
  const short = photos.map((p) => p.name.split('-')[0]!);
  console.log(
    `\nstyles.preview at 512 px on ${values.photo}, end to end over HTTP (POST, JSON with the data URL back), ` +
      `one request at a time, ${rounds} rounds over the styles of ${repeat} requests each after 2 warm-ups, ` +
      `median of all ${rounds * repeat} (ms); goal ≤ ${PREVIEW_GOAL_MS} ms, ` +
      `and SSIM ≥ ${PREVIEW_MIN_SSIM} against the full render downscaled to the preview's size, on each photo`,
  );
  console.log(
    `  ${'style'.padEnd(14)}${pad('http', 8)}${pad('min', 8)}${pad('max', 8)}${pad('server', 8)}${pad('first', 8)}` +
      short.map((name) => pad(name, 10)).join(''),
  );
  const timings = new Map<string, PreviewTimings>();
  for (let round = 0; round < rounds; round++) {
    for (const style of styles) {
      const seen = timings.get(style);
      const timing = seen ?? { http: [], server: [], first: 0, timed: '' };
      timings.set(style, timing);
      await timePreviews(atelier, token, imageId, style, repeat, timing, !seen);
    }
  }
  for (const style of styles) {
    const { http, server, first, timed } = timings.get(style)!;
    const scores: number[] = [];
    for (const photo of photos)
      scores.push(
        await previewSsim(atelier, token, photo.id, style, photo.id === imageId ? timed : undefined),
      );
    const m = median(http);
    const fast = m <= PREVIEW_GOAL_MS;
    const predicts = scores.every((score) => score >= PREVIEW_MIN_SSIM);
    const verdict = fast && predicts ? 'ok' : fast ? 'LOW SSIM' : predicts ? 'OVER' : 'OVER, LOW SSIM';
    console.log(
      `  ${style.padEnd(14)}${pad(m.toFixed(1), 8)}${pad(Math.min(...http).toFixed(1), 8)}` +
        `${pad(Math.max(...http).toFixed(1), 8)}${pad(median(server).toFixed(0), 8)}${pad(first.toFixed(0), 8)}` +
        scores.map((score) => pad(score.toFixed(3), 10)).join('') +
        `  ${verdict}`,
    );
  }
  console.log(
    '  (server = the ms the preview reports: proxy from cache + engine run, without HTTP and tRPC;\n' +
      "   first = the style's first preview on this server, not in the median (the first style's also makes the photo's proxy):\n" +
      '   with the warm-up the style runs at its steady speed, without it its code runs for the first time in that thread;\n' +
      "   then per photo the mean SSIM, RGBA, between the preview and the job's full-size result resized to the preview's size)",
  );
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'atelier-api-bench-'));
  await chmod(dir, 0o755); // as root, Postgres runs as the postgres user, which must reach the data
  const postgres = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), persistent: false });
  const children: Child[] = [];
  try {
    const url = await ensureDatabase(postgres.adminUrl, 'atelier');
    const database = await openDatabase({ url });
    await migrateUp(database.db);
    await database.close();

    note('starting the servers...');
    const atelier = await startChild('atelier', url, dir);
    children.push(atelier);
    const bare = await startChild('bare', url, dir);
    children.push(bare);
    const barePrepared = await startChild('bare-prepared', url, dir);
    children.push(barePrepared);

    // A user, a photo and a finished job, through the API as a client would make them.
    const { token } = await trpc<{ token: string }>(atelier.url, 'auth.register', {
      body: { email: 'bench@atelier.local', password: 'correct horse battery staple', displayName: 'bench' },
    });
    const upload = async (name: string): Promise<Uploaded> => {
      const form = new FormData();
      const photo = await readFile(path.join(root, 'test/fixtures/images', name));
      form.set('file', new Blob([photo], { type: 'image/jpeg' }), name);
      const { id } = await trpc<{ id: string }>(atelier.url, 'images.upload', { token, body: form });
      return { name, id };
    };
    const image = await upload(values.photo);
    const jobId = await finishedJob(atelier, token, image.id, 'cartoon');

    const only = new Set(values.only.split(','));
    if (only.has('load')) await loadBench(atelier, bare, barePrepared, token, jobId);
    if (only.has('preview')) {
      const photos: Uploaded[] = [];
      for (const name of values['ssim-photos'].split(',').filter(Boolean))
        photos.push(name === image.name ? image : await upload(name));
      await previewBench(atelier, token, image.id, photos);
    }
  } finally {
    for (const child of children) await child.stop();
    await postgres.stop();
    await rm(dir, { recursive: true, force: true });
  }
  if (values.prof) note(`CPU profiles of the servers in ${values.prof}`);
}

if (values.role) await runChild(values.role);
else await main();
