import { z } from 'zod';

/** Where something sits in a frame: a corner, the middle of an edge, or the centre. See {@link place}. */
export const GRAVITIES = [
  'center',
  'top',
  'bottom',
  'left',
  'right',
  'top-left',
  'top-right',
  'bottom-left',
  'bottom-right',
] as const;

/** One of {@link GRAVITIES}. */
export type Gravity = (typeof GRAVITIES)[number];

/**
 * A gravity parameter (see {@link GRAVITIES}), described for forms and OpenAPI.
 *
 * @example
 * z.object({ gravity: gravityParam('Where the mark goes.').default('bottom-right') })
 */
export function gravityParam(description: string): z.ZodEnum<{ [K in Gravity]: K }> {
  return z.enum(GRAVITIES).describe(description);
}

/**
 * sharp's name for a gravity, as `resize({ position })` takes it.
 *
 * @example
 * sharp().resize(800, 600, { fit: 'cover', position: sharpPosition(params.position) });
 */
export function sharpPosition(gravity: Gravity): string {
  switch (gravity) {
    case 'center':
      return 'centre';
    case 'top':
    case 'bottom':
    case 'left':
    case 'right':
      return gravity;
    case 'top-left':
      return 'left top';
    case 'top-right':
      return 'right top';
    case 'bottom-left':
      return 'left bottom';
    case 'bottom-right':
      return 'right bottom';
  }
}

/**
 * Top-left corner of a `w` x `h` box placed in a `W` x `H` frame by `gravity`, `margin` pixels
 * from the edges it is pulled to, kept inside the frame.
 *
 * @example
 * place('bottom-right', 1000, 800, 200, 50, 10); // { left: 790, top: 740 }
 */
export function place(
  gravity: Gravity,
  W: number,
  H: number,
  w: number,
  h: number,
  margin: number,
): { left: number; top: number } {
  const horizontal = gravity.endsWith('left') ? 'start' : gravity.endsWith('right') ? 'end' : 'middle';
  const vertical = gravity.startsWith('top') ? 'start' : gravity.startsWith('bottom') ? 'end' : 'middle';
  const at = (side: 'start' | 'middle' | 'end', outer: number, inner: number): number => {
    const pos = side === 'start' ? margin : side === 'end' ? outer - inner - margin : (outer - inner) / 2;
    return Math.max(0, Math.min(outer - inner, Math.round(pos)));
  };
  return { left: at(horizontal, W, w), top: at(vertical, H, h) };
}
