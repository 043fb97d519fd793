import sharp from 'sharp';
import { DEFAULT_QUALITY } from '@atelier/core';
import type { DecodedInput, Engine, Plan, PlanRequest, Storage } from '@atelier/core';
import { usageCost } from '@atelier/jobs';
import type { JobService, QuotaService } from '@atelier/jobs';

/** The longest side of a preview proxy. */
export const PREVIEW_SIZE = 512;

export interface PreviewResult {
  /** `data:image/jpeg;base64,...`, ready for an <img>. */
  readonly dataUrl: string;
  readonly width: number;
  readonly height: number;
  readonly ms: number;
}

/**
 * A preview proxy: the photo at ≤ 512 px, decoded by the engine (each preview then skips reading
 * and decoding it: about 2 ms of the 40 a preview may take), and its size over the photo's.
 */
interface Proxy {
  readonly input: DecodedInput;
  readonly scale: number;
}

/**
 * Runs a style on a small proxy of an uploaded image, without the queue, for interactive tuning.
 * Proxies (≤ 512 px, decoded: at most 1 MB each, 0.5 MB for a 3:2 photo) are made once per image
 * and kept in memory (LRU, `cacheSize` of them), keyed by the owner's image row, never by the
 * stored file: originals are content-addressed and shared by every owner of the same photo, and a
 * proxy made for one of them would answer another's first preview measurably faster, telling them
 * that someone else holds the photo.
 */
export class PreviewService {
  readonly #engine: Engine;
  readonly #storage: Storage;
  readonly #jobs: JobService;
  readonly #proxies = new Map<string, Promise<Proxy>>();
  readonly #max: number;
  readonly #quotas: QuotaService | undefined;

  constructor(args: {
    engine: Engine;
    storage: Storage;
    jobs: JobService;
    /** When given, each preview is charged to its owner's quotas before it runs. */
    quotas?: QuotaService;
    cacheSize?: number;
  }) {
    this.#quotas = args.quotas;
    this.#engine = args.engine;
    this.#storage = args.storage;
    this.#jobs = args.jobs;
    this.#max = args.cacheSize ?? 64;
  }

  async #proxy(image: { readonly id: string; readonly storageKey: string }): Promise<Proxy> {
    const cacheKey = image.id;
    let proxy = this.#proxies.get(cacheKey);
    if (proxy) {
      this.#proxies.delete(cacheKey); // refresh its place in the LRU order
    } else {
      proxy = this.#storage.get(image.storageKey).then(async (bytes) => {
        const made = await previewProxy(bytes);
        return { input: await this.#engine.decode(made.png), scale: made.scale };
      });
      proxy.catch(() => this.#proxies.delete(cacheKey));
    }
    this.#proxies.set(cacheKey, proxy);
    while (this.#proxies.size > this.#max) this.#proxies.delete(this.#proxies.keys().next().value!);
    return proxy;
  }

  async preview(args: {
    ownerId: string;
    imageId: string;
    request: PlanRequest;
    signal?: AbortSignal;
  }): Promise<PreviewResult> {
    const image = this.#jobs.getImage(args.imageId, args.ownerId);
    image.catch(() => {}); // awaited below, first: an unknown image is the answer before a bad plan
    let plan: Plan;
    try {
      // JPEG (a data URL an <img> shows at once) at the quality a job's JPEG result gets by
      // default: a preview encoded below it showed artefacts the result does not have, on the
      // fine lines and grain the styles draw (docs/styles.md "Preview encoding").
      plan = this.#jobs.plan({ ...args.request, output: { format: 'jpeg', quality: DEFAULT_QUALITY.jpeg } });
    } catch (error) {
      await image;
      throw error;
    }
    // The image and the grants are independent lookups: one round trip's time for both.
    // CAPABILITY_NOT_GRANTED and friends come before the preview is charged.
    const grants = this.#jobs.grantsFor(plan);
    grants.catch(() => {});
    const [found, granted] = [await image, await grants];
    // The charge (a transaction of several statements) and the run overlap: the run starts at
    // once and is aborted the moment the charge is refused, whose error is the answer. An
    // over-quota caller costs a few milliseconds of a thread per refused request, and a
    // preview is not answered before it has been charged.
    const refused = new AbortController();
    const signal = args.signal ? AbortSignal.any([args.signal, refused.signal]) : refused.signal;
    const charged = this.#quotas
      ?.charge(args.ownerId, {
        kind: 'preview',
        cost: usageCost({ kind: 'preview', steps: plan.steps.length }),
      })
      .catch((error: unknown) => {
        refused.abort(error);
        throw error;
      });
    const started = performance.now();
    // The styles draw their textures (strokes, grain, weave) at the real render's scale, shrunk:
    // the preview predicts the result.
    const running = this.#proxy(found).then((proxy) =>
      this.#engine.run(proxy.input, plan, { grants: granted, signal, previewScale: proxy.scale }),
    );
    // Handled below, once charged: a run that fails first must not count as an unhandled rejection.
    running.catch(() => {});
    await charged; // a refusal is the answer (and has aborted the run)
    const result = await running;
    return {
      dataUrl: `data:image/jpeg;base64,${Buffer.from(result.data).toString('base64')}`,
      width: result.width,
      height: result.height,
      ms: Math.round(performance.now() - started),
    };
  }
}

