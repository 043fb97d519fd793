import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AtelierError } from './errors.ts';
import { definePlugin } from './plugin.ts';
import type { AnyPlugin } from './plugin.ts';
import { PluginRegistry } from './registry.ts';

const make = (over: Partial<AnyPlugin> = {}): AnyPlugin =>
  ({
    ...definePlugin({
      id: 'acme:thing',
      name: 'Thing',
      description: 'A thing.',
      version: '1.0.0',
      engine: '^1',
      kind: 'style',
      params: z.object({ level: z.number().int().min(1).max(9).default(3).describe('how much') }),
      apply: ({ image }) => image,
    }),
    ...over,
  }) as AnyPlugin;

const src = { module: 'file:///nowhere.ts' };

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(AtelierError);
    return (error as AtelierError).code;
  }
  return undefined;
}

describe('PluginRegistry', () => {
  it('registers, describes and lists a plugin with its JSON Schema and defaults', () => {
    const registry = new PluginRegistry();
    registry.register(make(), src);
    const info = registry.describe('acme:thing');
    expect(info.defaults).toEqual({ level: 3 });
    expect(info.paramsSchema).toMatchObject({
      type: 'object',
      properties: { level: { type: 'integer', minimum: 1, maximum: 9, default: 3, description: 'how much' } },
    });
    expect(registry.list().map((p) => p.id)).toEqual(['acme:thing']);
    expect(registry.list({ kind: 'transform' })).toEqual([]);
  });

  it('rejects a duplicate id', () => {
    const registry = new PluginRegistry();
    registry.register(make(), src);
    expect(codeOf(() => registry.register(make({ version: '2.0.0' }), src))).toBe('PLUGIN_DUPLICATE');
  });

  it('rejects an engine range this engine does not satisfy', () => {
    expect(codeOf(() => new PluginRegistry().register(make({ engine: '^2' }), src))).toBe(
      'PLUGIN_ENGINE_MISMATCH',
    );
    expect(codeOf(() => new PluginRegistry({ engineVersion: '2.1.0' }).register(make(), src))).toBe(
      'PLUGIN_ENGINE_MISMATCH',
    );
    expect(() =>
      new PluginRegistry({ engineVersion: '2.1.0' }).register(make({ engine: '>=1 <3' }), src),
    ).not.toThrow();
  });

  it.each([
    ['a bad id', { id: 'Bad Id' }],
    ['a bad version', { version: 'one' }],
    ['a bad engine range', { engine: 'latest!' }],
    ['an unknown kind', { kind: 'filter' as never }],
    ['no apply', { apply: undefined as never }],
    ['params that are not a zod object', { params: { level: 3 } as never }],
    ['a parameter without default', { params: z.object({ level: z.number() }) }],
    ['a bad alpha mode', { alpha: 'drop' as never }],
    ['an empty name', { name: ' ' }],
  ])('rejects %s as PLUGIN_INVALID', (_what, over) => {
    expect(codeOf(() => new PluginRegistry().register(make(over as Partial<AnyPlugin>), src))).toBe(
      'PLUGIN_INVALID',
    );
  });

  it('rejects parameters that JSON Schema cannot express', () => {
    const params = z.object({ when: z.date().default(new Date(0)) });
    expect(codeOf(() => new PluginRegistry().register(make({ params }), src))).toBe('PLUGIN_INVALID');
  });

  it('disables and enables', () => {
    const registry = new PluginRegistry();
    registry.register(make(), src);
    registry.disable('acme:thing');
    expect(codeOf(() => registry.getEnabled('acme:thing'))).toBe('PLUGIN_DISABLED');
    expect(registry.list()).toEqual([]);
    expect(registry.list({ includeDisabled: true })[0]?.enabled).toBe(false);
    registry.enable('acme:thing');
    expect(registry.getEnabled('acme:thing').id).toBe('acme:thing');
  });

  it('names the missing plugin', () => {
    const registry = new PluginRegistry();
    expect(codeOf(() => registry.get('nope'))).toBe('PLUGIN_NOT_FOUND');
  });
});

describe('administrator defaults', () => {
  it('apply under a request, are validated, and show in describe()', async () => {
    const { createPlan } = await import('./plan.ts');
    const registry = new PluginRegistry();
    registry.register(make(), src);
    registry.setDefaults('acme:thing', { level: 7 });
    expect(registry.describe('acme:thing').defaults).toEqual({ level: 7 });
    expect(createPlan(registry, { steps: [{ plugin: 'acme:thing' }] }).steps[0]!.params).toEqual({
      level: 7,
    });
    expect(
      createPlan(registry, { steps: [{ plugin: 'acme:thing', params: { level: 2 } }] }).steps[0]!.params,
    ).toEqual({ level: 2 });
    expect(codeOf(() => registry.setDefaults('acme:thing', { level: 99 }))).toBe('PARAMS_INVALID');
    expect(codeOf(() => registry.setDefaults('acme:thing', { colour: 1 }))).toBe('PARAMS_INVALID');
  });
});

