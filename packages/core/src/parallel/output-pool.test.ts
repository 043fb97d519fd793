import { describe, expect, it } from 'vitest';
import { OutputPool } from './output-pool.ts';

describe('OutputPool', () => {
  it('lends new buffers, and after a reclaimed run the same ones again, zero-filled', () => {
    const pool = new OutputPool({ maxBuffers: 4, maxBytes: 1 << 20 });
    const run1 = pool.lease();
    const a = run1.take(1000, false);
    const s = run1.take(1000, true);
    expect(a).toBeInstanceOf(ArrayBuffer);
    expect(s).toBeInstanceOf(SharedArrayBuffer);
    new Uint8Array(a).fill(7);
    new Uint8Array(s).fill(9);
    run1.reclaim();
    expect(pool.idleBuffers).toBe(2);
    expect(pool.idleBytes).toBe(2000);

    const run2 = pool.lease();
    // Shared or not, as asked; of the same size only.
    expect(run2.take(1000, true)).toBe(s);
    expect(run2.take(1000, false)).toBe(a);
    expect(run2.take(1000, false)).not.toBe(a);
    expect(new Uint8Array(a).every((v) => v === 0)).toBe(true);
    expect(new Uint8Array(s).every((v) => v === 0)).toBe(true);
    expect(run2.take(999, false).byteLength).toBe(999);
    expect(pool.idleBuffers).toBe(0);
  });

  it('does not take back what a failed run was lent', () => {
    const pool = new OutputPool({ maxBuffers: 4, maxBytes: 1 << 20 });
    const run = pool.lease();
    const a = run.take(64, false);
    run.forget();
    expect(pool.idleBuffers).toBe(0);
    expect(pool.lease().take(64, false)).not.toBe(a);
  });

  it('keeps at most maxBuffers and maxBytes, the most recently returned', () => {
    const pool = new OutputPool({ maxBuffers: 2, maxBytes: 300 });
    const run = pool.lease();
    const [a, b, c] = [run.take(100, false), run.take(100, false), run.take(100, false)];
    run.reclaim();
    expect(pool.idleBuffers).toBe(2);
    const next = pool.lease();
    // The most recently returned first; the oldest (a) was let go.
    expect(next.take(100, false)).toBe(c);
    expect(next.take(100, false)).toBe(b);
    expect(next.take(100, false)).not.toBe(a);

    const bytes = new OutputPool({ maxBuffers: 4, maxBytes: 300 });
    const big = bytes.lease();
    big.take(250, false);
    const small = big.take(100, false);
    big.reclaim();
    // 350 bytes is over 300: the older one goes.
    expect(bytes.idleBytes).toBe(100);
    expect(bytes.lease().take(100, false)).toBe(small);
  });
});
