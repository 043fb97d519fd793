import { DEFAULT_QUALITY, makePreviewProxy } from '@atelier/core';
import type { DecodedInput, Engine, Plan, PlanRequest, PreviewProxy, Storage } from '@atelier/core';
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
        // In an engine thread: the averaging would stall this thread's event loop for 20-50 ms.
        const made = await this.#engine.previewProxy(bytes, PREVIEW_SIZE);
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

/**
 * The preview proxy of an encoded photo at {@link PREVIEW_SIZE} px, in the calling thread
 * (`makePreviewProxy` in @atelier/core). The previews of {@link PreviewService} make theirs in an
 * engine thread (`Engine.previewProxy`), which keeps the API's event loop free meanwhile.
 *
 * @example
 * const { png, scale } = await previewProxy(await storage.get(key));
 * const result = await engine.run(await engine.decode(png), plan, { previewScale: scale });
 */
export function previewProxy(bytes: Uint8Array): Promise<PreviewProxy> {
  return makePreviewProxy(bytes, PREVIEW_SIZE);
}
