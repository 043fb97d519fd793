import { describe, expect, it } from 'vitest';
import { redactUrl } from './logger.ts';

describe('redactUrl', () => {
  it('replaces every sig value, whatever its case and place, and leaves the rest', () => {
    expect(redactUrl('/files/jobs/1?expires=9&sig=abc-_D')).toBe('/files/jobs/1?expires=9&sig=[REDACTED]');
    expect(redactUrl('/files/images/2?sig=x&expires=9&SIG=y#frag')).toBe(
      '/files/images/2?sig=[REDACTED]&expires=9&SIG=[REDACTED]#frag',
    );
    expect(redactUrl('/trpc/jobs.get?input=%7B%7D&design=1')).toBe('/trpc/jobs.get?input=%7B%7D&design=1');
    expect(redactUrl('Route GET:/files/x?sig=abc not found')).toBe(
      'Route GET:/files/x?sig=[REDACTED] not found',
    );
  });
});
