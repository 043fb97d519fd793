import { describe, expect, it } from 'vitest';
import {
  LatestOnly,
  clampQuality,
  initialParams,
  isPaidStyle,
  jobInput,
  outcomeSentence,
  parseParams,
  percentOf,
  previewKey,
  stableKey,
} from '../components/studio/logic.ts';
import { batchesOf, fileFractions, fractionOf, headerEntries, parseResponseHeaders } from './upload.ts';

describe('Studio logic', () => {
  it('previews by itself only styles that call no provider over the network', () => {
    expect(isPaidStyle({ capabilities: { network: ['api.openai.com'] } })).toBe(true);
    expect(isPaidStyle({ capabilities: { network: [] } })).toBe(false);
    expect(isPaidStyle({})).toBe(false);
  });

  it('keys parameters the same whatever their order, and differently when a value differs', () => {
    expect(stableKey({ b: 1, a: { d: 2, c: [3, { f: 1, e: 0 }] } })).toBe(
      stableKey({ a: { c: [3, { e: 0, f: 1 }], d: 2 }, b: 1 }),
    );
    expect(stableKey({ a: 1 })).not.toBe(stableKey({ a: 2 }));
    expect(previewKey('img', 'cartoon', { levels: 6, edge: 1 })).toEqual(
      previewKey('img', 'cartoon', { edge: 1, levels: 6 }),
    );
    expect(previewKey('img', 'cartoon', {})).not.toEqual(previewKey('img', 'sketch', {}));
  });

  it('accepts only the latest of overlapping requests (a late old answer is ignored)', () => {
    const latest = new LatestOnly();
    const first = latest.next();
    const second = latest.next();
    // The first request answers after the second was made: it must not be shown.
    expect(latest.isCurrent(first)).toBe(false);
    expect(latest.isCurrent(second)).toBe(true);
    const third = latest.next();
    expect(latest.isCurrent(second)).toBe(false);
    expect(latest.isCurrent(third)).toBe(true);
  });

  it('reads the params search value only when it is a JSON object', () => {
    expect(parseParams('{"levels":6,"palette":"neon"}')).toEqual({ levels: 6, palette: 'neon' });
    expect(parseParams(undefined)).toBeUndefined();
    expect(parseParams('not json')).toBeUndefined();
    expect(parseParams('[1,2]')).toBeUndefined();
    expect(parseParams('3')).toBeUndefined();
    expect(parseParams('null')).toBeUndefined();
  });

  it('starts from the defaults, overridden by the given parameters', () => {
    expect(initialParams({ levels: 8, edge: 0.7 }, { levels: 4 })).toEqual({ levels: 4, edge: 0.7 });
    expect(initialParams({ levels: 8 }, undefined)).toEqual({ levels: 8 });
  });

  it('sends a render as a one-step plan with its output and idempotency key', () => {
    expect(
      jobInput({
        imageId: 'i',
        style: 'acme-halftone',
        params: { dots: 3 },
        format: 'webp',
        quality: 140,
        idempotencyKey: 'k1',
      }),
    ).toEqual({
      imageId: 'i',
      plan: {
        steps: [{ plugin: 'acme-halftone', params: { dots: 3 } }],
        output: { format: 'webp', quality: 100 },
      },
      idempotencyKey: 'k1',
    });
    expect(clampQuality(0)).toBe(1);
    expect(clampQuality(55.6)).toBe(56);
    expect(clampQuality(Number.NaN)).toBe(80);
  });

  it('shows progress as a whole percentage from 0 to 100', () => {
    expect(percentOf(0)).toBe(0);
    expect(percentOf(0.234)).toBe(23);
    expect(percentOf(1)).toBe(100);
    expect(percentOf(1.5)).toBe(100);
    expect(percentOf(-1)).toBe(0);
    expect(percentOf(Number.NaN)).toBe(0);
  });

  it('says why a render ended without a result', () => {
    expect(outcomeSentence('cancelled', { code: 'ABORTED', message: 'Cancelled.' })).toBe(
      'The render was cancelled.',
    );
    expect(outcomeSentence('failed', { code: 'PLUGIN_TIMEOUT', message: 'x' })).toBe(
      'The style took too long on this picture and was stopped.',
    );
    expect(outcomeSentence('failed', { code: 'SOMETHING_NEW', message: 'The server says why.' })).toBe(
      'The server says why.',
    );
    expect(outcomeSentence('failed', null)).toBe('The render failed.');
  });
});

describe('upload over XMLHttpRequest: pure parts', () => {
  it('parses getAllResponseHeaders() into Headers', () => {
    const headers = parseResponseHeaders(
      'content-type: application/json\r\nx-multi: a\r\nx-multi: b\r\nbad line\r\nretry-after: 5\r\n',
    );
    expect(headers.get('content-type')).toBe('application/json');
    expect(headers.get('x-multi')).toBe('a, b');
    expect(headers.get('retry-after')).toBe('5');
    expect([...headers.keys()]).toHaveLength(3);
  });

  it('takes headers in any form fetch accepts', () => {
    expect(headerEntries({ 'X-A': '1' })).toEqual([['x-a', '1']]);
    expect(headerEntries([['x-b', '2']])).toEqual([['x-b', '2']]);
    expect(headerEntries(new Headers({ 'x-c': '3' }))).toEqual([['x-c', '3']]);
    expect(headerEntries(undefined)).toEqual([]);
  });

  it('splits a selection into batch uploads by files and bytes, in order', () => {
    const files = [5, 5, 5, 20, 1, 1].map((size, i) => ({ size, i }));
    const batches = batchesOf(files, { maxFiles: 2, maxBytes: 12 });
    expect(batches.map((b) => b.map((f) => f.i))).toEqual([[0, 1], [2], [3], [4, 5]]);
    expect(batchesOf([], { maxFiles: 2, maxBytes: 12 })).toEqual([]);
  });

  it("shares a batch's progress among its files in the order the form sends them", () => {
    expect(fileFractions([100, 100], { loaded: 0, total: undefined })).toEqual([0, 0]);
    expect(fileFractions([100, 300], { loaded: 200, total: 400 })).toEqual([1, 1 / 3]);
    expect(fileFractions([100, 300], { loaded: 50, total: 400 })).toEqual([0.5, 0]);
    expect(fileFractions([100, 300], { loaded: 400, total: 400 })).toEqual([1, 1]);
  });

  it('turns upload progress into a fraction', () => {
    expect(fractionOf({ loaded: 50, total: 200 })).toBe(0.25);
    expect(fractionOf({ loaded: 50, total: undefined })).toBe(0);
    expect(fractionOf({ loaded: 300, total: 200 })).toBe(1);
  });
});
