import { hash } from '@node-rs/argon2';
import { describe, expect, it } from 'vitest';
import type { AtelierError } from '@atelier/core';
import { checkPasswordPolicy, hashPassword, needsRehash, verifyPassword } from './password.ts';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
    return 'ok';
  } catch (error) {
    return (error as AtelierError).code;
  }
};

describe('hashPassword', () => {
  it('makes argon2id PHC strings with OWASP parameters and a fresh salt each time', async () => {
    const a = await hashPassword('correct horse battery staple');
    const b = await hashPassword('correct horse battery staple');
    const phc = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/.exec(a);
    expect(phc).not.toBeNull();
    const [, m, t, p, salt, digest] = phc ?? [];
    expect({ m, t, p }).toEqual({ m: '19456', t: '2', p: '1' });
    expect(Buffer.from(salt ?? '', 'base64')).toHaveLength(16);
    expect(Buffer.from(digest ?? '', 'base64')).toHaveLength(32);
    expect(b).not.toBe(a);
    expect(a).not.toContain('correct');
  });

  it('refuses passwords outside the policy before hashing', async () => {
    await expect(hashPassword('short')).rejects.toMatchObject({ code: 'AUTH_WEAK_PASSWORD' });
  });
});

describe('verifyPassword', () => {
  it('accepts the password and rejects any other', async () => {
    const hash = await hashPassword('correct horse battery staple');
    expect(await verifyPassword(hash, 'correct horse battery staple')).toBe(true);
    expect(await verifyPassword(hash, 'correct horse battery stapler')).toBe(false);
    expect(await verifyPassword(hash, 'Correct horse battery staple')).toBe(false);
  });

  it('treats composed and decomposed accents as the same password', async () => {
    const hash = await hashPassword('crème brûlée recipe');
    expect(await verifyPassword(hash, 'cre\u0300me bru\u0302le\u0301e recipe')).toBe(true);
  });

  it('returns false, never throws, for malformed or missing hashes', async () => {
    for (const bad of [
      '',
      'not a hash',
      '$argon2id$v=19$m=19456,t=2,p=1$abc$def',
      '$2b$10$abcdefghijklmnopqrstuv',
    ])
      expect(await verifyPassword(bad, 'whatever password')).toBe(false);
    expect(await verifyPassword(null, 'whatever password')).toBe(false);
    expect(await verifyPassword(undefined, 'whatever password')).toBe(false);
  });

  it('spends argon2 time even when there is no hash to check', async () => {
    const hash = await hashPassword('correct horse battery staple');
    await verifyPassword(null, 'warm up the dummy hash');
    // Interleaved, the fastest of 5 each: without the dummy hash `none` would take microseconds,
    // against tens of milliseconds, so a tenth of `real` tells them apart even on a loaded machine.
    const real: number[] = [];
    const none: number[] = [];
    for (let i = 0; i < 5; i++) {
      for (const [into, stored] of [
        [real, hash],
        [none, null],
      ] as const) {
        const start = performance.now();
        await verifyPassword(stored, 'wrong password here');
        into.push(performance.now() - start);
      }
    }
    expect(Math.min(...none)).toBeGreaterThan(Math.min(...real) / 10);
  });
});

describe('checkPasswordPolicy', () => {
  it('asks for 8 to 256 characters, not all whitespace', () => {
    expect(codeOf(() => checkPasswordPolicy('1234567'))).toBe('AUTH_WEAK_PASSWORD');
    expect(codeOf(() => checkPasswordPolicy('12345678'))).toBe('ok');
    expect(codeOf(() => checkPasswordPolicy('x'.repeat(256)))).toBe('ok');
    expect(codeOf(() => checkPasswordPolicy('x'.repeat(257)))).toBe('AUTH_WEAK_PASSWORD');
    expect(codeOf(() => checkPasswordPolicy(' \t\n        '))).toBe('AUTH_WEAK_PASSWORD');
    // Characters, not UTF-16 units or bytes: four emoji are four characters.
    expect(codeOf(() => checkPasswordPolicy('🔑🔑🔑🔑'))).toBe('AUTH_WEAK_PASSWORD');
    expect(codeOf(() => checkPasswordPolicy('🔑🔑🔑🔑🔑🔑🔑🔑'))).toBe('ok');
  });

  it('explains itself to a person', () => {
    try {
      checkPasswordPolicy('abc');
      expect.unreachable();
    } catch (error) {
      expect((error as AtelierError).message).toMatch(/at least 8 characters/);
    }
  });
});

describe('needsRehash', () => {
  it('is false for current parameters and true for older ones', async () => {
    expect(needsRehash(await hashPassword('correct horse battery staple'))).toBe(false);
    // An older, weaker setting.
    const old = await hash('correct horse battery staple', { memoryCost: 4096, timeCost: 3 });
    expect(old).toMatch(/^\$argon2id\$v=19\$m=4096,t=3,p=1\$/);
    expect(needsRehash(old)).toBe(true);
    expect(needsRehash('garbage')).toBe(false);
  });
});
