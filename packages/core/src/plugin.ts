import type { Sharp } from 'sharp';
import type { z } from 'zod';
import type { HostFetchInit, HostResponse, PluginCapabilities } from './capabilities.ts';
import { AtelierError, isAtelierError } from './errors.ts';
import type { Logger } from './logger.ts';

/** What a plugin does, which decides where it is offered. */
export type PluginKind = 'style' | 'transform' | 'analysis';

/**
 * Decoded pixels: 8 bits per sample, interleaved, sRGB, `width * height * channels` bytes.
 * Channels: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA.
 */
export interface RawImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

/** Reports how far a step is, as a fraction from 0 to 1; calls are cheap and rate-limited. */
export type ProgressReporter = (fraction: number, message?: string) => void;

/**
 * Makes a sharp pipeline. With no argument it starts from the step's input image; with a
 * {@link RawImage} from that one. Use it instead of importing sharp, so that a plugin runs on
 * the engine's copy of libvips with the engine's settings.
 */
export type SharpFactory = (image?: RawImage) => Sharp;

/**
 * What one call to a paid service cost, as a plugin reports it with `ctx.reportCost`. The amount
 * is the plugin's own estimate (a provider's bill is the truth); it is stored with the job.
 */
export interface PluginCost {
  /** Finite and not negative, in `currency`'s main unit (dollars, not cents), e.g. `0.042`. */
  readonly amount: number;
  /** ISO 4217 code, three letters, e.g. `USD` (stored upper case). */
  readonly currency: string;
  /** What was charged, for people, e.g. `gpt-image-1: 1056 input + 4160 output tokens`. At most 500 characters. */
  readonly detail?: string;
}

/**
 * What an `analysis` plugin found in the image, reported with `ctx.annotate`; stored with the
 * job's input image when the job succeeds (one per image and plugin, the latest wins).
 */
export interface PluginAnnotation {
  /** A sentence describing the image, at most 2000 characters. */
  readonly caption?: string;
  /** At most 50 tags of at most 64 characters; stored trimmed, lower case and without duplicates. */
  readonly tags?: readonly string[];
}

/** Everything `apply` gets. A plugin never touches storage, the database or the DI container. */
export interface PluginContext<P> {
  /**
   * The step's input. For plugins with `alpha: 'preserve'` (the default) it has 3 channels (RGB)
   * and the engine puts the alpha channel back afterwards; with `alpha: 'process'` it has the
   * decoded channel count (1 to 4) and the plugin handles alpha itself.
   */
  readonly image: RawImage;
  /** Parameters already parsed by the plugin's schema: defaults filled in, bounds checked. */
  readonly params: Readonly<P>;
  /** Aborted when the run is cancelled or times out; long loops should check it. */
  readonly signal: AbortSignal;
  readonly progress: ProgressReporter;
  readonly logger: Logger;
  /** A 32-bit seed fixed by the plan and step, for deterministic noise and textures. */
  readonly seed: number;
  /**
   * 1 for a real render. For a preview (`styles.preview`: the plan run on a small proxy of the
   * photo), how much smaller `image` is than the image the same step gets in the real render:
   * 0.2 when a 2560 px photo is previewed at 512 px. A style whose textures have a size in pixels
   * (strokes, grain, weave) draws them as the real render's textures look shrunk by this factor,
   * so that the preview predicts the result; {@link previewFullSize} gives the real render's size.
   * In (0, 1].
   */
  readonly previewScale: number;
  readonly sharp: SharpFactory;
  /**
   * Decodes an encoded image (PNG, JPEG, WebP, ...: bytes a service sent back) to 8-bit sRGB
   * pixels (3 channels, or 4 with alpha), under the same limits as the job's input: bytes,
   * pixels and formats. Junk gives a coded error (`IMAGE_CORRUPT`, `IMAGE_FORMAT_UNSUPPORTED`,
   * `IMAGE_TOO_MANY_PIXELS`, ...).
   */
  readonly decode: (bytes: Uint8Array) => Promise<RawImage>;
  /**
   * Records what a call to a paid service cost; the job shows the sum (`cost`). Call it once per
   * billed call, also when a later step fails. A malformed cost throws `PLUGIN_REPORT_INVALID`.
   */
  readonly reportCost: (cost: PluginCost) => void;
  /**
   * For `analysis` plugins: records a caption and tags for the image; a second call in the same
   * step replaces the first. A malformed annotation (or a plugin of another kind) throws
   * `PLUGIN_REPORT_INVALID`.
   */
  readonly annotate: (annotation: PluginAnnotation) => void;
  /**
   * An HTTP(S) request made by the host on the plugin's behalf: the only network a plugin has.
   * The URL's host must be declared in `capabilities.network` and granted by an administrator,
   * and must not resolve to a loopback or private address; otherwise it rejects with
   * `CAPABILITY_DENIED`. A timeout (`init.timeoutMs`, default 30 s), a body over 32 MiB or a
   * network failure rejects with `FETCH_FAILED`. Any status resolves: check `ok`.
   *
   * @example
   * const res = await ctx.fetch('https://api.example.com/v1/describe', {
   *   method: 'POST',
   *   headers: { authorization: `Bearer ${ctx.secret('EXAMPLE_API_KEY')}` },
   *   form: { image: { data: png, filename: 'in.png', contentType: 'image/png' } },
   * });
   */
  fetch(url: string, init?: HostFetchInit): Promise<HostResponse>;
  /**
   * The value of a secret the plugin declared in `capabilities.secrets` and an administrator
   * granted; `CAPABILITY_DENIED` otherwise. Never log it or put it in an error.
   */
  secret(name: string): string;
  /** A number in [0, 1) from a generator seeded with {@link seed}: same plan, same sequence. */
  random(): number;
}

