// `atelier migrate`, `worker`, `submit`, `jobs ...` and `gc`: the operator's side of the job system.
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { Argument, Option } from 'commander';
import { AtelierError, OUTPUT_EXTENSIONS, isAtelierError, silentLogger } from '@atelier/core';
import type { JobRecord } from '@atelier/jobs';
import { StopGuard } from './stop-guard.ts';
import { planRequestFromOptions, resultPath, writeFileAtomic } from './cli-apply.ts';
import { collect, integer, parseSetOptions } from './cli-args.ts';
import { readConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { mallocAdvice } from './malloc.ts';
import { heapAdvice } from './v8-heap.ts';
import type { Services } from './services.ts';

// The database, queue and storage libraries load only when a command needs them, so `atelier
// apply` and `atelier styles` stay light.
const services = () => import('./services.ts');
const dbModule = () => import('@atelier/db');

/** The account the CLI acts as unless --owner says otherwise. */
export const OPERATOR_EMAIL = 'operator@atelier.local';

function describe(job: JobRecord): string {
  const parts = [
    job.id,
    job.status.padEnd(9),
    job.style.padEnd(14),
    `${Math.round(job.progress * 100)}%`.padStart(4),
    job.createdAt.toISOString(),
  ];
  if (job.fromCache) parts.push('(cache)');
  if (job.error) parts.push(`${job.error.code}: ${job.error.message}`);
  return parts.join('  ');
}

/** Opens the job services for one command, closes them after it (and on Ctrl-C, exiting 130). */
export async function withServices<T>(
  fn: (services: Services) => Promise<T>,
  options: { worker?: boolean; events?: boolean } = {},
): Promise<T> {
  const { openServices } = await services();
  const opened = await openServices(readConfig(), {
    logger: options.worker ? createLogger() : silentLogger,
    ...options,
  });
  // Ctrl-C closes cleanly: running jobs go back to the queue, an embedded Postgres stops.
  const interrupt = (): void => {
    process.stderr.write('atelier: ABORTED: interrupted; closing...\n');
    void opened.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    return await fn(opened);
  } finally {
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
    await opened.close();
  }
}

export function registerJobCommands(program: Command): void {
  program
    .command('migrate')
    .description('apply, revert or list database migrations (they also run on every start)')
    .addArgument(
      new Argument('[direction]', 'up, down or status').choices(['up', 'down', 'status']).default('up'),
    )
    .action(async (direction: 'up' | 'down' | 'status') => {
      const { openDatabaseRoot } = await import('./container.ts');
      const { MigrationService } = await import('./migration.service.ts');
      const root = await openDatabaseRoot(readConfig(), { migrate: false });
      try {
        const migrations = root.container.resolve(MigrationService);
        if (direction === 'up') {
          const applied = await migrations.up();
          process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'already up to date\n');
        } else if (direction === 'down') {
          const reverted = await migrations.down();
          process.stdout.write(reverted ? `reverted: ${reverted}\n` : 'nothing to revert\n');
        } else {
          for (const m of await migrations.status())
            process.stdout.write(`${m.name}\t${m.executedAt ? m.executedAt.toISOString() : 'pending'}\n`);
        }
      } finally {
        await root.close();
      }
    });

  program
    .command('worker')
    .description('run a stateless worker: takes jobs from the queue until SIGTERM or SIGINT')
    .option(
      '--concurrency <n>',
      'jobs held at once, running or waiting for a thread (default: 4 × the worker threads)',
      integer('concurrency', 1, 256),
    )
    .action(async (opts: { concurrency?: number }) => {
      if (opts.concurrency !== undefined)
        process.env['ATELIER_WORKER_CONCURRENCY'] = String(opts.concurrency);
      const logger = createLogger();
      for (const advice of [mallocAdvice(), heapAdvice()]) if (advice) logger.info(advice);
      // Listen for the signals before the worker can take a job.
      const stopSignal = new Promise<string>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
      });
      const { openServices } = await services();
      // Like serve, a worker follows the plugins folder: its plugins must match the API's.
      const opened = await openServices(readConfig(), { worker: true, logger, reloadPlugins: true });
      logger.info('worker ready', {
        worker: opened.worker?.id,
        database: opened.database.embedded ? 'embedded' : 'external',
      });
      const signal = await stopSignal;
      logger.info('shutting down', { signal, running: opened.worker?.active ?? 0 });
      // A stop always ends the process, even when something it loaded still holds it open.
      const guard = new StopGuard(logger);
      guard.deadlineMs = opened.config.worker.shutdownDeadlineMs + 15_000;
      guard.closing();
      await opened.close();
      guard.closed();
    });

  program
    .command('submit')
    .description('store photos and queue a style (or plan) for each; with --wait, follow them to the end')
    .argument('<input...>', 'image files')
    .option('-s, --style <id>', 'plugin id')
    .option('--set <key=value>', 'a parameter of the style (repeatable)', collect, [])
    .option('--plan <file>', 'a JSON plan instead of --style')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['jpeg', 'png', 'webp', 'avif']))
    .option('--priority <p>', 'higher runs first (-100 to 100)', integer('priority', -100, 100), 0)
    .option('--key <key>', 'idempotency key prefix: submitting again with the same key returns the same jobs')
    .option('--owner <email>', 'owner of the images and jobs', OPERATOR_EMAIL)
    .option('--wait', 'show progress until every job ends, then write or print the results')
    .option('--out <dir>', 'with --wait, write the results here')
    .option('--no-worker', 'with --wait, do not run a worker in this process (rely on others)')
    .option('--json', 'print the job ids and final states as JSON')
    .action(
      async (
        inputs: string[],
        opts: {
          style?: string;
          set: string[];
          plan?: string;
          format?: string;
          priority: number;
          key?: string;
          owner: string;
          wait?: boolean;
          out?: string;
          worker: boolean;
          json?: boolean;
        },
      ) => {
        let request = await planRequestFromOptions({
          style: opts.style,
          plan: opts.plan,
          params: opts.style ? parseSetOptions(opts.set) : {},
        });
        if (opts.format)
          request = { ...request, output: { ...request.output, format: opts.format as 'jpeg' } };
        if (opts.out && !opts.wait)
          throw new AtelierError(
            'USAGE_INVALID',
            '--out needs --wait: the results exist only once the jobs end.',
          );
        await withServices(
          async (services) => {
            const ownerId = await services.jobs.ensureUser(opts.owner);
            services.jobs.plan(request); // fail fast on a bad plan before storing anything
            const submitted: { input: string; job?: JobRecord; error?: AtelierError }[] = [];
            // A failure that is not about one input (the database went away): submitting stops,
            // and what was queued is reported before the error.
            let stoppedBy: unknown;
            for (const [index, input] of inputs.entries()) {
              try {
                const bytes = await readFile(input).catch((error: NodeJS.ErrnoException) => {
                  throw new AtelierError(
                    'INPUT_NOT_FOUND',
                    `Cannot read ${input}: ${error.code ?? error.message}`,
                  );
                });
                const image = await services.jobs.storeImage({
                  ownerId,
                  bytes,
                  originalName: path.basename(input),
                });
                const job = await services.jobs.submit({
                  ownerId,
                  imageId: image.id,
                  plan: request,
                  priority: opts.priority,
                  ...(opts.key ? { idempotencyKey: `${opts.key}:${index}` } : {}),
                });
                submitted.push({ input, job });
              } catch (error) {
                const coded = (await dbModule()).databaseUnavailable(error) ?? error;
                if (!isAtelierError(coded) || coded.code === 'DATABASE_UNAVAILABLE') {
                  stoppedBy = coded;
                  break;
                }
                submitted.push({ input, error: coded });
                process.stderr.write(`atelier: ${coded.code}: ${input}: ${coded.message}\n`);
              }
            }
            if (stoppedBy === undefined && opts.wait) {
              try {
                const final = await follow(services, submitted, opts.json === true);
                await report(services, submitted, final, opts);
                return;
              } catch (error) {
                stoppedBy = (await dbModule()).databaseUnavailable(error) ?? error;
              }
            }
            if (stoppedBy === undefined) {
              await report(
                services,
                submitted,
                submitted.map((s) => s.job),
                opts,
              );
              return;
            }
            // Lists what was queued (it runs once the database is back), then fails with the cause.
            const queued = submitted.filter((s) => s.job);
            if (opts.json) {
              const out = submitted.map((s) =>
                s.job
                  ? { input: s.input, jobId: s.job.id, status: s.job.status }
                  : { input: s.input, error: { code: s.error!.code, message: s.error!.message } },
              );
              process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
            } else {
              for (const s of queued) process.stdout.write(`${s.job!.id}\t${s.job!.status}\t${s.input}\n`);
            }
            const notSubmitted = inputs.slice(submitted.length); // the loop stopped at the first of them
            const summary =
              `${queued.length} of ${inputs.length} job(s) were queued before this (listed on stdout; ` +
              `they run once the database is back)` +
              (notSubmitted.length > 0 ? `; not submitted: ${notSubmitted.join(', ')}` : '') +
              '.';
            if (isAtelierError(stoppedBy))
              throw new AtelierError(stoppedBy.code, `${stoppedBy.message} ${summary}`, {
                cause: stoppedBy.cause ?? stoppedBy,
              });
            throw new Error(
              `${stoppedBy instanceof Error ? stoppedBy.message : String(stoppedBy)}. ${summary}`,
              {
                cause: stoppedBy,
              },
            );
          },
          { worker: opts.wait === true && opts.worker, events: opts.wait === true },
        );
      },
    );

  const jobs = program.command('jobs').description('inspect and manage jobs');
  jobs
    .command('list')
    .option('--status <status>', 'queued, running, succeeded, failed or cancelled')
    .option('--style <id>', 'only jobs of this style')
    .option('--owner <email>', 'only jobs of this user')
    .option('--limit <n>', 'how many (newest first)', integer('limit', 1, 200), 50)
    .option('--json', 'print JSON')
    .action(
      async (opts: {
        status?: JobRecord['status'];
        style?: string;
        owner?: string;
        limit: number;
        json?: boolean;
      }) => {
        await withServices(async (services) => {
          const ownerId = opts.owner ? await services.jobs.ensureUser(opts.owner) : undefined;
          const page = await services.jobs.list({
            limit: opts.limit,
            ...(opts.status ? { status: opts.status } : {}),
            ...(opts.style ? { style: opts.style } : {}),
            ...(ownerId ? { ownerId } : {}),
          });
          process.stdout.write(
            opts.json
              ? `${JSON.stringify(page, null, 2)}\n`
              : page.items.map(describe).join('\n') + (page.items.length ? '\n' : ''),
          );
        });
      },
    );
  for (const [name, description] of [
    ['show', 'everything about one job'],
    ['cancel', 'cancel a queued or running job'],
    ['retry', 'queue a failed or cancelled job again'],
    ['delete', 'delete a job and its output'],
  ] as const) {
    jobs
      .command(name)
      .description(description)
      .argument('<id>', 'job id')
      .option('--json', 'print JSON')
      .action(async (id: string, opts: { json?: boolean }) => {
        await withServices(async (services) => {
          if (name === 'delete') {
            await services.jobs.deleteJob(id);
            process.stdout.write(`deleted ${id}\n`);
            return;
          }
          const job =
            name === 'show'
              ? await services.jobs.get(id)
              : name === 'cancel'
                ? await services.jobs.cancel(id)
                : await services.jobs.retry(id);
          process.stdout.write(
            opts.json || name === 'show' ? `${JSON.stringify(job, null, 2)}\n` : `${describe(job)}\n`,
          );
        });
      });
  }

  program
    .command('gc')
    .description('delete stored files that no image, job or cache entry uses')
    .option(
      '--older-than <seconds>',
      'only files at least this old (uploads in flight are younger)',
      integer('older-than', 0, 10 ** 9),
      3600,
    )
    .action(async (opts: { olderThan: number }) => {
      await withServices(async (services) => {
        const removed = await services.jobs.collectOrphans(opts.olderThan * 1000);
        process.stdout.write(`removed ${removed.length} orphaned file(s)\n`);
      });
    });
}

