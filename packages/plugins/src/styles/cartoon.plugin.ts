import {
  BilinearUpsampler,
  blurGrey,
  boxFilter,
  definePlugin,
  domainTransformFilter,
  downsampleBox,
  fitLongSide,
  floatToGrey,
  pixelsAt,
  runBands,
  sharedArray,
  toShared,
  z,
} from '@atelier/core';
import type { PluginContext, RawImage, SharpFactory } from '@atelier/core';
import { composeBand } from './cartoon.bands.ts';
import type { ComposeArgs } from './cartoon.bands.ts';

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
  const work = await pixelsAt(ctx, { width: ww, height: wh });
  signal.throwIfAborted();
  const planes = downsampleBox(work, ww, wh, 3, 1, 1 / 255);
  const [r, g, b] = planes as [Float32Array, Float32Array, Float32Array];

  // 1. Flatten colours: domain-transform smoothing at work size.
  // Even at smoothing 0 a light pass removes sensor noise, which would otherwise turn into
  // speckles of ink.
  domainTransformFilter({
    planes,
    width: ww,
    height: wh,
    sigmaSpatial: (4 + 56 * p.smoothing) * (Math.max(ww, wh) / WORK_SIZE),
    sigmaRange: 0.05 + 0.45 * p.smoothing,
    iterations: 2,
    signal,
  });
  signal.throwIfAborted();
  ctx.progress(0.3);

  // 2. Outlines: the flattened luma minus its blur (a DoG whose narrow Gaussian is the identity:
  // the smoothing already removed the noise it would).
  const n = ww * wh;
  const luma = new Float32Array(n);
  const grey = lumaOf(r, g, b, luma);
  let dog: Float32Array | undefined;
  if (p.edgeStrength > 0) {
    // In work pixels, so the width follows the picture's size; pictures smaller than the work
    // size keep a floor of real pixels.
    const sigma = 0.7 * p.edgeThickness;
    dog = await surroundDifference(ctx.sharp, luma, grey, ww, wh, sigma);
    suppressTexture(dog, ww, wh, Math.max(2, Math.round(3 * sigma)));
  }
  signal.throwIfAborted();
  ctx.progress(0.5);

  // 3. Soft cel shading and saturation at work size, in 0..255.
  celShade(r, g, b, luma, quantiseTable(p.levels), p.saturation);

  // 4. Full size: bilinear colour, outlines thresholded after upsampling so they stay crisp; in
  // bands of rows on the run's threads.
  const out = sharedArray(Uint8Array, width * height * 3);
  const compose: ComposeArgs = {
    out,
    width,
    height,
    ww,
    wh,
    planes: [r, g, b, dog ?? new Float32Array(ww * wh)].map(toShared),
    strength: p.edgeStrength,
  };
  runBands(composeBand, compose, height, { signal, minBand: 32 });
  ctx.progress(1);
  return { data: out, width, height, channels: 3 };
}

/** Luma of the planes into `out` (0..1), returned also as 8-bit grey for native blurs. */
function lumaOf(r: Float32Array, g: Float32Array, b: Float32Array, out: Float32Array): Uint8Array {
  const grey = new Uint8Array(out.length);
  const px = new Uint8ClampedArray(grey.buffer);
  for (let i = 0; i < out.length; i++) {
    const y = 0.299 * r[i]! + 0.587 * g[i]! + 0.114 * b[i]!;
    out[i] = y;
    px[i] = y * 255;
  }
  return grey;
}

/**
 * luma minus its Gaussian blur (0..1 units). The blur is smooth, so it is taken at half size:
 * the 2 × 2 average and the bilinear enlargement contribute about 0.92 px² of the variance, the
 * native blur the rest.
 */
