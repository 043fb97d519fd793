// The malloc settings Atelier's rendering processes start with (docs/operations.md "Memory
// allocator"): glibc accepts every value, they make freed image-sized blocks reusable without new
// page faults, in a worker thread too, and every way of starting Atelier that the repository
// offers applies them.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { MALLOC_TUNABLES, glibcVersion, mallocAdvice } from '@atelier/server';
import { root } from './helpers.ts';

const exec = promisify(execFile);
const onGlibc = process.platform === 'linux' && glibcVersion() !== undefined;

/** Page faults of four 64 MB allocations made after a first one was freed, in a fresh process. */
const FAULTS = `
const n = 16 * 1024 * 1024;
function touch() {
  const before = process.resourceUsage().minorPageFault;
  const a = new Float32Array(n);
  for (let j = 0; j < n; j += 1024) a[j] = j;
  return process.resourceUsage().minorPageFault - before;
}
const counts = [];
for (let i = 0; i < 5; i++) {
  counts.push(touch());
  globalThis.gc();
  await new Promise((resolve) => setTimeout(resolve, 20));
}
const out = JSON.stringify(counts.slice(1));
if (process.env.IN_WORKER) {
  const { parentPort } = await import('node:worker_threads');
  parentPort.postMessage(out);
} else console.log(out);
`;

const IN_WORKER = `
import { Worker } from 'node:worker_threads';
const worker = new Worker(new URL(process.argv[1]), { env: { ...process.env, IN_WORKER: '1' } });
worker.once('message', (m) => { console.log(m); worker.terminate(); });
`;

async function laterFaults(tunables: string | undefined, inWorker: boolean): Promise<number> {
  const env = { ...process.env };
  if (tunables === undefined) delete env['GLIBC_TUNABLES'];
  else env['GLIBC_TUNABLES'] = tunables;
  const faults = `data:text/javascript,${encodeURIComponent(FAULTS)}`;
  const args = inWorker
    ? ['--expose-gc', '--input-type=module', '-e', IN_WORKER, faults]
    : ['--expose-gc', '--input-type=module', '-e', FAULTS];
  const { stdout } = await exec(process.execPath, args, { env });
  return (JSON.parse(stdout.trim()) as number[]).reduce((a, b) => a + b, 0);
}

describe.runIf(onGlibc)('malloc settings', () => {
  it('are all accepted by glibc, with the values meant', async () => {
    const { stdout } = await exec('/lib64/ld-linux-x86-64.so.2', ['--list-tunables'], {
      env: { ...process.env, GLIBC_TUNABLES: MALLOC_TUNABLES },
    });
    const value = (name: string): number => {
      const hex = new RegExp(`^glibc\\.malloc\\.${name}: (0x[0-9a-f]+)`, 'm').exec(stdout)?.[1];
      return Number(hex);
    };
    expect(value('arena_max')).toBe(1);
    expect(value('mmap_threshold')).toBe(256 * 1024 * 1024);
    expect(value('trim_threshold')).toBe(512 * 1024 * 1024);
  });

  it.each([
    ['the main thread', false],
    ['a worker thread', true],
  ])('let %s reuse a freed 64 MB buffer instead of faulting its pages in again', async (_, worker) => {
    const without = await laterFaults(undefined, worker);
    const withSettings = await laterFaults(MALLOC_TUNABLES, worker);
    // Without them every 64 MB allocation is a fresh mapping: 16384 pages each time.
    expect(without).toBeGreaterThan(4 * 16_000);
    expect(withSettings).toBeLessThan(without / 2);
  });

  it('are advised at start-up only when GLIBC_TUNABLES has no malloc settings', () => {
    expect(mallocAdvice({})).toContain(MALLOC_TUNABLES);
    expect(mallocAdvice({ GLIBC_TUNABLES: 'glibc.cpu.hwcaps=-AVX' })).toContain('GLIBC_TUNABLES');
    expect(mallocAdvice({ GLIBC_TUNABLES: MALLOC_TUNABLES })).toBeUndefined();
    expect(mallocAdvice({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' })).toBeUndefined();
  });
});

describe('every way the repository starts Atelier applies them', () => {
  it('pnpm start and pnpm atelier, unless the environment already sets GLIBC_TUNABLES', async () => {
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    for (const script of ['start', 'atelier'])
      expect(pkg.scripts[script]).toContain(`GLIBC_TUNABLES=\${GLIBC_TUNABLES:-${MALLOC_TUNABLES}} node `);
  });

  it('the benchmarks, for Atelier and OpenCV alike', async () => {
    const run = await readFile(path.join(root, 'bench/run.ts'), 'utf8');
    expect(run).toContain("process.env['GLIBC_TUNABLES'] ??= MALLOC_TUNABLES;");
    const api = await readFile(path.join(root, 'bench/api-bench.ts'), 'utf8');
    expect(api).toContain("GLIBC_TUNABLES: process.env['GLIBC_TUNABLES'] ?? MALLOC_TUNABLES");
  });
});
