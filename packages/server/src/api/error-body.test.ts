import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AtelierError } from '@atelier/core';
import { errorBody, failureOf } from './error-body.ts';
import { toTRPCError } from './errors.ts';

const quota = new AtelierError('QUOTA_EXCEEDED', 'Too many jobs this hour.', {
  details: { retryAfterSeconds: 30 },
});

describe('errorBody', () => {
  it('builds each route’s shape from one failure', () => {
    const failure = { error: quota, path: 'jobs.create', requestId: 'r-1' };
    const data = {
      code: 'TOO_MANY_REQUESTS',
      httpStatus: 429,
      path: 'jobs.create',
      atelierCode: 'QUOTA_EXCEEDED',
      details: { retryAfterSeconds: 30 },
      requestId: 'r-1',
    };
    expect(errorBody('trpc', failure)).toEqual({ message: 'Too many jobs this hour.', code: -32029, data });
    expect(errorBody('rest', failure)).toEqual({
      message: 'Too many jobs this hour.',
      code: 'TOO_MANY_REQUESTS',
      data,
    });
    // The plain body carries details too (a 402's price); none without them.
    expect(errorBody('plain', failure)).toEqual({
      code: 'QUOTA_EXCEEDED',
      message: 'Too many jobs this hour.',
      details: { retryAfterSeconds: 30 },
    });
    expect(errorBody('plain', { ...failure, error: new AtelierError('JOB_NOT_FOUND', 'No job x.') })).toEqual(
      { code: 'JOB_NOT_FOUND', message: 'No job x.' },
    );
    expect(errorBody('readiness', failure)).toEqual({
      ok: false,
      code: 'QUOTA_EXCEEDED',
      error: 'Too many jobs this hour.',
    });
  });

  it('takes the status and tRPC code a failure gives over the code’s own', () => {
    const body = errorBody('rest', {
      error: new AtelierError('METHOD_NOT_ALLOWED', 'No.'),
      status: 405,
      path: null,
      requestId: null,
    });
    expect(body.data).toMatchObject({ code: 'METHOD_NOT_SUPPORTED', httpStatus: 405, path: null });
  });
});

describe('failureOf', () => {
  it('keeps the Atelier error a TRPCError carries, with tRPC’s code and status', () => {
    const failure = failureOf(toTRPCError(quota), { requestId: 'r-2', path: 'jobs.create' });
    expect(failure).toMatchObject({
      error: quota,
      status: 429,
      trpcCode: 'TOO_MANY_REQUESTS',
      requestId: 'r-2',
    });
  });

  it('names the request, never the cause, of an internal error', () => {
    const failure = failureOf(toTRPCError(new Error('password=hunter2')), { requestId: 'r-3' });
    expect(errorBody('trpc', failure)).toMatchObject({
      message: 'Something went wrong on our side (request r-3).',
      data: { atelierCode: 'INTERNAL', httpStatus: 500, details: null },
    });
    expect(
      failureOf(new TRPCError({ code: 'INTERNAL_SERVER_ERROR' }), { requestId: null }).error.message,
    ).toBe('Something went wrong on our side (request unknown).');
  });

  it('turns failed input validation into PARAMS_INVALID naming each field, with the issues', () => {
    const parsed = z.object({ limit: z.number().max(100) }).safeParse({ limit: 500 });
    const failure = failureOf(new TRPCError({ code: 'BAD_REQUEST', cause: parsed.error }), {
      requestId: 'r-4',
    });
    const body = errorBody('rest', failure);
    expect(body.message).toMatch(/^Invalid input: limit: /);
    expect(body.data.atelierCode).toBe('PARAMS_INVALID');
    expect(body.issues).toHaveLength(1);
    expect(errorBody('trpc', failure)).not.toHaveProperty('issues');
  });
});
