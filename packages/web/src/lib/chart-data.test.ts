import { describe, expect, it } from 'vitest';
import {
  dailySeries,
  daysBetween,
  formatBytes,
  formatMs,
  formatPercent,
  niceScale,
  successRate,
  totalJobs,
  totalsByStyle,
} from './chart-data.ts';

const outcomes = (
  o: Partial<Record<'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled', number>>,
) => ({
  queued: 0,
  running: 0,
  succeeded: 0,
  failed: 0,
  cancelled: 0,
  ...o,
});

describe('dailySeries', () => {
  const today = new Date('2026-12-03T15:00:00Z');

  it('fills every day of the range, every style, oldest first', () => {
    const data = dailySeries(
      {
        days: 3,
        jobsPerDay: [
          { style: 'sketch', points: [{ day: '2026-12-03', count: 1 }] },
          {
            style: 'cartoon',
            points: [
              { day: '2026-12-01', count: 2 },
              { day: '2026-12-03', count: 3 },
            ],
          },
        ],
      },
      today,
    );
    expect(data.days).toEqual(['2026-12-01', '2026-12-02', '2026-12-03']);
    expect(data.styles).toEqual(['cartoon', 'sketch']);
    expect(data.counts).toEqual([
      [2, 0],
      [0, 0],
      [3, 1],
    ]);
    expect(data.totals).toEqual([2, 0, 4]);
    expect(data.max).toBe(4);
  });

  it('keeps a point older than the range (the server counts from now - days) instead of dropping it', () => {
    const data = dailySeries(
      { days: 2, jobsPerDay: [{ style: 'x', points: [{ day: '2026-11-30', count: 1 }] }] },
      today,
    );
    expect(data.days[0]).toBe('2026-11-30');
    expect(data.days.at(-1)).toBe('2026-12-03');
    expect(data.totals.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('has no styles and a zero max when there are no jobs', () => {
    const data = dailySeries({ days: 7, jobsPerDay: [] }, today);
    expect(data.days).toHaveLength(7);
    expect(data.styles).toEqual([]);
    expect(data.max).toBe(0);
  });
});

describe('totalsByStyle', () => {
  it('sums each style, most first, ties by name, empty styles left out', () => {
    expect(
      totalsByStyle({
        jobsPerDay: [
          { style: 'b', points: [{ day: '2026-12-01', count: 2 }] },
          {
            style: 'a',
            points: [
              { day: '2026-12-01', count: 1 },
              { day: '2026-12-02', count: 1 },
            ],
          },
          { style: 'c', points: [{ day: '2026-12-01', count: 5 }] },
          { style: 'z', points: [] },
        ],
      }),
    ).toEqual([
      { style: 'c', count: 5 },
      { style: 'a', count: 2 },
      { style: 'b', count: 2 },
    ]);
  });
});

describe('successRate', () => {
  it('counts only finished jobs', () => {
    expect(successRate(outcomes({ succeeded: 3, failed: 1, queued: 5, running: 2 }))).toEqual({
      finished: 4,
      succeeded: 3,
      rate: 0.75,
    });
  });
  it('is null, not NaN, when nothing finished', () => {
    expect(successRate(outcomes({ queued: 2 })).rate).toBeNull();
    expect(totalJobs(outcomes({ queued: 2, cancelled: 1 }))).toBe(3);
  });
});

describe('niceScale', () => {
  it('rounds up to 1, 2, 5 × 10^n steps that are whole numbers', () => {
    expect(niceScale(8)).toEqual({ top: 8, ticks: [0, 2, 4, 6, 8] });
    expect(niceScale(9)).toEqual({ top: 10, ticks: [0, 5, 10] });
    expect(niceScale(1)).toEqual({ top: 1, ticks: [0, 1] });
    expect(niceScale(3)).toEqual({ top: 3, ticks: [0, 1, 2, 3] });
    expect(niceScale(1234).top).toBe(1500);
  });
  it('gives an axis up to 1 for nothing', () => {
    expect(niceScale(0)).toEqual({ top: 1, ticks: [0, 1] });
  });
});

describe('formatting', () => {
  it('durations', () => {
    expect(formatMs(850.4)).toBe('850 ms');
    expect(formatMs(1234)).toBe('1.2 s');
    expect(formatMs(12_345)).toBe('12 s');
    expect(formatMs(125_000)).toBe('2 min 5 s');
    expect(formatMs(-1)).toBe('–');
  });
  it('sizes', () => {
    expect(formatBytes(930)).toBe('930 B');
    expect(formatBytes(12_700)).toBe('12 KB');
    expect(formatBytes(3.1 * 1024 * 1024)).toBe('3.1 MB');
  });
  it('percentages', () => {
    expect(formatPercent(0.75)).toBe('75%');
    expect(formatPercent(0.995)).toBe('99.5%');
    expect(formatPercent(1)).toBe('100%');
  });
  it('days', () => {
    expect(daysBetween('2026-02-27', '2026-03-01')).toEqual(['2026-02-27', '2026-02-28', '2026-03-01']);
    expect(daysBetween('2026-03-02', '2026-03-01')).toEqual([]);
  });
});
