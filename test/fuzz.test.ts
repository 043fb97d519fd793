// Fuzzing the upload and decode path: mutated JPEG, PNG, WebP, GIF, AVIF and TIFF files through
// inspectInput, decode, one style and encode, each case in a watched child process (test/fuzz/).
// Every case must end with an image or a coded input error: never a crash, a hang past 10 s, an
// uncaught or uncoded error, or RSS above 600 MB. `pnpm fuzz` runs any number of cases.
import path from 'node:path';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, Engine, PluginRegistry, isAtelierError } from '@atelier/core';
import sharp from 'sharp';
import { FUZZ_MAX_PIXELS, FuzzHarness, ROOT, judge, writeCase } from './fuzz/harness.ts';
import {
  FORMAT_EXTENSIONS,
  caseBytes,
  chunkCount,
  fuzzCaseArbitrary,
  headerFields,
  loadSeeds,
} from './fuzz/mutate.ts';
import type { SeedFormat } from './fuzz/mutate.ts';

/** The suite's fixed seed; `pnpm fuzz --seed S` draws others. */
const SUITE_SEED = 20261203;
const SUITE_RUNS = 300;
const failureDir = path.join(ROOT, 'fuzz-failures');
const seeds = loadSeeds();

describe('the mutators know each format', () => {
  const expected: Record<SeedFormat, { fields: string[]; minChunks: number }> = {
    jpeg: { fields: ['SOF0 width', 'SOF0 height'], minChunks: 4 },
    png: { fields: ['IHDR width', 'IHDR height', 'IHDR bit depth'], minChunks: 3 },
    webp: { fields: [], minChunks: 1 },
    gif: { fields: ['screen width', 'frame width', 'frame height'], minChunks: 1 },
    avif: { fields: ['ispe width', 'ispe height'], minChunks: 3 },
    tiff: { fields: ['ImageWidth value', 'ImageLength value', 'StripOffsets value'], minChunks: 8 },
  };

  it.each(seeds.map((s) => [s.name, s] as const))('%s: header fields and chunks', (_name, seed) => {
    const fields = headerFields(seed.format, seed.bytes);
    const want = expected[seed.format];
    // Progressive JPEG has SOF2, tiled TIFF has tile offsets: check the format's common names.
    const names = fields.join('|');
    for (const f of want.fields) {
      if (seed.name === 'progressive.jpg') expect(names).toContain(f.replace('SOF0', 'SOF2'));
      else if (seed.name === 'tiled.tiff' && f === 'StripOffsets value')
        expect(names).toContain('TileOffsets value');
      else expect(names).toContain(f);
    }
    if (seed.format === 'webp') expect(names).toMatch(/VP8X width-1|VP8 width|VP8L width/);
    expect(chunkCount(seed.format, seed.bytes)).toBeGreaterThanOrEqual(want.minChunks);
  });

  it('a dimension lie lands in the header: a PNG said to be 30000 px wide', async () => {
    const png = seeds.find((s) => s.name === 'rgb.png')!;
    const lie = caseBytes(seeds, {
      seed: png.name,
      mutations: [{ kind: 'field', field: 0, value: { set: 30000 } }],
      fixChecksums: true,
      style: 'cartoon',
      output: 'png',
    });
    expect((await sharp(lie).metadata()).width).toBe(30000);
  });

  it('a duplicated chunk makes the file longer by that chunk', () => {
    const jpeg = seeds.find((s) => s.name === 'baseline.jpg')!;
    const twice = caseBytes(seeds, {
      seed: jpeg.name,
      mutations: [{ kind: 'duplicate', chunk: 1, times: 1 }],
      fixChecksums: false,
      style: 'cartoon',
      output: 'png',
    });
    expect(twice.length).toBeGreaterThan(jpeg.bytes.length);
    expect(chunkCount('jpeg', twice)).toBe(chunkCount('jpeg', jpeg.bytes) + 1);
  });
});

