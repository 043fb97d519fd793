// The fuzz harness: runs cases in a child process (child.ts) and judges each from outside it.
// A case passes when it ends with an image or an AtelierError with an expected input code; it fails
// on a crash of the child (a native fault in libvips would be one), a hang past the time limit,
// RSS above the memory limit, an uncaught error, a rejection that is not an AtelierError, or an
// AtelierError whose code says something other than the input was at fault.
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OutputFormat, PlanLimits } from '@atelier/core';
import { ERROR_CODES } from '@atelier/core';
import type { ChildMessage, ParentMessage, RunOutcome } from './protocol.ts';

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/**
 * The codes a damaged file may end with: each says the input (or, for the last, the input with the
 * chosen output format) is at fault. A style failing on an
 * image that decoded (`PLUGIN_FAILED`, `PLUGIN_OUTPUT_INVALID`) or a run stopped by the engine's own
 * limits is a finding, not an acceptable outcome.
 */
export const EXPECTED_CODES: ReadonlySet<string> = new Set([
  'IMAGE_EMPTY',
  'IMAGE_TOO_LARGE',
  'IMAGE_FORMAT_UNSUPPORTED',
  'IMAGE_CORRUPT',
  'IMAGE_TOO_MANY_PIXELS',
  // The image decoded and was styled, but is too wide or tall for the chosen output format.
  'OUTPUT_TOO_LARGE_FOR_FORMAT',
]);

/**
 * The fuzzer's pixel limit. At the server's default (100 million) a dimension lie that decodes is a
 * legitimately huge image, whose style takes longer than 10 s and more than 600 MB by design; at 2
 * million every image that decodes must finish well within both, so a case that does not is a
 * finding (an oil-painting strip of 2 MP took 18 s and 690 MB before its fix). Lies above the limit
 * still exercise IMAGE_TOO_MANY_PIXELS.
 */
export const FUZZ_MAX_PIXELS = 2_000_000;

export type FailureReason = 'crash' | 'hang' | 'rss' | 'uncaught' | 'uncoded' | 'unexpected-code';

export type Verdict =
  | {
      readonly ok: true;
      readonly outcome: RunOutcome;
      readonly ms: number;
      readonly peakRssMb: number;
      /** The child's RSS after the case: what it holds between cases. */
      readonly rssAfterMb: number;
    }
  | {
      readonly ok: false;
      readonly reason: FailureReason;
      readonly detail: string;
      readonly outcome?: RunOutcome;
      readonly ms: number;
      readonly peakRssMb: number;
    };

export interface HarnessOptions {
  /** A case running longer is a hang: the child is killed. @default 10000 */
  readonly timeoutMs?: number;
  /** A child above this RSS is killed and the case fails. @default 600 */
  readonly maxRssMb?: number;
  /**
   * Engine limits for the child's plans; unset ones are the engine's defaults (the server's), except
   * `maxInputPixels`. @default { maxInputPixels: FUZZ_MAX_PIXELS }
   */
  readonly limits?: Partial<PlanLimits>;
  /** How often the child's RSS is read from /proc while a case runs. @default 50 */
  readonly pollMs?: number;
  /** Styles named `fuzz-test:abort|hang|throw|uncoded|leak` misbehave in the child (harness tests). */
  readonly testHooks?: boolean;
}

/** What a case is, for the file written beside its bytes. */
export interface CaseRecord {
  readonly label: string;
  readonly ext: string;
  readonly style: string;
  readonly output: OutputFormat;
  /** The pixel limit the case ran with (a replay uses it again). */
  readonly maxPixels?: number;
  readonly description?: unknown;
}

