import { readFile } from 'node:fs/promises';
import { imageSize } from 'image-size';
import sharp from 'sharp';
import type { Metadata, Sharp } from 'sharp';
import { AtelierError } from './errors.ts';
import { DEFAULT_LIMITS } from './plan.ts';
import type { InputFormat, OutputFormat, PlanLimits, PlanOutput } from './plan.ts';
import type { ImageSize, RawImage } from './plugin.ts';

/** What the engine learnt about an input before decoding it (header only). */
export interface InputInfo {
  readonly format: InputFormat;
  readonly bytes: number;
  /** Width and height as stored, before EXIF orientation. */
  readonly width: number;
  readonly height: number;
  /** Frames or pages in the file; only the first is used. */
  readonly pages: number;
  /** True when the file has more than one frame and only the first was used. */
  readonly firstFrameOnly: boolean;
  readonly orientation: number;
  readonly space: string;
  readonly depth: string;
  readonly hasAlpha: boolean;
}

const startsWith = (b: Uint8Array, sig: readonly number[], at = 0): boolean =>
  b.length >= at + sig.length && sig.every((v, i) => b[at + i] === v);
const ascii = (b: Uint8Array, at: number, len: number): string =>
  String.fromCharCode(...b.subarray(at, at + len));

/**
 * Recognises an image format by its magic bytes, without decoding anything; `undefined` for
 * anything else. Names SVG, PDF and HEIC too (which the engine refuses), so a message can say
 * what was sent.
 *
 * @example
 * sniffImageFormat(await readFile('photo.jpg')); // 'jpeg'
 */
export function sniffImageFormat(bytes: Uint8Array): InputFormat | 'svg' | 'pdf' | 'heic' | undefined {
  if (startsWith(bytes, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return 'webp';
  if (ascii(bytes, 0, 6) === 'GIF87a' || ascii(bytes, 0, 6) === 'GIF89a') return 'gif';
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]))
    return 'tiff';
  if (ascii(bytes, 4, 4) === 'ftyp') {
    const brand = ascii(bytes, 8, 4);
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (['heic', 'heix', 'mif1', 'msf1', 'hevc'].includes(brand)) return 'heic';
  }
  if (ascii(bytes, 0, 5) === '%PDF-') return 'pdf';
  const head = ascii(bytes, 0, Math.min(bytes.length, 512)).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'svg';
  return undefined;
}

/**
 * Checks an input against the limits from its bytes and header alone, before any pixel is
 * decoded: `IMAGE_EMPTY`, `IMAGE_TOO_LARGE`, `IMAGE_FORMAT_UNSUPPORTED`, `IMAGE_CORRUPT`,
 * `IMAGE_TOO_MANY_PIXELS`.
 */
export async function inspectInput(bytes: Uint8Array, limits: PlanLimits): Promise<InputInfo> {
  if (bytes.length === 0) throw new AtelierError('IMAGE_EMPTY', 'The file is empty (0 bytes).');
  checkBytes(bytes.length, limits);
  const format = checkFormat(sniffImageFormat(bytes), limits);
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (error) {
    throw new AtelierError(
      'IMAGE_CORRUPT',
      `The ${format.toUpperCase()} file cannot be read: ${firstLine(error)}.`,
      {
        cause: error,
      },
    );
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width <= 0 || height <= 0) {
    throw new AtelierError('IMAGE_CORRUPT', `The ${format.toUpperCase()} file has no dimensions.`);
  }
  checkPixels(width, height, limits);
  const pages = meta.pages ?? 1;
  return {
    format,
    bytes: bytes.length,
    width,
    height,
    pages,
    firstFrameOnly: pages > 1,
    orientation: meta.orientation ?? 1,
    space: meta.space ?? 'srgb',
    depth: meta.depth ?? 'uchar',
    hasAlpha: meta.hasAlpha ?? false,
  };
}

/**
 * Checks an input that {@link inspectInput} read under some limits against other limits (a
 * plan's), with the same codes: `IMAGE_TOO_LARGE`, `IMAGE_FORMAT_UNSUPPORTED`,
 * `IMAGE_TOO_MANY_PIXELS`.
 */
export function checkInputInfo(info: InputInfo, limits: PlanLimits): InputInfo {
  checkBytes(info.bytes, limits);
  checkFormat(info.format, limits);
  checkPixels(info.width, info.height, limits);
  return info;
}