describe('fuzz the upload and decode path', () => {
  let harness: FuzzHarness;
  beforeAll(() => {
    harness = new FuzzHarness();
  });
  afterAll(() => harness.close());

  it(`${SUITE_RUNS} mutated files (seed ${SUITE_SEED}) each end in an image or a coded input error`, async () => {
    const outcomes = new Map<string, number>();
    const formats = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fuzzCaseArbitrary(seeds), async (c) => {
        const bytes = caseBytes(seeds, c);
        const verdict = await harness.run(bytes, c.style, c.output);
        if (!verdict.ok) {
          const format = seeds.find((s) => s.name === c.seed)!.format;
          const label = `suite-${verdict.reason}-${Date.now()}`;
          const file = writeCase(
            failureDir,
            {
              label,
              ext: FORMAT_EXTENSIONS[format],
              style: c.style,
              output: c.output,
              maxPixels: FUZZ_MAX_PIXELS,
              description: c,
            },
            bytes,
            verdict,
          );
          throw new Error(
            `${verdict.reason}: ${verdict.detail}\n  replay: pnpm fuzz --replay ${path.relative(ROOT, file)}`,
          );
        }
        const key = verdict.outcome.kind === 'coded' ? verdict.outcome.code : verdict.outcome.kind;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        formats.add(c.seed.split('.').pop()!);
      }),
      { seed: SUITE_SEED, numRuns: SUITE_RUNS, endOnFailure: true },
    );
    // The cases reach past the header checks: many decode and get styled, many are refused.
    expect(outcomes.get('image') ?? 0).toBeGreaterThan(SUITE_RUNS / 10);
    expect(outcomes.get('IMAGE_CORRUPT') ?? 0).toBeGreaterThan(SUITE_RUNS / 10);
    expect([...formats].sort()).toEqual(['avif', 'gif', 'jpg', 'png', 'tiff', 'webp']);
    expect(harness.peakRssMb).toBeLessThan(600);
  }, 600_000);

  // Cases the fuzzer found, kept as regressions: each failed before its fix (see its .json).
  const foundDir = path.join(ROOT, 'test/fixtures/fuzz/found');
  const found = ['oil-painting-strip-50901x42.jpg', 'avif-strip-48x53944.jpg'];
  it.each(found)('found case %s now ends cleanly', async (name) => {
    const record = JSON.parse(readFileSync(path.join(foundDir, name.replace(/\.\w+$/, '.json')), 'utf8')) as {
      style: string;
      output: 'png' | 'avif';
      maxPixels: number;
    };
    // At the pixel limit recorded with the case: these strips are above the fuzzer's own.
    expect(record.maxPixels).toBe(DEFAULT_LIMITS.maxInputPixels);
    const roomy = new FuzzHarness({ limits: { maxInputPixels: record.maxPixels } });
    try {
      const verdict = await roomy.run(readFileSync(path.join(foundDir, name)), record.style, record.output);
      expect(verdict.ok ? 'ok' : `${verdict.reason}: ${verdict.detail}`).toBe('ok');
    } finally {
      await roomy.close();
    }
  });
});

describe('the harness catches each kind of failure', () => {
  let harness: FuzzHarness;
  const jpeg = readFileSync(path.join(ROOT, 'test/fixtures/fuzz/baseline.jpg'));
  beforeAll(() => {
    // A low RSS limit: the leak crosses it quickly even on a loaded machine.
    harness = new FuzzHarness({ testHooks: true, timeoutMs: 6_000, maxRssMb: 400 });
  });
  afterAll(() => harness.close());

  it.each([
    ['fuzz-test:abort', 'crash'],
    ['fuzz-test:hang', 'hang'],
    ['fuzz-test:throw', 'uncaught'],
    ['fuzz-test:uncoded', 'uncoded'],
    ['fuzz-test:leak', 'rss'],
  ])('%s is a %s, and the next case runs in a fresh child', async (style, reason) => {
    const verdict = await harness.run(jpeg, style, 'png');
    expect(verdict.ok ? 'ok' : verdict.reason).toBe(reason);
    const next = await harness.run(jpeg, 'cartoon', 'png');
    expect(next.ok && next.outcome.kind).toBe('image');
  });

  it('a code outside the expected input codes is a finding', () => {
    expect(judge({ kind: 'coded', code: 'IMAGE_CORRUPT', message: '' })).toBeUndefined();
    expect(judge({ kind: 'coded', code: 'PLUGIN_FAILED', message: 'x' })?.reason).toBe('unexpected-code');
  });
});

describe('what the fuzzer found, at the engine', () => {
  it('a result too wide for its output format gets OUTPUT_TOO_LARGE_FOR_FORMAT', async () => {
    const engine = new Engine({ registry: new PluginRegistry(), threads: 1 });
    try {
      const strip = await sharp({ create: { width: 20000, height: 2, channels: 3, background: '#808080' } })
        .png()
        .toBuffer();
      const code = await engine.run(strip, engine.plan({ steps: [], output: { format: 'webp' } })).then(
        () => 'ok',
        (error: unknown) => (isAtelierError(error) ? error.code : String(error)),
      );
      expect(code).toBe('OUTPUT_TOO_LARGE_FOR_FORMAT');
    } finally {
      await engine.close();
    }
  });
});