/** Width and height of an image, in pixels. */
export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

/** What {@link PluginDefinition.outputSize} gets: the step's input size and its parsed parameters. */
export interface OutputSizeArgs<P> extends ImageSize {
  readonly params: Readonly<P>;
}

/** What `apply` may return: raw pixels, or a sharp pipeline the engine will run. */
export type PluginOutput = RawImage | Sharp;

/** Any zod object schema: a plugin's parameters are always an object. */
export type ParamsSchema = z.ZodObject;

/**
 * A plugin as its author writes it. Pass it to {@link definePlugin}.
 *
 * @typeParam Id - the plugin id, kept literal so clients can type `params` per id.
 * @typeParam S - the zod schema of the parameters.
 */
export interface PluginDefinition<Id extends string = string, S extends ParamsSchema = ParamsSchema> {
  /** Stable, unique id: lowercase letters, digits and `-`, optionally scoped as `scope:name`. */
  readonly id: Id;
  /** Human name, e.g. "Oil painting". */
  readonly name: string;
  readonly description: string;
  /** The plugin's own semver version; plans record it. */
  readonly version: string;
  /** Semver range of the engine versions it works with, e.g. `^1`. */
  readonly engine: string;
  readonly kind: PluginKind;
  /** Parameters: every field must have a default, so `{}` is always valid. */
  readonly params: S;
  /**
   * Whether the engine strips and restores alpha around `apply` (`preserve`, the default) or
   * hands the plugin the image with its alpha channel (`process`).
   * @default 'preserve'
   */
  readonly alpha?: 'preserve' | 'process';
  /** Optional tags for catalogues and UIs, e.g. `['painterly']`. */
  readonly tags?: readonly string[];
  /**
   * What the plugin needs beyond pixels: hosts for `ctx.fetch`, secrets for `ctx.secret`. An
   * administrator must grant all of them before a job may use the plugin
   * (`CAPABILITY_NOT_GRANTED` otherwise).
   * @default none
   * @example
   * capabilities: { network: ['api.openai.com'], secrets: ['OPENAI_API_KEY'] }
   */
  readonly capabilities?: PluginCapabilities;
  readonly apply: (context: PluginContext<z.output<S>>) => PluginOutput | Promise<PluginOutput>;
  /**
   * The size of the image `apply` will return, from the input's size and the parameters, without
   * touching a pixel. The engine calls it for every step when a job is planned and before a run
   * decodes anything, and refuses with `OUTPUT_TOO_LARGE` a plan whose step would make more pixels
   * than `maxOutputPixels`. Plugins that change the size (resize, crop, rotate, padding) should
   * declare it; an upper bound is fine. Whatever a plugin declares, the engine checks each step's
   * real output again and stops the run (nothing is stored) when it is over the limit.
   * @default the input's size (the image keeps its size)
   *
   * @example
   * outputSize: ({ width, height, params }) => ({ width: width + 2 * params.border, height: height + 2 * params.border }),
   */
  readonly outputSize?: (args: OutputSizeArgs<z.output<S>>) => ImageSize;
}