/** A proxy pixel is the mean of up to this many pixels a side of the photo (resampled to a whole multiple). */
const PROXY_BLOCK = 5;

/**
 * The preview proxy of an encoded photo: its first frame, oriented, shrunk to ≤ {@link PREVIEW_SIZE}
 * px on its long side by area averaging, as a lossless PNG (8-bit, alpha kept), with its long
 * side over the photo's (`scale`, 1 for a photo no larger).
 *
 * Each proxy pixel is the mean of the block of the photo it covers, as the styles' own reductions
 * (`downsampleBox`, `downsampleArea`) make their working images: a style analyses the proxy as it
 * analyses the photo, and a palette or threshold taken from it is the real render's. The photo is
 * first resampled (libvips, Lanczos) to a whole multiple of the proxy's size, up to
 * {@link PROXY_BLOCK} times (so memory stays bounded for any photo), then averaged in blocks of
 * that many pixels a side, with premultiplied alpha (a transparent pixel's colour does not bleed).
 * Against the Lanczos proxy stored as JPEG (q92) it replaces, the watercolour's preview of
 * evening-glow went from SSIM 0.83 to 0.93 against its full render scaled down, over HTTP
 * (docs/styles.md, "The preview's proxy").
 *
 * @example
 * const { png, scale } = await previewProxy(await storage.get(key));
 * const result = await engine.run(await engine.decode(png), plan, { previewScale: scale });
 */
export async function previewProxy(bytes: Uint8Array): Promise<{ png: Buffer; scale: number }> {
  const source = sharp(bytes, { page: 0, pages: 1 });
  const { autoOrient } = await source.clone().metadata();
  const long = Math.max(autoOrient.width, autoOrient.height);
  const scale = Math.min(1, PREVIEW_SIZE / long);
  const w = Math.max(1, Math.round(autoOrient.width * scale));
  const h = Math.max(1, Math.round(autoOrient.height * scale));
  const k = Math.max(1, Math.min(PROXY_BLOCK, Math.floor(1 / scale)));
  const oriented = source.autoOrient();
  // A photo whose size is a whole multiple of the proxy's is averaged as it is.
  const same = w * k === autoOrient.width && h * k === autoOrient.height;
  const { data, info } = await (same ? oriented : oriented.resize(w * k, h * k, { fit: 'fill' }))
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const c = info.channels;
  const out = k === 1 ? data : averageBlocks(data, w, h, c, k);
  const png = await sharp(out, { raw: { width: w, height: h, channels: c } })
    .png({ compressionLevel: 1 })
    .toBuffer();
  // The long side sets the scale: the short one is rounded to whole pixels.
  return { png, scale: autoOrient.width >= autoOrient.height ? w / autoOrient.width : h / autoOrient.height };
}

/** The mean of each k x k block of a `(w * k) x (h * k)` interleaved image; alpha (2 or 4 channels) premultiplied. */
function averageBlocks(data: Uint8Array, w: number, h: number, c: number, k: number): Buffer {
  const out = Buffer.alloc(w * h * c);
  const alpha = c === 2 || c === 4;
  const colours = alpha ? c - 1 : c;
  const W = w * k;
  // A row of sums per proxy row (at most 255 * 255 * k * k: fits 32 bits for any k up to 256).
  const sums = new Uint32Array(w * c);
  const into = new Int32Array(W);
  for (let x = 0; x < W; x++) into[x] = Math.floor(x / k) * c;
  const n = k * k;
  for (let y = 0; y < h; y++) {
    sums.fill(0);
    for (let i = y * k * W * c, end = i + k * W * c, x = 0; i < end; i += c) {
      const o = into[x]!;
      if (++x === W) x = 0;
      if (alpha) {
        const a = data[i + colours]!;
        for (let ch = 0; ch < colours; ch++) sums[o + ch]! += data[i + ch]! * a;
        sums[o + colours]! += a;
      } else {
        for (let ch = 0; ch < c; ch++) sums[o + ch]! += data[i + ch]!;
      }
    }
    for (let x = 0, o = y * w * c; x < w * c; x += c, o += c) {
      if (alpha) {
        const weight = sums[x + colours]!;
        for (let ch = 0; ch < colours; ch++)
          out[o + ch] = weight > 0 ? Math.round(sums[x + ch]! / weight) : 0;
        out[o + colours] = Math.round(weight / n);
      } else {
        for (let ch = 0; ch < c; ch++) out[o + ch] = Math.round(sums[x + ch]! / n);
      }
    }
  }
  return out;
}
