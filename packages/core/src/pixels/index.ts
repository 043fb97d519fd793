// Pixel kernels for plugin authors: fast, allocation-aware building blocks (box filters, guided
// filter, colour conversions, ...). Built-in styles use only what is exported here.
export {};
export { boxFilter } from './box-filter.ts';
export { boxRadiiForGaussian, gaussianBlur } from './gaussian-blur.ts';
export {
  applyGuidedCoefficients,
  composeGuidedCoefficients,
  guidedFilterCoefficients,
  guidedSmooth,
} from './guided-filter.ts';
export type { GuidedCoefficients, GuidedFilterArgs } from './guided-filter.ts';
export { BilinearUpsampler, downsampleBox, downsampledSize } from './resample.ts';
export { linearToSrgb, lumaOfPlanes, lumaPlane, lut8, srgbToLinear } from './color.ts';
export { SeededRandom, fillNoise, hash32 } from './rng.ts';
export { domainTransformFilter } from './domain-transform.ts';
export type { DomainTransformArgs } from './domain-transform.ts';
export { pencilStrokes } from './pencil-strokes.ts';
export type { PencilStrokesArgs } from './pencil-strokes.ts';
export { blurGrey, floatToGrey } from './native-blur.ts';
export { planePercentiles } from './levels.ts';
export { gradientMagnitude } from './gradient.ts';
