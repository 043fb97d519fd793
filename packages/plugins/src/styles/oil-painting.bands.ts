// The oil painting's lighting as band kernels, in a module of its own that imports only
// `@atelier/core/kernels`: the engine's helper threads load it without the SDK.
import { bandKernel, lumaPlane } from '@atelier/core/kernels';

/** Rows per chunk of the lighting: bands start and end on chunk boundaries, whatever the threads. */
export const SHADE_CHUNK = 64;

/**
 * The painted luma of the rows on both sides of every chunk boundary (rows `k * SHADE_CHUNK - 1`
 * and `k * SHADE_CHUNK`, for k = 1 to chunks - 1), taken before anything is lit: a band that
 * starts or ends there reads its neighbour's row from here, as it was before the neighbour lit it.
 */
export function chunkEdges(img: Uint8Array, width: number, height: number): Uint8Array {
  const chunks = Math.ceil(height / SHADE_CHUNK);
  const edges = new Uint8Array(Math.max(0, chunks - 1) * 2 * width);
  for (let k = 1; k < chunks; k++) {
    for (let side = 0; side < 2; side++) {
      const y = k * SHADE_CHUNK - 1 + side;
      const at = ((k - 1) * 2 + side) * width;
      lumaPlane(img.subarray(y * width * 3, (y + 1) * width * 3), width, 3, edges.subarray(at, at + width));
    }
  }
  return edges;
}

/** What {@link shadeBand} gets: the painted image, its {@link chunkEdges}, the tiles and the constants. */
export interface ShadeArgs {
  readonly img: Uint8Array;
  readonly edges: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly strokeSize: number;
  readonly bins: number;
  readonly relief: Float32Array;
  readonly weaveSize: number;
  readonly weave: Float32Array;
  readonly strokeAmount: number;
  readonly ridgeAmount: number;
  readonly weaveAmount: number;
  readonly gloss: number;
  readonly saturation: number;
  readonly offsetX: number;
  readonly offsetY: number;
  readonly weaveOffsetX: number;
  readonly weaveOffsetY: number;
  readonly flowAngle: Float32Array;
  readonly flowCoherence: Float32Array;
  readonly flowWidth: number;
  readonly flowFactor: number;
}

/**
 * Lights chunks `c0` to `c1 - 1` (rows `c0 * SHADE_CHUNK` to `c1 * SHADE_CHUNK - 1`) of the painted image in place: brush marks from the two stroke
 * tiles nearest the local flow, paint ridges from the painted luma of rows y - 1 to y + 1 (each
 * row's luma is taken before it is lit, the neighbour bands' rows from the chunk edges), the canvas weave, gloss and saturation.
 */
