import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { GRAVITIES, gravityParam, place, sharpPosition } from './gravity.ts';
import type { Gravity } from './gravity.ts';

describe('gravity', () => {
  const schema = z.object({ at: gravityParam('Where.').default('center') });

  it('is a described enum parameter of the nine positions', () => {
    expect(schema.parse({}).at).toBe('center');
    expect(schema.safeParse({ at: 'middle' }).success).toBe(false);
    expect(z.toJSONSchema(schema).properties?.['at']).toMatchObject({
      description: 'Where.',
      enum: [...GRAVITIES],
    });
  });

  it("maps every gravity to sharp's position names", () => {
    expect(GRAVITIES.map(sharpPosition)).toEqual([
      'centre',
      'top',
      'bottom',
      'left',
      'right',
      'left top',
      'right top',
      'left bottom',
      'right bottom',
    ]);
  });

  it('places a box at its gravity, the margin from the edges it is pulled to, inside the frame', () => {
    expect(place('top-left', 1000, 800, 200, 50, 10)).toEqual({ left: 10, top: 10 });
    expect(place('bottom-right', 1000, 800, 200, 50, 10)).toEqual({ left: 790, top: 740 });
    expect(place('center', 1000, 800, 200, 50, 10)).toEqual({ left: 400, top: 375 });
    expect(place('top', 1000, 800, 201, 50, 0)).toEqual({ left: 400, top: 0 });
    expect(place('right', 1000, 800, 200, 50, 30)).toEqual({ left: 770, top: 375 });
    // A margin or a box too large for the frame is clamped.
    expect(place('bottom-left', 100, 80, 90, 70, 50)).toEqual({ left: 10, top: 0 });
    expect(place('center', 100, 80, 300, 10, 0)).toEqual({ left: 0, top: 35 });
  });

  it('types the parameter as the union of the gravities', () => {
    expectTypeOf<z.output<typeof schema>['at']>().toEqualTypeOf<Gravity>();
    expectTypeOf<z.input<typeof schema>['at']>().toEqualTypeOf<Gravity | undefined>();
  });
});
