import { randomBytes } from 'node:crypto';
import { hash, parseOptions, verify } from '@node-rs/argon2';
import type { Options } from '@node-rs/argon2';
import { AtelierError } from '@atelier/core';

/** Shortest accepted password, in characters (code points). */
export const PASSWORD_MIN_LENGTH = 8;
/** Longest accepted password, in characters: long passphrases are welcome, megabyte bodies are not. */
export const PASSWORD_MAX_LENGTH = 256;

/**
 * The argon2id parameters of every new hash: OWASP's first recommended set (19 MiB, 2 passes, one
 * lane), about 60 ms on one core. Stored hashes carry their own parameters in the PHC string, so
 * changing these only affects new hashes; {@link needsRehash} tells when to upgrade an old one.
 */
export const ARGON2_PARAMS = {
  // `Algorithm` is an ambient const enum that erasable TypeScript cannot reference: 2 is Argon2id.
  algorithm: 2,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
  outputLen: 32,
} as const satisfies Options;

/** The same text typed on another keyboard or OS (composed or decomposed accents) is the same password. */
function normalise(password: string): string {
  return password.normalize('NFKC');
}

/**
 * Throws AUTH_WEAK_PASSWORD unless `password` is 8–256 characters and not only whitespace. Length
 * alone is the rule (NIST SP 800-63B): no composition rules, which push people to predictable passwords.
 *
 * @example
 * checkPasswordPolicy('correct horse battery staple'); // passes
 * checkPasswordPolicy('short'); // throws AtelierError AUTH_WEAK_PASSWORD
 */
export function checkPasswordPolicy(password: string): void {
  const length = [...normalise(password)].length;
  if (length < PASSWORD_MIN_LENGTH)
    throw new AtelierError(
      'AUTH_WEAK_PASSWORD',
      `Choose a password of at least ${PASSWORD_MIN_LENGTH} characters; a few unrelated words work well.`,
      { details: { minLength: PASSWORD_MIN_LENGTH } },
    );
  if (length > PASSWORD_MAX_LENGTH)
    throw new AtelierError(
      'AUTH_WEAK_PASSWORD',
      `Choose a password of at most ${PASSWORD_MAX_LENGTH} characters.`,
      { details: { maxLength: PASSWORD_MAX_LENGTH } },
    );
  if (/^\s*$/u.test(password))
    throw new AtelierError('AUTH_WEAK_PASSWORD', 'A password cannot be only spaces.');
}

/**
 * Checks the policy, then hashes with argon2id ({@link ARGON2_PARAMS}) and a random 16-byte salt.
 * Runs on libuv's thread pool, not the event loop.
 *
 * @returns a PHC string: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`
 */
export async function hashPassword(password: string): Promise<string> {
  checkPasswordPolicy(password);
  return hash(normalise(password), ARGON2_PARAMS);
}

// The `Version` const enum's value for argon2 1.3 (v=19), the default of new hashes.
const ARGON2_VERSION_0X13 = 1;

let dummyHash: Promise<string> | undefined;

/**
 * A hash of a random secret with the current parameters, made once per process: verifying against
 * it costs what verifying against a real hash costs, and never succeeds.
 */
function dummy(): Promise<string> {
  dummyHash ??= hash(randomBytes(32).toString('base64url'), ARGON2_PARAMS);
  return dummyHash;
}

/**
 * True when `password` matches `storedHash`. The comparison is constant-time (in the library).
 * Never throws for a bad hash: a malformed one is a `false`. With no hash at all (an unknown
 * email, or an account created without a password) it verifies against a dummy hash and returns
 * false, so every failed sign-in takes the same time and timing does not reveal which emails exist.
 *
 * @example
 * const ok = await verifyPassword(user?.password_hash, input.password);
 */
export async function verifyPassword(
  storedHash: string | null | undefined,
  password: string,
): Promise<boolean> {
  if (!storedHash) {
    await verify(await dummy(), normalise(password)).catch(() => false);
    return false;
  }
  try {
    return await verify(storedHash, normalise(password));
  } catch {
    return false;
  }
}

/**
 * True when `storedHash` was made with other parameters than {@link ARGON2_PARAMS} (or another
 * algorithm): re-hash the password at the next successful sign-in. False for a malformed hash.
 */
export function needsRehash(storedHash: string): boolean {
  try {
    const o = parseOptions(storedHash);
    return (
      o.algorithm !== ARGON2_PARAMS.algorithm ||
      o.version !== ARGON2_VERSION_0X13 ||
      o.memoryCost !== ARGON2_PARAMS.memoryCost ||
      o.timeCost !== ARGON2_PARAMS.timeCost ||
      o.parallelism !== ARGON2_PARAMS.parallelism ||
      o.outputLen !== ARGON2_PARAMS.outputLen
    );
  } catch {
    return false;
  }
}
