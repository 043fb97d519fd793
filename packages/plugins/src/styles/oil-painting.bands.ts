// The oil painting's lighting as band kernels, in a module of its own that imports only
// `@atelier/core/kernels`: the engine's helper threads load it without the SDK.
import { bandKernel, lumaPlane, runBands, sharedArray, toShared } from '@atelier/core/kernels';

/** Chroma (max - min of R, G, B) from which a stroke's hue shift is whole; greyer colours get less. */
const CHROMA_FULL = 40;

/** Rows per chunk of the lighting: bands start and end on chunk boundaries, whatever the threads. */
export const SHADE_CHUNK = 64;

/**
 * The painted luma of the rows on both sides of every chunk boundary (rows `k * SHADE_CHUNK - 1`
 * and `k * SHADE_CHUNK`, for k = 1 to chunks - 1), taken before anything is lit: a band that
 * starts or ends there reads its neighbour's row from here, as it was before the neighbour lit it.
 */
export function chunkEdges(img: Uint8Array, width: number, height: number): Uint8Array {
  const chunks = Math.ceil(height / SHADE_CHUNK);
  const edges = sharedArray(Uint8Array, Math.max(0, chunks - 1) * 2 * width);
  runBands(chunkEdgesBand, { img, edges, width }, chunks - 1, { minBand: 4 });
  return edges;
}

/** Boundaries `k0 + 1` to `k1` of {@link chunkEdges}. */
export const chunkEdgesBand = bandKernel(
  import.meta.url,
  'chunkEdgesBand',
  (
    a: { readonly img: Uint8Array; readonly edges: Uint8Array; readonly width: number },
    k0: number,
    k1: number,
  ) => {
    const { img, edges, width } = a;
    for (let k = k0 + 1; k <= k1; k++) {
      for (let side = 0; side < 2; side++) {
        const y = k * SHADE_CHUNK - 1 + side;
        const at = ((k - 1) * 2 + side) * width;
        lumaPlane(img.subarray(y * width * 3, (y + 1) * width * 3), width, 3, edges.subarray(at, at + width));
      }
    }
  },
);

/** What {@link shadeBand} gets: the painted image, its {@link chunkEdges}, the tiles and the constants. */
export interface ShadeArgs {
  readonly img: Uint8Array;
  readonly edges: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly strokeSize: number;
  readonly bins: number;
  /** Lit relief of the brush-mark tiles, in steps of 1 / 32 (`strokeAmount` includes the step). */
  readonly relief: Int8Array;
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
  /** The visible strokes; `strokeMix` 0 paints none. */
  readonly strokes: StrokeArgs;
}

/**
 * The visible strokes of the real render (Hertzmann 1998's coarse layer): each pixel under a
 * stroke takes the stroke's colour (see {@link strokeColours}) where that colour is close to the
 * fine dabs' (the error below `errorLow`, fading out at `errorHigh`), and keeps the fine dabs
 * where the stroke would miss detail. Positions are the real render's: a preview reads the tiles
 * at the real render's pixel in the middle of each of its own, so it shows the same strokes, shrunk.
 */
export interface StrokeArgs {
  /** How much of a fitting stroke's colour is laid over the dabs: 0 to 1. */
  readonly strokeMix: number;
  readonly errorLow: number;
  readonly errorHigh: number;
  /** {@link StrokeOwners}' tiles, at the real render's scale. */
  readonly size: number;
  readonly owner: Uint16Array;
  readonly x: Float32Array;
  readonly y: Float32Array;
  /** Where the real render's pixel (0, 0) lies in the tiles. */
  readonly offsetX: number;
  readonly offsetY: number;
  /** ctx.previewScale. */
  readonly previewScale: number;
  /** The colour of every stroke in every repeat of the tiles: {@link StrokeColours}. */
  readonly colours: StrokeColours;
}

/**
 * The tinted colour (R, G, B) of stroke `i` in the tile repeat (kx, ky) at
 * `((ky * across + kx) * count + i) * 3`. Repeat (1, 1) holds the real render's pixel (0, 0);
 * repeat 0 lies before the image, for strokes whose centre is there.
 */
export interface StrokeColours {
  /** 8-bit: the table is read at random (a stroke every few pixels in a preview) and stays in the cache. */
  readonly rgb: Uint8Array;
  readonly across: number;
  readonly count: number;
}

