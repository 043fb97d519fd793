import { describe, expect, it } from 'vitest';
import { silentLogger } from '@atelier/core';
import type { Logger } from '@atelier/core';
import type { Clock } from './auth/index.ts';
import { Lifecycle, TOKENS, globalContainer, injectable, resolve } from './tokens.ts';

class Stamp {
  readonly clock: Clock;
  readonly logger: Logger;
  constructor(clock: Clock, logger: Logger) {
    this.clock = clock;
    this.logger = logger;
  }
}
injectable(Stamp, [TOKENS.Clock, TOKENS.Logger]);

describe('injectable', () => {
  it('injects each constructor parameter from its token, per container', () => {
    const clock: Clock = { now: () => new Date(0) };
    const root = globalContainer.createChildContainer();
    root.register(TOKENS.Clock, { useValue: clock });
    root.register(TOKENS.Logger, { useValue: silentLogger });
    root.register(Stamp, Stamp, { lifecycle: Lifecycle.ContainerScoped });
    const stamp = resolve(root, Stamp);
    expect(stamp.clock).toBe(clock);
    expect(stamp.logger).toBe(silentLogger);
    expect(resolve(root, Stamp)).toBe(stamp);
    const child = root.createChildContainer();
    const later: Clock = { now: () => new Date(1) };
    child.register(TOKENS.Clock, { useValue: later });
    expect(resolve(child, Stamp).clock).toBe(later);
    expect(resolve(root, Stamp)).toBe(stamp);
  });

  it('checks the tokens against the parameters', () => {
    const check = (): void => {
      // @ts-expect-error: the tokens are in the wrong order
      injectable(Stamp, [TOKENS.Logger, TOKENS.Clock]);
      // @ts-expect-error: one token is missing
      injectable(Stamp, [TOKENS.Clock]);
    };
    expect(check).toBeTypeOf('function');
  });
});
