import { describe, expect, it } from 'vitest';
import { AtelierError } from '@atelier/core';
import { databaseUnavailable } from './connection-errors.ts';

const withCode = (message: string, code: string): Error => Object.assign(new Error(message), { code });

describe('databaseUnavailable', () => {
  it('maps lost and refused connections to DATABASE_UNAVAILABLE, keeping the original as cause', () => {
    const refused = new AggregateError(
      [
        withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED'),
        withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      ],
      '',
    );
    const cases = [
      refused,
      withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
      withCode('terminating connection due to administrator command', '57P01'),
      withCode('the database system is starting up', '57P03'),
      withCode('connection failure', '08006'),
      new Error('Connection terminated unexpectedly'),
      new Error('Connection terminated'),
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('wrapped', { cause: withCode('read ECONNRESET', 'ECONNRESET') }),
    ];
    for (const error of cases) {
      const mapped = databaseUnavailable(error);
      expect(mapped?.code, error.message).toBe('DATABASE_UNAVAILABLE');
      expect(mapped?.status).toBe(503);
      expect(mapped?.cause).toBe(error);
      // What the socket said (addresses, ports) stays out of the message callers see.
      expect(mapped?.message).not.toMatch(/127\.0\.0\.1|5432/);
    }
  });

  it('leaves other errors alone', () => {
    expect(
      databaseUnavailable(withCode('duplicate key value violates unique constraint', '23505')),
    ).toBeUndefined();
    expect(databaseUnavailable(withCode('relation "jobs" does not exist', '42P01'))).toBeUndefined();
    expect(databaseUnavailable(new AtelierError('STORAGE_FAILED', 'disk full'))).toBeUndefined();
    expect(databaseUnavailable(new Error('boom'))).toBeUndefined();
    expect(databaseUnavailable('Connection terminated')).toBeUndefined();
  });
});
