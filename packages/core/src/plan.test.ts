import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { AtelierError } from './errors.ts';
import { definePlugin } from './plugin.ts';
import { canonicalJson, checkOutputSize, createPlan, parsePlan, planHash, stepSeed } from './plan.ts';
import { PluginRegistry } from './registry.ts';

const registry = new PluginRegistry();
registry.register(
  definePlugin({
    id: 'tone',
    name: 'Tone',
    description: 'Test plugin.',
    version: '1.4.2',
    engine: '^1',
    kind: 'style',
    params: z.object({
      levels: z.number().int().min(2).max(32).default(8),
      mode: z.enum(['soft', 'hard']).default('soft'),
    }),
    apply: ({ image }) => image,
  }),
  { module: 'file:///x.ts' },
);

registry.register(
  definePlugin({
    id: 'pad',
    name: 'Pad',
    description: 'Test plugin that declares its output size.',
    version: '1.0.0',
    engine: '^1',
    kind: 'transform',
    params: z.object({ border: z.number().int().min(-1000).max(100_000).default(10) }),
    outputSize: ({ width, height, params }) => ({
      width: width + 2 * params.border,
      height: height + 2 * params.border,
    }),
    apply: ({ image }) => image,
  }),
  { module: 'file:///x.ts' },
);

const rejects = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    return (error as AtelierError).code;
  }
  return 'no error';
};

const rejectsAsync = (promise: Promise<unknown>): Promise<string> =>
  promise.then(
    () => 'no error',
    (error: unknown) => (error as AtelierError).code,
  );

describe('plans', () => {
  it('fill in versions, defaults and output settings, and are frozen', () => {
    const plan = createPlan(registry, { steps: [{ plugin: 'tone', params: { levels: 4 } }] });
    expect(plan.steps).toEqual([{ plugin: 'tone', version: '1.4.2', params: { levels: 4, mode: 'soft' } }]);
    expect(plan.output).toEqual({ format: 'jpeg', quality: 88, stripMetadata: true });
    expect(Object.isFrozen(plan.steps[0]!.params)).toBe(true);
    expect(() => {
      (plan.steps[0]!.params as Record<string, unknown>)['levels'] = 9;
    }).toThrow(TypeError);
  });

  it('hash the same whatever the key order, and differently when anything that matters changes', () => {
    const a = createPlan(registry, { steps: [{ plugin: 'tone', params: { levels: 4, mode: 'hard' } }] });
    const b = createPlan(registry, { steps: [{ plugin: 'tone', params: { mode: 'hard', levels: 4 } }] });
    const c = createPlan(registry, { steps: [{ plugin: 'tone', params: { levels: 5, mode: 'hard' } }] });
    const d = createPlan(registry, {
      steps: [{ plugin: 'tone', params: { levels: 4, mode: 'hard' } }],
      output: { format: 'png' },
    });
    const e = createPlan(registry, {
      steps: [{ plugin: 'tone', params: { levels: 4, mode: 'hard' } }],
      limits: { stepTimeoutMs: 5 },
    });
    expect(planHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(planHash(a)).toBe(planHash(b));
    expect(planHash(a)).not.toBe(planHash(c));
    expect(planHash(a)).not.toBe(planHash(d));
    expect(planHash(a)).toBe(planHash(e)); // limits do not change the image
  });

  it('survive a JSON round trip with the same hash', () => {
    const plan = createPlan(registry, {
      steps: [{ plugin: 'tone' }, { plugin: 'tone', params: { levels: 3 } }],
    });
    const back = parsePlan(JSON.parse(JSON.stringify(plan)));
    expect(back).toEqual(plan);
    expect(planHash(back)).toBe(planHash(plan));
  });

  it('reject bad params, unknown keys, unknown plugins and other versions with codes', () => {
    expect(rejects(() => createPlan(registry, { steps: [{ plugin: 'tone', params: { levels: 99 } }] }))).toBe(
      'PARAMS_INVALID',
    );
    expect(rejects(() => createPlan(registry, { steps: [{ plugin: 'tone', params: { colour: 1 } }] }))).toBe(
      'PARAMS_INVALID',
    );
    expect(rejects(() => createPlan(registry, { steps: [{ plugin: 'nope' }] }))).toBe('PLUGIN_NOT_FOUND');
    expect(rejects(() => createPlan(registry, { steps: [{ plugin: 'tone', version: '1.0.0' }] }))).toBe(
      'PLUGIN_VERSION_MISMATCH',
    );
    expect(rejects(() => createPlan(registry, { steps: [], output: { format: 'bmp' as never } }))).toBe(
      'PLAN_INVALID',
    );
    expect(rejects(() => createPlan(registry, { steps: [], output: { quality: 0 } }))).toBe('PLAN_INVALID');
    expect(rejects(() => parsePlan({ version: 2 }))).toBe('PLAN_INVALID');
  });

  it('explain which parameter is wrong', () => {
    try {
      createPlan(registry, { steps: [{ plugin: 'tone', params: { levels: 1 } }] });
      expect.unreachable();
    } catch (error) {
      expect((error as AtelierError).message).toMatch(/tone.*levels.*2/);
    }
  });

  it('seed steps by plugin and position only', () => {
    expect(stepSeed('tone', 0)).toBe(stepSeed('tone', 0));
    expect(stepSeed('tone', 0)).not.toBe(stepSeed('tone', 1));
    expect(stepSeed('tone', 0)).not.toBe(stepSeed('cartoon', 0));
  });

  it('serialise canonically', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: 3 } })).toBe(
      '{"a":{"c":3,"d":[2,{"x":0,"y":1}]},"b":1}',
    );
  });
});

