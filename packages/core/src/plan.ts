import { createHash } from 'node:crypto';
import { z } from 'zod';
import { AtelierError, isAtelierError } from './errors.ts';
import { describeIssues, parseParams } from './params.ts';
import type { PluginRegistry } from './registry.ts';
import type { ImageSize, OutputSizeArgs } from './plugin.ts';

/** Encodings the engine writes. */
export const OUTPUT_FORMATS = ['jpeg', 'png', 'webp', 'avif'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The file extension of each output format. */
export const OUTPUT_EXTENSIONS: Readonly<Record<OutputFormat, string>> = {
  jpeg: 'jpg',
  png: 'png',
  webp: 'webp',
  avif: 'avif',
};

/** Formats the engine reads, recognised by their magic bytes. No SVG, PDF or ImageMagick loaders. */
export const INPUT_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'avif', 'tiff'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

/** The media type of each image format the engine reads or writes. */
export const CONTENT_TYPES: Readonly<Record<InputFormat, string>> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  avif: 'image/avif',
  gif: 'image/gif',
  tiff: 'image/tiff',
};

/** Limits that bound a run; they travel inside the plan so every worker applies the same. */
export interface PlanLimits {
  /** Largest input file. @default 50 MiB */
  readonly maxInputBytes: number;
  /** Most pixels (width x height) of the input. @default 100 million */
  readonly maxInputPixels: number;
  /**
   * Most pixels (width x height) any step may produce, checked when the plan meets its input (from
   * each plugin's `outputSize`) and again on each step's real output before anything is encoded.
   * A request may lower it, never raise it above the engine's. Plans stored before this limit
   * existed have none and use `maxInputPixels`; see {@link outputPixelLimit}.
   * @default maxInputPixels
   */
  readonly maxOutputPixels?: number;
  /** Time each step may take before it is stopped with `PLUGIN_TIMEOUT`. @default 120000 */
  readonly stepTimeoutMs: number;
  /** JavaScript heap plus buffers a run may hold before it is stopped with `PLUGIN_OUT_OF_MEMORY`. @default 2048 */
  readonly maxMemoryMb: number;
  /** Input formats accepted. @default all of {@link INPUT_FORMATS} */
  readonly formats: readonly InputFormat[];
}

export const DEFAULT_LIMITS: PlanLimits = Object.freeze({
  maxInputBytes: 50 * 1024 * 1024,
  maxInputPixels: 100_000_000,
  stepTimeoutMs: 120_000,
  maxMemoryMb: 2048,
  formats: INPUT_FORMATS,
});

const limitsSchema = z.object({
  maxInputBytes: z
    .number()
    .int()
    .min(1)
    .max(2 ** 40),
  maxInputPixels: z
    .number()
    .int()
    .min(1)
    .max(2 ** 40),
  maxOutputPixels: z
    .number()
    .int()
    .min(1)
    .max(2 ** 40)
    .optional(),
  stepTimeoutMs: z
    .number()
    .int()
    .min(1)
    .max(24 * 3600 * 1000),
  maxMemoryMb: z
    .number()
    .int()
    .min(16)
    .max(1024 * 1024),
  formats: z.array(z.enum(INPUT_FORMATS)).min(1),
});

const outputSchema = z.object({
  format: z.enum(OUTPUT_FORMATS),
  /** 1-100; ignored by PNG except to pick palette quantisation off. */
  quality: z.number().int().min(1).max(100),
  /** Strip EXIF, XMP and ICC metadata from the output. */
  stripMetadata: z.boolean(),
});

/** One step: which plugin, at which version, with which (already parsed) parameters. */
export interface PlanStep {
  readonly plugin: string;
  readonly version: string;
  readonly params: Readonly<Record<string, unknown>>;
}

export interface PlanOutput {
  readonly format: OutputFormat;
  readonly quality: number;
  readonly stripMetadata: boolean;
}

/**
 * A frozen, serialisable description of a run. The same plan on the same input gives the same
 * image; {@link planHash} identifies it.
 */
export interface Plan {
  readonly version: 1;
  readonly steps: readonly PlanStep[];
  readonly output: PlanOutput;
  readonly limits: PlanLimits;
}

/** The JSON shape of a stored plan; used to validate plans read back from files or databases. */
export const planSchema = z.object({
  version: z.literal(1),
  steps: z
    .array(
      z.object({
        plugin: z.string().min(1),
        version: z.string().min(1),
        params: z.record(z.string(), z.unknown()),
      }),
    )
    .max(32),
  output: outputSchema,
  limits: limitsSchema,
});

