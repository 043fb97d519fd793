// @atelier/analysis: what Atelier computes from every uploaded image (docs/gallery.md): palette,
// perceptual hashes, BlurHash, EXIF summary, size and brightness. Pure functions on decoded
// pixels, and one decode with sharp.
export { ANALYSIS_VERSION, WORKING_SIZE, analyseImage, measure } from './analyse.ts';
export type { AnalyseOptions, ImageAnalysis } from './analyse.ts';
export { BLURHASH_COMPONENTS, blurhashOf } from './blurhash.ts';
export { deltaE, hexToRgb, labToRgb, rgbToHex, rgbToLab } from './colour.ts';
export type { Lab } from './colour.ts';
export { EMPTY_EXIF, exifSummary } from './exif-summary.ts';
export type { ExifSummary, GpsPosition } from './exif-summary.ts';
export { PALETTE_SIZE, palette } from './palette.ts';
export type { PaletteColour } from './palette.ts';
export {
  dhash,
  fromSigned64,
  hammingDistance,
  hashBands,
  lowFrequencyDct,
  phash,
  toSigned64,
} from './perceptual-hash.ts';
export { brightnessOf, lumaOf, resampleArea, resizeRgb } from './pixels.ts';
export type { RgbPixels } from './pixels.ts';