describe('onChange', () => {
  it('announces registrations, enabling, disabling and other defaults, and only real changes', () => {
    const registry = new PluginRegistry();
    const seen: string[] = [];
    const off = registry.onChange(({ id, revision }) => seen.push(`${id}@${revision}`));
    registry.register(make(), src);
    registry.disable('acme:thing');
    registry.disable('acme:thing'); // already disabled: nothing changes
    registry.enable('acme:thing');
    registry.enable('acme:thing');
    registry.setDefaults('acme:thing', { level: 5 });
    registry.setDefaults('acme:thing', { level: 5 }); // the same defaults again
    registry.setDefaults('acme:thing', {});
    expect(seen).toEqual(['acme:thing@1', 'acme:thing@2', 'acme:thing@3', 'acme:thing@4', 'acme:thing@5']);
    expect(registry.revision).toBe(5);

    // Refused defaults change nothing and announce nothing.
    expect(codeOf(() => registry.setDefaults('acme:thing', { level: 99 }))).toBe('PARAMS_INVALID');
    expect(seen).toHaveLength(5);

    off();
    off(); // removing twice is harmless
    registry.disable('acme:thing');
    expect(seen).toHaveLength(5);
    expect(registry.listenerCount).toBe(0);
  });

  it('lets listeners see the new state, and runs every listener even when one throws', () => {
    const registry = new PluginRegistry();
    registry.register(make(), src);
    const states: boolean[] = [];
    const boom = new Error('listener bug');
    registry.onChange(() => {
      throw boom;
    });
    registry.onChange(({ id }) => states.push(registry.isEnabled(id)));
    expect(() => registry.disable('acme:thing')).toThrow(boom);
    expect(states).toEqual([false]);
    expect(registry.isEnabled('acme:thing')).toBe(false);
  });

  it('gives each onChange call its own subscription, even for the same function', () => {
    const registry = new PluginRegistry();
    registry.register(make(), src);
    let calls = 0;
    const listener = () => void calls++;
    const offA = registry.onChange(listener);
    registry.onChange(listener);
    registry.disable('acme:thing');
    expect(calls).toBe(2);
    offA();
    registry.enable('acme:thing');
    expect(calls).toBe(3);
  });
});

describe('PluginRegistry.replacePlugins', () => {
  const builtin = { module: 'file:///builtin.ts', builtin: true };

  it('swaps the third-party plugins and failures, keeps built-ins and the state of plugins that stay', () => {
    const live = new PluginRegistry();
    live.register(make({ id: 'core-style' }), builtin);
    live.register(make({ id: 'acme:kept' }), src);
    live.register(make({ id: 'acme:gone' }), src);
    live.disable('acme:kept');
    live.setDefaults('acme:kept', { level: 7 });
    live.recordFailure({ source: 'old', code: 'PLUGIN_INVALID', message: 'old' });
    const changes: string[] = [];
    live.onChange(({ id }) => changes.push(id));

    const next = new PluginRegistry();
    next.register(make({ id: 'core-style' }), builtin);
    next.register(make({ id: 'acme:kept', version: '1.1.0' }), { module: 'file:///nowhere.ts?rev=1' });
    next.register(make({ id: 'acme:new' }), src);
    next.disable('acme:new'); // the state an administrator stored for it, applied to `next` first
    next.recordFailure({ source: 'new', code: 'PLUGIN_ENGINE_MISMATCH', message: 'new' });
    const revision = live.revision;

    expect(live.replacePlugins(next)).toEqual({
      added: ['acme:new'],
      removed: ['acme:gone'],
      replaced: ['acme:kept'],
    });
    expect(live.list({ includeDisabled: true }).map((p) => p.id)).toEqual([
      'core-style',
      'acme:kept',
      'acme:new',
    ]);
    expect(live.describe('acme:kept')).toMatchObject({
      version: '1.1.0',
      enabled: false,
      defaults: { level: 7 },
      module: 'file:///nowhere.ts?rev=1',
    });
    expect(live.isEnabled('acme:new')).toBe(false);
    expect(live.failures()).toEqual([{ source: 'new', code: 'PLUGIN_ENGINE_MISMATCH', message: 'new' }]);
    expect(changes.sort()).toEqual(['acme:gone', 'acme:kept', 'acme:new']);
    expect(live.revision).toBe(revision + 3);
  });

  it('drops defaults that no longer fit the new schema', () => {
    const live = new PluginRegistry();
    live.register(make(), src);
    live.setDefaults('acme:thing', { level: 7 });
    const next = new PluginRegistry();
    next.register(make({ params: z.object({ size: z.number().default(1) }) }), src);
    live.replacePlugins(next);
    expect(live.overrides('acme:thing')).toEqual({});
    expect(live.describe('acme:thing').defaults).toEqual({ size: 1 });
  });

  it('refuses a third-party plugin that would take a built-in id, changing nothing', () => {
    const live = new PluginRegistry();
    live.register(make({ id: 'core-style' }), builtin);
    live.register(make(), src);
    const next = new PluginRegistry();
    next.register(make({ id: 'core-style' }), src);
    expect(codeOf(() => live.replacePlugins(next))).toBe('PLUGIN_DUPLICATE');
    expect(live.list().map((p) => p.id)).toEqual(['core-style', 'acme:thing']);
  });
});

describe('capabilities', () => {
  it('are validated at registration and shown by describe()', () => {
    const registry = new PluginRegistry();
    registry.register(
      make({ capabilities: { network: ['api.example.com'], secrets: ['EXAMPLE_KEY'] } }),
      src,
    );
    expect(registry.describe('acme:thing').capabilities).toEqual({
      network: ['api.example.com'],
      secrets: ['EXAMPLE_KEY'],
    });
    const other = new PluginRegistry();
    other.register(make(), src);
    expect(other.describe('acme:thing').capabilities).toEqual({ network: [], secrets: [] });
  });

  it.each([
    [{ network: ['API.example.com'] }],
    [{ network: ['https://api.example.com'] }],
    [{ network: ['*.com'] }],
    [{ secrets: ['lowercase'] }],
    [{ secrets: ['A-KEY'] }],
    [{ disk: ['/'] }],
  ])('refuses %j with PLUGIN_INVALID', (capabilities) => {
    expect(
      codeOf(() => new PluginRegistry().register(make({ capabilities } as Partial<AnyPlugin>), src)),
    ).toBe('PLUGIN_INVALID');
  });
});
