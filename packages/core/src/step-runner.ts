import sharp from 'sharp';
import type { Sharp } from 'sharp';
import type { PluginGrants } from './capabilities.ts';
import { capabilityAccess } from './capabilities.ts';
import { AtelierError, isAtelierError } from './errors.ts';
import type { Logger } from './logger.ts';
import { silentLogger } from './logger.ts';
import type {
  AnyPlugin,
  PluginAnnotation,
  PluginContext,
  PluginCost,
  PluginOutput,
  RawImage,
} from './plugin.ts';
import { parseParams } from './params.ts';
import { untilAborted, withSignal } from './pipeline-signal.ts';
import { DEFAULT_LIMITS } from './plan.ts';
import type { PlanLimits } from './plan.ts';
import { decodeImage, inspectInput } from './image-io.ts';
import { MAX_COSTS_PER_STEP, checkAnnotation, checkCost } from './plugin-reports.ts';
import { SeededRandom } from './pixels/rng.ts';

/** Options for {@link runStep}. */
export interface RunStepOptions {
  readonly signal?: AbortSignal;
  readonly progress?: (fraction: number, message?: string) => void;
  readonly logger?: Logger;
  /** @default 0 */
  readonly seed?: number;
  /**
   * `ctx.previewScale`: for a preview, how much smaller this image is than the real render's
   * (in (0, 1]; anything else throws a RangeError). @default 1 (a real render)
   */
  readonly previewScale?: number;
  /** Parameters are parsed by the plugin's schema unless `parsed` says they already were. */
  readonly parsed?: boolean;
  /** The limits `ctx.decode` checks an image against (bytes, pixels, formats). @default DEFAULT_LIMITS */
  readonly limits?: PlanLimits;
  /** Gets each cost the plugin reports with `ctx.reportCost`, already checked. Without it costs are dropped. */
  readonly onCost?: (cost: PluginCost) => void;
  /** Gets the annotation an `analysis` plugin reports with `ctx.annotate`, already checked and normalised. */
  readonly onAnnotation?: (annotation: PluginAnnotation) => void;
  /**
   * What an administrator granted this plugin (hosts, decrypted secrets): `ctx.fetch` and
   * `ctx.secret` allow only what the plugin declared and this grants.
   * @default nothing granted
   */
  readonly grants?: PluginGrants;
}

/**
 * `ctx.decode`: the engine's own decoder under the plan's limits. Its errors keep their codes
 * (IMAGE_CORRUPT, ...) and say that the image came from the plugin, not from the upload.
 */
async function decodeForPlugin(plugin: AnyPlugin, bytes: Uint8Array, limits: PlanLimits): Promise<RawImage> {
  if (!(bytes instanceof Uint8Array)) {
    throw new AtelierError(
      'PLUGIN_FAILED',
      `Plugin "${plugin.id}" passed ctx.decode something that is not bytes.`,
      {
        details: { plugin: plugin.id },
      },
    );
  }
  try {
    return await decodeImage(bytes, await inspectInput(bytes, limits), limits);
  } catch (error) {
    if (!isAtelierError(error)) throw error;
    throw new AtelierError(error.code, `An image plugin "${plugin.id}" decoded: ${error.message}`, {
      cause: error,
      details: { ...error.details, plugin: plugin.id, source: 'plugin' },
    });
  }
}

/** Makes a sharp pipeline over raw pixels. */
export function sharpFromRaw(image: RawImage): Sharp {
  return sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: image.channels },
  });
}

function isSharp(value: unknown): value is Sharp {
  return value instanceof sharp;
}

async function toRawImage(plugin: AnyPlugin, output: PluginOutput): Promise<RawImage> {
  if (isSharp(output)) {
    const { data, info } = await output.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    return checkRaw(plugin, {
      data,
      width: info.width,
      height: info.height,
      channels: info.channels as RawImage['channels'],
    });
  }
  return checkRaw(plugin, output);
}

function checkRaw(plugin: AnyPlugin, out: RawImage): RawImage {
  const ok =
    out !== null &&
    typeof out === 'object' &&
    out.data instanceof Uint8Array &&
    Number.isInteger(out.width) &&
    Number.isInteger(out.height) &&
    out.width > 0 &&
    out.height > 0 &&
    [1, 2, 3, 4].includes(out.channels) &&
    out.data.length === out.width * out.height * out.channels;
  if (!ok) {
    throw new AtelierError(
      'PLUGIN_OUTPUT_INVALID',
      `Plugin "${plugin.id}" returned an invalid image (expected { data: Uint8Array, width, height, channels } with matching length).`,
      { details: { plugin: plugin.id } },
    );
  }
  return out;
}

/** Splits interleaved RGBA / grey+alpha into colour and alpha planes. */
function splitAlpha(image: RawImage): { color: RawImage; alpha: Uint8Array | undefined } {
  if (image.channels === 3) return { color: image, alpha: undefined };
  const n = image.width * image.height;
  const src = image.data;
  const rgb = new Uint8Array(n * 3);
  let alpha: Uint8Array | undefined;
  if (image.channels === 4 || image.channels === 2) alpha = new Uint8Array(n);
  const c = image.channels;
  for (let i = 0, j = 0, k = 0; i < n; i++, j += 3, k += c) {
    if (c >= 3) {
      rgb[j] = src[k]!;
      rgb[j + 1] = src[k + 1]!;
      rgb[j + 2] = src[k + 2]!;
    } else {
      const g = src[k]!;
      rgb[j] = g;
      rgb[j + 1] = g;
      rgb[j + 2] = g;
    }
    if (alpha) alpha[i] = src[k + c - 1]!;
  }
  return { color: { data: rgb, width: image.width, height: image.height, channels: 3 }, alpha };
}

