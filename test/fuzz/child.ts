// The fuzzer's child process: runs one case at a time through the real engine (inspectInput, decode
// in a worker thread, one style, encode) and reports how it ended and the peak RSS it reached. The
// parent (harness.ts) watches it from outside: a native crash, a hang or runaway memory here ends
// this process, not the fuzzer.
import { readFileSync, writeFileSync } from 'node:fs';
import { Engine, PluginRegistry, isAtelierError, loadPluginModule } from '@atelier/core';
import type { OutputFormat, PlanLimits } from '@atelier/core';
import type { ChildMessage, ParentMessage, RunOutcome } from './protocol.ts';

const send = (message: ChildMessage): void => {
  process.send?.(message);
};

process.on('uncaughtException', (error) => {
  send({ t: 'uncaught', message: String(error instanceof Error ? (error.stack ?? error.message) : error) });
  process.exit(70);
});
process.on('unhandledRejection', (reason) => {
  send({
    t: 'uncaught',
    message: String(reason instanceof Error ? (reason.stack ?? reason.message) : reason),
  });
  process.exit(70);
});

/** Resets the kernel's peak-RSS counter (VmHWM) to the current RSS; false where Linux does not allow it. */
function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Peak RSS since the last reset, in bytes (the process's lifetime peak where it cannot be reset). */
function peakRss(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

const limits = JSON.parse(process.env['ATELIER_FUZZ_LIMITS'] ?? '{}') as Partial<PlanLimits>;
const registry = new PluginRegistry();
await loadPluginModule(registry, import.meta.resolve('@atelier/plugins'), { builtin: true });
const engine = new Engine({ registry, threads: 1, limits });

/**
 * Misbehaviour on demand, for the harness's own tests (ATELIER_FUZZ_TEST_HOOKS=1 only): each kind
 * of failure the harness must catch, made deterministic.
 */
async function testHook(style: string): Promise<void> {
  switch (style) {
    case 'fuzz-test:abort':
      process.abort(); // what a native assertion in libvips does
      break;
    case 'fuzz-test:hang':
      for (;;) {
        // never returns: blocks the event loop like a stuck decoder would
      }
    case 'fuzz-test:throw':
      setImmediate(() => {
        throw new Error('thrown outside any promise');
      });
      await new Promise(() => {});
      break;
    case 'fuzz-test:uncoded':
      throw new TypeError('not an AtelierError');
    case 'fuzz-test:leak': {
      const hog = Buffer.alloc(900 * 2 ** 20, 1);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      hog[0] = 2;
      break;
    }
  }
}
const testHooks = process.env['ATELIER_FUZZ_TEST_HOOKS'] === '1';

async function runCase(bytes: Uint8Array, style: string, output: OutputFormat): Promise<RunOutcome> {
  try {
    if (testHooks && style.startsWith('fuzz-test:')) await testHook(style);
    const plan = engine.plan({ steps: [{ plugin: style }], output: { format: output } });
    const result = await engine.run(bytes, plan);
    return {
      kind: 'image',
      width: result.width,
      height: result.height,
      bytes: result.bytes,
      input: `${result.input.format} ${result.input.width}x${result.input.height}`,
    };
  } catch (error) {
    if (isAtelierError(error)) return { kind: 'coded', code: error.code, message: error.message };
    return {
      kind: 'uncoded',
      message: error instanceof Error ? (error.stack ?? error.message) : String(error),
    };
  }
}

// One unmutated run first, so plugin loading and the worker thread's start are not timed as a case.
const warmUp = process.env['ATELIER_FUZZ_WARM_UP'];
if (warmUp) await runCase(readFileSync(warmUp), 'cartoon', 'png');

process.on('message', (message: ParentMessage) => {
  if (message.t === 'close') {
    void engine.close().then(() => process.exit(0));
    return;
  }
  const started = performance.now();
  const resettable = resetPeak();
  void runCase(message.bytes, message.style, message.output).then((outcome) =>
    send({
      t: 'done',
      id: message.id,
      outcome,
      ms: performance.now() - started,
      peakRssBytes: peakRss(),
      peakIsPerCase: resettable,
      rssAfterBytes: process.memoryUsage().rss,
    }),
  );
});
send({ t: 'ready', pid: process.pid });
