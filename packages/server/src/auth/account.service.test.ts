import { describe, expect, expectTypeOf, it } from 'vitest';
import type { AtelierError } from '@atelier/core';
import { AccountService, requireAdmin } from './account.service.ts';
import type { SignedIn } from './account.service.ts';
import { LoginThrottle } from './login-throttle.ts';
import type { UserRecord } from './records.ts';
import { SessionService } from './session.service.ts';
import type { Clock } from './session.service.ts';
import { testClock, useTestDatabase } from './test-support.ts';

const PASSWORD = 'correct horse battery staple';

const t = useTestDatabase();

function services(clock: Clock = testClock()): { accounts: AccountService; sessions: SessionService } {
  const sessions = new SessionService({ db: t.db, clock });
  const throttle = new LoginThrottle({ db: t.db, clock });
  return { accounts: new AccountService({ db: t.db, sessions, throttle, clock }), sessions };
}

let n = 0;
const freshEmail = (): string => `person-${++n}@example.org`;

const failure = (p: Promise<unknown>): Promise<AtelierError> =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: AtelierError) => e,
  );

describe('register', () => {
  it('creates a plain user (the first one too), normalises the email and signs in', async () => {
    const { accounts, sessions } = services();
    const { token, session, user } = await accounts.register({
      email: '  First.User@Example.ORG ',
      password: PASSWORD,
      displayName: '  First  ',
      ip: '203.0.113.1',
      userAgent: 'test',
    });
    expect(await t.db.selectFrom('users').select('id').execute()).toHaveLength(1);
    expect(user).toEqual({
      id: expect.any(String),
      email: 'first.user@example.org',
      displayName: 'First',
      role: 'user',
      createdAt: expect.any(Date),
      disabled: false,
    });
    expect(session).toMatchObject({ userId: user.id, lastSeenIp: '203.0.113.1', userAgent: 'test' });
    expect((await sessions.validate(token))?.user).toEqual(user);
    const row = await t.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', user.id)
      .executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
  });

  it('refuses an email in use, whatever its case', async () => {
    const { accounts } = services();
    const email = freshEmail();
    await accounts.register({ email, password: PASSWORD, displayName: 'A' });
    const e = await failure(
      accounts.register({ email: email.toUpperCase(), password: PASSWORD, displayName: 'B' }),
    );
    expect(e.code).toBe('AUTH_EMAIL_TAKEN');
    expect(e.status).toBe(409);
  });

  it('validates every field before doing any work', async () => {
    const { accounts } = services();
    const bad = [
      [{ email: 'not-an-email' }, 'PARAMS_INVALID', ['email']],
      [{ email: `${'a'.repeat(250)}@x.org` }, 'PARAMS_INVALID', ['email']],
      [{ displayName: '   ' }, 'PARAMS_INVALID', ['displayName']],
      [{ displayName: 'a\u0000b' }, 'PARAMS_INVALID', ['displayName']],
      [{ password: 'short' }, 'AUTH_WEAK_PASSWORD', undefined],
    ] as const;
    for (const [override, code, path] of bad) {
      const e = await failure(
        accounts.register({ email: freshEmail(), password: PASSWORD, displayName: 'Ok', ...override }),
      );
      expect(e.code).toBe(code);
      if (path) expect(e.details).toEqual({ path });
    }
  });
});

