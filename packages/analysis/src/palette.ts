// The dominant colours of an image: weighted k-means in CIELAB over a colour histogram.
//
// Why k-means and not median cut: median cut splits RGB boxes at the median of their widest
// channel, so its colours are box averages that blend unlike colours and its splits ignore how
// different colours look; k-means in Lab minimises the perceptual error (ΔE) directly, so each
// centre is the colour of a region a person would name. Its costs (a random start, many
// iterations) do not arise here: the start is deterministic (greedy k-means++ over the
// histogram), and 4096 working pixels fold into at most a few hundred histogram bins, so twenty
// iterations cost well under a millisecond.
import { labToRgb, rgbToHex, rgbToLab } from './colour.ts';
import type { Lab } from './colour.ts';
import { checkPixels } from './pixels.ts';
import type { RgbPixels } from './pixels.ts';

/** One dominant colour: sRGB hex, its CIELAB coordinates, and the share of the image it covers. */
export interface PaletteColour {
  readonly hex: string;
  readonly l: number;
  readonly a: number;
  readonly b: number;
  /** Share of the image's pixels, 0..1; a palette's weights sum to 1. */
  readonly weight: number;
}

/** Colours a palette has at most. @default 5 */
export const PALETTE_SIZE = 5;

const MAX_ITERATIONS = 20;

interface Point extends Lab {
  readonly weight: number;
}

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/**
 * Folds pixels into a 5-bit-per-channel histogram: each bin's point is the Lab colour of the mean
 * RGB of the pixels in it, weighted by their count.
 */
function histogram(pixels: RgbPixels): Point[] {
  const { data } = pixels;
  const bins = new Map<number, [number, number, number, number]>();
  for (let p = 0; p < data.length; p += 3) {
    const r = data[p]!;
    const g = data[p + 1]!;
    const b = data[p + 2]!;
    const key = ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3);
    const bin = bins.get(key);
    if (bin) {
      bin[0] += r;
      bin[1] += g;
      bin[2] += b;
      bin[3]++;
    } else bins.set(key, [r, g, b, 1]);
  }
  return [...bins.values()].map(([r, g, b, n]) => ({
    ...rgbToLab(Math.round(r / n), Math.round(g / n), Math.round(b / n)),
    weight: n,
  }));
}

const distance2 = (p: Lab, c: Lab): number => (p.l - c.l) ** 2 + (p.a - c.a) ** 2 + (p.b - c.b) ** 2;

/**
 * The `k` dominant colours of an image, heaviest first, weights summing to 1. An image with fewer
 * distinct colours than `k` gets fewer entries (a flat image: one). Deterministic: the same pixels
 * always give the same palette.
 *
 * @example
 * palette(pixels)[0]?.hex; // '#1d3557' for an image that is mostly that navy
 */
export function palette(pixels: RgbPixels, k: number = PALETTE_SIZE): PaletteColour[] {
  checkPixels(pixels);
  const points = histogram(pixels);
  const total = points.reduce((sum, p) => sum + p.weight, 0);
  // Greedy k-means++: the heaviest bin, then each time the bin with the largest weight × squared
  // distance to its nearest centre (distinct colours only).
  const centres: Lab[] = [];
  const nearest = new Float64Array(points.length).fill(Infinity);
  let first = points[0]!;
  for (const p of points) if (p.weight > first.weight) first = p;
  centres.push(first);
  while (centres.length < k) {
    const latest = centres[centres.length - 1]!;
    let best = -1;
    let bestScore = 0;
    for (let i = 0; i < points.length; i++) {
      const d = distance2(points[i]!, latest);
      if (d < nearest[i]!) nearest[i] = d;
      const score = points[i]!.weight * nearest[i]!;
      if (score > bestScore) {
        bestScore = score;
        best = i;
      }
    }
    if (best < 0) break; // every bin is a centre already
    centres.push(points[best]!);
  }
  // Lloyd's iterations, weighted by bin counts.
  const assignment = new Int32Array(points.length).fill(-1);
  let sums: Float64Array = new Float64Array(centres.length * 4);
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    let moved = false;
    sums = new Float64Array(centres.length * 4);
    for (let i = 0; i < points.length; i++) {
      const p = points[i]!;
      let best = 0;
      let bestD = Infinity;
      for (let c = 0; c < centres.length; c++) {
        const d = distance2(p, centres[c]!);
        if (d < bestD) {
          bestD = d;
          best = c;
        }
      }
      if (assignment[i] !== best) {
        assignment[i] = best;
        moved = true;
      }
      sums[best * 4] = sums[best * 4]! + p.l * p.weight;
      sums[best * 4 + 1] = sums[best * 4 + 1]! + p.a * p.weight;
      sums[best * 4 + 2] = sums[best * 4 + 2]! + p.b * p.weight;
      sums[best * 4 + 3] = sums[best * 4 + 3]! + p.weight;
    }
    for (let c = 0; c < centres.length; c++) {
      const w = sums[c * 4 + 3]!;
      if (w > 0) centres[c] = { l: sums[c * 4]! / w, a: sums[c * 4 + 1]! / w, b: sums[c * 4 + 2]! / w };
    }
    if (!moved) break;
  }
  const colours: PaletteColour[] = [];
  for (let c = 0; c < centres.length; c++) {
    const w = sums[c * 4 + 3]!;
    if (w === 0) continue;
    const centre = centres[c]!;
    const [r, g, b] = labToRgb(centre);
    colours.push({
      hex: rgbToHex(r, g, b),
      l: round3(centre.l),
      a: round3(centre.a),
      b: round3(centre.b),
      weight: w / total,
    });
  }
  return colours.sort((x, y) => y.weight - x.weight);
}
