// ctx.reportCost, ctx.annotate and ctx.decode: checked in the plugin's thread, carried to the host
// in RunResult (and, for costs, in the error of a failed run), bad values refused with a code.
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_LIMITS,
  Engine,
  PluginRegistry,
  checkAnnotation,
  checkCost,
  isAtelierError,
  loadPluginDirectory,
  runCosts,
  runStep,
} from '@atelier/core';
import type { AtelierError, PluginAnnotation, PluginCost, RawImage } from '@atelier/core';
import { reporter, styleAnnotator } from './fixtures/report-plugins/reporting.plugin.ts';
import { errorCodeOf, photo, read } from './helpers.ts';

const dir = fileURLToPath(new URL('./fixtures/report-plugins/', import.meta.url));
const image: RawImage = {
  data: new Uint8Array(16 * 8 * 3).map((_, i) => (i * 7) % 256),
  width: 16,
  height: 8,
  channels: 3,
};
const png = (img: RawImage): Promise<Buffer> =>
  sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } })
    .png()
    .toBuffer();

async function reports(params: Record<string, unknown>) {
  const costs: PluginCost[] = [];
  const annotations: PluginAnnotation[] = [];
  const out = await runStep(reporter, image, params, {
    onCost: (c) => costs.push(c),
    onAnnotation: (a) => annotations.push(a),
  });
  return { out, costs, annotations };
}

const rejection = (p: Promise<unknown>): Promise<AtelierError> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => {
      if (!isAtelierError(e)) throw e;
      return e;
    },
  );

describe('checkCost', () => {
  it('keeps a good cost, upper-casing the currency', () => {
    expect(checkCost('p', { amount: 0.042, currency: 'usd', detail: '1 image' })).toEqual({
      amount: 0.042,
      currency: 'USD',
      detail: '1 image',
    });
    expect(checkCost('p', { amount: 0, currency: 'EUR' })).toEqual({ amount: 0, currency: 'EUR' });
  });

  it.each([
    ['NaN', { amount: Number.NaN, currency: 'USD' }],
    ['Infinity', { amount: Number.POSITIVE_INFINITY, currency: 'USD' }],
    ['negative', { amount: -0.01, currency: 'USD' }],
    ['a string amount', { amount: '1', currency: 'USD' }],
    ['a long currency', { amount: 1, currency: 'USDX' }],
    ['a symbol', { amount: 1, currency: '$' }],
    ['no currency', { amount: 1 }],
    ['a long detail', { amount: 1, currency: 'USD', detail: 'x'.repeat(501) }],
    ['null', null],
  ])('refuses %s with PLUGIN_REPORT_INVALID', (_name, cost) => {
    expect(() => checkCost('acme:x', cost)).toThrowError(
      expect.objectContaining({ code: 'PLUGIN_REPORT_INVALID', details: { plugin: 'acme:x' } }),
    );
  });
});

describe('checkAnnotation', () => {
  it('trims the caption and normalises tags: trimmed, lower case, one space, no duplicates', () => {
    expect(
      checkAnnotation('p', { caption: '  A cat.  ', tags: [' Cat', 'cat', 'Black  Cat', '', 'SOFA'] }),
    ).toEqual({ caption: 'A cat.', tags: ['cat', 'black cat', 'sofa'] });
    expect(checkAnnotation('p', { tags: ['x'] })).toEqual({ tags: ['x'] });
  });

  it.each([
    ['a long caption', { caption: 'x'.repeat(2001) }],
    ['51 tags', { tags: Array.from({ length: 51 }, (_, i) => `t${i}`) }],
    ['a long tag', { tags: ['x'.repeat(65)] }],
    ['a non-string tag', { tags: ['a', 3] }],
    ['tags not an array', { tags: 'a,b' }],
    ['a number caption', { caption: 42 }],
    ['an empty annotation', { caption: '   ', tags: [' '] }],
  ])('refuses %s with PLUGIN_REPORT_INVALID', (_name, annotation) => {
    expect(() => checkAnnotation('acme:x', annotation)).toThrowError(
      expect.objectContaining({ code: 'PLUGIN_REPORT_INVALID' }),
    );
  });

  it('takes exactly the limits', () => {
    const tags = Array.from({ length: 50 }, (_, i) => `${i}`.padStart(64, 'x'));
    expect(checkAnnotation('p', { caption: 'c'.repeat(2000), tags }).tags).toHaveLength(50);
  });
});

