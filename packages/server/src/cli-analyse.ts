// `atelier analyse --all`: back-fills the analysis on upload (docs/gallery.md) for every image
// that has none by the current version (uploaded before analysis existed, or whose queued job was
// lost), in this process, without the queue. Resumable: each image's row is written as it is
// done, so a run stopped anywhere continues where it stopped.
import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { AtelierError, isAtelierError } from '@atelier/core';
import type { ErrorCode } from '@atelier/core';
import type { AnalysisOutcome, AnalysisService } from '@atelier/jobs';
import { integer } from './cli-args.ts';
import { withServices } from './cli-jobs.ts';

/** Images read from the database at a time. */
const PAGE = 100;

interface AnalyseOptions {
  all?: boolean;
  retryFailed?: boolean;
  limit?: number;
  concurrency: number;
  json?: boolean;
}

/** What a back-fill run did. */
interface AnalyseReport {
  /** Images this run took up. */
  readonly total: number;
  readonly done: number;
  /** Already analysed (by a worker meanwhile) or deleted while the run went on. */
  readonly skipped: number;
  /** Recorded as failed, by code. */
  readonly failed: Readonly<Record<string, number>>;
  /** Left pending for the next run (storage or the database failed): by code. */
  readonly errors: Readonly<Record<string, number>>;
}

export function registerAnalyseCommand(program: Command): void {
  program
    .command('analyse')
    .alias('analyze')
    .description(
      'back-fill the analysis on upload (palette, hashes, BlurHash, EXIF) of every image without a current one; resumable',
    )
    .option('--all', 'every image that has no analysis by the current version (required)')
    .option('--retry-failed', 'also try again the images whose analysis failed')
    .option('--limit <n>', 'analyse at most this many images in this run', integer('limit', 1, 10 ** 9))
    .option('--concurrency <n>', 'images analysed at once', integer('concurrency', 1, 64), 2)
    .option('--json', 'print the summary as JSON')
    .action(async (opts: AnalyseOptions) => {
      if (!opts.all)
        throw new AtelierError(
          'USAGE_INVALID',
          'Say which images: --all analyses every image without a current analysis.',
        );
      await withServices(async (services) => {
        const { AnalysisService } = await import('@atelier/jobs');
        const analysis = new AnalysisService({
          db: services.database.db,
          storage: services.storage,
          limits: services.config.limits,
        });
        const retryFailed = opts.retryFailed === true;
        const todo = await analysis.countTodo({ retryFailed });
        const total = Math.min(todo, opts.limit ?? todo);
        const report = await backfill(analysis, { total, retryFailed, concurrency: opts.concurrency });
        const failed = Object.values(report.failed).reduce((a, b) => a + b, 0);
        const errors = Object.values(report.errors).reduce((a, b) => a + b, 0);
        if (opts.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else {
          const codes = (counts: Readonly<Record<string, number>>) =>
            Object.entries(counts)
              .map(([code, n]) => `${code} ×${n}`)
              .join(', ');
          process.stdout.write(
            `analysed ${report.done} of ${report.total} image(s)` +
              (report.skipped ? `, ${report.skipped} skipped (already analysed or deleted)` : '') +
              (failed ? `, ${failed} failed (${codes(report.failed)})` : '') +
              (errors ? `, ${errors} left for the next run (${codes(report.errors)})` : '') +
              `; ${Math.max(0, todo - report.total)} still to do\n`,
          );
        }
        for (const [code, n] of Object.entries(report.failed))
          process.stderr.write(
            `atelier: ${code}: the analysis of ${n} image(s) failed (recorded; --retry-failed tries again)\n`,
          );
        for (const [code, n] of Object.entries(report.errors))
          process.stderr.write(
            `atelier: ${code}: ${n} image(s) could not be analysed now; run again to resume\n`,
          );
        if (failed + errors > 0) process.exitCode = 1;
      });
    });
}

async function backfill(
  analysis: AnalysisService,
  options: { total: number; retryFailed: boolean; concurrency: number },
): Promise<AnalyseReport> {
  const { total, retryFailed } = options;
  const tty = process.stderr.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: ' {bar} {value}/{total} images  {eta_formatted} left',
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  bar?.start(total, 0);
  let done = 0;
  let skipped = 0;
  let seen = 0;
  const failed: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let lastLine = 0;
  const progress = (): void => {
    if (bar) return bar.update(seen);
    // Plain lines when stderr is no terminal: at most one a second, and the last.
    if (seen === total || Date.now() - lastLine >= 1000) {
      lastLine = Date.now();
      process.stderr.write(`analyse: ${seen}/${total} images (${done} analysed)\n`);
    }
  };
  let after: string | undefined;
  try {
    while (seen < total) {
      const ids = await analysis.todo({
        limit: Math.min(PAGE, total - seen),
        retryFailed,
        ...(after === undefined ? {} : { after }),
      });
      if (ids.length === 0) break;
      after = ids.at(-1);
      let next = 0;
      const work = async (): Promise<void> => {
        while (next < ids.length) {
          const id = ids[next++]!;
          let outcome: AnalysisOutcome | { status: 'error'; code: ErrorCode };
          try {
            // Not final: a failure another attempt may fix stays pending for the next run.
            outcome = await analysis.analyse(id);
          } catch (error) {
            outcome = { status: 'error', code: isAtelierError(error) ? error.code : 'INTERNAL' };
          }
          if (outcome.status === 'done') done++;
          else if (outcome.status === 'failed') failed[outcome.code] = (failed[outcome.code] ?? 0) + 1;
          else if (outcome.status === 'error') errors[outcome.code] = (errors[outcome.code] ?? 0) + 1;
          else skipped++;
          seen++;
          progress();
        }
      };
      await Promise.all(Array.from({ length: Math.min(options.concurrency, ids.length) }, work));
    }
  } finally {
    bar?.stop();
  }
  return { total: seen, done, skipped, failed, errors };
}
