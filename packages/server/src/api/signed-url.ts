import { createHmac, timingSafeEqual } from 'node:crypto';

/** A short-lived URL for one file, so an <img> or a download works without the session. */
export function signPath(secret: Uint8Array, path: string, ttlSeconds = 300, now = Date.now()): string {
  const expires = Math.floor(now / 1000) + ttlSeconds;
  const sig = createHmac('sha256', secret).update(`${path}\n${expires}`).digest('base64url');
  return `${path}?expires=${expires}&sig=${sig}`;
}

/** True when `sig` signs `path` until `expires`, and that time has not passed. */
export function verifyPath(
  secret: Uint8Array,
  path: string,
  expires: string | undefined,
  sig: string | undefined,
  now = Date.now(),
): boolean {
  if (!expires || !sig || !/^\d+$/.test(expires) || Number(expires) * 1000 < now) return false;
  const expected = createHmac('sha256', secret).update(`${path}\n${expires}`).digest();
  const given = Buffer.from(sig, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