async function surroundDifference(
  sharp: SharpFactory,
  luma: Float32Array,
  grey: Uint8Array,
  w: number,
  h: number,
  sigma: number,
): Promise<Float32Array> {
  const out = new Float32Array(w * h);
  if (sigma * sigma < 1.2 || w < 4 || h < 4) {
    const blurred = await blurGrey(sharp, grey, w, h, sigma);
    for (let y = 0; y < h; y++) subtractRow(luma, blurred, y * w, out, y * w, w);
    return out;
  }
  const hw = Math.ceil(w / 2);
  const hh = Math.ceil(h / 2);
  const half = floatToGrey(downsampleBox(grey, w, h, 1, 2, 1 / 255)[0]!);
  const blurred = await blurGrey(sharp, half, hw, hh, Math.sqrt(sigma * sigma - 0.92) / 2);
  const up = new BilinearUpsampler(blurred, hw, hh, w, h, 2);
  const row = new Float32Array(w);
  for (let y = 0; y < h; y++) {
    up.row(y, row);
    subtractRow(luma, row, 0, out, y * w, w);
  }
  return out;
}

/** out[row + x] = luma[row + x] - blurred[from + x] / 255 for one row. */
function subtractRow(
  luma: Float32Array,
  blurred: Float32Array,
  from: number,
  out: Float32Array,
  row: number,
  w: number,
): void {
  for (let x = 0; x < w; x++) out[row + x] = luma[row + x]! - blurred[from + x]! / 255;
}

/**
 * Fades outlines where they crowd: divides the DoG by its local mean magnitude, so isolated
 * contours keep their strength while dense texture (gravel, foliage, grain) stops breaking
 * into speckles. The mean is smooth, so it is computed a quarter the size and upsampled.
 */
function suppressTexture(dog: Float32Array, w: number, h: number, radius: number): void {
  const k = 4;
  const lw = Math.ceil(w / k);
  const lh = Math.ceil(h / k);
  const activity = new Float32Array(lw * lh);
  for (let y = 0; y < h; y++) accumulateAbs(dog, activity, y * w, ((y / k) | 0) * lw, w, k);
  scale(activity, 1 / (k * k));
  boxFilter(activity, lw, lh, Math.max(1, Math.round(radius / k)), activity);
  // Store 1 / (1 + activity / knee) so the full-size pass multiplies.
  const knee = 0.025;
  for (let i = 0; i < activity.length; i++) activity[i] = knee / (knee + activity[i]!);
  const up = new BilinearUpsampler(activity, lw, lh, w, h, k);
  for (let y = 0; y < h; y++) {
    const t = up.select(y);
    multiplyRow(dog, up.upper(), up.lower(), t, y * w, w);
  }
}

/** Sums |src| over blocks of k pixels of one row into the low row. */
function accumulateAbs(
  src: Float32Array,
  low: Float32Array,
  row: number,
  lowRow: number,
  w: number,
  k: number,
): void {
  for (let x = 0, o = lowRow; x < w; o++) {
    const end = Math.min(w, x + k);
    let sum = 0;
    for (; x < end; x++) sum += Math.abs(src[row + x]!);
    low[o]! += sum;
  }
}

function scale(plane: Float32Array, factor: number): void {
  for (let i = 0; i < plane.length; i++) plane[i]! *= factor;
}

function multiplyRow(
  dog: Float32Array,
  a: Float32Array,
  b: Float32Array,
  t: number,
  row: number,
  w: number,
): void {
  for (let x = 0; x < w; x++) dog[row + x]! *= a[x]! + (b[x]! - a[x]!) * t;
}

/** In place: colour planes (0..1) become quantised-luma colour with saturation, in 0..255. */
function celShade(
  r: Float32Array,
  g: Float32Array,
  b: Float32Array,
  luma: Float32Array,
  quant: Float32Array,
  sat: number,
): void {
  const k = 255 * sat;
  for (let i = 0; i < luma.length; i++) {
    const yl = luma[i]!;
    const yq = quant[Math.min(1023, Math.max(0, yl * 1023 + 0.5)) | 0]!;
    r[i] = yq + (r[i]! - yl) * k;
    g[i] = yq + (g[i]! - yl) * k;
    b[i] = yq + (b[i]! - yl) * k;
  }
}

/** Luma (0..1 in 1024 steps) to softly quantised luma (0..255). */
function quantiseTable(levels: number): Float32Array {
  const t = new Float32Array(1024);
  const step = 1 / (levels - 1);
  const phi = 3 / step;
  for (let i = 0; i < 1024; i++) {
    const v = i / 1023;
    const q = Math.round(v / step) * step;
    t[i] = 255 * (q + (step / 2) * Math.tanh(phi * (v - q)));
  }
  return t;
}
