import { z } from 'zod';

/** An sRGB colour with alpha, each channel 0–255. */
export interface Rgba {
  readonly r: number;
  readonly g: number;
  readonly b: number;
  readonly alpha: number;
}

const HEX = /^#(?:[0-9a-f]{3}|[0-9a-f]{4}|[0-9a-f]{6}|[0-9a-f]{8})$/i;

/**
 * A CSS hex colour parameter: `#rgb`, `#rgba`, `#rrggbb` or `#rrggbbaa`. Kept as the string the
 * caller sent, so plans stay readable; {@link parseHexColor} turns it into numbers.
 *
 * @example
 * z.object({ background: hexColor('Fill colour').default('#000000') })
 */
export function hexColor(description: string): z.ZodString {
  return z
    .string()
    .regex(HEX, 'must be a hex colour such as "#ff8800" or "#ff880080"')
    .describe(`${description} (#rgb, #rgba, #rrggbb or #rrggbbaa).`);
}

/**
 * Parses a colour already checked by {@link hexColor}; throws a plain `Error` on anything else
 * (a programmer mistake: the schema has already refused bad input).
 *
 * @example
 * parseHexColor('#ff880080'); // { r: 255, g: 136, b: 0, alpha: 128 }
 */
export function parseHexColor(hex: string): Rgba {
  if (!HEX.test(hex)) throw new Error(`not a hex colour: ${hex}`);
  let digits = hex.slice(1);
  if (digits.length <= 4) digits = [...digits].map((d) => d + d).join('');
  const n = (i: number): number => Number.parseInt(digits.slice(i, i + 2), 16);
  return { r: n(0), g: n(2), b: n(4), alpha: digits.length === 8 ? n(6) : 255 };
}

/**
 * The same colour in the shape sharp takes (`alpha` from 0 to 1).
 *
 * @example
 * sharp().rotate(30, { background: sharpColor(params.background) });
 */
export function sharpColor(hex: string): { r: number; g: number; b: number; alpha: number } {
  const c = parseHexColor(hex);
  return { r: c.r, g: c.g, b: c.b, alpha: c.alpha / 255 };
}
