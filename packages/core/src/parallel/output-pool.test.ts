import { afterEach, describe, expect, it, vi } from 'vitest';
import { outputArray, setBandRunner, setOutputArrays, setRunInput, toShared, zeroBand } from './bands.ts';
import { OutputPool } from './output-pool.ts';
import { backwardsRunner } from './test-support.ts';

describe('OutputPool', () => {
  it('lends new buffers, and after a reclaimed run the same ones again, marked as reused', () => {
    const pool = new OutputPool({ maxBuffers: 4, maxBytes: 1 << 20 });
    const run1 = pool.lease();
    const a = run1.take(1000, false);
    const s = run1.take(1000, true);
    expect(a).toMatchObject({ reused: false });
    expect(a.buffer).toBeInstanceOf(ArrayBuffer);
    expect(s.buffer).toBeInstanceOf(SharedArrayBuffer);
    run1.reclaim();
    expect(pool.idleBuffers).toBe(2);
    expect(pool.idleBytes).toBe(2000);

    const run2 = pool.lease();
    // Shared or not, as asked; of the same size only.
    expect(run2.take(1000, true)).toEqual({ buffer: s.buffer, reused: true });
    expect(run2.take(1000, false)).toEqual({ buffer: a.buffer, reused: true });
    expect(run2.take(1000, false)).toMatchObject({ reused: false });
    expect(run2.take(999, false).buffer.byteLength).toBe(999);
    expect(pool.idleBuffers).toBe(0);
  });

  it('does not take back what a failed run was lent', () => {
    const pool = new OutputPool({ maxBuffers: 4, maxBytes: 1 << 20 });
    const run = pool.lease();
    const a = run.take(64, false);
    run.forget();
    expect(pool.idleBuffers).toBe(0);
    expect(pool.lease().take(64, false).buffer).not.toBe(a.buffer);
  });

  it('keeps at most maxBuffers and maxBytes, the most recently returned', () => {
    const pool = new OutputPool({ maxBuffers: 2, maxBytes: 300 });
    const run = pool.lease();
    const [a, b, c] = [run.take(100, false), run.take(100, false), run.take(100, false)];
    run.reclaim();
    expect(pool.idleBuffers).toBe(2);
    const next = pool.lease();
    // The most recently returned first; the oldest (a) was let go.
    expect(next.take(100, false).buffer).toBe(c.buffer);
    expect(next.take(100, false).buffer).toBe(b.buffer);
    expect(next.take(100, false).buffer).not.toBe(a.buffer);

    const bytes = new OutputPool({ maxBuffers: 4, maxBytes: 300 });
    const big = bytes.lease();
    big.take(250, false);
    const small = big.take(100, false);
    big.reclaim();
    // 350 bytes is over 300: the older one goes.
    expect(bytes.idleBytes).toBe(100);
    expect(bytes.lease().take(100, false).buffer).toBe(small.buffer);
  });
});