describe('output size', () => {
  it('defaults the output limit to the input limit, and a request may lower it but not raise it', () => {
    const plain = createPlan(registry, { steps: [] }, { limits: { maxInputPixels: 5000 } });
    expect(plain.limits.maxOutputPixels).toBe(5000);
    const set = createPlan(
      registry,
      { steps: [] },
      { limits: { maxInputPixels: 5000, maxOutputPixels: 900 } },
    );
    expect(set.limits.maxOutputPixels).toBe(900);
    const lower = createPlan(
      registry,
      { steps: [], limits: { maxOutputPixels: 100 } },
      { limits: set.limits },
    );
    expect(lower.limits.maxOutputPixels).toBe(100);
    const higher = createPlan(
      registry,
      { steps: [], limits: { maxOutputPixels: 2 ** 40 } },
      { limits: set.limits },
    );
    expect(higher.limits.maxOutputPixels).toBe(900);
  });

  it("follows each step's declared size, keeps the size for plugins that declare none, and refuses the first step over", async () => {
    const plan = (border: number) =>
      createPlan(
        registry,
        {
          steps: [
            { plugin: 'pad', params: { border } },
            { plugin: 'tone' },
            { plugin: 'pad', params: { border: -5 } },
          ],
        },
        { limits: { maxOutputPixels: 10_000 } },
      );
    expect(await checkOutputSize(registry, plan(10), { width: 30, height: 40 })).toMatchObject({
      width: 40,
      height: 50,
    });
    const error = await checkOutputSize(registry, plan(40), { width: 30, height: 40 }).then(
      () => undefined,
      (e: unknown) => e as AtelierError,
    );
    expect(error?.code).toBe('OUTPUT_TOO_LARGE');
    expect(error?.details).toMatchObject({ step: 0, plugin: 'pad', width: 110, height: 120, limit: 10_000 });
    // A declared size of zero or less, or a throw, is the plugin's bug, said as such.
    expect(await rejectsAsync(checkOutputSize(registry, plan(10), { width: Number.NaN, height: 40 }))).toBe(
      'PLUGIN_OUTPUT_INVALID',
    );
    expect(await rejectsAsync(checkOutputSize(registry, plan(-20), { width: 30, height: 40 }))).toBe(
      'PLUGIN_OUTPUT_INVALID',
    );
  });

  it('reads plans stored before the output limit existed, with the input limit in its place', async () => {
    const stored = JSON.parse(JSON.stringify(createPlan(registry, { steps: [{ plugin: 'pad' }] }))) as {
      limits: Record<string, unknown>;
    };
    delete stored.limits['maxOutputPixels'];
    const plan = parsePlan(stored);
    expect(await rejectsAsync(checkOutputSize(registry, plan, { width: 10_000, height: 9_999 }))).toBe(
      'OUTPUT_TOO_LARGE',
    );
  });
});
