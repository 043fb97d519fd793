// `@atelier/core/kernels`: the pure-JavaScript part of the SDK that band kernels need (bands and
// pixel kernels), without the engine, sharp or zod. A module that holds band kernels imports from
// here, so that the engine's helper threads load it in a few megabytes instead of the whole SDK.
// Everything here is also exported by `@atelier/core` (and by the sandbox's SDK, whose plugins
// import only `@atelier/core`).
export {
  bandKernel,
  bandStart,
  bandThreads,
  isShared,
  outputArray,
  runBands,
  sharedArray,
  toShared,
} from './parallel/bands.ts';
export type {
  BandAbort,
  BandFunction,
  BandKernel,
  RunBandsOptions,
  SharedArrayConstructor,
} from './parallel/bands.ts';
export * from './pixels/index.ts';