async function restoreAlpha(
  out: RawImage,
  alpha: Uint8Array,
  srcWidth: number,
  srcHeight: number,
): Promise<RawImage> {
  let a = alpha;
  if (out.width !== srcWidth || out.height !== srcHeight) {
    a = await sharp(alpha, { raw: { width: srcWidth, height: srcHeight, channels: 1 } })
      .resize(out.width, out.height, { fit: 'fill' })
      .raw()
      .toBuffer();
  }
  const n = out.width * out.height;
  const cin = out.channels === 1 || out.channels === 2 ? 1 : 3;
  const cout = cin + 1;
  const src = out.data;
  const stride = out.channels;
  const data = new Uint8Array(n * cout);
  for (let i = 0, k = 0, o = 0; i < n; i++, k += stride, o += cout) {
    for (let ch = 0; ch < cin; ch++) data[o + ch] = src[k + ch]!;
    data[o + cin] = a[i]!;
  }
  return { data, width: out.width, height: out.height, channels: cout as 2 | 4 };
}

/**
 * Runs one plugin on one image in the current thread: parses the parameters, splits and restores
 * alpha for `alpha: 'preserve'` plugins, turns a returned sharp pipeline into pixels, and tags any
 * failure with the plugin's id. The engine's worker threads call this for every step; plugin
 * authors and tests may call it directly.
 *
 * @example
 * const out = await runStep(cartoon, image, { levels: 8 });
 */
export async function runStep(
  plugin: AnyPlugin,
  image: RawImage,
  params: unknown,
  options: RunStepOptions = {},
): Promise<RawImage> {
  const signal = options.signal ?? new AbortController().signal;
  const parsedParams =
    options.parsed === true ? (params as Record<string, unknown>) : parseParams(plugin, params);
  const preserve = (plugin.alpha ?? 'preserve') === 'preserve';
  const { color, alpha } = preserve ? splitAlpha(image) : { color: image, alpha: undefined };
  const limits = options.limits ?? DEFAULT_LIMITS;
  let costs = 0;
  const seed = (options.seed ?? 0) >>> 0;
  const previewScale = options.previewScale ?? 1;
  if (!(previewScale > 0 && previewScale <= 1))
    throw new RangeError(`runStep: previewScale must be in (0, 1], not ${previewScale}`);
  const logger = options.logger ?? silentLogger;
  const access = capabilityAccess({
    plugin: plugin.id,
    capabilities: plugin.capabilities,
    grants: options.grants,
    signal,
    logger,
  });
  const rng = new SeededRandom(seed);
  const context: PluginContext<Record<string, unknown>> = {
    image: color,
    params: parsedParams,
    signal,
    progress: options.progress ?? (() => {}),
    logger,
    seed,
    previewScale,
    sharp: (img?: RawImage) => withSignal(sharpFromRaw(img ?? color), signal),
    decode: (bytes: Uint8Array) => decodeForPlugin(plugin, bytes, limits),
    reportCost: (cost: PluginCost) => {
      const checked = checkCost(plugin.id, cost);
      if (++costs > MAX_COSTS_PER_STEP) {
        throw new AtelierError(
          'PLUGIN_REPORT_INVALID',
          `Plugin "${plugin.id}" reported more than ${MAX_COSTS_PER_STEP} costs in one step.`,
          { details: { plugin: plugin.id } },
        );
      }
      options.onCost?.(checked);
    },
    annotate: (annotation: PluginAnnotation) => {
      if (plugin.kind !== 'analysis') {
        throw new AtelierError(
          'PLUGIN_REPORT_INVALID',
          `Plugin "${plugin.id}" is a ${plugin.kind} plugin; only analysis plugins annotate images.`,
          { details: { plugin: plugin.id } },
        );
      }
      options.onAnnotation?.(checkAnnotation(plugin.id, annotation));
    },
    fetch: access.fetch,
    secret: access.secret,
    random: () => rng.next(),
  };
  let raw: RawImage;
  try {
    signal.throwIfAborted();
    const output = await plugin.apply(context as PluginContext<never>);
    signal.throwIfAborted();
    raw = await untilAborted(toRawImage(plugin, output), signal);
  } catch (error) {
    if (signal.aborted) {
      throw new AtelierError('ABORTED', `The run was cancelled during "${plugin.id}".`, { cause: error });
    }
    if (isAtelierError(error)) throw error;
    const message = error instanceof Error ? error.message : String(error);
    throw new AtelierError('PLUGIN_FAILED', `Plugin "${plugin.id}" failed: ${message}`, {
      cause: error,
      details: { plugin: plugin.id },
    });
  }
  return alpha ? restoreAlpha(raw, alpha, image.width, image.height) : raw;
}
