// The messages between a sandbox process and its owner (a worker thread or the API process),
// over Node's IPC channel with the 'advanced' (structured clone) serialization, so pixels travel
// as Uint8Array bytes, not JSON.
import type { ErrorPayload } from '@atelier/core';

/** What the isolate and the sandbox process say about each plugin of a module. */
export interface PluginDescription {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly version: string;
  readonly engine: string;
  readonly kind: string;
  readonly alpha?: string;
  readonly tags?: readonly string[];
  readonly capabilities?: { readonly network?: readonly string[]; readonly secrets?: readonly string[] };
  /**
   * `z.toJSONSchema(params, { io: 'input' })`, made inside the isolate by the plugin's own zod schema;
   * null when its params are not a zod object schema (the host's registry then refuses it).
   */
  readonly schema: Record<string, unknown> | null;
  readonly hasOutputSize: boolean;
}

/** A raw image as it crosses the process boundary. */
export interface WireImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: number;
}

/** An image's shape in a message; its `bytes` are in the pixel exchange file (see sandbox-child.ts). */
export interface ImageMeta {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly bytes: number;
}

/** Requests to the sandbox process; each gets one `reply` with the same id. */
export type SandboxRequest =
  | { readonly t: 'describe'; readonly id: number; readonly moduleUrl: string; readonly memoryMb: number }
  | {
      readonly t: 'outputSize';
      readonly id: number;
      readonly moduleUrl: string;
      readonly memoryMb: number;
      readonly plugin: string;
      readonly width: number;
      readonly height: number;
      readonly params: unknown;
    }
  | {
      readonly t: 'run';
      readonly id: number;
      readonly moduleUrl: string;
      readonly memoryMb: number;
      readonly plugin: string;
      readonly image: ImageMeta;
      readonly params: unknown;
      readonly seed: number;
      /** `ctx.previewScale` (1 outside previews); absent from older hosts. */
      readonly previewScale?: number;
      readonly maxPixels: number;
      /** The values of the secrets granted to the plugin (ctx.secret is synchronous in the isolate). */
      readonly secrets: Readonly<Record<string, string>>;
    }
  /** Stops run `run` now: its isolate is disposed (even a synchronous loop ends). */
  | { readonly t: 'abort'; readonly id: number; readonly run: number }
  /** Drops the isolates of modules whose URL is `moduleUrl` but for its query (a reload). */
  | { readonly t: 'forget'; readonly id: number; readonly keep: string };

/** Answers of the owner to the sandbox process's own requests. */
export type OwnerAnswer =
  | {
      readonly t: 'resolved';
      readonly id: number;
      readonly ok: true;
      readonly path: string;
      readonly code: string;
    }
  | { readonly t: 'resolved'; readonly id: number; readonly ok: false; readonly error: ErrorPayload }
  | { readonly t: 'sdk'; readonly id: number; readonly ok: true; readonly code: string }
  | { readonly t: 'sdk'; readonly id: number; readonly ok: false; readonly error: ErrorPayload }
  | { readonly t: 'hostResult'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly t: 'hostResult'; readonly id: number; readonly ok: false; readonly error: ErrorPayload };

export type ToSandbox = SandboxRequest | OwnerAnswer;

/** Messages from the sandbox process. */
export type FromSandbox =
  | { readonly t: 'ready' }
  /** `image`: the value is an image whose bytes are in the pixel exchange file. */
  | {
      readonly t: 'reply';
      readonly id: number;
      readonly ok: true;
      readonly value: unknown;
      readonly image?: ImageMeta;
    }
  | { readonly t: 'reply'; readonly id: number; readonly ok: false; readonly error: ErrorPayload }
  /** Asks the owner for the source of an import of the module graph being loaded. */
  | { readonly t: 'resolve'; readonly id: number; readonly specifier: string; readonly referrer?: string }
  /** Asks the owner for the SDK bundle every isolate runs first (see sdk-bundle.ts). */
  | { readonly t: 'sdk'; readonly id: number }
  /** A host-mediated call of run `run` (fetch, decode, reportCost, annotate). */
  | {
      readonly t: 'host';
      readonly id: number;
      readonly run: number;
      readonly name: string;
      readonly args: unknown[];
    }
  | {
      readonly t: 'log';
      readonly run: number;
      readonly level: 'debug' | 'info' | 'warn' | 'error';
      readonly message: string;
    }
  | { readonly t: 'progress'; readonly run: number; readonly fraction: number; readonly message?: string };

/** The context calls the isolate forwards to the owner's real plugin context, one line each. */
export const HOST_CALLS = ['fetch', 'decode', 'reportCost', 'annotate'] as const;
export type HostCall = (typeof HOST_CALLS)[number];

/**
 * The bare specifiers the isolate's SDK bundle answers (see sdk-bundle.ts), and the key of their
 * namespace in it: plugins import these two from the host's copies, whatever they bring.
 */
export const SDK_SPECIFIERS: ReadonlyMap<string, 'core' | 'zod'> = new Map([
  ['@atelier/core', 'core'],
  ['zod', 'zod'],
]);
