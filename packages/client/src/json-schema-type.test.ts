// The JSON Schema → TypeScript converter of `atelier client generate`, fed what the registry really
// publishes: zod's toJSONSchema of a plugin's params, with `io: 'input'` (paramsJsonSchema).
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonSchemaType } from '../scripts/json-schema-type.ts';
import type { JsonSchema } from '../scripts/json-schema-type.ts';

function typeOf(schema: JsonSchema): string {
  const file = ts.createSourceFile('t.ts', '', ts.ScriptTarget.ESNext, false, ts.ScriptKind.TS);
  const printer = ts.createPrinter({ newLine: ts.NewLineKind.LineFeed, removeComments: true });
  return printer
    .printNode(ts.EmitHint.Unspecified, jsonSchemaType(schema, 'acme:test'), file)
    .replaceAll(/\s+/g, ' ');
}

const params = (shape: z.ZodRawShape) =>
  z.toJSONSchema(z.object(shape), { io: 'input' }) as Record<string, unknown>;

describe('jsonSchemaType', () => {
  it('types what zod writes for plugin params: defaults make a field optional, and nothing else is allowed', () => {
    const schema = params({
      tiles: z.number().int().min(2).max(200).default(32),
      strength: z.number().min(0).max(1),
      grout: z.enum(['none', 'white', 'black']).default('white'),
      seed: z.string().regex(/^[a-z]+$/),
      mirror: z.boolean().optional(),
      radius: z.number().int().nullable().default(null),
    });
    expect(typeOf(schema)).toBe(
      '{ tiles?: number | undefined; strength: number; grout?: "none" | "white" | "black" | undefined; ' +
        'seed: string; mirror?: boolean | undefined; radius?: number | null | undefined; }',
    );
  });

  it('writes arrays, tuples, literals, nested objects and records', () => {
    const schema = params({
      stops: z.array(z.object({ at: z.number(), colour: z.string() })),
      size: z.tuple([z.number(), z.number()]),
      mode: z.literal('fast'),
      labels: z.record(z.string(), z.number()),
      either: z.union([z.number(), z.array(z.string())]),
    });
    expect(typeOf(schema)).toBe(
      '{ stops: { at: number; colour: string; }[]; size: [ number, number ]; mode: "fast"; ' +
        'labels: { [key: string]: number; }; either: number | string[]; }',
    );
  });

  it('follows $refs and stops at a schema that refers to itself', () => {
    const node: z.ZodType = z.lazy(() => z.object({ children: z.array(node) }));
    expect(typeOf(params({ tree: node }))).toMatch(/^\{ tree: \{ children: .*\[\]; \}; \}$/);
    expect(
      typeOf({
        type: 'object',
        properties: { a: { $ref: '#/$defs/Point' } },
        required: ['a'],
        $defs: { Point: { type: 'object', properties: { x: { type: 'number' } }, required: ['x'] } },
      }),
    ).toBe('{ a: { x: number; }; }');
  });

  it('says which field it cannot type', () => {
    expect(() => typeOf({ type: 'object', properties: { when: { type: 'date' } } })).toThrow(
      'acme:test.when: JSON Schema type "date" is not one a client can be typed with',
    );
    expect(() => typeOf({ $ref: '#/$defs/Nope' })).toThrow(
      "cannot resolve $ref #/$defs/Nope in acme:test's schema",
    );
  });
});