export const shadeBand = bandKernel(
  import.meta.url,
  'shadeBand',
  (a: ShadeArgs, c0: number, c1: number, abort): void => {
    const { img, edges, width: w, height: h, strokeSize: size, bins, relief, weave } = a;
    const y0 = c0 * SHADE_CHUNK;
    const y1 = Math.min(h, c1 * SHADE_CHUNK);
    const wsize = a.weaveSize;
    const tileN = size * size;
    const binScale = bins / Math.PI;
    const ks = a.strokeAmount;
    const kr = a.ridgeAmount;
    const kw = a.weaveAmount;
    const gloss = a.gloss;
    const sat = a.saturation;
    // Tile column of each image column, for the stroke and weave tiles.
    const strokeCol = new Int32Array(w);
    const weaveCol = new Int32Array(w);
    for (let x = 0; x < w; x++) {
      strokeCol[x] = (x + a.offsetX) % size;
      weaveCol[x] = (x + a.weaveOffsetX) % wsize;
    }
    // Per flow cell of the current row of cells: where the two nearest stroke tiles start and
    // their weights (blended at constant contrast, deeper where strokes are coherent: edges,
    // hair, not broad flat areas).
    const fw = a.flowWidth;
    const factor = a.flowFactor;
    const tile0 = new Int32Array(fw);
    const tile1 = new Int32Array(fw);
    const weight0 = new Float32Array(fw);
    const weight1 = new Float32Array(fw);
    let cellRow = -1;
    const flowCol = new Int32Array(w);
    for (let x = 0; x < w; x++) flowCol[x] = Math.floor(x / factor);
    // A ring of three luma rows; row y + 1 is taken before row y is lit.
    const edge = (y: number): Uint8Array => {
      const k = Math.floor((y + 1) / SHADE_CHUNK); // the boundary between rows y and y + 1 or y - 1 and y
      const side = y % SHADE_CHUNK === 0 ? 1 : 0;
      const at = ((k - 1) * 2 + side) * w;
      return edges.subarray(at, at + w);
    };
    let here: Uint8Array = lumaPlane(img.subarray(y0 * w * 3, (y0 + 1) * w * 3), w);
    let above: Uint8Array = new Uint8Array(w);
    let below: Uint8Array = new Uint8Array(w);
    above.set(y0 > 0 ? edge(y0 - 1) : here);
    for (let y = y0; y < y1; y++) {
      if ((y & 63) === 0) abort.throwIfAborted();
      if (y + 1 >= h) below.set(here);
      else if (y + 1 < y1) lumaPlane(img.subarray((y + 1) * w * 3, (y + 2) * w * 3), w, 3, below);
      else below.set(edge(y + 1));
      const tileRow = ((y + a.offsetY) % size) * size;
      const weaveRow = ((y + a.weaveOffsetY) % wsize) * wsize;
      const cy = Math.floor(y / factor);
      if (cy !== cellRow) {
        cellRow = cy;
        for (let cx = 0; cx < fw; cx++) {
          const c = cy * fw + cx;
          const pos = a.flowAngle[c]! * binScale;
          const k0 = Math.min(bins - 1, pos | 0);
          const t = pos - k0;
          const depth = ks * (0.55 + 0.45 * a.flowCoherence[c]!) * BLEND_NORM[Math.min(64, (t * 64) | 0)]!;
          tile0[cx] = k0 * tileN;
          tile1[cx] = (k0 + 1 === bins ? 0 : k0 + 1) * tileN;
          weight0[cx] = (1 - t) * depth;
          weight1[cx] = t * depth;
        }
      }
      let o = y * w * 3;
      for (let x = 0; x < w; x++, o += 3) {
        const r = img[o]!;
        const g = img[o + 1]!;
        const b = img[o + 2]!;
        const lum = 0.299 * r + 0.587 * g + 0.114 * b;

        // Brush marks: the two stroke tiles nearest the local angle.
        const f = flowCol[x]!;
        const ti = tileRow + strokeCol[x]!;
        const mark = relief[tile0[f]! + ti]! * weight0[f]! + relief[tile1[f]! + ti]! * weight1[f]!;

        // Paint ridges where colours meet: the painted luma as relief, lit from the top left.
        const xl = x > 0 ? x - 1 : 0;
        const xr = x < w - 1 ? x + 1 : x;
        const ridge = here[xr]! - here[xl]! + below[x]! - above[x]!;

        const light = mark + ridge * kr + weave[weaveRow + weaveCol[x]!]! * kw;
        const spec = light > 0.04 ? (light - 0.04) * (light - 0.04) * gloss : 0;
        const m = 1 + light;
        const base = lum * m + spec;
        const sm = sat * m;
        const rr = base + (r - lum) * sm;
        const gg = base + (g - lum) * sm;
        const bb = base + (b - lum) * sm;
        img[o] = rr < 0 ? 0 : rr > 255 ? 255 : rr + 0.5;
        img[o + 1] = gg < 0 ? 0 : gg > 255 ? 255 : gg + 0.5;
        img[o + 2] = bb < 0 ? 0 : bb > 255 ? 255 : bb + 0.5;
      }
      const spare = above;
      above = here;
      here = below;
      below = spare;
    }
  },
);

/**
 * `1 / sqrt((1-t)² + t²)` for t in 64ths: blending two uncorrelated textures with weights 1 - t
 * and t lowers their contrast by that much, so the blend is scaled back up.
 */
const BLEND_NORM = Float32Array.from({ length: 65 }, (_, k) => {
  const t = k / 64;
  return 1 / Math.sqrt((1 - t) * (1 - t) + t * t);
});
