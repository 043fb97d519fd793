import { lumaRgbSimd } from './simd.ts';

/** Rec. 601 luma weights in 1/256ths, the same as libvips' and OpenCV's RGB to grey. */
export const LUMA_R = 77;
export const LUMA_G = 150;
export const LUMA_B = 29;

/**
 * Luma (Rec. 601, `0.299 R + 0.587 G + 0.114 B`) of interleaved 8-bit RGB pixels, as 8-bit grey.
 *
 * @param rgb - interleaved samples, `channels` per pixel (3 or 4; extra channels are ignored).
 * @param out - one byte per pixel; allocated when omitted.
 * @returns `out`.
 *
 * @example
 * const grey = lumaPlane(image.data, image.width * image.height);
 */
export function lumaPlane(
  rgb: Uint8Array,
  pixels: number,
  channels = 3,
  out: Uint8Array = new Uint8Array(pixels),
): Uint8Array {
  if (channels < 3) throw new Error('lumaPlane: needs at least 3 channels');
  if (rgb.length < pixels * channels) throw new Error('lumaPlane: source too small');
  // A constant stride lets V8 keep the loop tight: RGB, the usual case, runs about 2.5x faster.
  if (channels === 3) return lumaRgb(rgb, pixels, out);
  for (let i = 0, j = 0; i < pixels; i++, j += channels) {
    out[i] = (rgb[j]! * LUMA_R + rgb[j + 1]! * LUMA_G + rgb[j + 2]! * LUMA_B + 128) >> 8;
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** Planes of at least this many pixels take their luma from {@link lumaRgbSimd}. */
const SIMD_PIXELS = 4096;

function lumaRgb(rgb: Uint8Array, pixels: number, out: Uint8Array): Uint8Array {
  // With WebAssembly SIMD, 16 pixels at a time (the same bytes).
  if (pixels >= SIMD_PIXELS && lumaRgbSimd(rgb, pixels, out)) return out;
  let i = 0;
  // Four pixels at a time, as three 32-bit words in and one out, when both are word-aligned.
  if (LITTLE_ENDIAN && rgb.byteOffset % 4 === 0 && out.byteOffset % 4 === 0 && pixels >= 4) {
    const groups = pixels >> 2;
    const src = new Uint32Array(rgb.buffer, rgb.byteOffset, groups * 3);
    const dst = new Uint32Array(out.buffer, out.byteOffset, groups);
    // In chunks: a function called many times is compiled whole early, where one call over a
    // whole photo would run much of its loop in tiers that box every word above 2^30.
    for (let g = 0; g < groups; g += LUMA_CHUNK) lumaRgbWords(src, dst, g, Math.min(groups, g + LUMA_CHUNK));
    i = groups * 4;
  }
  for (let j = i * 3; i < pixels; i++, j += 3) {
    out[i] = (rgb[j]! * LUMA_R + rgb[j + 1]! * LUMA_G + rgb[j + 2]! * LUMA_B + 128) >> 8;
  }
  return out;
}

/** Groups of four pixels per call of {@link lumaRgbWords}. */
const LUMA_CHUNK = 1024;

/** Little-endian words: `R0 G0 B0 R1`, `G1 B1 R2 G2`, `B2 R3 G3 B3` in, four lumas out; groups `g` to `end - 1`. */
function lumaRgbWords(src: Uint32Array, dst: Uint32Array, g: number, end: number): void {
  for (let j = g * 3; g < end; g++, j += 3) {
    const a = src[j]!;
    const b = src[j + 1]!;
    const c = src[j + 2]!;
    const y0 = ((a & 255) * LUMA_R + ((a >>> 8) & 255) * LUMA_G + ((a >>> 16) & 255) * LUMA_B + 128) >> 8;
    const y1 = ((a >>> 24) * LUMA_R + (b & 255) * LUMA_G + ((b >>> 8) & 255) * LUMA_B + 128) >> 8;
    const y2 = (((b >>> 16) & 255) * LUMA_R + (b >>> 24) * LUMA_G + (c & 255) * LUMA_B + 128) >> 8;
    const y3 = (((c >>> 8) & 255) * LUMA_R + ((c >>> 16) & 255) * LUMA_G + (c >>> 24) * LUMA_B + 128) >> 8;
    dst[g] = y0 | (y1 << 8) | (y2 << 16) | (y3 << 24);
  }
}

/**
 * Luma of three float planes (any common scale), written to `out`.
 *
 * @returns `out`.
 */
export function lumaOfPlanes(
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  out: Float32Array = new Float32Array(r.length),
): Float32Array {
  const n = Math.min(r.length, g.length, b.length, out.length);
  for (let i = 0; i < n; i++) out[i] = 0.299 * r[i]! + 0.587 * g[i]! + 0.114 * b[i]!;
  return out;
}

/** sRGB-encoded value (0..1) to linear light (0..1), IEC 61966-2-1. */
export function srgbToLinear(v: number): number {
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

/** Linear light (0..1) to sRGB-encoded value (0..1), IEC 61966-2-1. */
export function linearToSrgb(v: number): number {
  return v <= 0.0031308 ? v * 12.92 : 1.055 * v ** (1 / 2.4) - 0.055;
}

/**
 * A 256-entry table that maps an 8-bit value through `fn` (given and returning 0..1), rounded
 * and clamped back to 8 bits. Per-pixel curves (tone, gamma, levels) are then one lookup.
 *
 * @example
 * const gamma = lut8((v) => v ** 0.8);
 * for (let i = 0; i < n; i++) out[i] = gamma[src[i]!]!;
 */
export function lut8(fn: (value: number) => number): Uint8Array {
  const lut = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    const v = Math.round(fn(i / 255) * 255);
    lut[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return lut;
}

/**
 * An sRGB colour (each channel 0–255) as hue (degrees, 0 to below 360; 0 for greys), saturation
 * and value (0–1), the hexcone model of Smith 1978 that CSS and most editors use.
 *
 * @example
 * rgbToHsv(255, 128, 0); // [30.1, 1, 1]
 */
export function rgbToHsv(r: number, g: number, b: number): [hue: number, saturation: number, value: number] {
  const max = Math.max(r, g, b);
  const d = max - Math.min(r, g, b);
  let hue = 0;
  if (d > 0) {
    if (max === r) hue = 60 * (((g - b) / d + 6) % 6);
    else if (max === g) hue = 60 * ((b - r) / d + 2);
    else hue = 60 * ((r - g) / d + 4);
  }
  return [hue, max === 0 ? 0 : d / max, max / 255];
}

/**
 * Hue (degrees, any value: it wraps), saturation and value (0–1) back to sRGB, each channel
 * rounded to 0–255. The inverse of {@link rgbToHsv} up to rounding.
 *
 * @example
 * hsvToRgb(200, 0.5, 1); // [128, 212, 255]
 */
export function hsvToRgb(hue: number, saturation: number, value: number): [r: number, g: number, b: number] {
  const hh = (((hue % 360) + 360) % 360) / 60;
  const c = value * saturation;
  const x = c * (1 - Math.abs((hh % 2) - 1));
  const m = value - c;
  const [r, g, b] =
    hh < 1
      ? [c, x, 0]
      : hh < 2
        ? [x, c, 0]
        : hh < 3
          ? [0, c, x]
          : hh < 4
            ? [0, x, c]
            : hh < 5
              ? [x, 0, c]
              : [c, 0, x];
  return [Math.round((r + m) * 255), Math.round((g + m) * 255), Math.round((b + m) * 255)];
}