/**
 * {@link StrokeColours} of the strokes of `size`-pixel tiles read at offset (offsetX, offsetY)
 * over an image of `fullWidth` by `fullHeight` (strokes wholly outside it are left black): each
 * stroke's colour is the coarse image at its centre (bilinear), with a tint (tone factor and R, G,
 * B offsets, 4 per stroke; each repeat of the tiles gives its strokes other strokes' tints).
 * Computed once per run (a few tens of thousands of strokes), not once per pixel.
 */
export function strokeColours(
  coarse: CoarseArgs,
  x: Float32Array,
  y: Float32Array,
  tints: Float32Array,
  size: number,
  offsetX: number,
  offsetY: number,
  fullWidth: number,
  fullHeight: number,
  /** How far from its centre a stroke reaches: strokes centred farther out than that are left out. */
  reach: number,
): StrokeColours {
  const count = x.length;
  // One repeat before the image and two after it: a preview's last pixel may map just past the
  // real render's, and a stroke's centre may lie in the next repeat.
  const across = Math.ceil((fullWidth + (offsetX % size)) / size) + 3;
  const down = Math.ceil((fullHeight + (offsetY % size)) / size) + 3;
  const rgb = sharedArray(Uint8Array, across * down * count * 3);
  const args: StrokeColoursArgs = {
    coarse: { ...coarse, rgb: toShared(coarse.rgb) },
    x: toShared(x),
    y: toShared(y),
    tints: toShared(tints),
    size,
    offsetX,
    offsetY,
    fullWidth,
    fullHeight,
    reach,
    across,
    rgb,
  };
  // Rows of repeats in bands (each a few thousand strokes).
  runBands(strokeColoursBand, args, down, { minBand: 1 });
  return { rgb, across, count };
}

/** What {@link strokeColoursBand} gets: {@link strokeColours}' arguments, the table's width and the table. */
interface StrokeColoursArgs {
  readonly coarse: CoarseArgs;
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly tints: Float32Array;
  readonly size: number;
  readonly offsetX: number;
  readonly offsetY: number;
  readonly fullWidth: number;
  readonly fullHeight: number;
  readonly reach: number;
  readonly across: number;
  readonly rgb: Uint8Array;
}

/** Rows `k0` to `k1 - 1` of tile repeats of {@link strokeColours}. */
export const strokeColoursBand = bandKernel(
  import.meta.url,
  'strokeColoursBand',
  (a: StrokeColoursArgs, k0: number, k1: number): void => {
    const { size, offsetX, offsetY, across } = a;
    // Repeat k of the tiles starts at the real render's pixel (k - 1) * size - offsetX % size.
    for (let ky = k0; ky < k1; ky++) {
      const y0 = (ky - 1) * size - (offsetY % size);
      for (let kx = 0; kx < across; kx++) {
        const x0 = (kx - 1) * size - (offsetX % size);
        repeatColours(a, ky, kx, x0, y0);
      }
    }
  },
);

/**
 * The colours of every stroke in repeat (`kx`, `ky`) of the tiles, whose first pixel is the real
 * render's (`x0`, `y0`). A function per repeat, so V8 optimises it whole instead of a loop inside
 * the band compiled on stack replacement.
 */
