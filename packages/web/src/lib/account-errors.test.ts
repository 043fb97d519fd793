import { describe, expect, it } from 'vitest';
import { TRPCClientError } from '@atelier/client';
import type { AppRouter } from '@atelier/client';
import { accountError, accountFieldProblem } from './account-errors.ts';

/** An API error as the client decodes it from the server's JSON body. */
function apiError(atelierCode: string, details: Record<string, unknown> | null) {
  return TRPCClientError.from<AppRouter>({
    error: {
      message: 'Invalid input',
      code: -32600,
      data: { code: 'BAD_REQUEST', httpStatus: 400, atelierCode, details, requestId: 'r' },
    },
  });
}

describe('accountFieldProblem', () => {
  it('names the field the server refused', () => {
    const email = apiError('PARAMS_INVALID', {
      issues: [{ path: ['email'], message: 'Invalid email address' }],
    });
    expect(accountFieldProblem(email)).toBe('Enter a whole email address, like name@example.org.');
    const password = apiError('PARAMS_INVALID', { issues: [{ path: ['newPassword'], message: 'Too big' }] });
    expect(accountFieldProblem(password)).toBe('Passwords are 8 to 256 characters.');
  });
  it('leaves other failures to messageOf', () => {
    expect(accountFieldProblem(apiError('AUTH_INVALID_CREDENTIALS', null))).toBeUndefined();
    expect(accountFieldProblem(apiError('PARAMS_INVALID', null))).toBeUndefined();
    expect(accountFieldProblem(new Error('offline'))).toBeUndefined();
    const other = apiError('AUTH_WEAK_PASSWORD', null);
    expect(accountError(other)).toBe(other);
  });
  it('turns a field problem into an Error carrying the sentence', () => {
    const email = apiError('PARAMS_INVALID', { issues: [{ path: ['email'], message: 'x' }] });
    const shown = accountError(email);
    expect(shown).toBeInstanceOf(Error);
    expect(String(shown)).toMatch(/email address/);
  });
});