function rssOf(pid: number): number | undefined {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Judges a child's report: a code from the table that says the input was at fault passes. */
export function judge(outcome: RunOutcome): { reason: FailureReason; detail: string } | undefined {
  switch (outcome.kind) {
    case 'image':
      return undefined;
    case 'uncoded':
      return { reason: 'uncoded', detail: outcome.message };
    case 'coded':
      if (EXPECTED_CODES.has(outcome.code)) return undefined;
      return {
        reason: 'unexpected-code',
        detail: `${outcome.code}${outcome.code in ERROR_CODES ? '' : ' (not in ERROR_CODES)'}: ${outcome.message}`,
      };
  }
}

export class FuzzHarness {
  readonly #timeoutMs: number;
  readonly #maxRssMb: number;
  readonly #pollMs: number;
  readonly #env: NodeJS.ProcessEnv;
  #child: ChildProcess | undefined;
  #nextId = 1;
  /** Highest per-case peak RSS seen, in MB. */
  peakRssMb = 0;
  /** Children started (1 + one for each crash, hang or kill). */
  childrenStarted = 0;

  constructor(options: HarnessOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#maxRssMb = options.maxRssMb ?? 600;
    this.#pollMs = options.pollMs ?? 50;
    this.#env = {
      ...process.env,
      ATELIER_FUZZ_LIMITS: JSON.stringify({ maxInputPixels: FUZZ_MAX_PIXELS, ...options.limits }),
      ATELIER_FUZZ_WARM_UP: path.join(ROOT, 'test/fixtures/fuzz/baseline.jpg'),
      ATELIER_FUZZ_TEST_HOOKS: options.testHooks === true ? '1' : '0',
    };
  }

  async #ensureChild(): Promise<ChildProcess> {
    if (this.#child && this.#child.exitCode === null && this.#child.signalCode === null) return this.#child;
    const child = fork(CHILD, [], {
      cwd: ROOT,
      env: this.#env,
      execArgv: [],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.childrenStarted++;
    // A send() to a child that has just died emits 'error'; its 'exit' already gives the verdict.
    child.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: ChildMessage): void => {
        if (m.t !== 'ready') return;
        child.off('exit', onExit);
        child.off('message', onMessage);
        resolve();
      };
      const onExit = (code: number | null, signal: string | null): void =>
        reject(new Error(`the fuzz child exited while starting (code ${code}, signal ${signal})`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    this.#child = child;
    return child;
  }

  /** Runs one case in the child and judges it. Never rejects for anything the case does. */
  async run(bytes: Uint8Array, style: string, output: OutputFormat): Promise<Verdict> {
    const child = await this.#ensureChild();
    const pid = child.pid!;
    const id = this.#nextId++;
    const started = performance.now();
    let polledPeak = 0;
    return new Promise<Verdict>((resolve) => {
      const finish = (verdict: Verdict, kill: boolean): void => {
        clearTimeout(timer);
        clearInterval(poll);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (kill) {
          child.kill('SIGKILL');
          this.#child = undefined; // it is not gone yet: the next case must not be sent to it
        }
        this.peakRssMb = Math.max(this.peakRssMb, verdict.peakRssMb);
        resolve(verdict);
      };
      const elapsed = (): number => performance.now() - started;
      const onMessage = (m: ChildMessage): void => {
        if (m.t === 'uncaught') {
          finish(
            { ok: false, reason: 'uncaught', detail: m.message, ms: elapsed(), peakRssMb: polledPeak },
            true,
          );
        } else if (m.t === 'done' && m.id === id) {
          const peakRssMb = Math.max(polledPeak, m.peakRssBytes / 2 ** 20);
          const failed = judge(m.outcome);
          if (failed) {
            finish({ ok: false, ...failed, outcome: m.outcome, ms: m.ms, peakRssMb }, false);
          } else if (peakRssMb > this.#maxRssMb) {
            const detail = `peak RSS ${peakRssMb.toFixed(0)} MB > ${this.#maxRssMb} MB`;
            finish({ ok: false, reason: 'rss', detail, outcome: m.outcome, ms: m.ms, peakRssMb }, true);
          } else {
            finish(
              { ok: true, outcome: m.outcome, ms: m.ms, peakRssMb, rssAfterMb: m.rssAfterBytes / 2 ** 20 },
              false,
            );
          }
        }
      };
      const onExit = (code: number | null, signal: string | null): void =>
        finish(
          {
            ok: false,
            reason: 'crash',
            detail: `the child exited (code ${code}, signal ${signal})`,
            ms: elapsed(),
            peakRssMb: polledPeak,
          },
          false,
        );
      const timer = setTimeout(
        () =>
          finish(
            {
              ok: false,
              reason: 'hang',
              detail: `no result after ${this.#timeoutMs} ms`,
              ms: elapsed(),
              peakRssMb: polledPeak,
            },
            true,
          ),
        this.#timeoutMs,
      );
      const poll = setInterval(() => {
        const rss = rssOf(pid);
        if (rss === undefined) return;
        polledPeak = Math.max(polledPeak, rss);
        if (rss > this.#maxRssMb) {
          finish(
            {
              ok: false,
              reason: 'rss',
              detail: `RSS ${rss.toFixed(0)} MB > ${this.#maxRssMb} MB while running`,
              ms: elapsed(),
              peakRssMb: rss,
            },
            true,
          );
        }
      }, this.#pollMs);
      child.on('message', onMessage);
      child.once('exit', onExit);
      const message: ParentMessage = { t: 'run', id, bytes, style, output };
      child.send(message);
    });
  }

  /** Stops the child. */
  async close(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const close: ParentMessage = { t: 'close' };
    child.send(close);
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Writes a case's bytes and what it was to `dir`: `<label>.<ext>` and `<label>.json`. Returns the
 * path of the bytes, which `pnpm fuzz --replay` takes.
 */
export function writeCase(dir: string, record: CaseRecord, bytes: Uint8Array, verdict?: Verdict): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${record.label}.${record.ext}`);
  writeFileSync(file, bytes);
  writeFileSync(
    path.join(dir, `${record.label}.json`),
    `${JSON.stringify(
      {
        style: record.style,
        output: record.output,
        ...(record.maxPixels === undefined ? {} : { maxPixels: record.maxPixels }),
        replay: `pnpm fuzz --replay ${path.relative(ROOT, file)}`,
        ...(verdict ? { verdict } : {}),
        ...(record.description === undefined ? {} : { case: record.description }),
      },
      null,
      2,
    )}\n`,
  );
  return file;
}