function repeatColours(a: StrokeColoursArgs, ky: number, kx: number, x0: number, y0: number): void {
  const { coarse, x, y, tints, fullWidth, fullHeight, reach, across, rgb } = a;
  const count = x.length;
  const { rgb: crgb, width: cw, height: ch } = coarse;
  const invCell = 1 / coarse.cell;
  let o = (ky * across + kx) * count * 3;
  for (let i = 0; i < count; i++, o += 3) {
    const px = x0 + x[i]!;
    const py = y0 + y[i]!;
    // No pixel of the image lies under a stroke centred this far out.
    if (px < -reach || py < -reach || px > fullWidth + reach || py > fullHeight + reach) continue;
    let u = px * invCell - 0.5;
    let v = py * invCell - 0.5;
    u = u < 0 ? 0 : u > cw - 1 ? cw - 1 : u;
    v = v < 0 ? 0 : v > ch - 1 ? ch - 1 : v;
    const iu = u | 0;
    const iv = v | 0;
    const fu = u - iu;
    const fv = v - iv;
    const c00 = (iv * cw + iu) * 3;
    const c01 = iu + 1 < cw ? c00 + 3 : c00;
    const c10 = iv + 1 < ch ? c00 + cw * 3 : c00;
    const c11 = c10 + (c01 - c00);
    const w00 = (1 - fu) * (1 - fv);
    const w01 = fu * (1 - fv);
    const w10 = (1 - fu) * fv;
    const w11 = fu * fv;
    // Another stroke's tint in every repeat of the tiles: no tint pattern repeats with them.
    const t = ((i + kx * 37 + ky * 101) % count) * 4;
    const tone = tints[t]!;
    const r = crgb[c00]! * w00 + crgb[c01]! * w01 + crgb[c10]! * w10 + crgb[c11]! * w11;
    const g = crgb[c00 + 1]! * w00 + crgb[c01 + 1]! * w01 + crgb[c10 + 1]! * w10 + crgb[c11 + 1]! * w11;
    const b = crgb[c00 + 2]! * w00 + crgb[c01 + 2]! * w01 + crgb[c10 + 2]! * w10 + crgb[c11 + 2]! * w11;
    // The hue shifts in proportion to the colour's own chroma: a grey stays grey.
    const chroma = Math.max(r, g, b) - Math.min(r, g, b);
    const hue = chroma < CHROMA_FULL ? chroma / CHROMA_FULL : 1;
    const tr = r * tone + tints[t + 1]! * hue;
    const tg = g * tone + tints[t + 2]! * hue;
    const tb = b * tone + tints[t + 3]! * hue;
    rgb[o] = tr < 0 ? 0 : tr > 255 ? 255 : tr + 0.5;
    rgb[o + 1] = tg < 0 ? 0 : tg > 255 ? 255 : tg + 0.5;
    rgb[o + 2] = tb < 0 ? 0 : tb > 255 ? 255 : tb + 0.5;
  }
}

/** The painted image averaged over square cells of the real render's pixels. */
export interface CoarseArgs {
  /** RGB per cell, `width * height * 3` values (a preview may pass its own pixels). */
  readonly rgb: Float32Array | Uint8Array;
  readonly width: number;
  readonly height: number;
  /** Cell side in the real render's pixels. */
  readonly cell: number;
}

/** The arguments of {@link coarseBand}: the painted image, its size and previewScale, the cells to fill. */
export interface CoarseBandArgs {
  readonly img: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly previewScale: number;
  readonly coarse: CoarseArgs & { readonly rgb: Float32Array };
}

/**
 * Cell rows `j0` to `j1 - 1` of the coarse image: the mean colour of the pixels whose real-render
 * position lies in each cell (in a preview about one to two pixels a cell). A cell no pixel falls
 * in (a preview cell smaller than its pixels) takes the pixel at its centre.
 */
