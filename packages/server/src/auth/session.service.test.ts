import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import {
  SESSION_COOKIE_NAME,
  SessionService,
  blankSessionCookie,
  readSessionToken,
  sessionCookie,
  sessionIdFromToken,
} from './session.service.ts';
import { testClock, useTestDatabase } from './test-support.ts';

const DAY = 24 * 60 * 60 * 1000;

const t = useTestDatabase();

let n = 0;
async function newUser(): Promise<string> {
  n += 1;
  const row = await t.db
    .insertInto('users')
    .values({ email: `session-${n}@example.org`, display_name: `User ${n}` })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

describe('tokens', () => {
  it('are 20 random bytes in lowercase base32 without padding', () => {
    const sessions = new SessionService({ db: t.db });
    const tokens = Array.from({ length: 2000 }, () => sessions.generateToken());
    expect(new Set(tokens).size).toBe(tokens.length);
    for (const token of tokens) {
      expect(token).toMatch(/^[a-z2-7]{32}$/);
      expect(decodeBase32IgnorePadding(token.toUpperCase())).toHaveLength(20);
    }
    // 160 bits are exactly 32 base32 symbols, each uniform: a chi-squared test over the alphabet
    // (31 degrees of freedom; 80 is beyond the 1e-6 tail) catches a biased or constant source.
    const counts = new Map<string, number>();
    for (const c of tokens.join('')) counts.set(c, (counts.get(c) ?? 0) + 1);
    expect(counts.size).toBe(32);
    const expected = (tokens.length * 32) / 32;
    const chi2 = [...counts.values()].reduce((sum, o) => sum + (o - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(80);
  });

  it('are stored only as their SHA-256', async () => {
    const sessions = new SessionService({ db: t.db });
    const userId = await newUser();
    const { token, session } = await sessions.create(userId, { ip: '203.0.113.7', userAgent: 'test' });
    expect(session.id).toBe(sessionIdFromToken(token));
    expect(session.id).toMatch(/^[0-9a-f]{64}$/);
    // The sha256 of "abc", as every implementation agrees.
    expect(sessionIdFromToken('abc')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    const rows = await sql<Record<string, unknown>>`select * from sessions`.execute(t.db);
    expect(rows.rows.length).toBeGreaterThan(0);
    expect(JSON.stringify(rows.rows)).not.toContain(token);
    expect(rows.rows.map((r) => r['id'])).toContain(session.id);
  });
});

describe('SessionService', () => {
  it('validates a token to its session and user, and nothing else', async () => {
    const clock = testClock();
    const sessions = new SessionService({ db: t.db, clock });
    const userId = await newUser();
    const { token, session } = await sessions.create(userId, { ip: '198.51.100.1', userAgent: 'Firefox' });
    expect(session).toMatchObject({
      userId,
      lastSeenIp: '198.51.100.1',
      userAgent: 'Firefox',
      createdAt: clock.now(),
      expiresAt: new Date(clock.now().getTime() + 30 * DAY),
    });
    const found = await sessions.validate(token);
    expect(found?.session).toEqual(session);
    expect(found?.user).toMatchObject({ id: userId, role: 'user', disabled: false });
    expect(found?.user).not.toHaveProperty('password_hash');
    expect(found?.user).not.toHaveProperty('passwordHash');
    expect(found?.renewed).toBe(false);
    // The id is not a token; other strings are not tokens either.
    for (const bad of [session.id, '', 'x', token.toUpperCase(), `${token}a`, sessions.generateToken()])
      expect(await sessions.validate(bad)).toBeNull();
  });

  it('slides: extends the expiry to 30 days when less than 15 are left', async () => {
    const clock = testClock();
    const sessions = new SessionService({ db: t.db, clock });
    const { token, session } = await sessions.create(await newUser());
    clock.advance(14 * DAY);
    const early = await sessions.validate(token, { ip: '192.0.2.9' });
    expect(early?.renewed).toBe(false);
    expect(early?.session.expiresAt).toEqual(session.expiresAt);
    expect(early?.session.lastSeenIp).toBe('192.0.2.9');
    clock.advance(2 * DAY); // 16 days in: 14 left
    const renewed = await sessions.validate(token);
    expect(renewed?.renewed).toBe(true);
    expect(renewed?.session.expiresAt).toEqual(new Date(clock.now().getTime() + 30 * DAY));
    const stored = await t.db
      .selectFrom('sessions')
      .select(['expires_at', 'last_seen_ip'])
      .where('id', '=', session.id)
      .executeTakeFirstOrThrow();
    expect(stored).toEqual({ expires_at: renewed?.session.expiresAt, last_seen_ip: '192.0.2.9' });
    // 29 days after the renewal it still works: the expiry moved.
    clock.advance(29 * DAY);
    expect(await sessions.validate(token)).not.toBeNull();
  });

  it('rejects an expired token and deletes its session', async () => {
    const clock = testClock();
    const sessions = new SessionService({ db: t.db, clock });
    const { token, session } = await sessions.create(await newUser());
    clock.advance(30 * DAY - 1);
    expect(await sessions.validate(token)).not.toBeNull(); // renews
    clock.advance(30 * DAY);
    expect(await sessions.validate(token)).toBeNull();
    expect(await t.db.selectFrom('sessions').select('id').where('id', '=', session.id).execute()).toEqual([]);
  });

  it('invalidates one session, or all of a user, optionally but one', async () => {
    const sessions = new SessionService({ db: t.db });
    const userId = await newUser();
    const other = await sessions.create(await newUser());
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => sessions.create(userId)));
    if (!a || !b || !c) throw new Error('unreachable');
    await sessions.invalidate(a.session.id);
    await sessions.invalidate(a.session.id); // twice is fine
    expect(await sessions.validate(a.token)).toBeNull();
    expect(await sessions.validate(b.token)).not.toBeNull();
    expect((await sessions.listForUser(userId)).map((s) => s.id).sort()).toEqual(
      [b.session.id, c.session.id].sort(),
    );
    expect(await sessions.invalidateAllForUser(userId, { except: c.session.id })).toBe(1);
    expect(await sessions.validate(b.token)).toBeNull();
    expect(await sessions.validate(c.token)).not.toBeNull();
    expect(await sessions.invalidateAllForUser(userId)).toBe(1);
    expect(await sessions.validate(c.token)).toBeNull();
    expect(await sessions.validate(other.token)).not.toBeNull();
  });

  it('bump the session epoch (which signed download URLs sign) when signing a user out everywhere', async () => {
    const sessions = new SessionService({ db: t.db });
    const userId = await newUser();
    const other = await newUser();
    const a = await sessions.create(userId);
    expect((await sessions.validate(a.token))?.epoch).toBe(0);
    expect(await sessions.urlEpoch(userId)).toBe(0);
    // Ending one session leaves the epoch alone.
    await sessions.invalidate((await sessions.create(userId)).session.id);
    expect(await sessions.urlEpoch(userId)).toBe(0);
    await sessions.invalidateAllForUser(userId, { except: a.session.id });
    expect((await sessions.validate(a.token))?.epoch).toBe(1);
    await sessions.invalidateAllForUser(userId);
    expect(await sessions.urlEpoch(userId)).toBe(2);
    expect(await sessions.urlEpoch(other)).toBe(0);
    // A disabled or missing user has no epoch: none of their URLs works.
    await t.db.updateTable('users').set({ disabled_at: new Date() }).where('id', '=', userId).execute();
    expect(await sessions.urlEpoch(userId)).toBeNull();
    expect(await sessions.urlEpoch('00000000-0000-4000-8000-000000000000')).toBeNull();
  });

  it('rejects a disabled user and deletes all their sessions', async () => {
    const sessions = new SessionService({ db: t.db });
    const userId = await newUser();
    const a = await sessions.create(userId);
    await sessions.create(userId);
    await t.db.updateTable('users').set({ disabled_at: new Date() }).where('id', '=', userId).execute();
    expect(await sessions.validate(a.token)).toBeNull();
    expect(await t.db.selectFrom('sessions').select('id').where('user_id', '=', userId).execute()).toEqual(
      [],
    );
  });

  it('deletes expired sessions in bulk', async () => {
    const clock = testClock(Date.parse('2040-01-01T00:00:00Z'));
    const sessions = new SessionService({ db: t.db, clock, lifetimeMs: DAY });
    const userId = await newUser();
    const old = await sessions.create(userId);
    clock.advance(DAY / 2);
    const young = await sessions.create(userId);
    clock.advance(DAY / 2);
    // Every session of the earlier tests (made in 2031) has expired by 2040, and `old` just did.
    expect(await sessions.deleteExpired()).toBeGreaterThanOrEqual(1);
    const left = await t.db.selectFrom('sessions').select('id').execute();
    expect(left.map((r) => r.id)).toEqual([young.session.id]);
    expect(left.map((r) => r.id)).not.toContain(old.session.id);
  });

  it('stores bounded client details', async () => {
    const sessions = new SessionService({ db: t.db });
    const { session } = await sessions.create(await newUser(), { ip: '', userAgent: 'x'.repeat(10_000) });
    expect(session.lastSeenIp).toBeNull();
    expect(session.userAgent).toHaveLength(512);
  });
});

describe('cookies', () => {
  const token = 'abcdefghijklmnopqrstuvwxyz234567';
  const now = new Date('2031-03-01T12:00:00Z');
  const expiresAt = new Date(now.getTime() + 30 * DAY);

  it('carry the token HttpOnly, SameSite=Lax, Path=/, Secure and with the expiry', () => {
    const cookie = sessionCookie(token, expiresAt, { now });
    const [pair, ...attributes] = cookie.split('; ');
    expect(pair).toBe(`${SESSION_COOKIE_NAME}=${token}`);
    expect(attributes).toEqual([
      'Path=/',
      'HttpOnly',
      'SameSite=Lax',
      'Secure',
      'Expires=Mon, 31 Mar 2031 12:00:00 GMT',
      `Max-Age=${30 * 24 * 60 * 60}`,
    ]);
    expect(sessionCookie(token, expiresAt, { now, secure: false })).not.toContain('Secure');
  });

  it('blank out the cookie', () => {
    const blank = blankSessionCookie();
    expect(blank).toMatch(/^atelier_session=; /);
    expect(blank).toContain('Max-Age=0');
    expect(blank).toContain('Expires=Thu, 01 Jan 1970 00:00:00 GMT');
    expect(blank).toContain('HttpOnly');
    expect(blank).toContain('Secure');
    expect(blankSessionCookie({ secure: false })).not.toContain('Secure');
  });

  it('refuse to carry something that is not a token', () => {
    expect(() => sessionCookie('a; Domain=evil.example', expiresAt)).toThrow();
  });

  it('are read from a request, Bearer first', () => {
    expect(readSessionToken({ authorization: `Bearer ${token}` })).toEqual({ token, from: 'bearer' });
    expect(readSessionToken({ cookie: `theme=dark; ${SESSION_COOKIE_NAME}=${token}; x=1` })).toEqual({
      token,
      from: 'cookie',
    });
    expect(
      readSessionToken({ authorization: 'Bearer other', cookie: `${SESSION_COOKIE_NAME}=${token}` }),
    ).toEqual({ token: 'other', from: 'bearer' });
    expect(readSessionToken({ authorization: 'Basic abc', cookie: 'theme=dark' })).toBeNull();
    expect(readSessionToken({ cookie: `${SESSION_COOKIE_NAME}=` })).toBeNull();
    expect(readSessionToken({})).toBeNull();
  });
});
