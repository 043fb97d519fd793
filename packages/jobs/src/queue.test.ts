import { describe, expect, it } from 'vitest';
import type { Logger } from '@atelier/core';
import { bossOf, createJobQueue } from './queue.ts';

describe('createJobQueue', () => {
  it("logs the message of pg-boss's error events, which are plain objects from its workers", () => {
    const lines: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    const capture = (message: string, fields?: Record<string, unknown>): void => {
      lines.push({ message, fields });
    };
    const logger: Logger = { debug: capture, info: capture, warn: capture, error: capture };
    const boss = bossOf(createJobQueue({ url: 'postgres://nobody@127.0.0.1:1/none', logger }));
    // As pg-boss's manager emits a failed fetch: the error's fields spread into a plain object,
    // here with a pg client among them (never started: nothing connects).
    const fetchFailure = {
      name: 'error',
      message: 'terminating connection due to administrator command',
      stack: 'error: terminating connection due to administrator command\n    at ...',
      code: '57P01',
      client: { connection: { stream: {} } },
      queue: 'atelier-render',
      worker: 'w1',
    };
    boss.emit('error', fetchFailure);
    boss.emit('error', new Error('Connection terminated unexpectedly'));
    expect(lines).toEqual([
      {
        message: 'queue error',
        fields: {
          error: 'terminating connection due to administrator command',
          code: '57P01',
          queue: 'atelier-render',
        },
      },
      { message: 'queue error', fields: { error: 'Connection terminated unexpectedly' } },
    ]);
  });
});
