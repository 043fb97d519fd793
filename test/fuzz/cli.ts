// `pnpm fuzz`: mutated JPEG, PNG, WebP, GIF, AVIF and TIFF files through the engine's upload and
// decode path (inspectInput, decode, one style, encode), each case in a watched child process.
//
//   pnpm fuzz --count 5000 --seed 42        5000 cases drawn from seed 42
//   pnpm fuzz --replay fuzz-failures/x.png  run one written-out case again
//
// A failing case is written to --out (default fuzz-failures/) as its bytes and a .json beside them
// before anything else happens; the case being run is always in <out>/in-flight.* as well.
// See docs/fuzzing.md.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import type { OutputFormat, PlanLimits } from '@atelier/core';
import { FUZZ_MAX_PIXELS, FuzzHarness, ROOT, writeCase } from './harness.ts';
import type { Verdict } from './harness.ts';
import { FORMAT_EXTENSIONS, OUTPUTS, STYLES, caseBytes, fuzzCaseArbitrary, loadSeeds } from './mutate.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    seed: { type: 'string' },
    out: { type: 'string', default: 'fuzz-failures' },
    'timeout-ms': { type: 'string', default: '10000' },
    'max-rss-mb': { type: 'string', default: '600' },
    'max-pixels': { type: 'string' },
    replay: { type: 'string' },
    style: { type: 'string' },
    output: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(`usage: pnpm fuzz [--count N] [--seed S] [--out DIR] [--timeout-ms MS] [--max-rss-mb MB]
                 [--max-pixels N (default 2000000)]
       (a replay takes its style, output and pixel limit from FILE's .json unless given)
       pnpm fuzz --replay FILE [--style ID] [--output FORMAT]`);
  process.exit(0);
}

const integer = (name: string, text: string): number => {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`atelier fuzz: USAGE_INVALID: --${name} must be a whole number, not "${text}"`);
    process.exit(2);
  }
  return n;
};

// A replayed case takes its style, output format and pixel limit from the .json beside it.
interface Recorded {
  readonly style?: string;
  readonly output?: OutputFormat;
  readonly maxPixels?: number;
}
const replayFile = values.replay === undefined ? undefined : path.resolve(values.replay);
const sidecar = replayFile?.replace(/\.[^./]+$/, '.json');
const recorded: Recorded =
  sidecar !== undefined && existsSync(sidecar) ? (JSON.parse(readFileSync(sidecar, 'utf8')) as Recorded) : {};
const maxPixels =
  values['max-pixels'] === undefined
    ? (recorded.maxPixels ?? FUZZ_MAX_PIXELS)
    : integer('max-pixels', values['max-pixels']);
const limits: Partial<PlanLimits> = { maxInputPixels: maxPixels };
const harness = new FuzzHarness({
  timeoutMs: integer('timeout-ms', values['timeout-ms']),
  maxRssMb: integer('max-rss-mb', values['max-rss-mb']),
  limits,
});
const outDir = path.resolve(values.out);
const mb = (n: number): string => `${n.toFixed(0)} MB`;
const describe = (v: Verdict): string =>
  v.ok
    ? v.outcome.kind === 'image'
      ? `image ${v.outcome.width}x${v.outcome.height} (${v.outcome.bytes} bytes)`
      : `${v.outcome.kind === 'coded' ? v.outcome.code : ''}: ${v.outcome.kind === 'coded' ? v.outcome.message : ''}`
    : `FAILED (${v.reason}): ${v.detail}`;

if (replayFile !== undefined) {
  const file = replayFile;
  const style = values.style ?? recorded.style ?? 'cartoon';
  const output = (values.output ?? recorded.output ?? 'png') as OutputFormat;
  const verdict = await harness.run(readFileSync(file), style, output);
  await harness.close();
  console.log(`${path.relative(ROOT, file)} with ${style} → ${output}: ${describe(verdict)}`);
  console.log(`time ${verdict.ms.toFixed(0)} ms, peak RSS ${mb(verdict.peakRssMb)}`);
  process.exit(verdict.ok ? 0 : 1);
}

const count = integer('count', values.count);
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : integer('seed', values.seed);
const seeds = loadSeeds();
const formatOf = new Map(seeds.map((s) => [s.name, s.format]));
const cases = fc.sample(fuzzCaseArbitrary(seeds), { seed, numRuns: count });