describe('outputArray', () => {
  afterEach(() => {
    setOutputArrays(undefined);
    setBandRunner(undefined);
    setRunInput(undefined);
  });

  it('is a new zero-filled array without a pool, and a reused one, cleared, with one', () => {
    expect(outputArray(Uint8Array, 8)).toEqual(new Uint8Array(8));
    const pool = new OutputPool({ maxBuffers: 4, maxBytes: 1 << 24 });
    for (const length of [1000, 3 << 20]) {
      const first = pool.lease();
      setOutputArrays(first);
      const a = outputArray(Uint8Array, length);
      a.fill(200);
      first.reclaim();
      const second = pool.lease();
      setOutputArrays(second);
      const b = outputArray(Uint8Array, length);
      expect(b.buffer).toBe(a.buffer);
      expect(b.every((v) => v === 0)).toBe(true);
      // Other element types view the same bytes.
      second.reclaim();
      setOutputArrays(pool.lease());
      const f = outputArray(Float32Array, length / 4);
      expect(f.buffer).toBe(a.buffer);
    }
  });

  it('copies a Node.js Buffer as a plain Uint8Array, without the deprecated Buffer constructor', () => {
    setBandRunner(backwardsRunner(2));
    const emitted = vi.spyOn(process, 'emitWarning');
    try {
      const buffer = Buffer.from([1, 2, 3, 250]);
      const copy = toShared(buffer);
      expect(copy.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(Object.getPrototypeOf(copy)).toBe(Uint8Array.prototype);
      expect([...copy]).toEqual([1, 2, 3, 250]);
      expect(emitted).not.toHaveBeenCalled();
    } finally {
      emitted.mockRestore();
    }
  });

  it("clears a reused shared buffer in bands, and lends the run input's shared copy from the pool", () => {
    setBandRunner(backwardsRunner(2));
    const pool = new OutputPool({ maxBuffers: 4, maxBytes: 1 << 24 });
    const first = pool.lease();
    setOutputArrays(first);
    const big = outputArray(Uint8Array, (5 << 20) + 3);
    expect(big.buffer).toBeInstanceOf(SharedArrayBuffer);
    big.fill(9);
    const input = new Uint8Array(4096).map((_, i) => i % 251);
    const other = new Uint8Array(4096).fill(1);
    setRunInput(input);
    const copy = toShared(input);
    expect(copy.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(copy).toEqual(input);
    // Other arrays get new shared memory, not the pool's.
    const otherCopy = toShared(other);
    first.reclaim();
    setRunInput(undefined);
    expect(pool.idleBuffers).toBe(2);

    const second = pool.lease();
    setOutputArrays(second);
    const again = outputArray(Uint8Array, (5 << 20) + 3);
    expect(again.buffer).toBe(big.buffer);
    expect(again.every((v) => v === 0)).toBe(true);
    // The next run's input (another array) gets the kept copy's memory, with its own bytes.
    const next = new Uint8Array(4096).fill(7);
    setRunInput(next);
    const nextCopy = toShared(next);
    expect(nextCopy.buffer).toBe(copy.buffer);
    expect(nextCopy.every((v) => v === 7)).toBe(true);
    expect(otherCopy.buffer).not.toBe(copy.buffer);
  });

  it('clears exactly the bytes asked for in shared memory, whatever their alignment', () => {
    const buffer = new SharedArrayBuffer(3 << 20);
    const whole = new Uint8Array(buffer);
    // Views and ranges at every offset modulo 8, and ranges shorter than a word.
    for (const [offset, length] of [
      [0, (2 << 20) + 5],
      [3, (2 << 20) + 1],
      [7, 13],
      [5, 2],
      [1, (1 << 20) - 1],
    ] as const) {
      whole.fill(9);
      const view = new Uint8Array(buffer, offset, length);
      // Chunks 1 to the end: the first chunk (1 MB), the last (partial) and the bytes around stay.
      zeroBand.run({ bytes: view }, 1, Math.ceil(length / (1 << 20)) + 1, { throwIfAborted() {} });
      const from = offset + Math.min(length, 1 << 20);
      const to = offset + length;
      const where = `view at ${offset}, ${length} bytes`;
      expect(
        whole.subarray(0, from).every((v) => v === 9),
        where,
      ).toBe(true);
      expect(
        whole.subarray(from, to).every((v) => v === 0),
        where,
      ).toBe(true);
      expect(
        whole.subarray(to).every((v) => v === 9),
        where,
      ).toBe(true);
      // And the whole view from its first byte.
      zeroBand.run({ bytes: view }, 0, Math.ceil(length / (1 << 20)), { throwIfAborted() {} });
      expect(whole.subarray(offset, offset + length).every((v) => v === 0)).toBe(true);
      expect(whole[offset - 1] ?? 9).toBe(9);
      expect(whole[offset + length]).toBe(9);
    }
  });
});
