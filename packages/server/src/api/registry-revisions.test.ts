import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PluginRegistry, definePlugin } from '@atelier/core';
import { registryRevisions } from './registry-revisions.ts';

function registryWith(...ids: string[]): PluginRegistry {
  const registry = new PluginRegistry();
  for (const id of ids)
    registry.register(
      definePlugin({
        id,
        name: id,
        description: '',
        version: '1.0.0',
        engine: '^1',
        kind: 'style',
        params: z.object({ level: z.number().default(1) }),
        apply: ({ image }) => image,
      }),
      { module: 'file:///nowhere.ts' },
    );
  return registry;
}

describe('registryRevisions', () => {
  it('gives the revision at once, then after each change, folding changes the consumer missed', async () => {
    const registry = registryWith('a', 'b');
    const abort = new AbortController();
    const revisions = registryRevisions(registry, abort.signal);
    expect((await revisions.next()).value).toBe(2);
    expect(registry.listenerCount).toBe(1);

    const next = revisions.next(); // waiting
    registry.disable('a');
    expect((await next).value).toBe(3);

    registry.enable('a');
    registry.setDefaults('b', { level: 4 }); // two changes before the consumer asks again
    expect((await revisions.next()).value).toBe(5);

    const pending = revisions.next();
    abort.abort();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(registry.listenerCount).toBe(0);
  });

  it('removes its listener when the consumer stops early', async () => {
    const registry = registryWith('a');
    for await (const revision of registryRevisions(registry, undefined)) {
      expect(revision).toBe(1);
      break;
    }
    expect(registry.listenerCount).toBe(0);
  });

  it('ends at once for an aborted signal', async () => {
    const registry = registryWith('a');
    const revisions = registryRevisions(registry, AbortSignal.abort());
    expect(await revisions.next()).toEqual({ done: true, value: undefined });
    expect(registry.listenerCount).toBe(0);
  });
});