console.log(
  `fuzzing ${count} cases, seed ${seed}, ${seeds.length} seed files, styles ${STYLES.join(',')}, outputs ${OUTPUTS.join(',')}`,
);
const started = performance.now();
const outcomes = new Map<string, number>();
const byFormat = new Map<string, Map<string, number>>();
const times: number[] = [];
const failures: string[] = [];
/** The cases with the highest peak RSS, and the child's RSS between cases (its baseline). */
const heaviest: { peak: number; line: string }[] = [];
const baseline: number[] = [];
const bump = (map: Map<string, number>, key: string): void => {
  map.set(key, (map.get(key) ?? 0) + 1);
};

for (const [index, c] of cases.entries()) {
  const bytes = caseBytes(seeds, c);
  const format = formatOf.get(c.seed)!;
  const record = {
    ext: FORMAT_EXTENSIONS[format],
    style: c.style,
    output: c.output,
    maxPixels,
    description: { fuzzSeed: seed, index, ...c },
  };
  // Written before the case runs, so a case that takes the whole fuzzer down is still on disk.
  writeCase(outDir, { ...record, label: 'in-flight' }, bytes);
  const verdict = await harness.run(bytes, c.style, c.output);
  times.push(verdict.ms);
  const key = verdict.ok
    ? verdict.outcome.kind === 'image'
      ? 'image'
      : verdict.outcome.kind === 'coded'
        ? verdict.outcome.code
        : 'uncoded'
    : `FAILED:${verdict.reason}`;
  bump(outcomes, key);
  if (verdict.ok) baseline.push(verdict.rssAfterMb);
  const outcomeText =
    verdict.ok && verdict.outcome.kind === 'image' ? `image from ${verdict.outcome.input}` : key;
  heaviest.push({
    peak: verdict.peakRssMb,
    line: `case ${index} (${c.seed}, ${c.style} → ${c.output}): ${outcomeText}`,
  });
  heaviest.sort((a, b) => b.peak - a.peak).splice(5);
  let perFormat = byFormat.get(format);
  if (!perFormat) byFormat.set(format, (perFormat = new Map()));
  bump(perFormat, key);
  if (!verdict.ok) {
    const file = writeCase(
      outDir,
      { ...record, label: `seed${seed}-case${index}-${verdict.reason}` },
      bytes,
      verdict,
    );
    failures.push(
      `case ${index} (${c.seed}, ${c.style}): ${verdict.reason}: ${verdict.detail.split('\n')[0]}\n    ${path.relative(ROOT, file)}`,
    );
    console.log(`case ${index}: ${describe(verdict).split('\n')[0]} → ${path.relative(ROOT, file)}`);
  }
  if ((index + 1) % 250 === 0) {
    const s = (performance.now() - started) / 1000;
    console.log(
      `  ${index + 1}/${count} in ${s.toFixed(0)} s, ${failures.length} failed, peak RSS ${mb(harness.peakRssMb)}`,
    );
  }
}
await harness.close();

const seconds = (performance.now() - started) / 1000;
times.sort((a, b) => a - b);
const at = (q: number): number => times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? 0;
const table = (map: Map<string, number>): string =>
  [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');
console.log(
  `\n${count} cases, seed ${seed}: ${failures.length === 0 ? 'no failures' : `${failures.length} FAILED`}`,
);
console.log(
  `time ${seconds.toFixed(1)} s (${(count / seconds).toFixed(1)} cases/s); per case median ${at(0.5).toFixed(0)} ms, p99 ${at(0.99).toFixed(0)} ms, max ${at(1).toFixed(0)} ms`,
);
console.log(`peak RSS of the child ${mb(harness.peakRssMb)}; children started ${harness.childrenStarted}`);
const quartile = (q: number): string => mb(baseline[Math.floor(q * (baseline.length - 1))] ?? 0);
console.log(
  `child RSS between cases: ${quartile(0)} after the first, ${quartile(0.5)} at half way, ${quartile(1)} after the last`,
);
console.log(`highest peaks: ${heaviest.map((h) => `\n  ${mb(h.peak)} ${h.line}`).join('')}`);
console.log(`outcomes: ${table(outcomes)}`);
for (const [format, map] of [...byFormat.entries()].sort())
  console.log(`  ${format.padEnd(5)} ${table(map)}`);
for (const f of failures) console.log(`  ${f}`);
process.exit(failures.length === 0 ? 0 : 1);
