// Perceptual hashes: 64-bit fingerprints that stay close (a small Hamming distance) when an image
// is resized, recompressed or slightly retouched, and are far apart for unrelated images.
import { lumaOf, resampleArea } from './pixels.ts';
import type { RgbPixels } from './pixels.ts';

/** Side of the luma image the DCT runs on. */
const DCT_SIZE = 32;
/** The pHash takes the 8×8 block of lowest frequencies after the DC row and column. */
const BLOCK = 8;

/** cos((2x + 1) u π / 64) for u in 0..BLOCK, x in 0..31: the DCT-II basis rows pHash needs. */
const COS: Float64Array = (() => {
  const table = new Float64Array((BLOCK + 1) * DCT_SIZE);
  for (let u = 0; u <= BLOCK; u++)
    for (let x = 0; x < DCT_SIZE; x++)
      table[u * DCT_SIZE + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * DCT_SIZE));
  return table;
})();

/**
 * The low-frequency DCT-II coefficients (u, v in 0..8) of a 32×32 plane, row-major 9×9: separable,
 * rows first, so it costs 2 × 9 × 32 × 32 multiplications instead of a full 32×32 transform.
 */
export function lowFrequencyDct(plane: Float32Array): Float64Array {
  if (plane.length !== DCT_SIZE * DCT_SIZE) throw new Error(`expected a ${DCT_SIZE}x${DCT_SIZE} plane`);
  const n = BLOCK + 1;
  // rows[y][u] = sum_x plane[y][x] cos(u, x)
  const rows = new Float64Array(DCT_SIZE * n);
  for (let y = 0; y < DCT_SIZE; y++)
    for (let u = 0; u < n; u++) {
      let sum = 0;
      for (let x = 0; x < DCT_SIZE; x++) sum += plane[y * DCT_SIZE + x]! * COS[u * DCT_SIZE + x]!;
      rows[y * n + u] = sum;
    }
  // out[v][u] = sum_y rows[y][u] cos(v, y)
  const out = new Float64Array(n * n);
  for (let v = 0; v < n; v++)
    for (let u = 0; u < n; u++) {
      let sum = 0;
      for (let y = 0; y < DCT_SIZE; y++) sum += rows[y * n + u]! * COS[v * DCT_SIZE + y]!;
      out[v * n + u] = sum;
    }
  return out;
}

/** Packs 64 booleans (first = most significant bit) into an unsigned 64-bit bigint. */
function pack(bits: readonly boolean[]): bigint {
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 32; i++) hi = (hi << 1) | (bits[i] ? 1 : 0);
  for (let i = 32; i < 64; i++) lo = (lo << 1) | (bits[i] ? 1 : 0);
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/**
 * pHash (DCT): luma at 32×32 (area average), its DCT-II, the 8×8 block of lowest frequencies
 * after the DC row and column (as libpHash takes it: the DC term is the mean brightness and would
 * make one bit constant), each bit set when its coefficient is above the block's median. Returns
 * an unsigned 64-bit value, the first coefficient in the most significant bit.
 *
 * @example
 * hammingDistance(phash(original), phash(resized)); // small (≤ 6 or so) for the same photo
 */
export function phash(pixels: RgbPixels): bigint {
  const luma = resampleArea(lumaOf(pixels), pixels.width, pixels.height, DCT_SIZE, DCT_SIZE);
  const dct = lowFrequencyDct(luma);
  const n = BLOCK + 1;
  const block: number[] = [];
  for (let v = 1; v <= BLOCK; v++) for (let u = 1; u <= BLOCK; u++) block.push(dct[v * n + u]!);
  const sorted = [...block].sort((a, b) => a - b);
  const median = (sorted[31]! + sorted[32]!) / 2;
  return pack(block.map((c) => c > median));
}

/**
 * dHash (gradient): luma at 9×8 (area average), each bit set when a pixel is darker than its right
 * neighbour, row by row: 64 bits, the top-left pair in the most significant bit.
 */
export function dhash(pixels: RgbPixels): bigint {
  const luma = resampleArea(lumaOf(pixels), pixels.width, pixels.height, 9, 8);
  const bits: boolean[] = [];
  for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) bits.push(luma[y * 9 + x]! < luma[y * 9 + x + 1]!);
  return pack(bits);
}

function popcount32(v: number): number {
  let x = v - ((v >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/**
 * Bits that differ between two 64-bit hashes (signed or unsigned bigints alike), 0..64.
 *
 * @example
 * hammingDistance(0b1011n, 0b0001n); // 2
 */
export function hammingDistance(a: bigint, b: bigint): number {
  const x = BigInt.asUintN(64, a ^ b);
  return popcount32(Number(x >> 32n)) + popcount32(Number(x & 0xffffffffn));
}

/**
 * The four 16-bit bands of a 64-bit hash, most significant first (0..65535 each), for multi-index
 * hashing: two hashes within Hamming distance 3 share at least one band exactly.
 */
export function hashBands(hash: bigint): [number, number, number, number] {
  const h = BigInt.asUintN(64, hash);
  return [48n, 32n, 16n, 0n].map((shift) => Number((h >> shift) & 0xffffn)) as [
    number,
    number,
    number,
    number,
  ];
}

/** A 64-bit hash as Postgres' `bigint` holds it: the same bits, read as a signed integer. */
export function toSigned64(hash: bigint): bigint {
  return BigInt.asIntN(64, hash);
}

/** The unsigned 64-bit hash of a signed `bigint` column value (a bigint or its decimal text). */
export function fromSigned64(value: bigint | string): bigint {
  return BigInt.asUintN(64, typeof value === 'string' ? BigInt(value) : value);
}
