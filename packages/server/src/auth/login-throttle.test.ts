import { describe, expect, it } from 'vitest';
import type { AtelierError } from '@atelier/core';
import { LoginThrottle, accountKey, ipKey, registrationKey } from './login-throttle.ts';
import { testClock, useTestDatabase } from './test-support.ts';

const SECOND = 1000;
const MINUTE = 60 * SECOND;

const t = useTestDatabase();

/** The retry-after of `check`, or 0 when not throttled. */
async function retryAfter(throttle: LoginThrottle, keys: string[]): Promise<number> {
  try {
    await throttle.check(keys);
    return 0;
  } catch (error) {
    const e = error as AtelierError;
    expect(e.code).toBe('AUTH_THROTTLED');
    return e.details?.['retryAfterSeconds'] as number;
  }
}

async function fail(throttle: LoginThrottle, keys: string[], times: number): Promise<void> {
  for (let i = 0; i < times; i++) await throttle.recordFailure(keys);
}

describe('account keys', () => {
  it('lock after 5 failures for 30 s, then double up to 15 minutes', async () => {
    const clock = testClock();
    const throttle = new LoginThrottle({ db: t.db, clock });
    const key = [accountKey('Ada@Example.org ')];
    expect(key).toEqual(['account:ada@example.org']);
    await fail(throttle, key, 4);
    expect(await retryAfter(throttle, key)).toBe(0);
    await fail(throttle, key, 1);
    expect(await retryAfter(throttle, key)).toBe(30);
    clock.advance(29 * SECOND);
    expect(await retryAfter(throttle, key)).toBe(1);
    clock.advance(1 * SECOND);
    expect(await retryAfter(throttle, key)).toBe(0); // unlocked
    const locks: number[] = [];
    for (let i = 0; i < 6; i++) {
      await fail(throttle, key, 1);
      const wait = await retryAfter(throttle, key);
      locks.push(wait);
      clock.advance(wait * SECOND);
    }
    expect(locks).toEqual([60, 120, 240, 480, 900, 900]);
  });

  it('forget failures 15 minutes after the last lock, or when the window passes without one', async () => {
    const clock = testClock();
    const throttle = new LoginThrottle({ db: t.db, clock });
    const key = [accountKey('forget@example.org')];
    await fail(throttle, key, 4);
    clock.advance(15 * MINUTE);
    await fail(throttle, key, 4); // a new window: 4, not 8
    expect(await retryAfter(throttle, key)).toBe(0);
    await fail(throttle, key, 1);
    expect(await retryAfter(throttle, key)).toBe(30);
    clock.advance(30 * SECOND + 15 * MINUTE);
    await fail(throttle, key, 1); // counts from 1 again
    expect(await retryAfter(throttle, key)).toBe(0);
  });

  it('clear on success', async () => {
    const clock = testClock();
    const throttle = new LoginThrottle({ db: t.db, clock });
    const key = [accountKey('success@example.org')];
    await fail(throttle, key, 5);
    expect(await retryAfter(throttle, key)).toBe(30);
    await throttle.recordSuccess(key[0] ?? '');
    expect(await retryAfter(throttle, key)).toBe(0);
    await fail(throttle, key, 4);
    expect(await retryAfter(throttle, key)).toBe(0);
  });

  it('say when to come back, to a person', async () => {
    const clock = testClock();
    const throttle = new LoginThrottle({ db: t.db, clock, account: { baseLockMs: 5 * MINUTE } });
    const key = [accountKey('message@example.org')];
    await fail(throttle, key, 5);
    await expect(throttle.check(key)).rejects.toMatchObject({
      code: 'AUTH_THROTTLED',
      message: 'Too many failed sign-in attempts. Try again in 5 minutes.',
      details: { retryAfterSeconds: 300 },
    });
  });
});

describe('ip keys', () => {
  it('tolerate 20 failures per 15 minutes, and success does not clear them', async () => {
    const clock = testClock();
    const throttle = new LoginThrottle({ db: t.db, clock });
    const key = [ipKey('203.0.113.5')];
    await fail(throttle, key, 19);
    await throttle.recordSuccess(accountKey('someone@example.org'));
    expect(await retryAfter(throttle, key)).toBe(0);
    clock.advance(5 * MINUTE);
    await fail(throttle, key, 1);
    expect(await retryAfter(throttle, key)).toBe(10 * 60); // until the window's end
    clock.advance(10 * MINUTE);
    expect(await retryAfter(throttle, key)).toBe(0);
    await fail(throttle, key, 19); // a fresh window
    expect(await retryAfter(throttle, key)).toBe(0);
  });

  it('group IPv6 clients by /64 and IPv4-mapped addresses as IPv4', () => {
    expect(ipKey('2001:db8:1:2:aaaa::1')).toBe('ip:2001:db8:1:2::/64');
    expect(ipKey('2001:DB8:1:2:ffff:ffff:ffff:ffff')).toBe('ip:2001:db8:1:2::/64');
    expect(ipKey('[2001:db8::1]')).toBe('ip:2001:db8:0:0::/64');
    expect(ipKey('fe80::1%eth0')).toBe('ip:fe80:0:0:0::/64');
    expect(ipKey('::1')).toBe('ip:0:0:0:0::/64');
    expect(ipKey('64:ff9b::192.0.2.1')).toBe('ip:64:ff9b:0:0::/64');
    expect(ipKey('::ffff:198.51.100.7')).toBe('ip:198.51.100.7');
    expect(ipKey(' 198.51.100.7 ')).toBe('ip:198.51.100.7');
  });
});

