// Messages between the fuzz harness (parent) and its child process (child.ts).
import type { OutputFormat } from '@atelier/core';

/** How a case ended inside the child. */
export type RunOutcome =
  | {
      readonly kind: 'image';
      readonly width: number;
      readonly height: number;
      readonly bytes: number;
      /** Format and size the engine read from the header. */
      readonly input: string;
    }
  | { readonly kind: 'coded'; readonly code: string; readonly message: string }
  /** A rejection that is not an AtelierError: always a bug. */
  | { readonly kind: 'uncoded'; readonly message: string };

export type ParentMessage =
  | {
      readonly t: 'run';
      readonly id: number;
      readonly bytes: Uint8Array;
      readonly style: string;
      readonly output: OutputFormat;
    }
  | { readonly t: 'close' };

export type ChildMessage =
  | { readonly t: 'ready'; readonly pid: number }
  | {
      readonly t: 'done';
      readonly id: number;
      readonly outcome: RunOutcome;
      readonly ms: number;
      /** Peak RSS of the child during the case (the kernel's VmHWM, reset before each case). */
      readonly peakRssBytes: number;
      /** False where the peak could not be reset: then it is the process's lifetime peak. */
      readonly peakIsPerCase: boolean;
      /** The child's RSS once the case is over: its baseline for the next case. */
      readonly rssAfterBytes: number;
    }
  | { readonly t: 'uncaught'; readonly message: string };