function checkBytes(bytes: number, limits: PlanLimits): void {
  if (bytes > limits.maxInputBytes) {
    throw new AtelierError(
      'IMAGE_TOO_LARGE',
      `The file is ${bytes} bytes; the limit is ${limits.maxInputBytes} bytes.`,
      { details: { bytes, limit: limits.maxInputBytes } },
    );
  }
}

function checkFormat(sniffed: ReturnType<typeof sniffImageFormat>, limits: PlanLimits): InputFormat {
  if (sniffed === undefined || !(limits.formats as readonly string[]).includes(sniffed)) {
    const what = sniffed === undefined ? 'not a recognised image' : `${sniffed.toUpperCase()}`;
    throw new AtelierError(
      'IMAGE_FORMAT_UNSUPPORTED',
      `The file is ${what}; accepted formats: ${limits.formats.join(', ')}.`,
      { details: { detected: sniffed ?? null } },
    );
  }
  return sniffed as InputFormat;
}

function checkPixels(width: number, height: number, limits: PlanLimits): void {
  if (width * height > limits.maxInputPixels) {
    throw new AtelierError(
      'IMAGE_TOO_MANY_PIXELS',
      `The image is ${width}x${height} (${width * height} pixels); the limit is ${limits.maxInputPixels} pixels.`,
      { details: { width, height, limit: limits.maxInputPixels } },
    );
  }
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? message).replace(/\.$/, '');
}

/**
 * Width and height from an image's header alone (PNG, JPEG, WebP, GIF, AVIF, TIFF and more, read
 * by image-size), synchronously and without decoding a pixel; `undefined` when the header cannot
 * be read. The size is as stored, before EXIF orientation. Made for parameter schemas, which run
 * synchronously: e.g. to refuse an embedded image that would unpack into too many pixels.
 *
 * @example
 * const size = readImageSize(bytes);
 * if (!size || size.width * size.height > 25_000_000) ctx.addIssue({ code: 'custom', message: 'too large' });
 */
export function readImageSize(bytes: Uint8Array): ImageSize | undefined {
  try {
    const { width, height } = imageSize(bytes);
    return width > 0 && height > 0 ? { width, height } : undefined;
  } catch {
    return undefined; // a header image-size cannot read
  }
}

/** The engine's decoder: first frame, EXIF orientation applied, damaged data refused. */
function decoder(bytes: Uint8Array, limits: PlanLimits): Sharp {
  return sharp(bytes, {
    limitInputPixels: limits.maxInputPixels,
    failOn: 'error',
    page: 0,
    pages: 1,
    sequentialRead: true,
  }).autoOrient();
}

async function toRaw(pipeline: Sharp): Promise<RawImage> {
  const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    width: info.width,
    height: info.height,
    channels: info.channels as RawImage['channels'],
  };
}

/**
 * Decodes the first frame to 8-bit sRGB pixels (3 channels, or 4 with alpha), applying EXIF
 * orientation and converting CMYK, grey, palette and 16-bit images. Truncated or damaged files
 * give `IMAGE_CORRUPT`.
 */
export async function decodeImage(bytes: Uint8Array, info: InputInfo, limits: PlanLimits): Promise<RawImage> {
  try {
    const image = await toRaw(decoder(bytes, limits).toColourspace('srgb'));
    if (image.channels !== 3 && image.channels !== 4) {
      throw new Error(`unexpected ${image.channels} channels after conversion to sRGB`);
    }
    return image;
  } catch (error) {
    throw new AtelierError(
      'IMAGE_CORRUPT',
      `The ${info.format.toUpperCase()} file cannot be decoded: ${firstLine(error)}.`,
      { cause: error },
    );
  }
}

/** Options of {@link loadImage}. */
export interface LoadImageOptions {
  /** Resize to this width (height in proportion) after decoding. @default the image's own width */
  readonly width?: number;
  /**
   * Channels of the result: 1 grey (luma), 3 RGB (alpha dropped), 4 RGBA (opaque alpha added when
   * the image has none).
   * @default what the engine decodes: 4 with alpha, else 3
   */
  readonly channels?: 1 | 3 | 4;
}

/**
 * Loads an image file (a path or `file:` URL) or its bytes as raw pixels, decoded exactly as the
 * engine decodes a job's input (first frame, EXIF orientation applied, 8-bit sRGB), for tests and
 * tools: `runStep(plugin, await loadImage('photo.jpg'), params)`. Fails with the engine's codes:
 * `INPUT_NOT_FOUND` for a file that cannot be read, `IMAGE_*` for what is not a usable image.
 *
 * @example
 * import { loadImage, runStep } from '@atelier/core';
 *
 * const image = await loadImage(new URL('./fixtures/photo.jpg', import.meta.url), { width: 640 });
 * const out = await runStep(myPlugin, image, { strength: 0.5 });
 */
