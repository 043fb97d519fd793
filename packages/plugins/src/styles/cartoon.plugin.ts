import {
  bandThreads,
  definePlugin,
  domainTransformFilter,
  fitLongSide,
  outputArray,
  pixelsAt,
  previewFullSize,
  runBands,
  z,
} from '@atelier/core';
import type { PluginContext, RawImage } from '@atelier/core';
import { composeBand } from './cartoon.bands.ts';
import type { ComposeArgs } from './cartoon.bands.ts';
import {
  quantiseTable,
  releaseWorkPlanes,
  shadeAndOutline,
  splitRgb,
  takeWorkPlanes,
} from './cartoon.work.ts';

const params = z.object({
  smoothing: z
    .number()
    .min(0)
    .max(1)
    .default(0.6)
    .describe(
      'How much texture is flattened into even areas of colour; edges stay sharp. 0 keeps fine detail.',
    ),
  levels: z
    .number()
    .int()
    .min(2)
    .max(32)
    .default(8)
    .describe('Number of brightness levels the shading is quantised to (cel shading); fewer is flatter.'),
  edgeStrength: z
    .number()
    .min(0)
    .max(1)
    .default(0.7)
    .describe('How many outlines are drawn and how dark they are; 0 draws none.'),
  edgeThickness: z
    .number()
    .min(0.5)
    .max(5)
    .default(2)
    .describe('Outline width; scales with the image so the look is the same at any size.'),
  saturation: z
    .number()
    .min(0)
    .max(2)
    .default(1.2)
    .describe("Colour saturation: 0 is black and white, 1 the photo's own, above 1 more vivid."),
});

type CartoonParams = z.output<typeof params>;

/** The long side, in pixels, at which colours are flattened and outlines found. */
const WORK_SIZE = 800;

/**
 * Cartoon: flat, cel-shaded colour with clean dark outlines.
 *
 * How: the photo is analysed at 800 px on its long side. Colours are flattened with the
 * domain-transform edge-preserving filter (regions go flat, borders stay put), the brightness is
 * quantised softly into `levels` bands (tanh steps, no jagged contours), and outlines are the
 * flattened luma minus its blur, faded where they crowd so gravel and foliage do not break into
 * speckles. The full-size image is built in one streaming pass: colours upsampled bilinearly,
 * outlines thresholded after upsampling so they stay crisp at any size. Deterministic; no
 * noise.
 *
 * @example
 * const out = await runStep(cartoon, image, { levels: 6, edgeThickness: 3 });
 */
export const cartoon = definePlugin({
  id: 'cartoon',
  name: 'Cartoon',
  description: 'Flat cel-shaded colours with clean dark outlines.',
  version: '1.0.0',
  engine: '^1',
  kind: 'style',
  tags: ['illustration'],
  params,
  async apply(ctx) {
    return renderCartoon(ctx);
  },
});

