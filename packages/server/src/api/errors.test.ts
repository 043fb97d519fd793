import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { describe, expect, it } from 'vitest';
import { AtelierError, ERROR_CODES } from '@atelier/core';
import type { ErrorCode } from '@atelier/core';
import { toTRPCError } from './errors.ts';

describe('toTRPCError', () => {
  it('answers every Atelier code with the HTTP status its table gives', () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const error = toTRPCError(new AtelierError(code, 'x'));
      expect([code, getHTTPStatusCodeFromError(error)]).toEqual([code, ERROR_CODES[code].status]);
    }
  });
});
