import { describe, expect, it } from 'vitest';
import { formatPrice, hdPath, resultDownloads, returnPollInterval, returnState } from './payments.ts';
import type { HdView } from './payments.ts';

const output = { width: 2048, height: 1366 };
const job = (hd: HdView | null) => ({ output: { ...output, format: 'jpeg', bytes: 1 }, hd }) as never;
const locked: HdView = {
  state: 'locked',
  price: { amount: 199, currency: 'usd' },
  standard: { width: 1024, height: 683 },
};

describe('formatPrice', () => {
  it('reads the amount in the currency’s minor unit', () => {
    expect(formatPrice({ amount: 199, currency: 'usd' }, 'en-US')).toBe('$1.99');
    expect(formatPrice({ amount: 500, currency: 'eur' }, 'en-US')).toBe('€5.00');
    // The yen has no minor unit: 500 is ¥500, not ¥5.
    expect(formatPrice({ amount: 500, currency: 'jpy' }, 'en-US')).toBe('¥500');
  });
  it('keeps an unknown currency code readable', () => {
    expect(formatPrice({ amount: 199, currency: 'not a code' }, 'en-US')).toBe('199 NOT A CODE');
  });
});

describe('resultDownloads', () => {
  it('a locked result: the standard file named by its size, and the unlock with the price', () => {
    expect(resultDownloads(job(locked), 'Download result', 'en-US')).toEqual({
      standardLabel: 'Download (1024 × 683)',
      hdLabel: null,
      unlockLabel: 'Unlock HD — $1.99',
      fullSize: '2048 × 1366',
    });
  });
  it('an unlocked result offers both sizes', () => {
    const r = resultDownloads(job({ ...locked, state: 'unlocked', price: null }), 'Download result');
    expect(r.standardLabel).toBe('Download (1024 × 683)');
    expect(r.hdLabel).toBe('Download HD (2048 × 1366)');
    expect(r.unlockLabel).toBeNull();
  });
  it('a free full-size result reads as before, plus the HD link, with no payment words', () => {
    const r = resultDownloads(job({ state: 'free', price: null, standard: output }), 'Download');
    expect(r).toEqual({
      standardLabel: 'Download',
      hdLabel: 'Download HD (2048 × 1366)',
      unlockLabel: null,
      fullSize: '2048 × 1366',
    });
  });
  it('no result yet: only the screen’s own label', () => {
    expect(resultDownloads({ output: null, hd: null }, 'Download result').hdLabel).toBeNull();
  });
  it('links the HD file on the same origin', () => {
    expect(hdPath('1a2b')).toBe('/files/jobs/1a2b/hd');
  });
});

describe('the return page', () => {
  it('waits while the job is locked, then slows down, and stops once Stripe confirmed', () => {
    expect(returnState(locked, 'success', false)).toBe('waiting');
    expect(returnPollInterval('waiting')).toBe(1000);
    expect(returnState(locked, 'success', true)).toBe('slow');
    expect(returnPollInterval('slow')).toBeGreaterThan(1000);
    const unlocked = { ...locked, state: 'unlocked' as const };
    expect(returnState(unlocked, 'success', false)).toBe('confirmed');
    expect(returnState(unlocked, 'success', true)).toBe('confirmed');
    expect(returnPollInterval('confirmed')).toBe(false);
  });
  it('is not a return page without ?checkout=success, or for a free result', () => {
    expect(returnState(locked, undefined, false)).toBe('none');
    expect(returnState(locked, 'cancelled', false)).toBe('none');
    expect(returnState({ ...locked, state: 'free' }, 'success', false)).toBe('none');
    expect(returnState(null, 'success', false)).toBe('none');
  });
});