describe('login', () => {
  it('signs in with the right password, whatever the email case', async () => {
    const { accounts, sessions } = services();
    const email = freshEmail();
    const { user } = await accounts.register({ email, password: PASSWORD, displayName: 'A' });
    const signedIn = await accounts.login({
      email: ` ${email.toUpperCase()}`,
      password: PASSWORD,
      ip: '192.0.2.1',
    });
    expect(signedIn.user).toEqual(user);
    expect((await sessions.validate(signedIn.token))?.session.id).toBe(signedIn.session.id);
    expectTypeOf(signedIn).toEqualTypeOf<SignedIn>();
    expectTypeOf(signedIn.user).not.toHaveProperty('password_hash');
  });

  it('gives the same error, after the same work, for an unknown email and a wrong password', async () => {
    const { accounts } = services();
    const email = freshEmail();
    await accounts.register({ email, password: PASSWORD, displayName: 'A' });
    const wrong = await failure(accounts.login({ email, password: 'wrong password!' }));
    const unknown = await failure(accounts.login({ email: freshEmail(), password: PASSWORD }));
    expect({ code: unknown.code, message: unknown.message, details: unknown.details }).toEqual({
      code: wrong.code,
      message: wrong.message,
      details: wrong.details,
    });
    expect(wrong.code).toBe('AUTH_INVALID_CREDENTIALS');
    expect(wrong.message).toBe('Wrong email or password.');
    // Timing: both paths run one argon2 verification (tens of milliseconds); skipping it for an
    // unknown email would make that path about a hundred times faster (one indexed lookup). The
    // fastest of 4 interleaved samples of each, within a factor of 4 of each other, tells the two
    // apart on a loaded machine too. Each unknown sample uses its own email, and the known one
    // stays under the 5 failures that lock an account (the first wrong password above counts).
    const known: number[] = [];
    const missing: number[] = [];
    const time = async (into: number[], login: () => Promise<unknown>): Promise<void> => {
      const start = performance.now();
      await login().catch(() => undefined);
      into.push(performance.now() - start);
    };
    for (let i = 0; i < 4; i++) {
      await time(known, () => accounts.login({ email, password: 'another wrong one' }));
      await time(missing, () => accounts.login({ email: freshEmail(), password: PASSWORD }));
    }
    expect(Math.min(...missing)).toBeGreaterThan(Math.min(...known) / 4);
    expect(Math.min(...known)).toBeGreaterThan(Math.min(...missing) / 4);
  });

  it('refuses an account without a password (made by the job CLI) like a wrong password', async () => {
    const { accounts } = services();
    const email = freshEmail();
    await t.db.insertInto('users').values({ email, display_name: 'Operator' }).execute();
    expect((await failure(accounts.login({ email, password: PASSWORD }))).code).toBe(
      'AUTH_INVALID_CREDENTIALS',
    );
  });

  it('says USER_DISABLED only to someone who knows the password', async () => {
    const { accounts } = services();
    const email = freshEmail();
    const { user } = await accounts.register({ email, password: PASSWORD, displayName: 'A' });
    await accounts.setDisabled(user.id, true);
    expect((await failure(accounts.login({ email, password: 'wrong password!' }))).code).toBe(
      'AUTH_INVALID_CREDENTIALS',
    );
    expect((await failure(accounts.login({ email, password: PASSWORD }))).code).toBe('USER_DISABLED');
    await accounts.setDisabled(user.id, false);
    await expect(accounts.login({ email, password: PASSWORD })).resolves.toMatchObject({
      user: { id: user.id },
    });
  });

  it('is throttled per account, and a success clears the count', async () => {
    const clock = testClock();
    const { accounts } = services(clock);
    const email = freshEmail();
    await accounts.register({ email, password: PASSWORD, displayName: 'A' });
    for (let i = 0; i < 4; i++) await failure(accounts.login({ email, password: 'wrong password!' }));
    await accounts.login({ email, password: PASSWORD }); // the 5th attempt, right: clears
    for (let i = 0; i < 5; i++)
      expect((await failure(accounts.login({ email, password: 'wrong password!' }))).code).toBe(
        'AUTH_INVALID_CREDENTIALS',
      );
    const locked = await failure(accounts.login({ email, password: PASSWORD }));
    expect(locked.code).toBe('AUTH_THROTTLED');
    expect(locked.details).toEqual({ retryAfterSeconds: 30 });
    clock.advance(30_000);
    await expect(accounts.login({ email, password: PASSWORD })).resolves.toBeDefined();
  });

  it('is throttled per address, across accounts', async () => {
    const { accounts } = services();
    const ip = '198.51.100.200';
    for (let i = 0; i < 20; i++)
      expect((await failure(accounts.login({ email: freshEmail(), password: PASSWORD, ip }))).code).toBe(
        'AUTH_INVALID_CREDENTIALS',
      );
    const e = await failure(accounts.login({ email: freshEmail(), password: PASSWORD, ip }));
    expect(e.code).toBe('AUTH_THROTTLED');
    expect(e.status).toBe(429);
  });
});