/** What `submit` prints once every input was tried (and, with --wait, every job ended). */
async function report(
  services: Services,
  submitted: readonly { input: string; job?: JobRecord; error?: AtelierError }[],
  final: readonly (JobRecord | undefined)[],
  opts: { wait?: boolean; out?: string; json?: boolean },
): Promise<void> {
  if (opts.wait && opts.out) {
    await mkdir(opts.out, { recursive: true });
    for (const [i, s] of submitted.entries()) {
      const job = final[i];
      if (job?.status !== 'succeeded' || !job.output) continue;
      const file = resultPath(
        opts.out,
        s.input,
        job.style,
        (OUTPUT_EXTENSIONS as Record<string, string>)[job.output.format] ?? job.output.format,
      );
      await writeFileAtomic(file, await services.storage.get(job.output.key));
      if (!opts.json) process.stdout.write(`${file}\n`);
    }
  }
  if (opts.json) {
    const out = submitted.map((s, i) => {
      const job = final[i];
      return s.error
        ? { input: s.input, error: { code: s.error.code, message: s.error.message } }
        : {
            input: s.input,
            jobId: job!.id,
            status: job!.status,
            fromCache: job!.fromCache,
            ...(job!.error ? { error: job!.error } : {}),
            ...(job!.output ? { output: job!.output } : {}),
          };
    });
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else if (!opts.wait) {
    for (const s of submitted) if (s.job) process.stdout.write(`${s.job.id}\t${s.job.status}\t${s.input}\n`);
  }
  const failed = submitted.some((s, i) => s.error || (opts.wait && final[i]?.status !== 'succeeded'));
  for (const [i, s] of submitted.entries()) {
    const job = final[i];
    if (opts.wait && job && job.status !== 'succeeded') {
      process.stderr.write(
        `atelier: ${job.error?.code ?? 'ABORTED'}: ${s.input}: job ${job.id} ${job.status}${job.error ? `: ${job.error.message}` : ''}\n`,
      );
    }
  }
  if (failed) process.exitCode = 1;
}

/** Follows jobs to their end with progress bars (on a terminal) and returns their final records. */
async function follow(
  services: Services,
  submitted: { input: string; job?: JobRecord }[],
  quiet: boolean,
): Promise<(JobRecord | undefined)[]> {
  const { TERMINAL_STATUSES } = await import('@atelier/jobs');
  // Records read from the database; events only move the bars and wake the loop early.
  const current = new Map(submitted.filter((s) => s.job).map((s) => [s.job!.id, s.job!]));
  const tty = process.stderr.isTTY === true && !quiet;
  const multi = tty
    ? new cliProgress.MultiBar(
        { stream: process.stderr, format: ' {bar} {percentage}% {status} {name}', hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const bars = new Map(
    submitted
      .filter((s) => s.job)
      .map((s) => [
        s.job!.id,
        multi?.create(100, 0, { name: path.basename(s.input), status: s.job!.status }),
      ]),
  );
  let wake: (() => void) | undefined;
  const stop = new AbortController();
  const events = services.events;
  for (const id of current.keys()) {
    if (!events) break;
    void (async () => {
      for await (const [event] of events.subscribe(id, stop.signal)) {
        if (event === 'reconnect') continue; // the loop below reads the jobs every 500 ms anyway
        bars.get(event.id)?.update(Math.round(event.progress * 100), { status: event.status });
        if (TERMINAL_STATUSES.includes(event.status)) wake?.();
      }
    })().catch(() => {}); // ends with an AbortError when following stops
  }
  let finished = 0;
  try {
    for (;;) {
      for (const job of [...current.values()].filter((j) => !TERMINAL_STATUSES.includes(j.status))) {
        const fresh = await services.jobs.get(job.id);
        current.set(fresh.id, fresh);
        bars.get(fresh.id)?.update(Math.round(fresh.progress * 100), { status: fresh.status });
        if (TERMINAL_STATUSES.includes(fresh.status)) {
          finished++;
          if (!tty && !quiet)
            process.stderr.write(`[${finished}/${current.size}] ${fresh.id} ${fresh.status}\n`);
        }
      }
      if ([...current.values()].every((j) => TERMINAL_STATUSES.includes(j.status))) break;
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 500);
      });
    }
  } finally {
    stop.abort();
    multi?.stop();
  }
  return submitted.map((s) => (s.job ? current.get(s.job.id) : undefined));
}
