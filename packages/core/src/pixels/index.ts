// Pixel kernels for plugin authors: fast, allocation-aware building blocks (box filters, guided
// filter, colour conversions, ...). Built-in styles use only what is exported here.
export { boxFilter } from './box-filter.ts';
export { boxRadiiForGaussian, gaussianBlur, gaussianBlurU16 } from './gaussian-blur.ts';
export {
  applyGuidedCoefficients,
  composeGuidedCoefficients,
  guidedFilterCoefficients,
  guidedSmooth,
} from './guided-filter.ts';
export type { GuidedCoefficients, GuidedFilterArgs } from './guided-filter.ts';
export {
  BilinearUpsampler,
  bilinearColumns,
  FIXED_MAX,
  FIXED_SCALE,
  downsampleArea,
  downsampleBox,
  downsampledSize,
} from './resample.ts';
export type { BilinearColumns, DownsampleAreaArgs, FixedPlanes } from './resample.ts';
export { InkRows } from './ink-rows.ts';
export type { InkColumns } from './ink-rows.ts';
export { hsvToRgb, linearToSrgb, lumaOfPlanes, lumaPlane, lut8, rgbToHsv, srgbToLinear } from './color.ts';
export { SeededRandom, fillNoise, hash32 } from './rng.ts';
export { domainTransformFilter } from './domain-transform.ts';
export type { DomainTransformArgs } from './domain-transform.ts';
export { kuwaharaFilter } from './kuwahara.ts';
export type { KuwaharaArgs } from './kuwahara.ts';
export { flowField } from './structure-tensor.ts';
export type { FlowField, FlowFieldArgs } from './structure-tensor.ts';
export { tileableNoise, valueNoise } from './value-noise.ts';
export type { TileableNoiseArgs, ValueNoiseArgs } from './value-noise.ts';
export { embossPlane } from './emboss.ts';
export type { EmbossArgs } from './emboss.ts';
export { paperTexture } from './paper-texture.ts';
export type { PaperTextureArgs } from './paper-texture.ts';
export { canvasTexture } from './canvas-texture.ts';
export type { CanvasTextureArgs, TextureTile } from './canvas-texture.ts';
export { strokeTextures } from './stroke-texture.ts';
export type { StrokeOwners, StrokeTextures, StrokeTexturesArgs } from './stroke-texture.ts';
export { pencilStrokes } from './pencil-strokes.ts';
export type { PencilStrokesArgs } from './pencil-strokes.ts';
export { inkTable, paperLevels, pencilLines } from './pencil-lines.ts';
export type { PaperLevels, PencilLinesArgs } from './pencil-lines.ts';
export { ThinLines, ThinRowsAhead, thinLines } from './thin-lines.ts';
export type { DensityGateArgs, ThinLinesArgs, ThinLinesGate, ThinRows } from './thin-lines.ts';
export { blurGrey, floatToGrey } from './native-blur.ts';
export { planePercentiles, smoothHistogram } from './levels.ts';
export { gradientMagnitude } from './gradient.ts';
export { quarterSampleRows, quarterSamples } from './quarter-samples.ts';
export type { QuarterSampleRows } from './quarter-samples.ts';
export { histogramU16, paintLevels, setSimdEnabled, simdAvailable } from './simd.ts';
export type { PaintLevelsArgs } from './simd.ts';
