import { describe, expect, it } from 'vitest';
import { formatBytes, formatDateTime, formatDetails, formatUsage, shortId, usageRatio } from './format.ts';

describe('formatBytes', () => {
  it('uses powers of 1024 with one decimal below 10', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(10 * 1024 * 1024 * 1024)).toBe('10 GB');
    expect(formatBytes(1.7 * 1024 * 1024)).toBe('1.7 MB');
    expect(formatBytes(20 * 1024 ** 5)).toBe('20480 TB');
  });
  it('says nothing sensible about impossible sizes', () => {
    expect(formatBytes(-1)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
  });
});

describe('quota usage', () => {
  it('reads 0 as "no limit", as the API means it', () => {
    expect(formatUsage(3, 0)).toBe('3 (no limit)');
    expect(formatUsage(3, 100)).toBe('3 of 100');
    expect(formatUsage(2048, 4096, formatBytes)).toBe('2.0 KB of 4.0 KB');
    expect(usageRatio(5, 0)).toBeNull();
  });
  it('clamps the ratio to 0..1 (usage can pass a lowered limit)', () => {
    expect(usageRatio(50, 100)).toBe(0.5);
    expect(usageRatio(150, 100)).toBe(1);
    expect(usageRatio(-1, 100)).toBe(0);
  });
});

describe('ids, dates and audit details', () => {
  it('shortens ids to the 8 characters the buttons name', () => {
    expect(shortId('51f0a5c6-b83a-49da-bfb7-dc50fd8da4c7')).toBe('51f0a5c6');
  });
  it('keeps an unparsable date as it came', () => {
    expect(formatDateTime('not a date')).toBe('not a date');
    expect(formatDateTime('2026-12-03T22:13:45.000Z', 'en-GB')).toMatch(/2026/);
  });
  it('writes details as key: value pairs, JSON for anything not a string', () => {
    expect(formatDetails({})).toBe('');
    expect(formatDetails({ enabled: false, defaults: { sigma: 2 }, note: 'hi' })).toBe(
      'enabled: false, defaults: {"sigma":2}, note: hi',
    );
  });
});