/** Any plugin, with its types widened; what registries and engines hold. */
export type AnyPlugin = PluginDefinition<string, ParamsSchema>;

/** The parameters a caller may pass to a plugin (defaults optional). */
export type PluginParamsInput<P> = P extends PluginDefinition<string, infer S> ? z.input<S> : never;
/** The parameters a plugin receives after parsing (defaults filled in). */
export type PluginParams<P> = P extends PluginDefinition<string, infer S> ? z.output<S> : never;

/**
 * Declares a plugin. It returns its argument unchanged; it exists so TypeScript infers the id
 * and parameter types, which clients then use to type `params` per plugin id.
 *
 * @example
 * import { definePlugin } from '@atelier/core';
 * import { z } from 'zod';
 *
 * export default definePlugin({
 *   id: 'acme:invert',
 *   name: 'Invert',
 *   description: 'Negative of the image.',
 *   version: '1.0.0',
 *   engine: '^1',
 *   kind: 'style',
 *   params: z.object({ amount: z.number().min(0).max(1).default(1) }),
 *   apply({ image, params }) {
 *     const out = new Uint8Array(image.data.length);
 *     for (let i = 0; i < out.length; i++) {
 *       const v = image.data[i]!;
 *       out[i] = v + (255 - 2 * v) * params.amount;
 *     }
 *     return { ...image, data: out };
 *   },
 * });
 */
export function definePlugin<const Id extends string, S extends ParamsSchema>(
  definition: PluginDefinition<Id, S>,
): PluginDefinition<Id, S> {
  return definition;
}

/**
 * A failure of `apply` that another attempt may fix: a resource that is short for a moment (file
 * handles, memory on a busy machine). Throw it from `apply` and the job is retried (up to
 * `ATELIER_JOB_RETRIES` times, with backoff). Anything else a plugin throws fails the job at its
 * first attempt with `PLUGIN_FAILED`: the same plan on the same image would throw again.
 *
 * It is an AtelierError with code `PLUGIN_FAILED` and `details.retryable: true`, so it keeps its
 * meaning across the engine's worker threads.
 *
 * @example
 * import { retryableError } from '@atelier/core';
 *
 * // inside apply()
 * const grey = await pipeline.greyscale().raw().toBuffer().catch((error: NodeJS.ErrnoException) => {
 *   if (error.code === 'EMFILE') throw retryableError('Out of file handles; try again.', { cause: error });
 *   throw error;
 * });
 */
export function retryableError(
  message: string,
  options: { cause?: unknown; details?: Record<string, unknown> } = {},
): AtelierError {
  return new AtelierError('PLUGIN_FAILED', message, {
    ...(options.cause === undefined ? {} : { cause: options.cause }),
    details: { ...options.details, retryable: true },
  });
}

/** True for an error made by {@link retryableError} (also after it crossed a thread). */
export function isRetryableError(error: unknown): boolean {
  return isAtelierError(error) && error.code === 'PLUGIN_FAILED' && error.details?.['retryable'] === true;
}