export const coarseBand = bandKernel(
  import.meta.url,
  'coarseBand',
  (a: CoarseBandArgs, j0: number, j1: number, abort): void => {
    const { img, width: w, height: h, previewScale: s } = a;
    const { rgb, width: cw, cell } = a.coarse;
    const full = (v: number): number => (s < 1 ? (v + 0.5) / s : v);
    // Runs of columns that fall in one cell: a row adds each run's sum to its cell once.
    const runEnd = new Int32Array(cw + 1);
    let c = 0;
    for (let x = 0; x < w; x++) {
      const cx = Math.min(cw - 1, Math.floor(full(x) / cell));
      while (c < cx) runEnd[++c] = x;
    }
    while (c < cw) runEnd[++c] = w;
    const count = new Float32Array(cw * (j1 - j0));
    const band = rgb.subarray(j0 * cw * 3, j1 * cw * 3);
    band.fill(0);
    for (let y = 0; y < h; y++) {
      const j = Math.min(a.coarse.height - 1, Math.floor(full(y) / cell));
      if (j < j0) continue;
      if (j >= j1) break;
      if ((y & 63) === 0) abort.throwIfAborted();
      const crow = (j - j0) * cw;
      for (let i = 0; i < cw; i++) {
        const x0 = runEnd[i]!;
        const x1 = runEnd[i + 1]!;
        let sr = 0;
        let sg = 0;
        let sb = 0;
        for (let o = (y * w + x0) * 3, end = (y * w + x1) * 3; o < end; o += 3) {
          sr += img[o]!;
          sg += img[o + 1]!;
          sb += img[o + 2]!;
        }
        const k = (crow + i) * 3;
        band[k]! += sr;
        band[k + 1]! += sg;
        band[k + 2]! += sb;
        count[crow + i]! += x1 - x0;
      }
    }
    const scale = s < 1 ? s : 1;
    for (let j = j0; j < j1; j++) {
      for (let i = 0; i < cw; i++) {
        const k = (j - j0) * cw + i;
        const n = count[k]!;
        if (n > 0) {
          band[k * 3]! /= n;
          band[k * 3 + 1]! /= n;
          band[k * 3 + 2]! /= n;
        } else {
          const x = Math.min(w - 1, Math.floor((i + 0.5) * cell * scale));
          const y = Math.min(h - 1, Math.floor((j + 0.5) * cell * scale));
          const o = (y * w + x) * 3;
          band[k * 3] = img[o]!;
          band[k * 3 + 1] = img[o + 1]!;
          band[k * 3 + 2] = img[o + 2]!;
        }
      }
    }
  },
);

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
    // Per flow cell of the current row of cells: where the stroke tile nearest its direction
    // starts, and the depth of the marks (deeper where strokes are coherent: edges, hair, not
    // broad flat areas).
    const fw = a.flowWidth;
    const factor = a.flowFactor;
    const tileOwn = new Int32Array(fw);
    const tileNear = new Int32Array(fw);
    const depthOf = new Float32Array(fw);
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
    // Visible strokes: the real render's pixel of each column and the stroke tiles' column there.
    const st = a.strokes;
    const mix = st.strokeMix;
    const { owner, colours } = st;
    const sx = st.x;
    const sy = st.y;
    const osize = st.size;
    const ownN = osize * osize;
    const half = osize / 2;
    const ps = st.previewScale;
    const full = (v: number): number => (ps < 1 ? Math.floor((v + 0.5) / ps) : v);
    // Per column: the tiles' column and which repeat of the tiles it is in.
    const ownCol = new Int32Array(w);
    const repX = new Int32Array(w);
    for (let x = 0; x < w; x++) {
      const fx = full(x) + (st.offsetX % osize);
      ownCol[x] = fx % osize;
      repX[x] = Math.floor(fx / osize) + 1;
    }
    const crgb = colours.rgb;
    const across = colours.across;
    const count = colours.count;
    const errHigh = st.errorHigh;
    const errSpan = 1 / (errHigh - st.errorLow);
    // What every row reads (see shadeRow).
    const row: ShadeRowArgs = {
      img,
      w,
      mix,
      owner,
      tileOwn,
      ownCol,
      flowCol,
      sx,
      sy,
      half,
      repX,
      across,
      count,
      crgb,
      errHigh,
      errSpan,
      tileNear,
      depthOf,
      strokeCol,
      relief,
      kr,
      weave,
      weaveCol,
      kw,
      gloss,
      sat,
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
      const fy = full(y) + (st.offsetY % osize);
      const ownRow = (fy % osize) * osize;
      const ownRowC = (fy % osize) + 0.5;
      const repY = Math.floor(fy / osize) + 1;
      const cy = Math.floor(y / factor);
      if (cy !== cellRow) {
        cellRow = cy;
        for (let cx = 0; cx < fw; cx++) {
          const c = cy * fw + cx;
          const pos = a.flowAngle[c]! * binScale;
          const k0 = Math.min(bins - 1, pos | 0);
          const t = pos - k0;
          // The nearest direction's tile, for the relief and for the owners alike, so the relief
          // of a stroke is where its colour is (and an owner cannot be blended anyway).
          const near = t < 0.5 ? k0 : k0 + 1 === bins ? 0 : k0 + 1;
          tileNear[cx] = near * tileN;
          tileOwn[cx] = near * ownN;
          depthOf[cx] = ks * (0.55 + 0.45 * a.flowCoherence[c]!);
        }
      }
      shadeRow(row, y, here, above, below, tileRow, weaveRow, ownRow, ownRowC, repY);
      const spare = above;
      above = here;
      here = below;
      below = spare;
    }
  },
);