/** What a caller asks for: plugin ids and raw params; versions and defaults are filled in. */
export const planRequestSchema = z.object({
  steps: z
    .array(
      z.object({
        plugin: z.string().min(1),
        version: z.string().optional(),
        params: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .max(32),
  output: outputSchema.partial().optional(),
  limits: limitsSchema.partial().optional(),
});
export type PlanRequest = z.input<typeof planRequestSchema>;

/** Default quality per format, chosen for photos. */
export const DEFAULT_QUALITY: Record<OutputFormat, number> = { jpeg: 88, png: 100, webp: 85, avif: 60 };

/** Limits a caller may set: any of them, `undefined` meaning "keep the base's". */
type LimitOverrides = { readonly [K in keyof PlanLimits]?: PlanLimits[K] | undefined };

/** `base` with every limit that `overrides` sets (not `undefined`) replaced. */
function mergeLimits(base: PlanLimits, overrides: LimitOverrides | undefined): PlanLimits {
  const maxOutputPixels = overrides?.maxOutputPixels ?? base.maxOutputPixels;
  return {
    maxInputBytes: overrides?.maxInputBytes ?? base.maxInputBytes,
    maxInputPixels: overrides?.maxInputPixels ?? base.maxInputPixels,
    ...(maxOutputPixels === undefined ? {} : { maxOutputPixels }),
    stepTimeoutMs: overrides?.stepTimeoutMs ?? base.stepTimeoutMs,
    maxMemoryMb: overrides?.maxMemoryMb ?? base.maxMemoryMb,
    formats: overrides?.formats ?? base.formats,
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

/**
 * Turns a request into a {@link Plan}: each plugin must exist and be enabled, its version is
 * recorded (a requested version must match), its params are parsed (defaults filled in, bounds
 * checked). Throws `PLAN_INVALID`, `PLUGIN_NOT_FOUND`, `PLUGIN_DISABLED`,
 * `PLUGIN_VERSION_MISMATCH` or `PARAMS_INVALID`.
 *
 * @example
 * const plan = createPlan(registry, { steps: [{ plugin: 'cartoon', params: { levels: 6 } }], output: { format: 'webp' } });
 */
export function createPlan(
  registry: PluginRegistry,
  request: PlanRequest,
  defaults: { limits?: Partial<PlanLimits> } = {},
): Plan {
  const parsed = planRequestSchema.safeParse(request);
  if (!parsed.success) {
    throw new AtelierError('PLAN_INVALID', `Invalid plan: ${describeIssues(parsed.error.issues)}`);
  }
  const req = parsed.data;
  const steps: PlanStep[] = req.steps.map((step, index) => {
    const plugin = registry.getEnabled(step.plugin);
    if (step.version !== undefined && step.version !== plugin.version) {
      throw new AtelierError(
        'PLUGIN_VERSION_MISMATCH',
        `Step ${index + 1} asks for ${step.plugin}@${step.version}, but ${plugin.version} is installed.`,
        { details: { plugin: step.plugin, requested: step.version, installed: plugin.version } },
      );
    }
    return {
      plugin: plugin.id,
      version: plugin.version,
      params: parseParams(plugin, { ...registry.overrides(plugin.id), ...step.params }),
    };
  });
  const format = req.output?.format ?? 'jpeg';
  const plan: Plan = {
    version: 1,
    steps,
    output: {
      format,
      quality: req.output?.quality ?? DEFAULT_QUALITY[format],
      stripMetadata: req.output?.stripMetadata ?? true,
    },
    limits: planLimits(defaults.limits, req.limits),
  };
  return deepFreeze(plan);
}

/** The engine's limits with a request's on top; the output limit can only go down. */
export function planLimits(
  engine: Partial<PlanLimits> | undefined,
  requested: LimitOverrides | undefined,
): PlanLimits {
  const base = mergeLimits(DEFAULT_LIMITS, engine);
  const ceiling = outputPixelLimit(base);
  const merged = mergeLimits(base, requested);
  return { ...merged, maxOutputPixels: Math.min(requested?.maxOutputPixels ?? ceiling, ceiling) };
}

/** The output pixel limit of a plan's limits: `maxOutputPixels`, or `maxInputPixels` when unset. */
export function outputPixelLimit(limits: PlanLimits): number {
  return limits.maxOutputPixels ?? limits.maxInputPixels;
}

/** `OUTPUT_TOO_LARGE` for step `index` (plugin `plugin`) making a `width` x `height` image. */
export function outputTooLarge(
  size: { readonly width: number; readonly height: number },
  limit: number,
  step: { readonly index: number; readonly plugin: string },
  when: 'plan' | 'run',
): AtelierError {
  const pixels = size.width * size.height;
  const verb = when === 'plan' ? 'would make' : 'made';
  return new AtelierError(
    'OUTPUT_TOO_LARGE',
    `Step ${step.index + 1} ("${step.plugin}") ${verb} a ${size.width}x${size.height} image (${pixels} pixels); the output limit is ${limit} pixels.`,
    {
      details: {
        step: step.index,
        plugin: step.plugin,
        width: size.width,
        height: size.height,
        pixels,
        limit,
        when,
      },
    },
  );
}

/**
 * The size each step of `plan` makes from an input of `input`'s size (as decoded: after EXIF
 * orientation), from each plugin's `outputSize` (a plugin without one keeps the size). Throws
 * `OUTPUT_TOO_LARGE` at the first step over the plan's output limit; returns the final size and
 * the size of each step's output.
 *
 * @example
 * const { width, height } = await checkOutputSize(registry, plan, { width: 4000, height: 3000 });
 */
export async function checkOutputSize(
  registry: PluginRegistry,
  plan: Plan,
  input: { readonly width: number; readonly height: number },
): Promise<{ width: number; height: number; steps: { width: number; height: number }[] }> {
  const limit = outputPixelLimit(plan.limits);
  let size = { width: input.width, height: input.height };
  const steps: { width: number; height: number }[] = [];
  for (const [index, step] of plan.steps.entries()) {
    const plugin = registry.get(step.plugin);
    if (plugin.outputSize) {
      let next: { width: number; height: number };
      try {
        // A sandboxed plugin's outputSize asks its sandbox, so it answers with a promise.
        next = await (plugin.outputSize as (args: OutputSizeArgs<unknown>) => ImageSize | Promise<ImageSize>)(
          {
            width: size.width,
            height: size.height,
            params: step.params,
          },
        );
      } catch (error) {
        if (isAtelierError(error)) throw error;
        throw new AtelierError(
          'PLUGIN_FAILED',
          `Plugin "${plugin.id}" failed in outputSize: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error, details: { plugin: plugin.id, step: index } },
        );
      }
      const valid = Number.isFinite(next.width) && Number.isFinite(next.height);
      if (!valid || next.width < 1 || next.height < 1) {
        throw new AtelierError(
          'PLUGIN_OUTPUT_INVALID',
          `Plugin "${plugin.id}" declared an output size of ${String(next.width)}x${String(next.height)}.`,
          { details: { plugin: plugin.id, step: index } },
        );
      }
      size = { width: Math.ceil(next.width), height: Math.ceil(next.height) };
    }
    if (size.width * size.height > limit)
      throw outputTooLarge(size, limit, { index, plugin: step.plugin }, 'plan');
    steps.push(size);
  }
  return { ...size, steps };
}

/** Validates a plan read back from storage. Throws `PLAN_INVALID`. */
export function parsePlan(value: unknown): Plan {
  const parsed = planSchema.safeParse(value);
  if (!parsed.success) {
    throw new AtelierError('PLAN_INVALID', `Invalid plan: ${describeIssues(parsed.error.issues)}`);
  }
  return deepFreeze(parsed.data as Plan);
}

/** JSON with object keys sorted at every level, so equal plans serialise equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    }
    return v;
  });
}

/**
 * A stable SHA-256 (hex) of what determines a plan's output: steps (plugin, version, params) and
 * output settings. Limits are left out: they decide whether a run is allowed, not what it makes.
 */
export function planHash(plan: Plan): string {
  return createHash('sha256')
    .update(canonicalJson({ version: plan.version, steps: plan.steps, output: plan.output }))
    .digest('hex');
}

/**
 * The seed of a step: derived from the plugin id and the step's position (FNV-1a), not from the
 * parameters, so a texture stays put while a user tunes other parameters.
 */
export function stepSeed(pluginId: string, index: number): number {
  let h = 0x811c9dc5;
  for (const ch of `${pluginId}#${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  return h >>> 0;
}
