import sharp from 'sharp';
import type { Metadata } from 'sharp';
import { AtelierError } from './errors.ts';
import type { InputFormat, OutputFormat, PlanLimits, PlanOutput } from './plan.ts';
import type { RawImage } from './plugin.ts';

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
 * Recognises an image format by its magic bytes; `undefined` for anything else. Names SVG and
 * PDF so the error can say what was refused.
 */
function sniffFormat(bytes: Uint8Array): InputFormat | 'svg' | 'pdf' | 'heic' | undefined {
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
  if (bytes.length > limits.maxInputBytes) {
    throw new AtelierError(
      'IMAGE_TOO_LARGE',
      `The file is ${bytes.length} bytes; the limit is ${limits.maxInputBytes} bytes.`,
      { details: { bytes: bytes.length, limit: limits.maxInputBytes } },
    );
  }
  const sniffed = sniffFormat(bytes);
  if (sniffed === undefined || !(limits.formats as readonly string[]).includes(sniffed)) {
    const what = sniffed === undefined ? 'not a recognised image' : `${sniffed.toUpperCase()}`;
    throw new AtelierError(
      'IMAGE_FORMAT_UNSUPPORTED',
      `The file is ${what}; accepted formats: ${limits.formats.join(', ')}.`,
      { details: { detected: sniffed ?? null } },
    );
  }
  const format = sniffed as InputFormat;
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
  if (width * height > limits.maxInputPixels) {
    throw new AtelierError(
      'IMAGE_TOO_MANY_PIXELS',
      `The image is ${width}x${height} (${width * height} pixels); the limit is ${limits.maxInputPixels} pixels.`,
      { details: { width, height, limit: limits.maxInputPixels } },
    );
  }
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

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return (message.split('\n')[0] ?? message).replace(/\.$/, '');
}

/**
 * Decodes the first frame to 8-bit sRGB pixels (3 channels, or 4 with alpha), applying EXIF
 * orientation and converting CMYK, grey, palette and 16-bit images. Truncated or damaged files
 * give `IMAGE_CORRUPT`.
 */
export async function decodeImage(bytes: Uint8Array, info: InputInfo, limits: PlanLimits): Promise<RawImage> {
  try {
    const { data, info: out } = await sharp(bytes, {
      limitInputPixels: limits.maxInputPixels,
      failOn: 'error',
      page: 0,
      pages: 1,
      sequentialRead: true,
    })
      .autoOrient()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const channels = out.channels as RawImage['channels'];
    if (channels !== 3 && channels !== 4) {
      throw new Error(`unexpected ${channels} channels after conversion to sRGB`);
    }
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      width: out.width,
      height: out.height,
      channels,
    };
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

/**
 * Encodes pixels in the plan's output format; JPEG output is flattened onto white. An image wider
 * or taller than the format holds gives `OUTPUT_TOO_LARGE_FOR_FORMAT`, before any encoding.
 */
export async function encodeImage(image: RawImage, output: PlanOutput): Promise<Uint8Array> {
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
          optimiseCoding: image.width * image.height <= 8_000_000,
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
