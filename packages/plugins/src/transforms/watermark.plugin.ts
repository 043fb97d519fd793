import {
  AtelierError,
  definePlugin,
  gravityParam,
  hexColor,
  loadCanvas,
  parseHexColor,
  place,
  readImageSize,
  runPipeline,
  sniffImageFormat,
  z,
} from '@atelier/core';
import type {
  CanvasContext2D,
  CanvasImage,
  CanvasLib,
  ImageSize,
  OverlayOptions,
  RawImage,
} from '@atelier/core';

/** Largest watermark image, decoded from its data URL. */
const MAX_WATERMARK_BYTES = 1024 * 1024;
/** Largest watermark image in pixels once decoded, so a small file cannot unpack into gigabytes. */
const MAX_WATERMARK_PIXELS = 25_000_000;
const DATA_URL = /^data:image\/(png|jpeg|webp);base64,([A-Za-z0-9+/]*={0,2})$/;
const MAX_DATA_URL_CHARS = 'data:image/webp;base64,'.length + Math.ceil(MAX_WATERMARK_BYTES / 3) * 4;

/**
 * Width and height from a PNG, JPEG or WebP header (without decoding), if the bytes are a file of
 * `type` and the header is readable; undefined otherwise.
 */
export function imageSize(b: Uint8Array, type: 'png' | 'jpeg' | 'webp'): ImageSize | undefined {
  return sniffImageFormat(b) === type ? readImageSize(b) : undefined;
}

/** Why a data URL is not an acceptable watermark image, or undefined when it is. */
function dataUrlProblem(url: string): string | undefined {
  const match = DATA_URL.exec(url);
  if (!match) {
    return 'must be a data URL of a PNG, JPEG or WebP image: "data:image/png;base64,..." (or image/jpeg, image/webp)';
  }
  const type = match[1] as 'png' | 'jpeg' | 'webp';
  const payload = match[2]!;
  if (payload.length === 0 || payload.length % 4 !== 0) return 'the base64 data is empty or truncated';
  const padding = payload.endsWith('==') ? 2 : payload.endsWith('=') ? 1 : 0;
  const bytes = (payload.length / 4) * 3 - padding;
  if (bytes > MAX_WATERMARK_BYTES) {
    return `the image is ${bytes} bytes; the limit is ${MAX_WATERMARK_BYTES} bytes (1 MiB)`;
  }
  const data = Buffer.from(payload, 'base64');
  if (sniffImageFormat(data) !== type)
    return `the data is not a ${type.toUpperCase()} file although the URL says image/${type}`;
  const size = imageSize(data, type);
  if (!size || size.width < 1 || size.height < 1) return `the ${type.toUpperCase()} header is damaged`;
  if (size.width * size.height > MAX_WATERMARK_PIXELS) {
    return `the image is ${size.width}x${size.height} pixels; the limit is ${MAX_WATERMARK_PIXELS} pixels`;
  }
  return undefined;
}

/** The parameters of {@link watermark}. */
const watermarkParams = z
  .object({
    text: z
      .string()
      .max(200)
      .default('')
      .describe('Text of the mark (up to 200 characters); use this or `image`.'),
    image: z
      .string()
      .max(MAX_DATA_URL_CHARS, 'the data URL is longer than a 1 MiB image')
      .default('')
      .describe(
        'The mark as a data URL of a PNG, JPEG or WebP image, up to 1 MiB decoded; use this or `text`.',
      ),
    font: z
      .enum(['sans-serif', 'serif', 'monospace'])
      .default('sans-serif')
      .describe('Font family of the text.'),
    bold: z.boolean().default(true).describe('Bold text.'),
    fontSize: z
      .number()
      .min(0.5)
      .max(50)
      .default(4)
      .describe('Text height (font size) in percent of the image width.'),
    color: hexColor('Text colour').default('#ffffff'),
    width: z
      .number()
      .min(1)
      .max(100)
      .default(20)
      .describe('Width of an image mark in percent of the image width.'),
    opacity: z.number().min(0).max(1).default(0.6).describe('Opacity of the mark, 0 (invisible) to 1.'),
    gravity: gravityParam('Where the mark goes; ignored when tiled.').default('bottom-right'),
    margin: z
      .number()
      .min(0)
      .max(25)
      .default(2)
      .describe('Distance from the edges in percent of the image width.'),
    angle: z.number().min(-180).max(180).default(0).describe('Clockwise rotation of the mark in degrees.'),
    tiled: z.boolean().default(false).describe('Repeat the mark across the whole image.'),
  })
  .superRefine((p, ctx) => {
    if (p.text !== '' && p.image !== '') {
      ctx.addIssue({ code: 'custom', path: ['image'], message: 'give either text or image, not both' });
    }
    if (p.text !== '' && p.text.trim() === '') {
      ctx.addIssue({ code: 'custom', path: ['text'], message: 'text is only whitespace' });
    }
    if (p.image !== '') {
      const problem = dataUrlProblem(p.image);
      if (problem) ctx.addIssue({ code: 'custom', path: ['image'], message: problem });
    }
  });