describe('sessions of an account', () => {
  it('logout ends one session, logoutEverywhere all of them', async () => {
    const { accounts, sessions } = services();
    const email = freshEmail();
    const a = await accounts.register({ email, password: PASSWORD, displayName: 'A' });
    const b = await accounts.login({ email, password: PASSWORD });
    const c = await accounts.login({ email, password: PASSWORD });
    await accounts.logout(a.session.id);
    expect(await sessions.validate(a.token)).toBeNull();
    expect(await sessions.validate(b.token)).not.toBeNull();
    expect(await accounts.logoutEverywhere(a.user.id)).toBe(2);
    expect(await sessions.validate(b.token)).toBeNull();
    expect(await sessions.validate(c.token)).toBeNull();
  });

  it('changePassword keeps the current session and ends the others', async () => {
    const { accounts, sessions } = services();
    const email = freshEmail();
    const here = await accounts.register({ email, password: PASSWORD, displayName: 'A' });
    const elsewhere = await accounts.login({ email, password: PASSWORD });
    const next = 'a brand new passphrase';
    await accounts.changePassword(here.user.id, PASSWORD, next, { keepSessionId: here.session.id });
    expect(await sessions.validate(here.token)).not.toBeNull();
    expect(await sessions.validate(elsewhere.token)).toBeNull();
    expect((await failure(accounts.login({ email, password: PASSWORD }))).code).toBe(
      'AUTH_INVALID_CREDENTIALS',
    );
    await expect(accounts.login({ email, password: next })).resolves.toBeDefined();
  });

  it('changePassword checks the current password and the new one', async () => {
    const { accounts, sessions } = services();
    const email = freshEmail();
    const me = await accounts.register({ email, password: PASSWORD, displayName: 'A' });
    const wrong = await failure(
      accounts.changePassword(me.user.id, 'not my password', 'a brand new passphrase'),
    );
    expect(wrong.code).toBe('AUTH_WRONG_PASSWORD'); // not a 401: the caller is signed in
    expect((await failure(accounts.changePassword(me.user.id, PASSWORD, 'short'))).code).toBe(
      'AUTH_WEAK_PASSWORD',
    );
    // Nothing changed: the old password and the session still work.
    expect(await sessions.validate(me.token)).not.toBeNull();
    await expect(accounts.login({ email, password: PASSWORD })).resolves.toBeDefined();
    // Guessing the current password is throttled like signing in.
    for (let i = 0; i < 5; i++)
      await failure(accounts.changePassword(me.user.id, 'guess', 'a brand new passphrase'));
    expect(
      (await failure(accounts.changePassword(me.user.id, PASSWORD, 'a brand new passphrase'))).code,
    ).toBe('AUTH_THROTTLED');
  });
});

describe('administration', () => {
  it('createUser makes an administrator for the CLI, without a session', async () => {
    const { accounts } = services();
    const before = await t.db.selectFrom('sessions').select('id').execute();
    const admin = await accounts.createUser({
      email: freshEmail(),
      password: PASSWORD,
      displayName: 'Admin',
      role: 'admin',
    });
    expect(admin.role).toBe('admin');
    expect(await t.db.selectFrom('sessions').select('id').execute()).toEqual(before);
    expect(
      (await accounts.createUser({ email: freshEmail(), password: PASSWORD, displayName: 'U' })).role,
    ).toBe('user');
    expect(() => requireAdmin(admin)).not.toThrow();
  });

  it('setDisabled signs the user out everywhere at once', async () => {
    const { accounts, sessions } = services();
    const email = freshEmail();
    const a = await accounts.register({ email, password: PASSWORD, displayName: 'A' });
    await accounts.login({ email, password: PASSWORD });
    const disabled = await accounts.setDisabled(a.user.id, true);
    expect(disabled.disabled).toBe(true);
    expect(await t.db.selectFrom('sessions').select('id').where('user_id', '=', a.user.id).execute()).toEqual(
      [],
    );
    expect(await sessions.validate(a.token)).toBeNull();
    expect((await accounts.setDisabled(a.user.id, false)).disabled).toBe(false);
  });

  it('setRole promotes and demotes; requireAdmin checks it', async () => {
    const { accounts } = services();
    const { user } = await accounts.register({ email: freshEmail(), password: PASSWORD, displayName: 'A' });
    const e = (() => {
      try {
        requireAdmin(user);
        return undefined;
      } catch (error) {
        return error as AtelierError;
      }
    })();
    expect(e?.code).toBe('FORBIDDEN');
    expect(e?.status).toBe(403);
    expect((await accounts.setRole(user.id, 'admin')).role).toBe('admin');
    expect((await accounts.me(user.id)).role).toBe('admin');
    expect((await accounts.setRole(user.id, 'user')).role).toBe('user');
  });

  it('me returns a plain record, never the hash; unknown ids are USER_NOT_FOUND', async () => {
    const { accounts } = services();
    const { user } = await accounts.register({ email: freshEmail(), password: PASSWORD, displayName: 'A' });
    const me = await accounts.me(user.id);
    expect(me).toEqual(user);
    expect(Object.keys(me).sort()).toEqual(['createdAt', 'disabled', 'displayName', 'email', 'id', 'role']);
    expect(JSON.stringify(me)).not.toContain('argon2');
    expectTypeOf(me).toEqualTypeOf<UserRecord>();
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      expect((await failure(accounts.me(id))).code).toBe('USER_NOT_FOUND');
      expect((await failure(accounts.setDisabled(id, true))).code).toBe('USER_NOT_FOUND');
      expect((await failure(accounts.changePassword(id, PASSWORD, 'a brand new passphrase'))).code).toBe(
        'USER_NOT_FOUND',
      );
    }
  });
});