async function renderCartoon(ctx: PluginContext<CartoonParams>): Promise<RawImage> {
  const { image, params: p, signal } = ctx;
  const { width, height } = image;
  const { width: ww, height: wh } = fitLongSide(width, height, WORK_SIZE);
  // A preview's work size is its own (under WORK_SIZE), the real render's is WORK_SIZE: outlines
  // narrow by their ratio, to the real render's width at the preview's scale (see ctx.previewScale).
  const real = previewFullSize(image, ctx.previewScale);
  const realWork = fitLongSide(real.width, real.height, WORK_SIZE);
  const lineScale = Math.min(1, Math.max(ww, wh) / Math.max(realWork.width, realWork.height));
  const resized = workPixels(ctx, ww, wh);
  const out = outputArray(Uint8Array, width * height * 3);
  await touchWhile(out, resized);
  const work = await resized;
  signal.throwIfAborted();
  const planes = takeWorkPlanes(ww, wh, bandThreads() > 1);
  try {
    const { r, g, b, dog } = planes;
    splitRgb(work, r, g, b, ww, wh);

    // 1. Flatten colours: domain-transform smoothing at work size.
    // Even at smoothing 0 a light pass removes sensor noise, which would otherwise turn into
    // speckles of ink.
    domainTransformFilter({
      planes: [r, g, b],
      width: ww,
      height: wh,
      sigmaSpatial: (4 + 56 * p.smoothing) * (Math.max(ww, wh) / WORK_SIZE),
      sigmaRange: 0.05 + 0.45 * p.smoothing,
      iterations: 2,
      signal,
    });
    signal.throwIfAborted();
    ctx.progress(0.3);

    // 2. Soft cel shading and saturation, in 0..255, and 3. the outlines: the flattened luma minus
    // its blur, faded where they crowd. The outline width is in work pixels, so it follows the
    // picture's size; pictures smaller than the work size keep a floor of real pixels (but for
    // previews, whose outlines follow the real render's: lineScale above).
    shadeAndOutline(planes, {
      quant: quantiseTable(p.levels),
      saturation: p.saturation,
      sigma: p.edgeStrength > 0 ? 0.7 * p.edgeThickness * lineScale : 0,
      signal,
    });
    signal.throwIfAborted();
    ctx.progress(0.5);

    // 4. Full size: bilinear colour, outlines thresholded after upsampling so they stay crisp; in
    // bands of rows on the run's threads.
    const compose: ComposeArgs = {
      out,
      width,
      height,
      ww,
      wh,
      planes: [r, g, b, dog],
      strength: p.edgeStrength,
      // A preview inks outlines thinner than its pixels lighter, as the real render scaled down.
      supersampled: ctx.previewScale < 1,
    };
    // Twelve bands per thread: a helper that joins late (each job wakes it) leaves a shorter tail;
    // a band costs two extra widened rows.
    runBands(composeBand, compose, height, { signal, minBand: 32, bandsPerThread: 12 });
    ctx.progress(1);
    return { data: out, width, height, channels: 3 };
  } finally {
    releaseWorkPlanes(planes);
  }
}

const PAGE = 4096;
const PAGES_PER_TURN = 64;
const nextTurn =
  typeof setImmediate === 'function'
    ? () => new Promise<void>((resolve) => setImmediate(resolve))
    : undefined;

/**
 * Touches `out` a page at a time until `pending` settles. A fresh buffer costs a page fault per
 * 4 KB on first write, which on the benchmark's virtual machine took as long as composing the
 * image; here they are taken while libvips resizes the work copy in its own thread and this one
 * would only wait. Whatever is left is faulted by the composition, on its band threads.
 */
async function touchWhile(out: Uint8Array, pending: Promise<unknown>): Promise<void> {
  if (!nextTurn) return;
  let settled = false;
  pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < out.length && !settled;) {
    const end = Math.min(out.length, i + PAGES_PER_TURN * PAGE);
    touchPages(out, i, end);
    i = end;
    await nextTurn();
  }
}

function touchPages(out: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i += PAGE) out[i] = 0;
}

/**
 * The photo at work size, as `pixelsAt` gives it. With band threads, libvips resizes bands of its
 * rows (halves with two threads) in pipelines of their own, which sharp runs at once on libuv's
 * threads: libvips computes each output pixel from the input alone, so the bands are the rows of
 * the whole resize, byte for byte; the run's thread would otherwise wait for one libvips thread.
 */
async function workPixels(ctx: PluginContext<CartoonParams>, ww: number, wh: number): Promise<Uint8Array> {
  const { image } = ctx;
  const parts = Math.min(bandThreads(), Math.floor(wh / 64));
  if (parts <= 1 || image.channels !== 3 || (ww === image.width && wh === image.height))
    return pixelsAt(ctx, { width: ww, height: wh });
  const halves: Promise<Uint8Array>[] = [];
  for (let i = 0; i < parts; i++) {
    const top = Math.floor((i * wh) / parts);
    const height = Math.floor(((i + 1) * wh) / parts) - top;
    halves.push(
      ctx
        .sharp()
        .resize(ww, wh, { fit: 'fill', kernel: 'linear' })
        .extract({ left: 0, top, width: ww, height })
        .raw()
        .toBuffer(),
    );
  }
  // libvips cannot be interrupted; a cancelled step need not wait for it (as in `pixelsAt`).
  const { signal } = ctx;
  const done = await new Promise<Uint8Array[]>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    Promise.all(halves)
      .finally(() => signal.removeEventListener('abort', onAbort))
      .then(resolve, reject);
  });
  const out = new Uint8Array(ww * wh * 3);
  let offset = 0;
  for (const half of done) {
    out.set(half, offset);
    offset += half.length;
  }
  return out;
}
