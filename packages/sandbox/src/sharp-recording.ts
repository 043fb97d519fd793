// The sharp operations a sandboxed plugin may use, checked in the sandbox process (the isolate's
// side of the recording is not trusted) and run there with the real sharp on raw pixels. Only
// raw pixels go in: a string, a path or any other input where sharp would read a file or decode
// something is refused with SANDBOX_VIOLATION.
import sharp from 'sharp';
// libvips' cache holds whole images between calls; one run at a time here, on one core.
sharp.cache(false);
sharp.concurrency(1);

/** The whitelist: sharp's image operations a plugin may record. */
export const SHARP_OPERATIONS: ReadonlySet<string> = new Set([
  'resize',
  'extend',
  'extract',
  'flip',
  'flop',
  'rotate',
  'blur',
  'sharpen',
  'median',
  'modulate',
  'greyscale',
  'grayscale',
  'gamma',
  'negate',
  'normalise',
  'normalize',
  'linear',
  'recomb',
  'convolve',
  'threshold',
  'tint',
  'flatten',
  'removeAlpha',
  'ensureAlpha',
  'extractChannel',
  'composite',
  'clahe',
  'toColourspace',
  'toColorspace',
]);

/** Output formats a recording may end with. */
export const SHARP_OUTPUTS: ReadonlySet<string> = new Set(['png', 'jpeg', 'webp', 'raw']);

