// What the benchmarks share for summing up their measurements and printing them.

/** The median; for an even count, the mean of the middle two. */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Right-aligns a value in a column of `n` characters. */
export const pad = (s: string | number, n: number): string => String(s).padStart(n);
