import sharp from 'sharp';
import type { Engine, PlanRequest, Storage } from '@atelier/core';
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
 * Runs a style on a small proxy of an uploaded image, without the queue, for interactive tuning.
 * Proxies (≤ 512 px JPEG) are made once per image and kept in memory (LRU), keyed by the owner's
 * image row, never by the stored file: originals are content-addressed and shared by every owner
 * of the same photo, and a proxy made for one of them would answer another's first preview
 * measurably faster, telling them that someone else holds the photo.
 */
export class PreviewService {
  readonly #engine: Engine;
  readonly #storage: Storage;
  readonly #jobs: JobService;
  readonly #proxies = new Map<string, Promise<Buffer>>();
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

  async #proxy(image: { readonly id: string; readonly storageKey: string }): Promise<Buffer> {
    const cacheKey = image.id;
    let proxy = this.#proxies.get(cacheKey);
    if (proxy) {
      this.#proxies.delete(cacheKey); // refresh its place in the LRU order
    } else {
      proxy = this.#storage
        .get(image.storageKey)
        .then((bytes) =>
          sharp(bytes, { page: 0, pages: 1 })
            .autoOrient()
            .resize(PREVIEW_SIZE, PREVIEW_SIZE, { fit: 'inside', withoutEnlargement: true })
            .jpeg({ quality: 92 })
            .toBuffer(),
        );
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
    const image = await this.#jobs.getImage(args.imageId, args.ownerId);
    const plan = this.#jobs.plan({ ...args.request, output: { format: 'jpeg', quality: 82 } });
    // CAPABILITY_NOT_GRANTED and friends before the preview is charged.
    const grants = await this.#jobs.grantsFor(plan);
    await this.#quotas?.charge(args.ownerId, {
      kind: 'preview',
      cost: usageCost({ kind: 'preview', steps: plan.steps.length }),
    });
    const started = performance.now();
    const proxy = await this.#proxy(image);
    const result = await this.#engine.run(proxy, plan, {
      grants,
      ...(args.signal ? { signal: args.signal } : {}),
    });
    return {
      dataUrl: `data:image/jpeg;base64,${Buffer.from(result.data).toString('base64')}`,
      width: result.width,
      height: result.height,
      ms: Math.round(performance.now() - started),
    };
  }
}