type WatermarkParams = z.output<typeof watermarkParams>;

/** A mark ready to composite: unpremultiplied RGBA with the opacity applied. */
interface Mark {
  readonly data: Buffer;
  readonly width: number;
  readonly height: number;
}

function invalid(message: string, cause?: unknown): AtelierError {
  return new AtelierError('PARAMS_INVALID', `Invalid parameters for "watermark": ${message}.`, {
    ...(cause === undefined ? {} : { cause }),
    details: { plugin: 'watermark' },
  });
}

/** The box a mark may fill: the image less the margins (or the whole image if margins leave nothing). */
function room(image: RawImage, margin: number): { width: number; height: number } {
  const width = image.width - 2 * margin;
  const height = image.height - 2 * margin;
  return width >= 1 && height >= 1 ? { width, height } : { width: image.width, height: image.height };
}

/**
 * Draws a `w` x `h` mark rotated by `angle` degrees and faded by `opacity` on a canvas just
 * large enough for it, shrunk first if it would not fit `fit`; returns its RGBA pixels.
 * `draw` paints the mark centred on the origin at the given scale.
 */
function drawMark(
  lib: CanvasLib,
  w: number,
  h: number,
  angle: number,
  opacity: number,
  fit: { width: number; height: number },
  draw: (ctx: CanvasContext2D, scale: number) => void,
): Mark {
  const rad = (angle * Math.PI) / 180;
  const cos = Math.abs(Math.cos(rad));
  const sin = Math.abs(Math.sin(rad));
  const outerW = w * cos + h * sin;
  const outerH = w * sin + h * cos;
  const scale = Math.min(1, fit.width / outerW, fit.height / outerH);
  const width = Math.max(1, Math.min(fit.width, Math.ceil(outerW * scale)));
  const height = Math.max(1, Math.min(fit.height, Math.ceil(outerH * scale)));
  const canvas = lib.createCanvas(width, height);
  const ctx = canvas.getContext('2d');
  ctx.globalAlpha = opacity;
  ctx.translate(width / 2, height / 2);
  ctx.rotate(rad);
  draw(ctx, scale);
  const pixels = ctx.getImageData(0, 0, width, height).data;
  return { data: Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), width, height };
}

/** The text mark: its ink box centred, in the text colour (whose own alpha multiplies opacity). */
function textMark(
  lib: CanvasLib,
  p: WatermarkParams,
  fontPx: number,
  fit: { width: number; height: number },
): Mark {
  const c = parseHexColor(p.color);
  const font = (px: number): string => `${p.bold ? 'bold ' : ''}${px}px ${p.font}`;
  const probe = lib.createCanvas(1, 1).getContext('2d');
  probe.font = font(fontPx);
  const m = probe.measureText(p.text);
  const pad = Math.ceil(fontPx * 0.05) + 1;
  const inkW = m.actualBoundingBoxLeft + m.actualBoundingBoxRight;
  const inkH = m.actualBoundingBoxAscent + m.actualBoundingBoxDescent;
  return drawMark(
    lib,
    inkW + 2 * pad,
    inkH + 2 * pad,
    p.angle,
    p.opacity * (c.alpha / 255),
    fit,
    (ctx, scale) => {
      ctx.font = font(fontPx * scale);
      ctx.fillStyle = `rgb(${c.r}, ${c.g}, ${c.b})`;
      // Put the ink box's centre on the origin.
      ctx.fillText(
        p.text,
        (m.actualBoundingBoxLeft - inkW / 2) * scale,
        (m.actualBoundingBoxAscent - inkH / 2) * scale,
      );
    },
  );
}

