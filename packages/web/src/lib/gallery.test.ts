import { describe, expect, it } from 'vitest';
import {
  formatParam,
  hasFilters,
  jobListFilters,
  localMidnight,
  paramsOf,
  patchSearch,
  runAgainSearch,
  timingRows,
} from './gallery.ts';

describe('jobListFilters', () => {
  it('turns From/To days into a range covering both days whole, in local time', () => {
    const filters = jobListFilters({
      style: 'cartoon',
      status: 'failed',
      from: '2026-12-01',
      to: '2026-12-03',
    });
    expect(filters).toEqual({
      style: 'cartoon',
      status: 'failed',
      createdAfter: new Date(2026, 11, 1).toISOString(),
      createdBefore: new Date(2026, 11, 4).toISOString(),
    });
  });
  it('crosses month and year ends', () => {
    expect(jobListFilters({ to: '2026-12-31' }).createdBefore).toBe(new Date(2027, 0, 1).toISOString());
  });
  it('leaves out what is not set, and days that do not exist', () => {
    expect(jobListFilters({})).toEqual({});
    expect(jobListFilters({ from: '2026-02-31' })).toEqual({});
    expect(localMidnight('2026-2-3')).toBeUndefined();
  });
});

describe('patchSearch', () => {
  it('sets, replaces and removes keys; the result only has keys with values', () => {
    const next = patchSearch(
      { style: 'a', status: 'failed', tab: 'uploads' },
      { style: 'b', status: '', tab: '' },
    );
    expect(next).toEqual({ style: 'b' });
    expect(Object.keys(next)).toEqual(['style']);
  });
  it('hasFilters ignores the tab', () => {
    expect(hasFilters({})).toBe(false);
    expect(hasFilters({ to: '2026-01-01' })).toBe(true);
  });
});

describe('paramsOf', () => {
  it('is null when the job reports no parameters', () => {
    expect(paramsOf({ id: 'j', style: 'cartoon' })).toBeNull();
    expect(paramsOf({ plan: { steps: [] } })).toBeNull();
    expect(paramsOf({ params: [1, 2] })).toBeNull();
  });
  it('reads params, or the first step of a plan', () => {
    expect(paramsOf({ params: { edges: 0.5 } })).toEqual({ edges: 0.5 });
    expect(
      paramsOf({
        plan: {
          steps: [
            { plugin: 'cartoon', params: { levels: 6 } },
            { plugin: 'x', params: {} },
          ],
        },
      }),
    ).toEqual({
      levels: 6,
    });
  });
});

describe('runAgainSearch', () => {
  it('carries image, style and the parameters as JSON', () => {
    expect(runAgainSearch({ imageId: 'i', style: 's' }, { a: 1, b: true })).toEqual({
      image: 'i',
      style: 's',
      params: '{"a":1,"b":true}',
    });
  });
  it('leaves params out when unknown or empty', () => {
    expect(runAgainSearch({ imageId: 'i', style: 's' }, null)).toEqual({ image: 'i', style: 's' });
    expect(runAgainSearch({ imageId: 'i', style: 's' }, {})).toEqual({ image: 'i', style: 's' });
  });
});

describe('timingRows', () => {
  it('lists the phases in order, steps by name, and skips the missing ones', () => {
    const names = new Map([['cartoon', 'Cartoon']]);
    expect(
      timingRows(
        { queueMs: 5, steps: [{ plugin: 'cartoon', ms: 100 }], encodeMs: 7, totalMs: 120 },
        (id) => names.get(id) ?? id,
      ),
    ).toEqual([
      { label: 'Queue', ms: 5 },
      { label: 'Cartoon', ms: 100 },
      { label: 'Encode', ms: 7 },
      { label: 'Total', ms: 120 },
    ]);
  });
  it('numbers the steps of a plan', () => {
    expect(
      timingRows({
        steps: [
          { plugin: 'resize', ms: 1 },
          { plugin: 'cartoon', ms: 2 },
        ],
      }).map((r) => r.label),
    ).toEqual(['Step 1: resize', 'Step 2: cartoon']);
    expect(timingRows(null)).toEqual([]);
  });
});

describe('formatParam', () => {
  it('shows values plainly', () => {
    expect(formatParam(true)).toBe('yes');
    expect(formatParam(0.5)).toBe('0.5');
    expect(formatParam('#ff0000')).toBe('#ff0000');
    expect(formatParam([1, 2])).toBe('[1,2]');
  });
});
