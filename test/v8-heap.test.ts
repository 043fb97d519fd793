// The V8 heap setting Atelier's rendering processes start with (docs/operations.md "V8 heap"):
// Node accepts it, it cuts the full collections of an engine thread that renders preview after
// preview, and every way of starting Atelier that the repository offers applies it.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { HEAP_FLAGS, heapAdvice } from '@atelier/server';
import { root } from './helpers.ts';

const exec = promisify(execFile);

/** Full collections (mark-compact) V8 reports in a process that renders 200 small images. */
async function fullCollections(flags: readonly string[]): Promise<number> {
  const { stdout } = await exec(
    process.execPath,
    [...flags, '--trace-gc', path.join(root, 'test/fixtures/heap/runs.ts'), '200'],
    { cwd: root, maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout.split('\n').filter((line) => line.includes('Mark-Compact')).length;
}

describe('the V8 heap setting', () => {
  it('is accepted by the Node.js that runs Atelier', async () => {
    const { stdout } = await exec(process.execPath, [...HEAP_FLAGS, '-p', '"ok"']);
    expect(stdout.trim()).toBe('ok');
  });

  it('cuts the full collections of an engine thread rendering one image after another', async () => {
    const without = await fullCollections([]);
    const withSetting = await fullCollections(HEAP_FLAGS);
    // Without it V8 keeps the old generation's limit just above what is live, and collects it
    // every few runs (about 24 times in 200 runs on the 2-core VM, 8 with the setting).
    expect(without).toBeGreaterThanOrEqual(10);
    expect(withSetting * 2).toBeLessThan(without);
  });

  it('is advised at start-up only when the process was started without it', () => {
    expect(heapAdvice([])).toContain(HEAP_FLAGS.join(' '));
    expect(heapAdvice(['--cpu-prof'])).toContain('--initial-old-space-size');
    expect(heapAdvice([...HEAP_FLAGS])).toBeUndefined();
    expect(heapAdvice(['--initial_old_space_size=128'])).toBeUndefined();
  });
});

describe('every way the repository starts Atelier applies it', () => {
  it('pnpm start and pnpm atelier', async () => {
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const script of ['start', 'atelier'])
      expect(pkg.scripts[script]).toContain(`node ${HEAP_FLAGS.join(' ')} packages/server/src/cli.ts`);
  });

  it('the benchmarks, for every process they start', async () => {
    const run = await readFile(path.join(root, 'bench/run.ts'), 'utf8');
    // Every node process run.ts starts gets the flags first.
    const starts = run.match(/exec\(\s*process\.execPath,\s*\[[^\]]*/g) ?? [];
    expect(starts.length).toBeGreaterThanOrEqual(8);
    for (const start of starts) expect(start).toMatch(/\[\s*\.\.\.HEAP_FLAGS,/);
    const api = await readFile(path.join(root, 'bench/api-bench.ts'), 'utf8');
    expect(api).toMatch(/const execArgv = \[\s*\.\.\.HEAP_FLAGS,/);
  });
});
