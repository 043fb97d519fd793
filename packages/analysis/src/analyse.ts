// One decode, every measure: the analysis of an uploaded image.
import sharp from 'sharp';
import { AtelierError, DEFAULT_LIMITS, inspectInput } from '@atelier/core';
import type { PlanLimits } from '@atelier/core';
import { blurhashOf } from './blurhash.ts';
import { exifSummary } from './exif-summary.ts';
import type { ExifSummary } from './exif-summary.ts';
import { palette } from './palette.ts';
import type { PaletteColour } from './palette.ts';
import { dhash, hashBands, phash } from './perceptual-hash.ts';
import { brightnessOf, resizeRgb } from './pixels.ts';
import type { RgbPixels } from './pixels.ts';

/**
 * The version of what {@link analyseImage} computes. Bump it when an algorithm changes: rows of an
 * older version are analysed again by `atelier analyse --all`.
 */
export const ANALYSIS_VERSION = 1;

/** Side of the square working image every measure is computed from. */
export const WORKING_SIZE = 64;

/** What the analysis found in an image. */
export interface ImageAnalysis {
  readonly version: number;
  /** Size as displayed (EXIF orientation applied). */
  readonly width: number;
  readonly height: number;
  /** width / height. */
  readonly aspect: number;
  /** Mean luma (BT.709 weights on the sRGB values), 0..1. */
  readonly brightness: number;
  /** Unsigned 64-bit pHash (DCT). */
  readonly phash: bigint;
  /** Unsigned 64-bit dHash (gradient). */
  readonly dhash: bigint;
  /** The pHash's four 16-bit bands, most significant first. */
  readonly phashBands: readonly [number, number, number, number];
  readonly blurhash: string;
  /** Up to 5 dominant colours, heaviest first, weights summing to 1. */
  readonly palette: readonly PaletteColour[];
  readonly exif: ExifSummary;
}

/** Options of {@link analyseImage}. */
export interface AnalyseOptions {
  /** Byte, pixel and format limits, as on upload. @default DEFAULT_LIMITS */
  readonly limits?: Partial<PlanLimits>;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? message).replace(/\.$/, '');
}

/** Side of the thumbnail the BlurHash is encoded from (its cost grows with the pixels). */
const BLURHASH_SIZE = 32;

/** Every measure of the working pixels (64×64 sRGB): pure, no I/O. */
export function measure(
  pixels: RgbPixels,
): Pick<ImageAnalysis, 'brightness' | 'phash' | 'dhash' | 'phashBands' | 'blurhash' | 'palette'> {
  const hash = phash(pixels);
  return {
    brightness: brightnessOf(pixels),
    phash: hash,
    dhash: dhash(pixels),
    phashBands: hashBands(hash),
    blurhash: blurhashOf(
      pixels.width > BLURHASH_SIZE || pixels.height > BLURHASH_SIZE
        ? resizeRgb(pixels, Math.min(pixels.width, BLURHASH_SIZE), Math.min(pixels.height, BLURHASH_SIZE))
        : pixels,
    ),
    palette: palette(pixels),
  };
}

/**
 * Analyses an image file: checks it as an upload is checked (`IMAGE_EMPTY`, `IMAGE_TOO_LARGE`,
 * `IMAGE_FORMAT_UNSUPPORTED`, `IMAGE_TOO_MANY_PIXELS`, `IMAGE_CORRUPT`), decodes it once with
 * sharp straight to a 64×64 working image (JPEG and WebP shrink while decoding; EXIF orientation
 * applied, transparency flattened onto white), and computes every measure from those pixels.
 *
 * @example
 * const found = await analyseImage(await readFile('photo.jpg'));
 * found.palette[0]?.hex; // the dominant colour
 */
export async function analyseImage(bytes: Uint8Array, options: AnalyseOptions = {}): Promise<ImageAnalysis> {
  const limits: PlanLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const info = await inspectInput(bytes, limits);
  let pixels: RgbPixels;
  let exifBlock: Uint8Array | undefined;
  try {
    const image = sharp(bytes, {
      limitInputPixels: limits.maxInputPixels,
      failOn: 'error',
      page: 0,
      pages: 1,
    });
    exifBlock = (await image.metadata()).exif;
    const { data, info: out } = await image
      .autoOrient()
      .resize(WORKING_SIZE, WORKING_SIZE, { fit: 'fill' })
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (out.channels !== 3) throw new Error(`unexpected ${out.channels} channels after conversion to sRGB`);
    pixels = {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: out.width,
      height: out.height,
    };
  } catch (error) {
    throw new AtelierError(
      'IMAGE_CORRUPT',
      `The ${info.format.toUpperCase()} file cannot be decoded: ${firstLine(error)}.`,
      { cause: error },
    );
  }
  const swap = info.orientation >= 5 && info.orientation <= 8;
  const width = swap ? info.height : info.width;
  const height = swap ? info.width : info.height;
  return {
    version: ANALYSIS_VERSION,
    width,
    height,
    aspect: width / height,
    ...measure(pixels),
    exif: exifSummary(exifBlock, info.orientation),
  };
}
