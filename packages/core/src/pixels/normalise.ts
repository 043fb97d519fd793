/** Shifts and scales a plane to mean 0 and standard deviation 1 (in place). */
export function normalise(plane: Float32Array): Float32Array {
  const n = plane.length;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const v = plane[i]!;
    sum += v;
    sq += v * v;
  }
  const mean = sum / n;
  const sd = Math.sqrt(Math.max(1e-12, sq / n - mean * mean));
  const k = 1 / sd;
  for (let i = 0; i < n; i++) plane[i] = (plane[i]! - mean) * k;
  return plane;
}