export async function loadImage(
  source: string | URL | Uint8Array,
  options: LoadImageOptions = {},
): Promise<RawImage> {
  let bytes: Uint8Array;
  if (source instanceof Uint8Array) bytes = source;
  else {
    try {
      bytes = await readFile(source);
    } catch (error) {
      throw new AtelierError('INPUT_NOT_FOUND', `Cannot read ${String(source)}: ${firstLine(error)}.`, {
        cause: error,
        details: { path: String(source) },
      });
    }
  }
  const info = await inspectInput(bytes, DEFAULT_LIMITS);
  let pipeline = decoder(bytes, DEFAULT_LIMITS);
  if (options.width !== undefined) pipeline = pipeline.resize({ width: options.width });
  switch (options.channels) {
    case 1:
      pipeline = pipeline.removeAlpha().greyscale();
      break;
    case 3:
      pipeline = pipeline.removeAlpha().toColourspace('srgb');
      break;
    case 4:
      pipeline = pipeline.ensureAlpha(1).toColourspace('srgb');
      break;
    case undefined:
      pipeline = pipeline.toColourspace('srgb');
      break;
  }
  try {
    return await toRaw(pipeline);
  } catch (error) {
    throw new AtelierError(
      'IMAGE_CORRUPT',
      `The ${info.format.toUpperCase()} file cannot be decoded: ${firstLine(error)}.`,
      { cause: error },
    );
  }
}

/**
 * The longest side each output format holds: the limits of the formats' headers, as sharp checks
 * them (after the whole pipeline has run). A thin strip, say a 32x50000 GIF, decodes and styles
 * within the pixel limit and still cannot be written as WebP or AVIF.
 */
const MAX_OUTPUT_SIDE: Readonly<Record<OutputFormat, number>> = {
  jpeg: 65535,
  png: 2 ** 31 - 1,
  webp: 16383,
  avif: 16384,
};

/** Options of {@link encodeImage}. */
export interface EncodeOptions {
  /**
   * Encode for time rather than size, as for a preview that is shown once: JPEG without Huffman
   * optimisation (its second pass over every coefficient took 1.4 of 3 ms for a 512x320 preview
   * on the bench machine, for 1-5 % fewer bytes). Same pixels either way. Other formats ignore it.
   * @default false
   */
  readonly fast?: boolean;
}

/**
 * Encodes pixels in the plan's output format; JPEG output is flattened onto white. An image wider
 * or taller than the format holds gives `OUTPUT_TOO_LARGE_FOR_FORMAT`, before any encoding.
 */
export async function encodeImage(
  image: RawImage,
  output: PlanOutput,
  options: EncodeOptions = {},
): Promise<Uint8Array> {
  const maxSide = MAX_OUTPUT_SIDE[output.format];
  if (image.width > maxSide || image.height > maxSide) {
    throw new AtelierError(
      'OUTPUT_TOO_LARGE_FOR_FORMAT',
      `The result is ${image.width}x${image.height}; ${output.format.toUpperCase()} holds at most ${maxSide} pixels a side.`,
      { details: { width: image.width, height: image.height, format: output.format, maxSide } },
    );
  }
  let pipeline = sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: image.channels },
  });
  if (!output.stripMetadata) pipeline = pipeline.withIccProfile('srgb');
  switch (output.format) {
    case 'jpeg':
      pipeline = pipeline
        .flatten({ background: '#ffffff' })
        // Huffman optimisation needs a second pass over a buffer of every coefficient (about 6
        // bytes a pixel); above 8 MP one pass keeps memory flat at a cost of a few percent in size.
        .jpeg({
          quality: output.quality,
          mozjpeg: false,
          optimiseCoding: !options.fast && image.width * image.height <= 8_000_000,
        });
      break;
    case 'png':
      pipeline = pipeline.png({ compressionLevel: 6, adaptiveFiltering: false });
      break;
    case 'webp':
      pipeline = pipeline.webp({ quality: output.quality, effort: 4 });
      break;
    case 'avif':
      pipeline = pipeline.avif({ quality: output.quality, effort: 3 });
      break;
  }
  const buffer = await pipeline.toBuffer();
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