/** What {@link shadeRow} reads besides the row's own values: the band's tables and constants. */
interface ShadeRowArgs {
  readonly img: Uint8Array;
  readonly w: number;
  readonly mix: number;
  readonly owner: Uint16Array;
  readonly tileOwn: Int32Array;
  readonly ownCol: Int32Array;
  readonly flowCol: Int32Array;
  readonly sx: Float32Array;
  readonly sy: Float32Array;
  readonly half: number;
  readonly repX: Int32Array;
  readonly across: number;
  readonly count: number;
  readonly crgb: Uint8Array;
  readonly errHigh: number;
  readonly errSpan: number;
  readonly tileNear: Int32Array;
  readonly depthOf: Float32Array;
  readonly strokeCol: Int32Array;
  readonly relief: Int8Array;
  readonly kr: number;
  readonly weave: Float32Array;
  readonly weaveCol: Int32Array;
  readonly kw: number;
  readonly gloss: number;
  readonly sat: number;
}

/**
 * Row `y` of {@link shadeBand}, lit in place. A function per row: a loop that runs once per render
 * inside the band loses its optimised code at each full garbage collection (V8 holds code compiled
 * for a running loop weakly) and starts again interpreted, which `--trace-osr` showed at every
 * render; a function called for each row keeps its code.
 */
function shadeRow(
  a: ShadeRowArgs,
  y: number,
  here: Uint8Array,
  above: Uint8Array,
  below: Uint8Array,
  tileRow: number,
  weaveRow: number,
  ownRow: number,
  ownRowC: number,
  repY: number,
): void {
  const { img, w, mix, owner, tileOwn, ownCol, flowCol, sx, sy, half, repX, across, count, crgb } = a;
  const { errHigh, errSpan, tileNear, depthOf, strokeCol, relief, kr, weave, weaveCol, kw, gloss, sat } = a;
  // The last stroke's owner and colour: neighbouring pixels mostly lie under the same stroke.
  let lastId = -1;
  let tr = 0;
  let tg = 0;
  let tb = 0;
  let o = y * w * 3;
  for (let x = 0; x < w; x++, o += 3) {
    let r = img[o]!;
    let g = img[o + 1]!;
    let b = img[o + 2]!;
    const f = flowCol[x]!;
    if (mix > 0) {
      const id = owner[tileOwn[f]! + ownRow + ownCol[x]!]!;
      // Neighbouring pixels mostly lie under the same stroke: its colour is found once.
      // (A stroke is shorter than half a tile, so the same owner next door is the same
      // stroke, in whichever direction's tile.)
      if (id !== lastId) {
        lastId = id;
        if (id !== 0) {
          const i = id - 1;
          // The repeat of the tiles the stroke's centre is in, across the tiles' wrap.
          const dx = sx[i]! - (ownCol[x]! + 0.5);
          const dy = sy[i]! - ownRowC;
          const kx = repX[x]! + (dx > half ? -1 : dx < -half ? 1 : 0);
          const ky = repY + (dy > half ? -1 : dy < -half ? 1 : 0);
          const c = ((ky * across + kx) * count + i) * 3;
          tr = crgb[c]!;
          tg = crgb[c + 1]!;
          tb = crgb[c + 2]!;
        }
      }
      if (id !== 0) {
        // Hertzmann's error threshold: the stroke paints where it fits, the dabs keep detail.
        const err = Math.abs(tr - r) + Math.abs(tg - g) + Math.abs(tb - b);
        let k = (errHigh - err) * errSpan;
        if (k > 0) {
          k = (k > 1 ? 1 : k) * mix;
          r += k * (tr - r);
          g += k * (tg - g);
          b += k * (tb - b);
        }
      }
    }
    const lum = 0.299 * r + 0.587 * g + 0.114 * b;

    // Brush marks: the stroke tile nearest the local angle.
    const ti = tileRow + strokeCol[x]!;
    const mark = relief[tileNear[f]! + ti]! * depthOf[f]!;

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
}

/** `0.35 + 1.4 * v` in place over elements `i0` to `i1 - 1`: the fallback angles of the flow. */
export const angleBand = bandKernel(
  import.meta.url,
  'angleBand',
  (a: { readonly angles: Float32Array }, i0: number, i1: number): void => {
    const angles = a.angles;
    for (let i = i0; i < i1; i++) angles[i] = 0.35 + 1.4 * angles[i]!;
  },
);