describe('attempt', () => {
  it('checks and counts in one step, so a burst cannot exceed the limit', async () => {
    const clock = testClock();
    const throttle = new LoginThrottle({ db: t.db, clock });
    const keys = [accountKey('burst@example.org'), ipKey('192.0.2.44')];
    const results = await Promise.allSettled(Array.from({ length: 12 }, () => throttle.attempt(keys)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(5);
    for (const r of results)
      if (r.status === 'rejected') expect((r.reason as AtelierError).code).toBe('AUTH_THROTTLED');
  });

  it('on success clears the account and gives back the IP count', async () => {
    const clock = testClock();
    const throttle = new LoginThrottle({ db: t.db, clock });
    const ip = ipKey('192.0.2.45');
    for (let i = 0; i < 19; i++) await throttle.recordFailure([ip]);
    const attempt = await throttle.attempt([accountKey('back@example.org'), ip]);
    expect(await retryAfter(throttle, [ip])).toBe(15 * 60); // counted in advance: 20 failures
    await attempt.succeeded();
    expect(await retryAfter(throttle, [ip])).toBe(0); // 19 again
    const rows = await t.db
      .selectFrom('login_throttle')
      .select(['key', 'failures'])
      .where('key', 'in', [ip, accountKey('back@example.org')])
      .execute();
    expect(rows).toEqual([{ key: ip, failures: 19 }]);
  });

  it('refuses unknown key kinds (a programming mistake)', async () => {
    const throttle = new LoginThrottle({ db: t.db });
    await expect(throttle.check(['user:1'])).rejects.toThrow(/not account:, ip: or register:/);
  });
});

describe('registration keys', () => {
  /** The code and retry-after of a registration, or 'ok'. */
  async function register(throttle: LoginThrottle, ip: string): Promise<string> {
    try {
      await throttle.registration(ip);
      return 'ok';
    } catch (error) {
      const e = error as AtelierError;
      return `${e.code} ${String(e.details?.['retryAfterSeconds'])}`;
    }
  }

  it('allow so many registrations per address and window, then RATE_LIMITED until the window ends', async () => {
    const clock = testClock();
    const throttle = new LoginThrottle({
      db: t.db,
      clock,
      registration: { maxAttempts: 3, windowMs: 60 * MINUTE },
    });
    expect(await register(throttle, '198.51.100.1')).toBe('ok');
    clock.advance(10 * MINUTE);
    expect(await register(throttle, '198.51.100.1')).toBe('ok');
    expect(await register(throttle, '198.51.100.1')).toBe('ok');
    expect(await register(throttle, '198.51.100.1')).toBe(`RATE_LIMITED ${50 * 60}`);
    // Another address, and sign-in from the same one, are not affected.
    expect(await register(throttle, '198.51.100.2')).toBe('ok');
    expect(await retryAfter(throttle, [ipKey('198.51.100.1')])).toBe(0);
    clock.advance(50 * MINUTE);
    expect(await register(throttle, '198.51.100.1')).toBe('ok');
  });

  it('count an IPv6 /64 as one address', async () => {
    expect(registrationKey('2001:db8:1:2::7')).toBe('register:2001:db8:1:2::/64');
    const throttle = new LoginThrottle({ db: t.db, clock: testClock(), registration: { maxAttempts: 1 } });
    expect(await register(throttle, '2001:db8:5:6::1')).toBe('ok');
    expect(await register(throttle, '2001:db8:5:6::2')).toMatch(/^RATE_LIMITED /);
  });
});

describe('prune', () => {
  it('deletes rows whose window and lock are over', async () => {
    const clock = testClock(Date.parse('2035-01-01T00:00:00Z'));
    const throttle = new LoginThrottle({ db: t.db, clock });
    await throttle.recordFailure([accountKey('stale@example.org')]);
    await throttle.recordFailure([ipKey('192.0.2.99')]);
    clock.advance(15 * MINUTE);
    await throttle.recordFailure([accountKey('fresh@example.org')]);
    expect(await throttle.prune()).toBeGreaterThanOrEqual(2);
    const keys = (await t.db.selectFrom('login_throttle').select('key').execute()).map((r) => r.key);
    expect(keys).toEqual(['account:fresh@example.org']);
  });

  it('keeps registration rows for their hour', async () => {
    const clock = testClock(Date.parse('2036-01-01T00:00:00Z'));
    const throttle = new LoginThrottle({ db: t.db, clock });
    await throttle.registration('192.0.2.150');
    clock.advance(30 * MINUTE);
    await throttle.prune();
    const has = async () =>
      (
        await t.db
          .selectFrom('login_throttle')
          .select('key')
          .where('key', '=', registrationKey('192.0.2.150'))
          .execute()
      ).length;
    expect(await has()).toBe(1);
    clock.advance(30 * MINUTE);
    await throttle.prune();
    expect(await has()).toBe(0);
  });
});
