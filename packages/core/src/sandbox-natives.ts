// The SDK's functions that need native code (@napi-rs/canvas, the image decoders), as the
// sandbox's SDK has them: a plugin that calls one fails with SANDBOX_VIOLATION; the module itself
// (and its other plugins) still loads.
import { AtelierError } from './errors.ts';
import type { CanvasLib } from './canvas.ts';
import type { readImageSize as ReadImageSize, sniffImageFormat as SniffImageFormat } from './image-io.ts';

/** In the sandbox: always rejects with `SANDBOX_VIOLATION` (no native canvas there). */
export function loadCanvas(): Promise<CanvasLib> {
  return Promise.reject(
    new AtelierError(
      'SANDBOX_VIOLATION',
      'loadCanvas() is not available in the sandbox: @napi-rs/canvas is native code. Draw with sharp operations or typed arrays instead.',
    ),
  );
}

const notHere = (name: string): AtelierError =>
  new AtelierError(
    'SANDBOX_VIOLATION',
    `${name}() is not available in the sandbox: it needs native code. Use ctx.decode() to decode an image.`,
  );

/** In the sandbox: always throws `SANDBOX_VIOLATION`. */
export const readImageSize: typeof ReadImageSize = () => {
  throw notHere('readImageSize');
};

/** In the sandbox: always throws `SANDBOX_VIOLATION`. */
export const sniffImageFormat: typeof SniffImageFormat = () => {
  throw notHere('sniffImageFormat');
};