interface RawInput {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

/** A recording that passed {@link checkSharpRecording}. */
export interface SharpRecording {
  readonly input: RawInput;
  readonly ops: readonly (readonly [string, readonly unknown[]])[];
  readonly output: readonly [string, readonly unknown[]];
}

type Check = { ok: true; recording: SharpRecording } | { ok: false; message: string };

function isRaw(value: unknown): value is RawInput {
  const v = value as RawInput | null;
  return (
    v !== null &&
    typeof v === 'object' &&
    v.data instanceof Uint8Array &&
    Number.isInteger(v.width) &&
    Number.isInteger(v.height) &&
    v.width > 0 &&
    v.height > 0 &&
    [1, 2, 3, 4].includes(v.channels) &&
    v.data.length === v.width * v.height * v.channels
  );
}

/** Plain data only: numbers, strings (colours, enum names), booleans, arrays and plain objects. */
function plainData(value: unknown, depth = 0): boolean {
  if (depth > 8) return false;
  if (value === null || value === undefined) return true;
  switch (typeof value) {
    case 'number':
    case 'string':
    case 'boolean':
      return true;
    case 'object':
      if (Array.isArray(value)) return value.length <= 1024 && value.every((v) => plainData(v, depth + 1));
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      return Object.values(value).every((v) => plainData(v, depth + 1));
    case 'bigint':
    case 'function':
    case 'symbol':
    case 'undefined':
      return false;
  }
  return false;
}

/** Keys of an overlay that name where its pixels come from: refused unless the input is raw. */
function checkOverlay(
  overlay: unknown,
): { ok: true; value: Record<string, unknown> } | { ok: false; message: string } {
  if (overlay === null || typeof overlay !== 'object' || Array.isArray(overlay)) {
    return { ok: false, message: 'composite() takes overlay objects ({ input, ... }).' };
  }
  const { input, raw, ...rest } = overlay as Record<string, unknown>;
  if (!plainData(rest)) return { ok: false, message: 'composite() overlay options must be plain data.' };
  if (isRaw(input)) {
    return {
      ok: true,
      value: {
        ...rest,
        input: input.data,
        raw: { width: input.width, height: input.height, channels: input.channels },
      },
    };
  }
  if (input instanceof Uint8Array && raw !== undefined && plainData(raw)) {
    const r = raw as { width?: unknown; height?: unknown; channels?: unknown };
    if (
      Number.isInteger(r.width) &&
      Number.isInteger(r.height) &&
      [1, 2, 3, 4].includes(r.channels as number) &&
      input.length === (r.width as number) * (r.height as number) * (r.channels as number)
    ) {
      return {
        ok: true,
        value: { ...rest, input, raw: { width: r.width, height: r.height, channels: r.channels } },
      };
    }
  }
  const what = typeof input === 'string' ? `the string "${input.slice(0, 80)}"` : 'this input';
  return {
    ok: false,
    message: `composite() in the sandbox takes raw pixels only (a RawImage, or a Uint8Array with raw: { width, height, channels }); ${what} would make sharp read a file or decode data.`,
  };
}

/** Checks a recording from the isolate. */
export function checkSharpRecording(value: unknown): Check {
  const rec = value as { input?: unknown; ops?: unknown; output?: unknown } | null;
  if (rec === null || typeof rec !== 'object') return { ok: false, message: 'Malformed sharp recording.' };
  if (!isRaw(rec.input)) {
    return {
      ok: false,
      message:
        'ctx.sharp() takes a raw image ({ data, width, height, channels } with matching length) or nothing; files, paths and URLs are not available in the sandbox.',
    };
  }
  if (!Array.isArray(rec.ops) || rec.ops.length > 256)
    return { ok: false, message: 'Malformed sharp recording.' };
  const ops: (readonly [string, readonly unknown[]])[] = [];
  for (const op of rec.ops as unknown[]) {
    if (!Array.isArray(op) || typeof op[0] !== 'string' || !Array.isArray(op[1])) {
      return { ok: false, message: 'Malformed sharp recording.' };
    }
    const [name, args] = op as [string, unknown[]];
    if (!SHARP_OPERATIONS.has(name)) {
      return { ok: false, message: `sharp's ${name}() is not available in the sandbox.` };
    }
    if (name === 'composite') {
      const overlays = args[0];
      if (!Array.isArray(overlays) || overlays.length > 64) {
        return { ok: false, message: 'composite() takes an array of overlays.' };
      }
      const checked: Record<string, unknown>[] = [];
      for (const overlay of overlays) {
        const c = checkOverlay(overlay);
        if (!c.ok) return c;
        checked.push(c.value);
      }
      ops.push([name, [checked]]);
      continue;
    }
    if (!plainData(args)) {
      return {
        ok: false,
        message: `sharp's ${name}() got an argument that is not plain data (numbers, strings, booleans, arrays, objects).`,
      };
    }
    ops.push([name, args]);
  }
  const output = rec.output;
  if (!Array.isArray(output) || typeof output[0] !== 'string' || !Array.isArray(output[1])) {
    return { ok: false, message: 'Malformed sharp recording.' };
  }
  if (!SHARP_OUTPUTS.has(output[0]))
    return { ok: false, message: `sharp output ${output[0]} is not available in the sandbox.` };
  if (!plainData(output[1])) return { ok: false, message: 'sharp output options must be plain data.' };
  return { ok: true, recording: { input: rec.input, ops, output: [output[0], output[1] as unknown[]] } };
}

/** A positive finite number, or undefined. */
const size = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : undefined;

/**
 * Refuses a recording whose operations could make an image over `maxPixels`, before libvips
 * allocates it (`OUTPUT_TOO_LARGE`): the check of the result alone came after the work, so a
 * plugin could have this process build gigabytes outside its isolate's memory limit. The size is
 * an upper bound: `resize` as if it enlarged to cover both given sides, `extend` adding its
 * margins, `rotate` to the diagonal; every other whitelisted operation keeps or shrinks the size.
 */
export function checkRecordingSize(recording: SharpRecording, maxPixels: number): void {
  let width = recording.input.width;
  let height = recording.input.height;
  for (const [name, args] of recording.ops) {
    if (name === 'resize') {
      const first = args[0];
      const options = (
        first !== null && typeof first === 'object' ? first : { width: first, height: args[1] }
      ) as {
        width?: unknown;
        height?: unknown;
      };
      const w = size(options.width);
      const h = size(options.height);
      if (w === undefined && h === undefined) continue;
      const scale = Math.max(w === undefined ? 0 : w / width, h === undefined ? 0 : h / height);
      [width, height] = [
        Math.max(w ?? 0, Math.ceil(width * scale)),
        Math.max(h ?? 0, Math.ceil(height * scale)),
      ];
    } else if (name === 'extend') {
      const margins = args[0];
      if (typeof margins === 'number') {
        width += 2 * (size(margins) ?? 0);
        height += 2 * (size(margins) ?? 0);
      } else if (margins !== null && typeof margins === 'object') {
        const m = margins as Record<string, unknown>;
        width += (size(m['left']) ?? 0) + (size(m['right']) ?? 0);
        height += (size(m['top']) ?? 0) + (size(m['bottom']) ?? 0);
      }
    } else if (name === 'rotate') {
      width = height = Math.ceil(Math.hypot(width, height));
    }
    if (width * height > maxPixels) {
      throw Object.assign(
        new Error(
          `${name}() could make a ${Math.round(width)}x${Math.round(height)} image, over the limit of ${maxPixels} pixels`,
        ),
        { code: 'OUTPUT_TOO_LARGE' },
      );
    }
  }
}

/** Runs a checked recording and returns sharp's `{ data, info }`. */
export async function runSharpRecording(
  recording: SharpRecording,
  maxPixels: number,
): Promise<{ data: Uint8Array; info: Record<string, unknown> }> {
  checkRecordingSize(recording, maxPixels);
  const { input } = recording;
  let pipeline = sharp(input.data, {
    raw: { width: input.width, height: input.height, channels: input.channels as 1 | 2 | 3 | 4 },
    limitInputPixels: Math.max(1, Math.floor(maxPixels)),
  });
  for (const [name, args] of recording.ops) {
    const method = (pipeline as unknown as Record<string, (...a: unknown[]) => typeof pipeline>)[name]!;
    pipeline = method.apply(pipeline, args as unknown[]);
  }
  const [format, formatArgs] = recording.output;
  pipeline = (pipeline as unknown as Record<string, (...a: unknown[]) => typeof pipeline>)[format]!.apply(
    pipeline,
    formatArgs as unknown[],
  );
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
  if (info.width * info.height > maxPixels) {
    throw new Error(`the result has ${info.width}x${info.height} pixels, over the limit of ${maxPixels}`);
  }
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), info: { ...info } };
}