/** The image mark: decoded by the canvas library from the bytes (never from a path or URL). */
async function imageMark(
  lib: CanvasLib,
  p: WatermarkParams,
  targetWidth: number,
  fit: { width: number; height: number },
): Promise<Mark> {
  const bytes = Buffer.from(p.image.slice(p.image.indexOf(',') + 1), 'base64');
  let img: CanvasImage;
  try {
    img = await lib.loadImage(bytes);
  } catch (error) {
    throw invalid(
      `image could not be decoded (${error instanceof Error ? error.message : String(error)})`,
      error,
    );
  }
  if (img.width < 1 || img.height < 1) throw invalid('image could not be decoded (it has no pixels)');
  const w = Math.max(1, targetWidth);
  const h = Math.max(1, (w * img.height) / img.width);
  return drawMark(lib, w, h, p.angle, p.opacity, fit, (ctx, scale) => {
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(img, (-w * scale) / 2, (-h * scale) / 2, w * scale, h * scale);
  });
}

/** A tile for `tiled`: the mark with a gap of half its size on the right and below. */
function tile(mark: Mark, maxWidth: number, maxHeight: number): Mark {
  const width = Math.min(maxWidth, Math.max(mark.width, Math.round(mark.width * 1.5)));
  const height = Math.min(maxHeight, Math.max(mark.height, Math.round(mark.height * 2)));
  if (width === mark.width && height === mark.height) return mark;
  const data = Buffer.alloc(width * height * 4);
  const rows = Math.min(mark.height, height);
  const rowBytes = Math.min(mark.width, width) * 4;
  for (let y = 0; y < rows; y++)
    mark.data.copy(data, y * width * 4, y * mark.width * 4, y * mark.width * 4 + rowBytes);
  return { data, width, height };
}

/**
 * The `watermark` transform: text drawn with @napi-rs/canvas, or a small PNG/JPEG/WebP given as
 * a data URL, composited with an opacity at a gravity and margin, or tiled over the whole image.
 * Sizes are in percent of the image width, so one plan marks every image size alike. Pixels
 * outside the mark are left exactly as they were; a grey image stays grey for a grey text
 * colour and becomes RGB otherwise. With neither text nor image the image passes unchanged.
 *
 * Order: decode and scale the mark (or lay out the text), rotate it, fade it by `opacity`,
 * fit it inside the margins, then composite once.
 *
 * @example
 * await runStep(watermark, image, { text: '© Jane Doe', gravity: 'bottom-right', opacity: 0.5 });
 */
export const watermark = definePlugin({
  id: 'watermark',
  name: 'Watermark',
  description: 'Puts a text or image mark on the image, in a corner or tiled across it.',
  version: '1.0.0',
  engine: '^1',
  kind: 'transform',
  alpha: 'process',
  tags: ['overlay'],
  params: watermarkParams,
  async apply({ image, params, sharp }) {
    if ((params.text === '' && params.image === '') || params.opacity === 0) return image;
    const margin = Math.round((params.margin / 100) * image.width);
    const fit = params.tiled ? { width: image.width, height: image.height } : room(image, margin);
    const lib = await loadCanvas();
    const mark =
      params.text !== ''
        ? textMark(lib, params, Math.max(1, Math.round((params.fontSize / 100) * image.width)), fit)
        : await imageMark(lib, params, (params.width / 100) * image.width, fit);
    const overlay: OverlayOptions = params.tiled
      ? { ...rawInput(tile(mark, image.width, image.height)), tile: true, gravity: 'northwest' }
      : {
          ...rawInput(mark),
          ...place(params.gravity, image.width, image.height, mark.width, mark.height, margin),
        };
    let pipeline = sharp().composite([overlay]);
    // Compositing adds an alpha channel; an opaque image stays opaque.
    if (image.channels === 1 || image.channels === 3) pipeline = pipeline.removeAlpha();
    const c = parseHexColor(params.color);
    const colourful = params.image !== '' || c.r !== c.g || c.g !== c.b;
    return runPipeline(image, pipeline, { keepColour: colourful });
  },
});

function rawInput(mark: Mark): Pick<OverlayOptions, 'input' | 'raw'> {
  return { input: mark.data, raw: { width: mark.width, height: mark.height, channels: 4 } };
}
