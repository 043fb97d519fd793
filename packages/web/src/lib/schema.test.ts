import { describe, expect, it } from 'vitest';
import { changedFrom, fieldsOf, humanize, niceStep, toColorInput } from './schema.ts';

describe('fieldsOf: a JSON Schema becomes form fields', () => {
  it('maps each kind of parameter the SDK produces to its widget', () => {
    const fields = fieldsOf({
      type: 'object',
      properties: {
        edgeStrength: { type: 'number', minimum: 0, maximum: 1, default: 0.7, description: 'How dark.' },
        levels: { type: 'integer', minimum: 2, maximum: 32, default: 8 },
        flat: { type: 'number', minimum: 0, maximum: 1_000_000, default: 1 },
        palette: { type: 'string', enum: ['warhol', 'neon'], default: 'warhol' },
        halftone: { type: 'boolean', default: false },
        gutterColor: { type: 'string', pattern: '^#(?:[0-9a-f]{3}|[0-9a-f]{6})$', default: '#ffffff' },
        text: { type: 'string', maxLength: 200, default: '' },
        width: { anyOf: [{ type: 'integer', minimum: 1, maximum: 16383 }, { type: 'null' }], default: null },
        points: { type: 'array', default: [] },
      },
    });
    expect(fields.map((f) => [f.name, f.kind])).toEqual([
      ['edgeStrength', 'range'],
      ['levels', 'range'],
      ['flat', 'number'],
      ['palette', 'select'],
      ['halftone', 'checkbox'],
      ['gutterColor', 'color'],
      ['text', 'text'],
      ['width', 'number'],
      ['points', 'unsupported'],
    ]);
    expect(fields[0]).toMatchObject({
      label: 'Edge strength',
      description: 'How dark.',
      min: 0,
      max: 1,
      step: 0.01,
    });
    expect(fields[1]).toMatchObject({ step: 1 });
    expect(fields[7]).toMatchObject({ nullable: true, min: 1, max: 16383, step: 1 });
    expect(fields[3]).toMatchObject({ options: ['warhol', 'neon'] });
  });

  it('takes a title over the humanized name, and reads an empty schema as no fields', () => {
    expect(fieldsOf({ properties: { a: { type: 'boolean', title: 'Mirror' } } })[0]?.label).toBe('Mirror');
    expect(fieldsOf({ type: 'object', properties: {} })).toEqual([]);
    expect(fieldsOf({})).toEqual([]);
  });
});

describe('helpers', () => {
  it('humanizes camelCase, snake_case and kebab-case names', () => {
    expect(humanize('lineSoftness')).toBe('Line softness');
    expect(humanize('dot_size')).toBe('Dot size');
    expect(humanize('edge-darkening')).toBe('Edge darkening');
  });
  it('picks slider steps of about a hundredth of the range', () => {
    expect(niceStep(0, 1, false)).toBe(0.01);
    expect(niceStep(0.5, 5, false)).toBe(0.05);
    expect(niceStep(-360, 360, false)).toBe(10);
    expect(niceStep(1, 12, false)).toBe(0.2);
    expect(niceStep(2, 32, true)).toBe(1);
  });
  it('turns any hex colour into the #rrggbb a colour input takes', () => {
    expect(toColorInput('#fff')).toBe('#ffffff');
    expect(toColorInput('#12345678')).toBe('#123456');
    expect(toColorInput('#ABCDEF')).toBe('#abcdef');
    expect(toColorInput('red')).toBe('#000000');
  });
  it('sends only the parameters that differ from the defaults', () => {
    expect(changedFrom({ a: 1, b: 2, c: [1] }, { a: 1, b: 3, c: [1] })).toEqual({ b: 2 });
  });
});
