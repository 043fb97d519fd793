import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Whom a signed URL speaks for: the owner of the file and their session epoch when it was made.
 * Signing out everywhere (or a password change, or disabling the account) bumps the epoch, so
 * every URL signed before stops verifying.
 */
export interface UrlSigner {
  readonly userId: string;
  readonly epoch: number;
}

function mac(secret: Uint8Array, path: string, expires: string, signer: UrlSigner): Buffer {
  return createHmac('sha256', secret)
    .update(`${path}\n${expires}\n${signer.userId}\n${signer.epoch}`)
    .digest();
}

/** A short-lived URL for one file, so an <img> or a download works without the session. */
export function signPath(
  secret: Uint8Array,
  path: string,
  signer: UrlSigner,
  ttlSeconds = 300,
  now = Date.now(),
): string {
  const expires = String(Math.floor(now / 1000) + ttlSeconds);
  return `${path}?expires=${expires}&sig=${mac(secret, path, expires, signer).toString('base64url')}`;
}

/**
 * True when `sig` signs `path` until `expires` for `signer` (the file's owner at their current
 * session epoch), and that time has not passed.
 */
export function verifyPath(
  secret: Uint8Array,
  path: string,
  expires: string | undefined,
  sig: string | undefined,
  signer: UrlSigner,
  now = Date.now(),
): boolean {
  if (!expires || !sig || !/^\d+$/.test(expires) || Number(expires) * 1000 < now) return false;
  const expected = mac(secret, path, expires, signer);
  const given = Buffer.from(sig, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
