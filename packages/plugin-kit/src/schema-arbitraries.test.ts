import { definePlugin, hexColor, paramsJsonSchema, z } from '@atelier/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { invalidObject, validObject } from './schema-arbitraries.ts';
import type { JsonSchema } from './schema-arbitraries.ts';

const params = z.object({
  amount: z.number().min(0).max(1).default(0.5),
  open: z.number().gt(0).lt(10).default(1),
  levels: z.number().int().min(2).max(32).default(8),
  mode: z.enum(['a', 'b', 'c']).default('a'),
  on: z.boolean().default(false),
  colour: hexColor('#ffffff'),
  width: z.number().int().min(1).max(16383).nullable().default(null),
  text: z.string().max(5).default(''),
});
const plugin = definePlugin({
  id: 'kit:arbitraries',
  name: 'Arbitraries',
  description: 'Only its parameters are used.',
  version: '1.0.0',
  engine: '^1',
  kind: 'style',
  params,
  apply: ({ image }) => image,
});
const schema = paramsJsonSchema(plugin) as JsonSchema;
const strict = params.strict();

describe('validObject', () => {
  it('makes only parameter sets the zod schema accepts, and exercises every key', () => {
    const seen = new Set<string>();
    for (const value of fc.sample(validObject(schema), { numRuns: 500, seed: 1 })) {
      expect(strict.safeParse(value).success, JSON.stringify(value)).toBe(true);
      for (const key of Object.keys(value)) seen.add(key);
    }
    expect([...seen].sort()).toEqual(Object.keys(params.shape).sort());
  });
});

describe('invalidObject', () => {
  it('makes only parameter sets the zod schema refuses, breaking each key in several ways', () => {
    const broken = new Map<string, Set<string>>();
    for (const { params: value, key, why } of fc.sample(invalidObject(schema), { numRuns: 1000, seed: 2 })) {
      expect(strict.safeParse(value).success, `${key} ${why}: ${JSON.stringify(value[key])}`).toBe(false);
      broken.set(key, (broken.get(key) ?? new Set()).add(why.replace(/ -?[\d.]+$| \^.*$/, '')));
    }
    for (const key of Object.keys(params.shape)) expect(broken.has(key), key).toBe(true);
    expect([...broken.get('amount')!].sort()).toEqual([
      'above the maximum',
      'below the minimum',
      'wrong type',
    ]);
    expect(broken.get('levels')).toContain('not an integer');
    expect(broken.get('mode')).toContain('not one of the options');
    expect(broken.get('colour')).toContain('not matching');
    expect(broken.get('text')).toContain('longer than');
    expect([...broken.keys()].some((key) => !(key in params.shape))).toBe(true);
  });
});
