import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { hexColor, parseHexColor, sharpColor } from './color-param.ts';
import type { Rgba } from './color-param.ts';

describe('hexColor', () => {
  const schema = z.object({ fill: hexColor('Fill colour').default('#000') });

  it('accepts the four CSS hex forms and describes itself', () => {
    for (const fill of ['#abc', '#abcd', '#aabbcc', '#AABBCC80'])
      expect(schema.parse({ fill }).fill).toBe(fill);
    expect(schema.parse({}).fill).toBe('#000');
    expect(z.toJSONSchema(schema).properties?.['fill']).toMatchObject({
      description: 'Fill colour (#rgb, #rgba, #rrggbb or #rrggbbaa).',
    });
  });

  it('is typed as a string for callers and an Rgba once parsed', () => {
    expectTypeOf<z.input<typeof schema>>().toEqualTypeOf<{ fill?: string | undefined }>();
    expectTypeOf(parseHexColor).returns.toEqualTypeOf<Rgba>();
  });

  it('refuses anything else', () => {
    for (const fill of ['red', '#ab', '#abcde', 'aabbcc', '#gggggg', '#aabbccdde'])
      expect(schema.safeParse({ fill }).success).toBe(false);
  });
});

describe('parseHexColor and sharpColor', () => {
  it('expand short forms and default alpha to opaque', () => {
    expect(parseHexColor('#f80')).toEqual({ r: 255, g: 136, b: 0, alpha: 255 });
    expect(parseHexColor('#f808')).toEqual({ r: 255, g: 136, b: 0, alpha: 136 });
    expect(parseHexColor('#ff880080')).toEqual({ r: 255, g: 136, b: 0, alpha: 128 });
    expect(sharpColor('#ff880080')).toEqual({ r: 255, g: 136, b: 0, alpha: 128 / 255 });
  });

  it('throw on a string the schema would have refused', () => {
    expect(() => parseHexColor('orange')).toThrow(/not a hex colour/);
  });
});