describe('runStep', () => {
  it('hands the plugin its checked costs and annotation', async () => {
    const { out, costs, annotations } = await reports({
      costs: [
        { amount: 0.01, currency: 'usd' },
        { amount: 0.02, currency: 'USD', detail: 'retry' },
      ],
      annotations: [{ caption: 'First' }, { caption: 'Second', tags: ['B', 'a'] }],
    });
    expect(out.data).toEqual(image.data);
    expect(costs).toEqual([
      { amount: 0.01, currency: 'USD' },
      { amount: 0.02, currency: 'USD', detail: 'retry' },
    ]);
    expect(annotations).toEqual([{ caption: 'First' }, { caption: 'Second', tags: ['b', 'a'] }]);
  });

  it('fails the step with PLUGIN_REPORT_INVALID on a bad cost, reporting nothing of it', async () => {
    const costs: PluginCost[] = [];
    const error = await rejection(
      runStep(
        reporter,
        image,
        { costs: [{ amount: -1, currency: 'USD' }] },
        { onCost: (c) => costs.push(c) },
      ),
    );
    expect(error.code).toBe('PLUGIN_REPORT_INVALID');
    expect(costs).toEqual([]);
  });

  it('refuses more than 100 costs in one step', async () => {
    const many = Array.from({ length: 101 }, () => ({ amount: 0, currency: 'USD' }));
    expect(await errorCodeOf(reports({ costs: many }))).toBe('PLUGIN_REPORT_INVALID');
  });

  it('lets only analysis plugins annotate', async () => {
    const error = await rejection(runStep(styleAnnotator, image, {}));
    expect(error.code).toBe('PLUGIN_REPORT_INVALID');
    expect(error.message).toMatch(/only analysis plugins/);
  });

  it('decodes bytes with ctx.decode to the pixels they encode', async () => {
    const { out } = await reports({ decode: (await png(image)).toString('base64') });
    expect([out.width, out.height, out.channels]).toEqual([16, 8, 3]);
    expect(out.data).toEqual(image.data);
  });

  it('gives junk and over-limit images coded errors naming the plugin as their source', async () => {
    const junk = await rejection(reports({ decode: Buffer.from('not an image at all').toString('base64') }));
    expect(junk.code).toBe('IMAGE_FORMAT_UNSUPPORTED');
    expect(junk.details).toMatchObject({ plugin: 'acme:reporter', source: 'plugin' });
    const truncated = await read(photo('truncated.jpg'));
    expect(await errorCodeOf(reports({ decode: truncated.toString('base64') }))).toBe('IMAGE_CORRUPT');
    const big = await png({ data: new Uint8Array(100 * 100 * 3), width: 100, height: 100, channels: 3 });
    const limited = runStep(
      reporter,
      image,
      { decode: big.toString('base64') },
      { limits: { ...DEFAULT_LIMITS, maxInputPixels: 5000 } },
    );
    expect(await errorCodeOf(limited)).toBe('IMAGE_TOO_MANY_PIXELS');
  });
});

describe('Engine.run', () => {
  let engine: Engine;
  let input: Buffer;

  beforeAll(async () => {
    const registry = new PluginRegistry();
    await loadPluginDirectory(registry, dir);
    engine = new Engine({ registry, threads: 1 });
    input = await png(image);
  });
  afterAll(() => engine.close());

  it('carries costs and annotations from the worker thread into RunResult, with step and version', async () => {
    const plan = engine.plan({
      steps: [
        { plugin: 'acme:reporter', params: { costs: [{ amount: 0.5, currency: 'usd', detail: 'a' }] } },
        {
          plugin: 'acme:reporter',
          params: {
            costs: [{ amount: 0.25, currency: 'EUR' }],
            annotations: [{ caption: 'Stripes.', tags: ['Pattern', 'pattern', 'Test'] }],
          },
        },
      ],
      output: { format: 'png' },
    });
    const result = await engine.run(input, plan);
    expect(result.costs).toEqual([
      { step: 0, plugin: 'acme:reporter', version: '2.1.0', amount: 0.5, currency: 'USD', detail: 'a' },
      { step: 1, plugin: 'acme:reporter', version: '2.1.0', amount: 0.25, currency: 'EUR' },
    ]);
    expect(result.annotations).toEqual([
      { step: 1, plugin: 'acme:reporter', version: '2.1.0', caption: 'Stripes.', tags: ['pattern', 'test'] },
    ]);
    // An analysis step returns its input: the output is the input's pixels.
    expect(new Uint8Array((await sharp(result.data).raw().toBuffer()).buffer)).toEqual(image.data);
  });

  it('reports no costs or annotations for plugins that report none', async () => {
    const plan = engine.plan({ steps: [{ plugin: 'acme:reporter' }], output: { format: 'png' } });
    const result = await engine.run(input, plan);
    expect([result.costs, result.annotations]).toEqual([[], []]);
  });

  it('keeps the costs a failed run had spent in its error (runCosts)', async () => {
    const plan = engine.plan({
      steps: [{ plugin: 'acme:reporter', params: { costs: [{ amount: 1, currency: 'USD' }], fail: true } }],
      output: { format: 'png' },
    });
    const error = await rejection(engine.run(input, plan));
    expect(error.code).toBe('PLUGIN_FAILED');
    expect(runCosts(error)).toEqual([
      { step: 0, plugin: 'acme:reporter', version: '2.1.0', amount: 1, currency: 'USD' },
    ]);
    expect(runCosts(new Error('other'))).toEqual([]);
  });

  it('fails a run whose plugin reports a bad value with PLUGIN_REPORT_INVALID', async () => {
    const plan = engine.plan({
      steps: [{ plugin: 'acme:reporter', params: { annotations: [{ tags: ['x'.repeat(65)] }] } }],
      output: { format: 'png' },
    });
    expect(await errorCodeOf(engine.run(input, plan))).toBe('PLUGIN_REPORT_INVALID');
  });
});
